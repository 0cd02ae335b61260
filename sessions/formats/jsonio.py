"""Reading JSON safely: positions in errors, and a limit on nesting.

Every error names the document and the place: the line and column where parsing failed, or
the JSON pointer (shortened in the middle when long) where nesting passes `MAX_NESTING`.
`source` is anything with `error(where, reason)` returning an exception (a `Source`).
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_NESTING = 200


def load_json(source: Any, text: str, where: str | None = None) -> Any:
    """`text` parsed, or an error naming the line and column (and refusing deep nesting)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        place = f"line {exc.lineno}, column {exc.colno}" + (f" {where}" if where else "")
        raise source.error(place, f"not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise source.error(where or deep_pointer(text), f"JSON nested deeper than {MAX_NESTING} levels; "
                           "the workbench refuses it (nothing was imported)") from None
    check_nesting(source, value, where)
    return value


def check_nesting(source: Any, value: Any, where: str | None = None) -> None:
    """Refuse `value` if it nests deeper than MAX_NESTING, naming the JSON pointer where it does."""
    stack: list[tuple[Any, int, tuple]] = [(value, 1, ())]
    while stack:
        node, depth, pointer = stack.pop()
        if isinstance(node, dict):
            children = ((key, item) for key, item in node.items())
        elif isinstance(node, list):
            children = ((str(index), item) for index, item in enumerate(node))
        else:
            continue
        if depth > MAX_NESTING:
            place = (f"{where}, " if where else "") + f"at {short_pointer(list(pointer))}"
            raise source.error(place, f"JSON nested deeper than {MAX_NESTING} levels; the workbench refuses it")
        for key, item in children:
            if isinstance(item, (dict, list)):
                stack.append((item, depth + 1, pointer + (key,)))


_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]')


def deep_pointer(text: str) -> str:
    """Where text too deep for Python's parser first passes the limit: a scan of its strings and
    brackets (at C speed, in memory of the depth only), keeping each level's key or index."""
    path: list[list] = []  # [kind "{" or "[", key or index, expecting a key]
    for token in _TOKENS.finditer(text):
        mark = token.group()
        if mark in ("{", "["):
            path.append([mark, 0 if mark == "[" else None, mark == "{"])  # an array's index is its commas
            if len(path) > MAX_NESTING:
                return "at " + short_pointer([str(step[1]) for step in path[:-1]])
        elif mark in ("}", "]"):
            if path:
                path.pop()
        elif mark == ",":
            if path and path[-1][0] == "[":
                path[-1][1] += 1
            elif path:
                path[-1][2] = True
        elif path and path[-1][0] == "{" and path[-1][2]:
            try:
                path[-1][1] = json.loads(mark)
            except ValueError:
                path[-1][1] = mark.strip('"')
            path[-1][2] = False
    return "somewhere"


def parsed_if_json(value: Any, openers: str = "{[") -> Any:
    """A field a source may give as JSON text (Langfuse's input, OTel's message attributes):
    parsed when it starts like JSON (`openers`) and is JSON, otherwise as it is."""
    if isinstance(value, str) and value.strip()[:1] in tuple(openers):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            return value
    return value


def short_pointer(parts: list[str]) -> str:
    """A JSON pointer, its middle left out when it is long: /0/meta/0/0/…/0 (201 levels)."""
    escaped = [escape(part) for part in parts]
    if len(escaped) <= 12:
        return "/" + "/".join(escaped) if escaped else "/"
    return "/" + "/".join(escaped[:6]) + "/…/" + "/".join(escaped[-2:]) + f" ({len(escaped)} levels)"


def escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def pointer(*parts: Any) -> str:
    """A JSON pointer: pointer(3, "mapping", "a/b") -> "/3/mapping/a~1b"."""
    return "".join("/" + escape(str(part)) for part in parts)
