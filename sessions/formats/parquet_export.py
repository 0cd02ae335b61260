"""Parquet export: a session as two tables any dataframe or SQL tool reads.

`write_parquet(folder, info, records, state)` writes `events.parquet` (every event, as
stored) and `messages.parquet` (one row per message of the final state: its original text
beside what the model is sent now, after folds and summaries) into `folder`, creating it
if needed. Both files are written under temporary names first and renamed only once both
are complete, so a failed export never leaves a half-written file under a real name.

The schemas (column names and types) are fixed here and documented in the README section
"Parquet export schema"; each file's schema metadata also carries the session's row
(`context_workbench.session`, JSON) so the title and origin travel with the data.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from engine import WorkbenchError
from engine.events import MessageAdded
from engine.records import EventRecord, canonical_json, format_ts
from engine.render import render_message, render_pieces
from engine.state import ContextState, Message
from engine.text import printable
from engine.tokens import DEFAULT_ENCODING, TokenCounter, token_counter
from sessions.formats.workbench_trace import umask

EVENTS_FILE = "events.parquet"
MESSAGES_FILE = "messages.parquet"
METADATA_KEY = b"context_workbench.session"
TIMESTAMP = pa.timestamp("us", tz="UTC")

EVENTS_SCHEMA = pa.schema([
    ("session_id", pa.string()),
    ("seq", pa.int64()),
    ("ts", TIMESTAMP),
    ("kind", pa.string()),
    ("payload", pa.string()),  # the event's payload as canonical JSON text
    ("actor", pa.string()),  # who wrote it (engine.actors) as JSON; null for events from before actors
])

MESSAGES_SCHEMA = pa.schema([
    ("session_id", pa.string()),
    ("message_id", pa.string()),
    ("position", pa.int64()),  # 0-based index in the list the model is sent
    ("role", pa.string()),
    ("content", pa.string()),  # the original text (null for a message without text)
    ("rendered", pa.string()),  # the text the model is sent now, with fold markers and summaries
    ("status", pa.string()),
    ("tokens", pa.int64()),
    ("rendered_tokens", pa.int64()),
    ("fragments", pa.int64()),
    ("reasoning", pa.string()),
    ("reasoning_tokens", pa.int64()),
    ("tool_calls", pa.string()),  # JSON text of the OpenAI-format calls, null when none
    ("tool_call_id", pa.string()),
    ("name", pa.string()),
    ("attachments", pa.string()),  # JSON text of the non-text parts, null when none
    ("attachment_count", pa.int64()),
    ("stopped", pa.bool_()),
    ("added_seq", pa.int64()),  # seq of the message's message_added event
    ("ts", TIMESTAMP),  # when it was added
])


def message_status(message: Message) -> str:
    """visible, folded, summarized, folded and summarized (every fragment hidden), or partly
    folded / partly summarized / partly folded and summarized."""
    statuses = [fragment.status for fragment in message.fragments]
    hidden = [status for status in ("folded", "summarized") if status in statuses]
    if not hidden:
        return "visible"
    what = " and ".join(hidden)
    return what if "visible" not in statuses else f"partly {what}"


def _utc(moment: datetime) -> datetime:
    """The store's naive UTC time, marked as UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _text(value: str | None) -> str | None:
    return None if value is None else printable(value)


def _json_or_null(value: Any) -> str | None:
    return canonical_json(value) if value else None


