"""Snapshots: the folded state of a long session, kept in a file so it opens without folding its log.

Folding the 100,000 events of a 10M-token session takes seconds (reading them, validating
them, applying them); reading a snapshot of the state they fold to takes a fraction of that.
A snapshot is derived and never authoritative: the event log stays the only truth, and a
snapshot is used only when everything below holds, else it is ignored and the log is folded:

- the file reads whole: its header parses and its body has the length and SHA-256 it names
  (a torn write, a flipped bit or a truncated file fails here);
- it was made for this session, in this snapshot format, by this exact engine (a digest of
  the engine's source, so a change to any fold rule retires every snapshot) on this Python;
- the log's events 1 to the snapshot's seq still have the fingerprint the snapshot recorded
  (`EventStore.fingerprint`: an edited, lost or reordered event fails here);
- the body unpickles using only the classes a state is made of (`_Restricted`), to a state
  that has folded exactly that many events.

These checks catch damage and staleness, not forgery: a snapshot is as trusted as the database
beside it (whoever can write one can write the other), and unpickling it never runs code.

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
from dataclasses import fields, is_dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import engine
from engine.errors import WorkbenchError
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
        if path is None or not path.exists():
            self.last_refusal = "no snapshot"
            return None
        fingerprint: Future | None = None
        try:
            header, body = _read(path)
            seq = header.get("seq")
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
                raise SnapshotRefused("no event number in the header")
            _check_header(header, session_id, body)
            # DuckDB hashes the log, and hashlib the body, in threads of their own (both let go of
            # the interpreter) while this one unpickles it; unpickling runs no code, so a damaged
            # body is refused after as safely as before
            fingerprint = _BACKGROUND.submit(events.fingerprint, session_id, seq)
            checksum = _BACKGROUND.submit(lambda: hashlib.sha256(body).hexdigest())
            with paused_collector():
                state = _Restricted(io.BytesIO(body)).load()
            if checksum.result() != header["sha256"]:
                raise SnapshotRefused("the body does not match its checksum (changed since it was written)")
            if not isinstance(state, ContextState) or state.event_count != seq:
                raise SnapshotRefused(f"the body is not the state after event {seq}")
            if fingerprint.result() != header["fingerprint"]:
                raise SnapshotRefused(f"the log's events 1 to {seq} changed since the snapshot was made")
        except (SnapshotRefused, OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, EOFError,
                pickle.UnpicklingError, RecursionError, MemoryError, WorkbenchError) as exc:
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
        except (OSError, pickle.PicklingError, TypeError, ValueError, RecursionError) as exc:
            self.last_write_error = f"{type(exc).__name__}: {exc}"[:300]
            return None
        self.last_write_error = None
        return path

    def discard(self, session_id: str) -> None:
        path = self.path(session_id)
        if path is not None:
            path.unlink(missing_ok=True)


@lru_cache(maxsize=1)
def engine_digest() -> str:
    """A digest of the engine's source and of this module: a snapshot made by other code is not used."""
    digest = hashlib.sha256(f"format {FORMAT}".encode())
    root = Path(engine.__file__).resolve().parent
    for path in sorted(root.rglob("*.py")) + [Path(__file__).resolve()]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


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
            return _message, (value.id, value.role, value.content, tuple(pieces), value.name, value.tool_calls,
                              value.tool_call_id, value.attachments, value.extra, value.reasoning, value.stopped)
        return NotImplemented


def _message(id, role, content, pieces, name, tool_calls, tool_call_id, attachments, extra, reasoning, stopped):
    text, make = content or "", Fragment
    fragments = tuple([make(fragment_id, id, start, end, text[start:end], status, summary, focus, summarizer)
                       for fragment_id, start, end, status, summary, focus, summarizer in pieces])
    return Message(id, role, content, fragments, name, tool_calls, tool_call_id, attachments, extra, reasoning,
                   stopped)


def _state(messages, owner, searches, event_count, settings, slices) -> ContextState:
    return ContextState(messages, owner, searches, event_count, settings, slices)


class _Restricted(pickle.Unpickler):
    """Unpickles only what a state is made of: the engine's dataclasses, the two rebuilders
    above and a few standard values. Anything else (a function that runs a command, say)
    refuses the snapshot instead of running."""

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name in ("_message", "_state"):
            return globals()[name]
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        if module == "engine" or module.startswith("engine."):
            found = super().find_class(module, name)
            if isinstance(found, type) and is_dataclass(found):
                return found
        raise SnapshotRefused(f"the body names {module}.{name}, which a state never holds")
