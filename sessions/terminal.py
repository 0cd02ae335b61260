"""What the command line prints through: text made safe for a terminal, JSON, a session by id."""

from __future__ import annotations

import json
import re
from typing import Any

from engine.actors import Actor
from engine.text import printable
from sessions.session import Session
from sessions.store import SessionStore

# control characters and the bidirectional overrides that would reorder what a terminal shows
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """Text with lone surrogates and control characters (escape sequences) made visible."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}",
                        printable(text))


def print_safe(text: str = "") -> None:
    print(terminal_safe(text))


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def open_session(store: SessionStore, session_id: str) -> Session:
    """The session with this id or unique id prefix; what it does is recorded as a person's at the CLI."""
    session = store.open_session(store.resolve_id(session_id))
    session.actor = Actor.person("cli")
    return session