def event_rows(session_id: str, records: Iterable[EventRecord]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {name: [] for name in EVENTS_SCHEMA.names}
    for record in records:
        columns["session_id"].append(session_id)
        columns["seq"].append(record.seq)
        columns["ts"].append(_utc(record.ts))
        columns["kind"].append(record.kind)
        columns["payload"].append(canonical_json(record.payload()))
        columns["actor"].append(record.actor_json())
    return columns


def _rendered_text(message: Message, counter: TokenCounter) -> str | None:
    content = render_message(message, counter)["content"]
    if isinstance(content, list):  # sendable attachments ride along as parts; the text is the first part
        texts = [part.get("text") for part in content if isinstance(part, dict) and part.get("type") == "text"]
        return texts[0] if texts else None
    return content


def message_rows(session_id: str, state: ContextState, records: Iterable[EventRecord],
                 encoding: str = DEFAULT_ENCODING) -> dict[str, list[Any]]:
    counter = token_counter(encoding)
    added = {record.event.message_id: record for record in records if isinstance(record.event, MessageAdded)}
    columns: dict[str, list[Any]] = {name: [] for name in MESSAGES_SCHEMA.names}
    for position, message in enumerate(state.messages):
        pieces = render_pieces(message, counter)
        record = added.get(message.id)
        row = {
            "session_id": session_id,
            "message_id": message.id,
            "position": position,
            "role": message.role,
            "content": _text(message.content),
            "rendered": _text(_rendered_text(message, counter)),
            "status": message_status(message),
            "tokens": sum(piece.original_tokens for piece in pieces),
            "rendered_tokens": sum(piece.rendered_tokens for piece in pieces),
            "fragments": len(message.fragments),
            "reasoning": _text(message.reasoning),
            "reasoning_tokens": counter.count(message.reasoning),
            "tool_calls": _json_or_null(list(message.tool_calls or ())),
            "tool_call_id": _text(message.tool_call_id),
            "name": _text(message.name),
            "attachments": _json_or_null(list(message.attachments)),
            "attachment_count": len(message.attachments),
            "stopped": message.stopped,
            "added_seq": record.seq if record else None,
            "ts": _utc(record.ts) if record else None,
        }
        for name, value in row.items():
            columns[name].append(value)
    return columns


def _metadata(info: dict[str, Any]) -> dict[bytes, bytes]:
    session = {key: format_ts(value) if isinstance(value, datetime) else value for key, value in info.items()}
    return {METADATA_KEY: canonical_json(session).encode("utf-8", "surrogatepass")}


def tables(info: dict[str, Any], records: Iterable[EventRecord], state: ContextState,
           encoding: str = DEFAULT_ENCODING) -> tuple[pa.Table, pa.Table]:
    """The events table and the messages table, with their schemas and the session's metadata."""
    records = list(records)
    metadata = _metadata(info)
    events = pa.table(event_rows(info["id"], records), schema=EVENTS_SCHEMA.with_metadata(metadata))
    messages = pa.table(message_rows(info["id"], state, records, encoding),
                        schema=MESSAGES_SCHEMA.with_metadata(metadata))
    return events, messages


def write_parquet(folder: str | Path, info: dict[str, Any], records: Iterable[EventRecord], state: ContextState,
                  encoding: str = DEFAULT_ENCODING) -> tuple[Path, Path]:
    """Write `events.parquet` and `messages.parquet` into `folder` (made if missing); returns both paths."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise WorkbenchError(f"cannot export Parquet to {folder}: it is a file; give a folder (it is made if missing)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkbenchError(f"cannot make the folder {folder}: {exc.strerror}") from None
    events, messages = tables(info, records, state, encoding)
    targets = [(folder / EVENTS_FILE, events), (folder / MESSAGES_FILE, messages)]
    temporaries: list[str] = []
    try:
        for target, table in targets:
            handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
            os.close(handle)
            os.chmod(temporary, 0o666 & ~umask())  # mkstemp makes it private; an export is shared as files are
            temporaries.append(temporary)
            pq.write_table(table, temporary, compression="zstd")
        for (target, _), temporary in zip(targets, temporaries):
            os.replace(temporary, target)
    except OSError as exc:
        raise WorkbenchError(f"cannot write Parquet into {folder}: {exc.strerror or exc}") from None
    finally:
        for temporary in temporaries:
            Path(temporary).unlink(missing_ok=True)
    return folder / EVENTS_FILE, folder / MESSAGES_FILE


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The session row an exported file carries (title, created_at, origin)."""
    metadata = pq.read_schema(path).metadata or {}
    return json.loads(metadata.get(METADATA_KEY, b"{}"))


__all__ = ["EVENTS_FILE", "EVENTS_SCHEMA", "MESSAGES_FILE", "MESSAGES_SCHEMA", "message_status", "read_metadata",
           "tables", "write_parquet"]
