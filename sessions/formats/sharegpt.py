"""ShareGPT conversations: records of `{"from", "value"}` turns, as training sets keep them.

A file is a JSON array of records (or JSON lines of them, or one record), each
`{id?, conversations: [{from, value}, ...], tools?, system?}`; every record becomes a session,
titled by its id or else by its first human turn. FastChat's files use `human`/`gpt`;
LLaMA-Factory's add `function_call` turns (a JSON string `{"name", "arguments"}`) answered by
`observation` turns, a record-level `system` prompt, and `tools`, a JSON-encoded list of
function definitions. Some files keep the turns under `messages` instead; those are ours only
while the turns use `from`/`value` (turns with `role`/`content` are OpenAI's format).

A function call has no id in the source, so each gets `call_<turn>` (its turn's index in
the record): the same file always imports the same ids. An observation names no call; the
builder pairs it with the oldest unanswered one, which is the call before it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sessions.formats.conversation import (
    Conversation, Format, ImportedMessage, Invalid, Parsed, Sniff, match, near, no,
)
from sessions.formats.openai_chat import tool_definitions
from sessions.formats.source import Sample, Source

NAME = "sharegpt"
TURN_KEYS = ("conversations", "messages")  # `messages` only when its turns use from/value
SPEAKERS = {
    "human": "user", "user": "user",
    "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant", "bard": "assistant",
    "model": "assistant",
    "system": "system",
    "function_call": "call", "observation": "tool", "tool": "tool", "function": "tool",
}
RECORD_KEYS = ("id", "tools", "system")  # the rest of a record's fields go to the attributes
TITLE_CHARS = 60


def _is_turn(value: Any) -> bool:
    return isinstance(value, dict) and "from" in value and "value" in value


def _turns(record: Any) -> tuple[str, list] | None:
    """Where a record keeps its turns, and them: `conversations`, or `messages` of from/value turns."""
    if not isinstance(record, dict):
        return None
    if isinstance(record.get("conversations"), list):
        return "conversations", record["conversations"]
    messages = record.get("messages")
    if isinstance(messages, list) and messages and _is_turn(messages[0]):
        return "messages", messages
    return None


def _sniff_records(records: list[Any], what: str) -> Sniff:
    """The first record with turns decides (an empty record says nothing)."""
    for record in records:
        found = _turns(record)
        if found is None:
            if isinstance(record, dict) and "conversations" in record:
                return near(60, f'{what} have "conversations", but it is not a list of turns')
            return no('no "conversations" list of {"from", "value"} turns')
        key, turns = found
        if not turns:
            continue
        if _is_turn(turns[0]):
            return match(f'{what} of "{key}" with from/value turns')
        first = turns[0]
        keys = ", ".join(map(str, list(first)[:6])) if isinstance(first, dict) else type(first).__name__
        if isinstance(first, dict) and "role" in first:
            return near(60, f'{what} have "conversations", but its turns use "role"/"content", not "from"/"value" '
                            f"(they hold {keys})")
        return near(60, f'{what} have "conversations", but its turns are not {{"from", "value"}} objects '
                        f"(the first holds {keys})")
    if records:
        return near(50, f'{what} have "conversations", but every one in the sample is empty')
    return no("an empty array: no records in it")


def sniff(sample: Sample) -> Sniff:
    if sample.shape == "array":
        return _sniff_records(sample.value or [], "records")
    if sample.shape == "lines":
        return _sniff_records([value for _, value in sample.value], "lines")
    if sample.shape == "object":
        return _sniff_records([sample.value], "an object")
    return no(f"not JSON ({sample.shape})")


def read(source: Source) -> Parsed:
    stem = Path(source.name).stem or "Imported"
    shape = source.sample.shape
    if shape == "lines":
        for number, value in source.lines():
            if isinstance(value, Exception):
                yield Invalid(f"line {number}", str(value).split(": ", 2)[-1])
            else:
                yield record_conversation(value, f"line {number}", f"{stem} (line {number})")
    elif shape == "array":
        for index, value in source.items():
            yield record_conversation(value, f"record [{index}]", f"{stem} [{index}]")
    else:
        yield record_conversation(source.document(), "/", stem)


def record_conversation(record: Any, position: str, fallback: str) -> Conversation | Invalid:
    """One ShareGPT record as a conversation, or why it cannot be one."""
    found = _turns(record)
    if found is None:
        return Invalid(position, 'a ShareGPT record needs "conversations": a list of {"from", "value"} turns')
    key, turns = found
    prefix = "" if position == "/" else f"{position} "
    warnings: list[str] = []
    items: list[ImportedMessage] = []
    system = record.get("system")
    if system is not None and system != "":
        items.append(ImportedMessage(role="system", content=_text(system, f"{prefix}system", warnings),
                                     extra={"from": "system (record field)"}, position=f"{prefix}system"))
    for index, turn in enumerate(turns):
        message = _message(turn, index, f"{prefix}{key} [{index}]", warnings)
        if isinstance(message, Invalid):
            return message
        items.append(message)
    attributes = {name: value for name, value in record.items() if name not in RECORD_KEYS and name != key}
    source_id = record.get("id")
    if isinstance(source_id, (dict, list)):
        attributes["id"], source_id = source_id, None
    source_id = None if source_id is None else str(source_id)
    return Conversation(key=position, title=_title(source_id, items, fallback), items=items, source_id=source_id,
                        tools=_tools(record.get("tools"), warnings, attributes), attributes=attributes,
                        warnings=warnings, position=position)


def _message(turn: Any, index: int, where: str, warnings: list[str]) -> ImportedMessage | Invalid:
    if not isinstance(turn, dict):
        return Invalid(where, f'a turn must be an object {{"from", "value"}}, not {type(turn).__name__}')
    speaker = turn.get("from")
    if not isinstance(speaker, str):
        return Invalid(where, 'the turn has no "from" (who speaks: human, gpt, system, function_call, observation)')
    kind = SPEAKERS.get(speaker.strip().lower())
    if kind is None:
        return Invalid(where, f"unknown speaker {speaker[:40]!r} in \"from\"; expected human, gpt, system, "
                              "function_call or observation")
    if turn.get("value") is None:
        return Invalid(where, f'the {speaker} turn has no "value"')
    extra = {name: value for name, value in turn.items() if name not in ("from", "value")}
    extra["from"] = speaker
    if kind == "call":
        calls = _calls(turn["value"], index, where)
        if isinstance(calls, Invalid):
            return calls
        return ImportedMessage(role="assistant", content=None, tool_calls=calls, extra=extra, position=where)
    content = _text(turn["value"], where, warnings)
    return ImportedMessage(role=kind, content=content, extra=extra, position=where)


def _calls(value: Any, index: int, where: str) -> list[dict[str, Any]] | Invalid:
    """A function_call turn's calls: its value is JSON text {"name", "arguments"} (or a list of them)."""
    parsed = value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            return Invalid(where, f"a function_call turn whose value is not valid JSON "
                                  f"({exc.msg}, column {exc.colno}); "
                                  'expected {"name": ..., "arguments": {...}}')
        except RecursionError:
            return Invalid(where, "a function_call turn whose value is nested too deeply")
    calls = parsed if isinstance(parsed, list) else [parsed]
    if not calls:
        return Invalid(where, "a function_call turn with an empty list of calls")
    out = []
    for number, call in enumerate(calls):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str) or not call["name"].strip():
            return Invalid(where, 'a function_call turn must hold {"name": ..., "arguments": {...}} '
                                  f"(call {number} has no name)")
        arguments = call.get("arguments", {})
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        suffix = f"_{number + 1}" if len(calls) > 1 else ""
        out.append({"id": f"call_{index}{suffix}", "type": "function",
                    "function": {"name": call["name"], "arguments": arguments}})
    return out


