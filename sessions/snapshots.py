"""Snapshots: the folded state of a long session, kept in a file so it opens without folding its log.

Folding the 100,000 events of a 10M-token session takes seconds (reading them, validating
them, applying them); reading a snapshot of the state they fold to takes a fraction of that.
A snapshot is derived and never authoritative: the event log stays the only truth, and a
snapshot is used only when everything below holds, else it is ignored and the log is folded:

- the file reads whole: its header parses and its body has the length and SHA-256 it names
  (a torn write, a flipped bit or a truncated file fails here);
- it was made for this session, in this snapshot format, by this exact engine (a digest of
  the engine's source, sessions/log.py, this module and the versions of pydantic, pydantic-core
  and networkx, taken when this module is imported, so a change to any fold rule retires every
  snapshot) on this Python; and the source files still have the mtime and size they had when
  the digest was taken (else this process runs code that is no longer on disk, and neither
  reads nor writes snapshots);
- the log's events 1 to the snapshot's seq still have the fingerprint the snapshot recorded
  (`EventStore.fingerprint`: an edited, lost or reordered event fails here);
- the body unpickles using only the exact classes a state is made of (`_Restricted`), to a
  state that has folded exactly that many events.

These checks catch damage and staleness, not forgery: a snapshot is as trusted as the database
beside it (whoever can write one can write the other). Unpickling imports no module beyond
those the state's classes live in and calls no code but the constructors of those classes.

The events after the snapshot's seq are folded on top as usual, so a snapshot that is behind
the log still serves (the log only grows); it is written again once it is far behind. A log
that does not fold whole never gets one. The files live beside the database
(`<db>.snapshots/<session id>.snapshot`); deleting them loses nothing.

Messages are packed without their fragments' texts (a fragment's text is always its slice of
the message's text), which halves the file; the pieces are checked when packing, and a
message that breaks the rule is pickled as it is.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import platform
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import fields
from importlib import metadata
from pathlib import Path
from typing import Any

import engine
from engine.state import ContextState, Fragment, Message
from sessions.log import paused_collector
from sessions.stores.base import EventStore

FORMAT = 1
MAGIC = b"context-workbench snapshot\n"
MIN_EVENTS = 5_000  # a shorter log folds in about 100 ms: a snapshot would not pay for itself
REFRESH_EVENTS = 2_000  # events folded on top of a snapshot at opening, past which it is written again
_MESSAGE_FIELDS = ("id", "role", "content", "fragments", "name", "tool_calls", "tool_call_id", "attachments",
                   "extra", "reasoning", "stopped")
_FRAGMENT_FIELDS = ("id", "message_id", "start", "end", "text", "status", "summary", "focus", "summarizer")
_STATE_FIELDS = ("messages", "fragment_owner", "searches", "event_count", "settings", "slices", "owner_shared")
if (tuple(f.name for f in fields(Message)) != _MESSAGE_FIELDS
        or tuple(f.name for f in fields(Fragment)) != _FRAGMENT_FIELDS
        or tuple(f.name for f in fields(ContextState)) != _STATE_FIELDS):  # a developer's mistake: fail at import
    raise RuntimeError("engine.state changed its fields: update the packing in sessions/snapshots.py")
_BACKGROUND = ThreadPoolExecutor(max_workers=2, thread_name_prefix="snapshot-check")
_ALLOWED_GLOBALS = {("datetime", "datetime"), ("datetime", "date"), ("datetime", "timedelta"),
                    ("datetime", "timezone"), ("collections", "OrderedDict")}
# the frozen slots classes a folded state holds (what `_Packer` emits, found by unpickling the
# state of a session that uses every subsystem); frozen, so a BUILD on one of them fails
_ALLOWED_CLASSES = {("engine.state", "Fragment"), ("engine.state", "Message"), ("engine.state", "SearchRecord"),
                    ("engine.tasks", "Task"), ("engine.tasks", "TaskBoard"), ("engine.memory", "Memory"),
                    ("engine.memory", "MemoryGraph"), ("engine.brakes.events", "BrakeLog"),
                    ("engine.brakes.events", "BrakeRecord"), ("engine.imports", "ImportOrigin")}


class SnapshotRefused(Exception):
    """Why a snapshot was not used (kept in `Snapshots.last_refusal`; never raised to callers)."""


class Snapshots:
    """The snapshot files of one store's sessions, in `folder` (None: never any)."""

    def __init__(self, folder: str | Path | None, min_events: int = MIN_EVENTS,
                 refresh_events: int = REFRESH_EVENTS) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.min_events = min_events
        self.refresh_events = refresh_events
        self.last_refusal: str | None = None  # why the last snapshot looked at was not used
        self.last_write_error: str | None = None

    def wanted(self, last_seq: int, base: int) -> bool:
        """Whether a log of `last_seq` events, opened from a snapshot at `base` (0: none), should
        get a new one: it is long enough, and the snapshot is missing or far behind."""
        if self.folder is None or last_seq < self.min_events:
            return False
        return base == 0 or last_seq - base >= self.refresh_events

    @classmethod
    def beside(cls, database: str) -> "Snapshots":
        """The snapshots of the database file `database` (none for `:memory:`)."""
        return cls(None if database == ":memory:" else Path(database).expanduser().with_name(
            Path(database).name + ".snapshots"))

    def path(self, session_id: str) -> Path | None:
        if self.folder is None or not session_id.isalnum():
            return None
        return self.folder / f"{session_id}.snapshot"

    def read(self, session_id: str, events: EventStore) -> tuple[int, ContextState] | None:
        """(seq, the state after event seq) from a snapshot that passes every check, else None."""
        path = self.path(session_id)
        fingerprint: Future | None = None
        try:
            if path is None or not path.exists():
                self.last_refusal = "no snapshot"
                return None
            if not source_unchanged():
                raise SnapshotRefused("the code on disk changed since this process imported it")
            header, body = _read(path)
            seq = header.get("seq")
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
                raise SnapshotRefused("no event number in the header")
            _check_header(header, session_id, body)
            # DuckDB hashes the log in a thread of its own (it lets go of the interpreter) while
            # this one checks the body and unpickles it; the body's checksum is checked before
            # unpickling, so damaged bytes never reach the unpickler
            fingerprint = _BACKGROUND.submit(events.fingerprint, session_id, seq)
            if hashlib.sha256(body).hexdigest() != header["sha256"]:
                raise SnapshotRefused("the body does not match its checksum (changed since it was written)")
            with paused_collector():
                state = _Restricted(io.BytesIO(body)).load()
            if not isinstance(state, ContextState) or state.event_count != seq:
                raise SnapshotRefused(f"the body is not the state after event {seq}")
            if fingerprint.result() != header["fingerprint"]:
                raise SnapshotRefused(f"the log's events 1 to {seq} changed since the snapshot was made")
        except Exception as exc:  # noqa: BLE001 (whatever is wrong with a snapshot, the log is folded instead)
            self.last_refusal = f"{type(exc).__name__}: {exc}"[:300]
            return None
        finally:
            if fingerprint is not None:
                wait([fingerprint])  # the store is free again before the caller uses it
        self.last_refusal = None
        return seq, state

    def write(self, session_id: str, seq: int, state: ContextState, events: EventStore) -> Path | None:
        """Keep `state`, the fold of the session's events 1 to `seq`, for the next opening.
        A snapshot that cannot be written is no loss: the reason is kept in `last_write_error`."""
        path = self.path(session_id)
        if path is None or state.event_count != seq:
            return None
        try:
            if not source_unchanged():
                raise SnapshotRefused("the code on disk changed since this process imported it")
            body = _pack(state)
            header = {"format": FORMAT, "session": session_id, "seq": seq, "engine": engine_digest(),
                      "python": platform.python_version(), "fingerprint": events.fingerprint(session_id, seq),
                      "length": len(body), "sha256": hashlib.sha256(body).hexdigest()}
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{session_id}.", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(MAGIC + json.dumps(header, sort_keys=True).encode("utf-8") + b"\n")
                    file.write(body)
                os.replace(temporary, path)  # readers see the old file or the new one, never half of one
            except BaseException:
                os.unlink(temporary)
                raise
        except Exception as exc:  # noqa: BLE001 (a snapshot is a shortcut: no failure of one may fail an opening)
            self.last_write_error = f"{type(exc).__name__}: {exc}"[:300]
            return None
        self.last_write_error = None
        return path

    def discard(self, session_id: str) -> None:
        path = self.path(session_id)
        if path is not None:
            path.unlink(missing_ok=True)


