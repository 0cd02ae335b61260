"""What a person asked for: a tool call the page will run through the session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Intent:
    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