def _text(value: Any, where: str, warnings: list[str]) -> str:
    if isinstance(value, str):
        return value
    warnings.append(f"{where}: the value is {type(value).__name__}, not text; kept as JSON text")
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return str(value)


def _tools(value: Any, warnings: list[str], attributes: dict[str, Any]) -> list[dict[str, Any]]:
    """`tools`: a JSON-encoded list of function definitions (LLaMA-Factory), or the list itself."""
    if value is None or value == "":
        return []
    parsed = value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            warnings.append('"tools" is not valid JSON; kept as text in the attributes')
            attributes["tools"] = value
            return []
    if isinstance(parsed, dict):
        parsed = [parsed]
    if not isinstance(parsed, list):
        warnings.append(f'"tools" is {type(parsed).__name__}, not a list of function definitions; '
                        "kept in the attributes")
        attributes["tools"] = value
        return []
    tools = tool_definitions(parsed)
    if len(tools) < len(parsed):
        warnings.append(f'{len(parsed) - len(tools)} of the {len(parsed)} "tools" have no name; kept in the attributes')
        attributes["tools"] = value
    return tools


def _title(source_id: str | None, items: list[ImportedMessage], fallback: str) -> str:
    if source_id and source_id.strip():
        return source_id.strip()
    for message in items:
        if message.role == "user" and isinstance(message.content, str) and message.content.strip():
            return _shortened(" ".join(message.content.split()))
    return fallback


def _shortened(text: str) -> str:
    """At most TITLE_CHARS characters, cut at a space where one is near the end."""
    if len(text) <= TITLE_CHARS:
        return text
    cut = text[: TITLE_CHARS - 1]
    if text[TITLE_CHARS - 1] != " " and " " in cut[TITLE_CHARS // 2:]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


FORMAT = Format(NAME, "ShareGPT conversations", sniff, read, extensions=(".json", ".jsonl"))
