"""Our own trace: UTF-8 JSON lines, a header and then one event per line, exactly as stored.

The first line is `{"format": "context-workbench-trace", "version": 1, "session": {...}}`;
each following line is one event, `{"kind", "payload", "seq", "ts"}`, in canonical JSON (see
`engine.records`). Importing a trace reproduces the events exactly, timestamps included;
a trace without its header (events only) is read too.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

from engine import ReplayError, WorkbenchError
from engine.actors import Actor
from engine.catalog import event_from_record
from engine.events import SessionConfigured
from engine.fold import Folder
from engine.records import EventRecord, canonical_json, format_ts, parse_ts
from engine.settings import check_read_back
from sessions.formats.conversation import Conversation, Format, Invalid, Parsed, Sniff, match, near, no
from sessions.formats.source import Sample, Source

NAME = "jsonl"
TRACE_FORMAT = "context-workbench-trace"
TRACE_VERSION = 1
EVENT_KEYS = {"seq", "ts", "kind", "payload"}


def sniff(sample: Sample) -> Sniff:
    if sample.shape not in ("lines", "object"):
        return no("not JSON lines")
    first = sample.value[0][1] if sample.shape == "lines" else sample.value
    if isinstance(first, dict) and first.get("format") == TRACE_FORMAT:
        return match("a workbench trace header")
    if isinstance(first, dict) and EVENT_KEYS <= first.keys():
        return match("workbench events (a trace without its header)")
    if isinstance(first, dict) and "kind" in first and "payload" in first:
        return near(80, 'lines look like workbench events but lack "seq" or "ts"')
    return no(f'the first line is not a trace header ({{"format": "{TRACE_FORMAT}", ...}})')


def read(source: Source) -> Parsed:
    header: dict[str, Any] = {}
    records: list[EventRecord] = []
    folder = Folder()
    for number, value in source.lines():
        where = f"line {number}"
        if isinstance(value, Exception):
            yield Invalid(where, str(value).split(": ", 2)[-1])
            return
        if not records and not header and isinstance(value, dict) and value.get("format") == TRACE_FORMAT:
            if value.get("version") != TRACE_VERSION:
                yield Invalid(where, f"trace version {value.get('version')!r} is not supported "
                                     f"(this workbench reads version {TRACE_VERSION})")
                return
            header = value
            continue
        problem = _record(value, len(records) + 1, folder, records)
        if problem:
            yield Invalid(where, problem)
            return
    session = header.get("session") if isinstance(header.get("session"), dict) else {}
    title = session.get("title") if isinstance(session.get("title"), str) and session["title"].strip() else None
    forked_at = session.get("forked_at")
    yield Conversation(
        key="trace", title=title or source.stem, records=records,
        source_id=session.get("id") if isinstance(session.get("id"), str) else None,
        forked_from=session.get("forked_from") if isinstance(session.get("forked_from"), str) else None,
        forked_at=forked_at if isinstance(forked_at, int) and not isinstance(forked_at, bool) else None,
        position="line 1",
    )


def _record(value: Any, expected: int, folder: Folder, records: list[EventRecord]) -> str | None:
    if not isinstance(value, dict) or not EVENT_KEYS <= value.keys():
        return 'an event needs "seq", "ts", "kind" and "payload"'
    if value["seq"] != expected or isinstance(value["seq"], bool):
        return f"seq is {value['seq']!r}, expected {expected} (events must be numbered 1, 2, 3, ...)"
    try:
        ts = parse_ts(value["ts"]) if isinstance(value["ts"], str) else None
    except ValueError:
        ts = None
    if ts is None:
        return f"ts {value['ts']!r} is not an ISO timestamp such as 2026-01-31T12:00:00.000000Z"
    try:
        event = folder.add(event_from_record(value["kind"], value["payload"]))
        if isinstance(event, SessionConfigured):  # as the log checks them when it folds (sessions/log.py)
            check_read_back(folder.state)
    except ReplayError as exc:
        return str(exc)
    actor = None
    if value.get("actor") is not None:  # who wrote it, as the trace says (traces before actors have none)
        try:
            actor = Actor.from_dict(value["actor"])
        except ValueError as exc:
            return f"actor: {exc}"
    records.append(EventRecord(expected, ts, event, actor))
    return None


def write(path: Path, info: dict[str, Any], records: Iterable[EventRecord]) -> Path:
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
    with atomic_output(path) as out:
        out.write(canonical_json(header) + "\n")
        for record in records:
            out.write(canonical_json(record.to_dict()) + "\n")
    return path.expanduser()


def umask() -> int:
    """The process's umask, read without changing it (os.umask would, for every thread, for a moment)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


class atomic_output:
    """`with atomic_output(path) as out:` text written to a temporary file, renamed over `path`
    only when the block ends without error (a killed process leaves the old file whole)."""

    def __init__(self, path: Path, mode: str = "w") -> None:
        self.path = Path(path).expanduser()
        self.mode = mode
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if not folder.is_dir():
            raise WorkbenchError(f"cannot export to {self.path}: the folder {folder} does not exist")
        self.folder = folder

    def __enter__(self):
        try:
            handle, self.temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.folder)
        except OSError as exc:
            raise WorkbenchError(f"cannot write to {self.folder}: {exc.strerror}") from None
        os.chmod(self.temporary, 0o666 & ~umask())  # mkstemp makes it private; an export is shared as files are
        if "b" in self.mode:
            self.out = os.fdopen(handle, self.mode)
        else:
            self.out = os.fdopen(handle, self.mode, encoding="utf-8", newline="\n")
        return self.out

    def __exit__(self, kind, error, traceback) -> bool:
        try:
            if kind is None:
                self.out.flush()
                os.fsync(self.out.fileno())
            self.out.close()
            if kind is None:
                os.replace(self.temporary, self.path)
        except OSError as exc:
            Path(self.temporary).unlink(missing_ok=True)
            raise WorkbenchError(f"cannot write {self.path}: {exc.strerror}") from None
        if kind is not None:
            Path(self.temporary).unlink(missing_ok=True)
            if issubclass(kind, OSError):
                raise WorkbenchError(f"cannot write {self.path}: {error.strerror}") from None
        return False


FORMAT = Format(NAME, "workbench trace (JSON lines)", sniff, read, write, extensions=(".jsonl",))