def _source_files() -> list[Path]:
    import sessions.log as log_module  # the fold's own modules, imported before their source is read
    root = Path(engine.__file__).resolve().parent
    return sorted(root.rglob("*.py")) + [Path(log_module.__file__).resolve(), Path(__file__).resolve()]


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def _digest_now() -> tuple[str, dict[Path, tuple[int, int] | None]]:
    """The digest of the source this process imported (engine/, sessions/log.py, this module,
    and the libraries the events validate and the memory graph fold with), with each source
    file's (mtime_ns, size) as it was read: a file changed after this (a `git pull` under a
    running server) is no longer the code running, so `source_unchanged()` turns snapshots off."""
    import engine.catalog  # noqa: F401 (the fold's modules, loaded before their source is hashed)
    import engine.fold  # noqa: F401
    digest = hashlib.sha256(f"format {FORMAT}".encode())
    for package in ("pydantic", "pydantic-core", "networkx"):
        digest.update(f"{package} {_version(package)}\0".encode())
    stats = {}
    for path in _source_files():
        stats[path] = _stat(path)
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest(), stats


def _process_started_ns() -> int | None:
    """When this process started (Linux: its /proc entry's ctime), or None where that is unknown."""
    try:
        return os.stat(f"/proc/{os.getpid()}").st_ctime_ns
    except OSError:
        return None


