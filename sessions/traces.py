"""Files in and out: our JSON-lines trace, and OpenAI-format message lists.

A workbench trace is UTF-8 JSON lines. The first line is a header,
`{"format": "context-workbench-trace", "version": 1, "session": {...}}`; each following
line is one event, `{"kind", "payload", "seq", "ts"}`, in canonical JSON (see
`engine.records`). Importing a trace reproduces the events exactly, timestamps included.

An OpenAI-format file is a JSON array of messages, an object with a `"messages"` array, or
JSON lines of messages. Each message becomes a `message_added` event; an assistant's
`reasoning_content` (or `reasoning`, or a reply that opens with `<think>…</think>` as local
servers write it) becomes the message's reasoning part.

Reading checks the whole file before anything is stored, and every error names the line
(traces, JSON lines) or the item (arrays) at fault.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from engine import ImportFormatError, MessageAdded, ReplayError, WorkbenchError, new_message
from engine.catalog import event_from_record
from engine.fold import Folder
from engine.streaming import OPEN_TAG, split_think_tags
from engine.records import EventRecord, canonical_json, format_ts, parse_ts, utc_now

TRACE_FORMAT = "context-workbench-trace"
TRACE_VERSION = 1
_MESSAGE_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id")
_REASONING_KEYS = ("reasoning_content", "reasoning")  # litellm's field, and OpenRouter's
_ROLE_ALIASES = {"developer": "system"}
_EXPECTED = (
    "expected a workbench trace (JSON lines) or an OpenAI message list "
    '(a JSON array of messages, or an object with "messages")'
)


@dataclass
class ParsedImport:
    title: str
    records: list[EventRecord]
    forked_from: str | None = None
    forked_at: int | None = None
    source_id: str | None = None  # the session id in the trace's header


def write_trace(path: Path, info: dict[str, Any], records: Iterable[EventRecord]) -> Path:
    """Write a trace atomically: to a temporary file beside `path`, then renamed over it."""
    header = {
        "format": TRACE_FORMAT,
        "version": TRACE_VERSION,
        "session": {
            "id": info["id"],
            "title": info["title"],
            "created_at": format_ts(info["created_at"]),
            "forked_from": info.get("forked_from"),
            "forked_at": info.get("forked_at"),
        },
    }
    path = path.expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise WorkbenchError(f"cannot export to {path}: the folder {folder} does not exist")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise WorkbenchError(f"cannot write to {folder}: {exc.strerror}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(canonical_json(header) + "\n")
            for record in records:
                out.write(canonical_json(record.to_dict()) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise WorkbenchError(f"cannot write {path}: {exc.strerror}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImportFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImportFormatError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{path}: not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8") from None
    return text.removeprefix("\ufeff")


def read_import(path: Path) -> ParsedImport:
    """Parse a trace or a message list, detecting which from its first line."""
    text = _read_text(path)
    stripped = text.strip()
    if not stripped:
        raise ImportFormatError(f"{path}: the file is empty")
    title = path.stem or "Imported"
    if stripped.startswith("["):
        return ParsedImport(title, _messages_to_records(path, _load_json(path, stripped)))
    first_line = stripped.split("\n", 1)[0]
    try:
        first = json.loads(first_line)
    except (ValueError, RecursionError):
        document = _load_json(path, stripped)  # not JSON lines: perhaps one pretty-printed object
        if isinstance(document, dict) and "messages" in document:
            return ParsedImport(_title(document, title), _messages_to_records(path, document["messages"]))
        raise ImportFormatError(f"{path}: {_EXPECTED}") from None
    if isinstance(first, dict) and "messages" in first and "\n" not in stripped:
        return ParsedImport(_title(first, title), _messages_to_records(path, first["messages"]))
    if isinstance(first, dict) and (first.get("format") == TRACE_FORMAT or "kind" in first):
        return _read_trace(path, text, title)
    if isinstance(first, dict) and "role" in first:
        lines = _json_lines(path, text)
        return ParsedImport(title, _messages_to_records(path, [value for _, value in lines], [n for n, _ in lines]))
    if isinstance(first, dict) and "messages" in first:
        raise ImportFormatError(
            f"{path}: one conversation per line (fine-tuning JSONL) is not supported; import one "
            'conversation at a time, as a JSON array or an object with "messages"'
        )
    raise ImportFormatError(f"{path}: line 1 is neither a trace header, an event nor a message; {_EXPECTED}")


def _title(document: dict[str, Any], fallback: str) -> str:
    title = document.get("title")
    return title.strip() if isinstance(title, str) and title.strip() else fallback


def _load_json(path: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}; {_EXPECTED}"
        ) from None
    except RecursionError:
        raise ImportFormatError(f"{path}: the JSON is nested too deeply to read (past Python's recursion limit)") from None


def _json_lines(path: Path, text: str) -> list[tuple[int, Any]]:
    values = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            values.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise ImportFormatError(f"{path}: line {number}: not valid JSON (column {exc.colno}: {exc.msg})") from None
        except RecursionError:
            raise ImportFormatError(f"{path}: line {number}: nested too deeply to read (past Python's recursion limit)") from None
    return values


def _read_trace(path: Path, text: str, title: str) -> ParsedImport:
    lines = _json_lines(path, text)
    header: dict[str, Any] = {}
    if lines and isinstance(lines[0][1], dict) and lines[0][1].get("format") == TRACE_FORMAT:
        header = lines.pop(0)[1]
        version = header.get("version")
        if version != TRACE_VERSION:
            raise ImportFormatError(f"{path}: line 1: trace version {version!r} is not supported (this workbench reads version {TRACE_VERSION})")
    session = header.get("session") if isinstance(header.get("session"), dict) else {}
    records = []
    folder = Folder()
    for number, value in lines:
        where = f"{path}: line {number}"
        if not isinstance(value, dict) or not {"seq", "ts", "kind", "payload"} <= value.keys():
            raise ImportFormatError(f'{where}: an event needs "seq", "ts", "kind" and "payload"')
        expected = len(records) + 1
        if value["seq"] != expected or isinstance(value["seq"], bool):
            raise ImportFormatError(f"{where}: seq is {value['seq']!r}, expected {expected} (events must be numbered 1, 2, 3, ...)")
        try:
            ts = parse_ts(value["ts"]) if isinstance(value["ts"], str) else None
        except ValueError:
            ts = None
        if ts is None:
            raise ImportFormatError(f"{where}: ts {value['ts']!r} is not an ISO timestamp such as 2026-01-31T12:00:00.000000Z")
        try:
            event = folder.add(event_from_record(value["kind"], value["payload"]))
        except ReplayError as exc:
            raise ImportFormatError(f"{where}: {exc}") from None
        records.append(EventRecord(expected, ts, event))
    forked_at = session.get("forked_at")
    return ParsedImport(
        _title(session, title),
        records,
        session.get("forked_from") if isinstance(session.get("forked_from"), str) else None,
        forked_at if isinstance(forked_at, int) and not isinstance(forked_at, bool) else None,
        session.get("id") if isinstance(session.get("id"), str) else None,
    )


def _messages_to_records(path: Path, items: Any, line_numbers: list[int] | None = None) -> list[EventRecord]:
    """Messages to events; errors name the JSON-lines line, or the array index (from 0)."""
    if not isinstance(items, list):
        raise ImportFormatError(f'{path}: "messages" must be an array of messages')
    folder = Folder()
    records = []
    now = utc_now()
    for position, item in enumerate(items):
        where = f"{path}: " + (f"line {line_numbers[position]}" if line_numbers else f"message [{position}]")
        if not isinstance(item, dict):
            raise ImportFormatError(f"{where}: a message must be an object with a role and content")
        if "role" not in item:
            raise ImportFormatError(f'{where}: the message has no "role"')
        role = item["role"]
        extra = {key: value for key, value in item.items() if key not in _MESSAGE_KEYS}
        if role in _ROLE_ALIASES:
            extra["original_role"], role = role, _ROLE_ALIASES[role]
        reasoning, content = None, item.get("content")
        if role == "assistant":
            for key in _REASONING_KEYS:
                if isinstance(extra.get(key), str):
                    reasoning = extra.pop(key)
                    break
            if reasoning is None and isinstance(content, str) and content.lstrip().startswith(OPEN_TAG):
                content, reasoning = split_think_tags(content)  # a local server's <think>…</think> reply
        try:
            event: MessageAdded = new_message(
                folder.state,
                role,
                content,
                name=item.get("name"),
                tool_calls=item.get("tool_calls"),
                tool_call_id=item.get("tool_call_id"),
                extra=extra,
                reasoning=reasoning or None,
            )
        except WorkbenchError as exc:
            raise ImportFormatError(f"{where} (role {str(role)[:20]!r}): {exc}") from None
        folder.add(event)
        records.append(EventRecord(position + 1, now, event))
    return records
