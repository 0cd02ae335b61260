"""Stored events (`seq`, `ts`, `kind`, `payload`) and their one canonical JSON form.

Pure values shared by every store, the trace format and the UI: an `EventRecord` is an
event with the position and time the store gave it, and who wrote it (`engine.actors`).

Canonical JSON: keys sorted, no spaces, UTF-8 text kept as is, and lone surrogates (which
UTF-8 cannot hold but a JSON file can) written as `\\udXXX` escapes, so any Python string
survives the store, an export and an import unchanged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from engine.actors import Actor
from engine.catalog import event_from_record
from engine.events import Event

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def canonical_json(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def utc_now() -> datetime:
    """Now, as a naive UTC datetime with microseconds (what the store keeps)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def format_ts(ts: datetime) -> str:
    return ts.strftime(TS_FORMAT)


def parse_ts(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


@dataclass(frozen=True, slots=True)
class EventRecord:
    seq: int
    ts: datetime
    event: Event
    actor: Actor | None = None  # None: written before actors were recorded

    @property
    def kind(self) -> str:
        return self.event.kind

    def payload(self) -> dict[str, Any]:
        return self.event.payload()

    def to_dict(self) -> dict[str, Any]:
        """`{"seq", "ts", "kind", "payload"}`, and `"actor"` when the record has one."""
        found = {"seq": self.seq, "ts": format_ts(self.ts), "kind": self.kind, "payload": self.payload()}
        if self.actor is not None:
            found["actor"] = self.actor.to_dict()
        return found

    def actor_json(self) -> str | None:
        return self.actor.to_json() if self.actor is not None else None

    @classmethod
    def from_row(cls, seq: int, ts: datetime, kind: str, payload_json: str,
                 actor_json: str | None = None) -> "EventRecord":
        return cls(seq, ts, event_from_record(kind, json.loads(payload_json)), Actor.from_json(actor_json))