def _digest_or_none() -> tuple[str | None, dict[Path, tuple[int, int] | None]]:
    """The digest, or None (snapshots off) when the source cannot be read whole (an unreadable
    file, a dangling editor lock link), is not there (an install of bytecode only), or was
    changed after this process started (it may have imported the code before the change)."""
    try:
        digest, stats = _digest_now()
    except Exception:  # noqa: BLE001 (a snapshot is a shortcut: without a sure digest there are none)
        return None, {}
    engine_root = Path(engine.__file__).resolve().parent
    if not any(engine_root in path.parents for path in stats):
        return None, {}
    started = _process_started_ns()
    if started is not None and any(stat is None or stat[0] > started for stat in stats.values()):
        return None, {}
    return digest, stats


_DIGEST, _SOURCES = _digest_or_none()


def engine_digest() -> str | None:
    """A digest of the code this process runs, taken when it was imported (None: snapshots are
    off in this process): a snapshot made by other code is not used."""
    return _DIGEST


def source_unchanged() -> bool:
    """Whether every source file the digest read still has the mtime and size it had then."""
    return _DIGEST is not None and all(_stat(path) == stat for path, stat in _SOURCES.items())


def _read(path: Path) -> tuple[dict[str, Any], bytes]:
    with path.open("rb") as file:  # read in parts: slicing one read would copy the body again
        if file.read(len(MAGIC)) != MAGIC:
            raise SnapshotRefused("not a snapshot file")
        line = file.readline(65_536)
        if not line.endswith(b"\n"):
            raise SnapshotRefused("the header is cut short")
        header = json.loads(line.decode("utf-8"))
        if not isinstance(header, dict):
            raise SnapshotRefused("the header is not an object")
        return header, file.read()


