"""What an import did, per file: the format found, the sessions made, what they hold, warnings.

The CLI prints `ImportReport.lines()`; the Sessions page shows the same figures. Counts
come from the events the import wrote (a branch counts only what it adds to its parent).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from engine.events import LLMCalled, MessageAdded
from engine.imports import ContextCompacted
from engine.records import EventRecord

MAX_WARNINGS_SHOWN = 10


@dataclass
class FileReport:
    file: str
    format: str = ""
    label: str = ""
    sessions: list[dict[str, Any]] = field(default_factory=list)  # id, title, relation, messages
    messages_by_role: Counter = field(default_factory=Counter)
    tool_calls: int = 0
    tool_results: int = 0
    reasoning_parts: int = 0
    attachments: int = 0
    compactions: int = 0
    model_calls: int = 0
    folded_messages: int = 0
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def add_session(self, session_id: str, title: str, conversation: Any) -> None:
        relation = getattr(conversation, "relation", None) or (
            "fork" if getattr(conversation, "branch_at", None) is not None else None)
        self.sessions.append({"id": session_id, "title": title, "relation": relation})
        self.warnings += [f"{title}: {warning}" for warning in getattr(conversation, "warnings", [])]

    def count_records(self, records: Iterable[EventRecord]) -> None:
        for record in records:
            event = record.event
            if isinstance(event, MessageAdded):
                self.messages_by_role[event.role] += 1
                self.tool_calls += len(event.tool_calls or ())
                self.tool_results += event.role == "tool"
                self.reasoning_parts += bool(event.reasoning)
                self.attachments += len(event.attachments)
            elif isinstance(event, ContextCompacted):
                self.compactions += 1
            elif isinstance(event, LLMCalled):
                self.model_calls += 1

    @property
    def messages(self) -> int:
        return sum(self.messages_by_role.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "format": self.format, "label": self.label, "sessions": self.sessions,
            "messages": self.messages, "messages_by_role": dict(self.messages_by_role),
            "tool_calls": self.tool_calls, "tool_results": self.tool_results,
            "reasoning_parts": self.reasoning_parts, "attachments": self.attachments,
            "compactions": self.compactions, "model_calls": self.model_calls,
            "folded_messages": self.folded_messages, "warnings": self.warnings, "skipped": self.skipped,
        }

    def lines(self) -> list[str]:
        roles = ", ".join(f"{count:,} {role}" for role, count in sorted(self.messages_by_role.items()))
        kinds = Counter(session["relation"] or "session" for session in self.sessions)
        made = ", ".join(f"{count:,} {_plural(kind, count)}" for kind, count in kinds.items()) or "no sessions"
        out = [
            f"{self.file}: {self.label} ({self.format})",
            f"  sessions made: {made}",
            f"  messages: {self.messages:,}" + (f" ({roles})" if roles else ""),
            f"  tool calls: {self.tool_calls:,}, tool results: {self.tool_results:,}, "
            f"reasoning parts: {self.reasoning_parts:,}, attachments kept aside: {self.attachments:,}",
        ]
        if self.folded_messages or self.compactions:
            out.append(f"  imported folded: {self.folded_messages:,} messages; compactions: {self.compactions:,}")
        if self.model_calls:
            out.append(f"  model calls recorded: {self.model_calls:,}")
        for title, items in (("skipped", self.skipped), ("warnings", self.warnings)):
            if items:
                out.append(f"  {title} ({len(items):,}):")
                out += [f"    - {item}" for item in items[:MAX_WARNINGS_SHOWN]]
                if len(items) > MAX_WARNINGS_SHOWN:
                    out.append(f"    - and {len(items) - MAX_WARNINGS_SHOWN:,} more")
        return out


def _plural(kind: str, count: int) -> str:
    words = {"session": "session", "fork": "fork", "subagent": "subagent session"}
    word = words.get(kind, kind)
    return word if count == 1 else word + "s"


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)

    @property
    def session_ids(self) -> list[str]:
        return [session["id"] for report in self.files for session in report.sessions]

    @property
    def first_id(self) -> str:
        return self.session_ids[0]

    def lines(self) -> list[str]:
        return [line for report in self.files for line in report.lines()]

    def as_dict(self) -> dict[str, Any]:
        return {"files": [report.as_dict() for report in self.files]}
