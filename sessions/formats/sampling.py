"""What detection sees of a document: its shape and the values in its first mebibyte.

`sample_of(source, head)` never reads past `head` (the first `HEAD_BYTES` and one byte
more, to know whether that is all), so sniffing a 200 MB export costs 1 MiB. A JSON
document cut off by the limit is built as far as it goes from parse events.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import ijson

from sessions.formats.jsonio import MAX_NESTING, check_nesting, deep_pointer

HEAD_BYTES = 1 << 20
SAMPLE_ITEMS = 2_000  # an array's items that detection sees (as many as fit in the head, up to this)
FIRST_LINE_BYTES = 64 << 20  # how far a sample reads to finish a long first line of JSON lines
SAMPLE_LINES = 50


@dataclass
class Sample:
    """What detection sees. `shape`: "array", "object", "lines", "string", "text" or "empty".
    `value`: the first items of an array, the object (as far as it fits), or the first parsed
    lines as (line number, value) pairs. `complete`: the sample is the whole document."""

    shape: str
    head: str
    value: Any
    complete: bool


def sample_of(source: Any, data: bytes, first_line: bytes | None = None) -> Sample:
    """`data`: the head (HEAD_BYTES and one more); `first_line`: the whole first line, when the
    head ends inside it (a JSON-lines file whose first record is over a mebibyte)."""
    complete = len(data) <= HEAD_BYTES
    data = data[:HEAD_BYTES]
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise source.error(None, "the file is UTF-16 text; save it as UTF-8")
    head = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    stripped = head.lstrip()
    if not stripped.strip():
        return Sample("empty", head, None, complete)
    first = stripped[0]
    if first not in "[{\"":
        return Sample("text", head, None, complete)
    if complete:
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            lines = _sample_lines(stripped)
            if first == "{" and exc.msg == "Extra data" and lines:
                return Sample("lines", head, lines, True)
            return Sample(_shape_of(first), head, _prefix_value(source, data), False)
        except RecursionError:
            raise source.error(deep_pointer(stripped), f"JSON nested deeper than {MAX_NESTING} levels; "
                               "the workbench refuses it") from None
        check_nesting(source, value)
        if isinstance(value, str) and value.strip()[:1] in ("{", "["):
            try:
                value = json.loads(value)  # a JSON string holding JSON (some Letta files)
            except (json.JSONDecodeError, RecursionError):
                return Sample("string", head, value, True)
        return _whole_sample(head, value)
    if first == "{":
        lines = _sample_lines(stripped)
        if len(lines) >= 2:
            return Sample("lines", head, lines, False)
        long_line = _long_first_line(first_line)
        if long_line is not None:
            return Sample("lines", head, [(1, long_line)], False)
    return Sample(_shape_of(first), head, _prefix_value(source, data), False)


def _long_first_line(line: bytes | None) -> Any:
    """The first line's value when it is one whole JSON object followed by another line of JSON."""
    if not line or b"\n" not in line:
        return None
    first, rest = line.split(b"\n", 1)
    try:
        value = json.loads(first)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) and rest.lstrip()[:1] == b"{" else None


def _whole_sample(head: str, value: Any) -> Sample:
    if isinstance(value, list):
        return Sample("array", head, value[:SAMPLE_ITEMS], True)
    if isinstance(value, dict):
        return Sample("object", head, value, True)
    return Sample("string" if isinstance(value, str) else "text", head, value, True)


def _shape_of(first: str) -> str:
    return {"[": "array", "{": "object", '"': "string"}[first]


def _sample_lines(text: str) -> list[tuple[int, Any]]:
    lines = []
    for number, line in enumerate(text.split("\n"), start=1):
        if len(lines) >= SAMPLE_LINES:
            break
        if not line.strip():
            continue
        try:
            lines.append((number, json.loads(line)))
        except (json.JSONDecodeError, RecursionError):
            if lines:  # the last line of a head cut mid-line; stop there
                break
            return []
    return lines


def _prefix_value(source: Any, data: bytes) -> Any:
    """As much of a document as `data` holds, built from parse events (stops where it breaks off).
    A key whose value is cut off keeps an empty string, so detection still sees the key."""
    stack: list[Any] = []
    keys: list[Any] = []
    root: list[Any] = []

    def put(value: Any) -> None:
        if not stack:
            root.append(value)
        elif isinstance(stack[-1], list):
            stack[-1].append(value)
        else:
            stack[-1][keys[-1]] = value

    try:
        for event, value in ijson.basic_parse(io.BytesIO(data), use_float=True):
            if event in ("start_map", "start_array"):
                container: Any = {} if event == "start_map" else []
                put(container)
                stack.append(container)
                keys.append(None)
                if len(stack) > MAX_NESTING:
                    raise source.error(deep_pointer(data.decode("utf-8", "replace")),
                                       f"JSON nested deeper than {MAX_NESTING} levels; the workbench refuses it")
            elif event in ("end_map", "end_array"):
                stack.pop()
                keys.pop()
                if len(stack) == 1 and isinstance(stack[0], list) and len(stack[0]) >= SAMPLE_ITEMS:
                    break
            elif event == "map_key":
                keys[-1] = value
                stack[-1][value] = ""  # until its value arrives (it may be cut off by the head)
            else:
                put(value)
    except (ijson.JSONError, UnicodeDecodeError):
        pass
    value = root[0] if root else None
    return value[:SAMPLE_ITEMS] if isinstance(value, list) else value