def _check_header(header: dict[str, Any], session_id: str, body: bytes) -> None:
    expected = {"format": FORMAT, "session": session_id, "engine": engine_digest(),
                "python": platform.python_version()}
    for key, value in expected.items():
        if header.get(key) != value:
            raise SnapshotRefused(f"made for another {key}")
    if header.get("length") != len(body) or not isinstance(header.get("sha256"), str):
        raise SnapshotRefused("the body is not as long as its header says (cut short?)")


# ---- packing ---------------------------------------------------------------------------------

def _pack(state: ContextState) -> bytes:
    buffer = io.BytesIO()
    _Packer(buffer, protocol=5).dump(state)
    return buffer.getvalue()


class _Packer(pickle.Pickler):
    def reducer_override(self, value: Any) -> Any:
        if type(value) is ContextState:  # its ids are the fragments' own strings: stored once, referred to
            return _state, (value.messages, value.fragment_owner, value.searches, value.event_count, value.settings,
                            value.slices)
        if type(value) is Message:
            text = value.content or ""
            pieces = []
            for fragment in value.fragments:
                if fragment.message_id != value.id or fragment.text != text[fragment.start:fragment.end]:
                    return NotImplemented  # not a slice of its message: pickled whole
                pieces.append((fragment.id, fragment.start, fragment.end, fragment.status, fragment.summary,
                               fragment.focus, fragment.summarizer))
            if pieces and not _tiles(pieces, len(text)):
                return NotImplemented  # fragments that do not cut the whole text: pickled whole
            return _message, (value.id, value.role, value.content, tuple(pieces), value.name, value.tool_calls,
                              value.tool_call_id, value.attachments, value.extra, value.reasoning, value.stopped)
        return NotImplemented


def _tiles(pieces: Any, length: int) -> bool:
    """Whether `pieces` ((id, start, end, ...) each) cut [0, length) into consecutive slices, none empty."""
    at = 0
    for piece in pieces:
        start, end = piece[1], piece[2]
        if type(start) is not int or type(end) is not int or start != at or end <= start:
            return False
        at = end
    return at == length


def _message(id, role, content, pieces, name, tool_calls, tool_call_id, attachments, extra, reasoning, stopped):
    text, make = content or "", Fragment
    if not isinstance(text, str) or not isinstance(pieces, tuple) or (pieces and not _tiles(pieces, len(text))):
        raise SnapshotRefused("a message's fragments do not cut its text into consecutive slices")
    fragments = tuple([make(fragment_id, id, start, end, text[start:end], status, summary, focus, summarizer)
                       for fragment_id, start, end, status, summary, focus, summarizer in pieces])
    return Message(id, role, content, fragments, name, tool_calls, tool_call_id, attachments, extra, reasoning,
                   stopped)


def _state(messages, owner, searches, event_count, settings, slices) -> ContextState:
    return ContextState(messages, owner, searches, event_count, settings, slices)


class _Restricted(pickle.Unpickler):
    """Unpickles only what a state is made of: the two rebuilders above, the frozen classes a
    state holds (`_ALLOWED_CLASSES`, each by its exact module and name) and a few standard
    values. Any other name (a function that runs a command, say, or a dotted path through a
    module) refuses the snapshot instead of being imported. ContextState itself is never
    handed out by name: only `_state` builds one. What this guards against is damage and
    stale code, not a forger (see the module's docstring)."""

    def find_class(self, module: str, name: str) -> Any:
        if "." in name:
            raise SnapshotRefused(f"the body names {module}:{name}, a dotted name a state never holds")
        if module == __name__ and name in ("_message", "_state"):
            return globals()[name]
        if (module, name) in _ALLOWED_GLOBALS or (module, name) in _ALLOWED_CLASSES:
            try:
                return super().find_class(module, name)
            except Exception as exc:  # noqa: BLE001 (a class that no longer imports refuses the snapshot)
                raise SnapshotRefused(f"the body names {module}.{name}, which does not import: {exc}") from None
        raise SnapshotRefused(f"the body names {module}.{name}, which a state never holds")
