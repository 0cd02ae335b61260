"""Memory from a saved conversation: Letta's core memory blocks become core memory (issue 10),
as it stood at each step, and its archival inserts become semantic memories.

A Letta agent file holds the blocks as they are at the end (`label`, `value`), and its messages
hold the calls that changed them: `core_memory_append(label, content)` (Letta appends
"\\n" + content) and `core_memory_replace(label, old_content, new_content)` (every occurrence),
and the newer `memory_replace(label, old_str, new_str)`. Undoing those calls from the end gives
the blocks at the start, so the session opens with core memory as the agent first had it and
each call is a `memory_updated`: Replay shows the notes changing where the agent changed them.
When a call cannot be undone (its text is not in the block, or a call this module does not
model, such as `memory_insert` at a line, changed the block), the final blocks are used from the
start and the import says so.

Core memory holds at most 512 tokens (Mem-alpha); longer text is cut word by word with
Mem-alpha's own suffix, and the import says which blocks were cut or left out; the blocks stay
whole in `conversation_imported`. A replacement is undone only when its new text is in the block
once (else the first blocks would be a guess), and the calls redone from the first blocks must
give the final ones. Blocks emptied clear core memory (`memory_deleted`); written again, it comes
back (`memory_restored`). Odd blocks (no label, a label twice, a value that is not text) are kept
under a made-up label and named in the import's warnings.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from datetime import datetime

from engine.events import Event, MessageAdded
from engine.ids import IdAllocator
from engine.memory import (
    CORE_ID, CORE_MEMORY_TOKENS, MemoryDeleted, MemoryInserted, MemoryRestored, MemoryUpdated, memory_graph,
    within_bound,
)
from engine.records import format_ts
from engine.state import ContextState
from engine.tokens import TokenCounter

APPEND, REPLACE = ("core_memory_append",), ("core_memory_replace", "memory_replace")
UNMODELLED = ("memory_insert", "memory_rethink", "memory_finish_edits")
ARCHIVAL = ("archival_memory_insert",)


def _arguments(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function")
    arguments = function.get("arguments") if isinstance(function, dict) else None
    try:
        value = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _name(call: dict[str, Any]) -> str:
    function = call.get("function")
    return str(function.get("name") or "") if isinstance(function, dict) else ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _calls(tool_calls: Any) -> list[dict[str, Any]]:
    """The well-formed calls of a message (the reader may keep odd ones: the builder names those)."""
    return [call for call in tool_calls if isinstance(call, dict)] if isinstance(tool_calls, (list, tuple)) else []


def memory_calls(messages: Iterable[Any]) -> list[dict[str, Any]]:
    """The calls, in order, that change core memory blocks."""
    return [call for message in messages for call in _calls(message.tool_calls)
            if _name(call) in APPEND + REPLACE + UNMODELLED]


def core_text(blocks: dict[str, str]) -> str:
    """The blocks as Letta shows them to its model: each in a tag named by its label."""
    return "\n".join(f"<{label}>\n{value.strip()}\n</{label}>" for label, value in blocks.items() if value.strip())


def read_blocks(memory: list[Any], warnings: list[str]) -> dict[str, str]:
    """label -> value, every block kept: one without a label, or with a label seen before, under a
    made-up one; a value that is not text as its JSON."""
    blocks: dict[str, str] = {}
    for position, block in enumerate(memory):
        if not isinstance(block, dict):
            continue  # the Letta reader has said so already
        label = block.get("label") if isinstance(block.get("label"), str) and block.get("label") else None
        value = block.get("value")
        if not isinstance(value, str):
            warnings.append(f"core memory: block {label or position} has a value that is not text; kept as JSON")
            value = json.dumps(value, ensure_ascii=False)
        name = label or f"block {position + 1}"
        if label is None:
            warnings.append(f"core memory: block {position + 1} has no label; shown as <{name}>")
        if name in blocks:
            unique = next(f"{name}-{n}" for n in range(2, len(memory) + 3) if f"{name}-{n}" not in blocks)
            warnings.append(f"core memory: two blocks are labelled {name!r}; the second is shown as <{unique}>")
            name = unique
        blocks[name] = value
    return blocks


class CoreMemoryHistory:
    """Memory over one imported conversation: core memory from the blocks at the start, then each
    change the agent's calls made, and its archival inserts."""

    def __init__(self, memory: list[Any], calls: Iterable[dict[str, Any]], counter: TokenCounter,
                 warnings: list[str]) -> None:
        self.warnings = warnings
        self.blocks = read_blocks(memory, warnings)
        self.counter = counter
        self.follows_calls = bool(self.blocks) and self._undo(list(calls))
        self._cut_noted = False

    def _undo(self, calls: list[dict[str, Any]]) -> bool:
        """Turn the final blocks into the first ones by undoing `calls` from the last; False (and the
        final blocks kept) when one cannot be undone."""
        blocks = dict(self.blocks)
        for call in reversed(calls):
            name, arguments = _name(call), _arguments(call)
            label = _text(arguments.get("label"))
            value = blocks.get(label)
            if name in UNMODELLED or value is None:
                return self._cannot(f"{name} on block {label!r}")
            if name in APPEND:
                added = "\n" + _text(arguments.get("content"))
                if not value.endswith(added):
                    return self._cannot(f"{name} on block {label!r}")
                blocks[label] = value[: len(value) - len(added)]
            else:
                old = _text(arguments.get("old_content", arguments.get("old_str")))
                new = _text(arguments.get("new_content", arguments.get("new_str")))
                if not old or not new or value.count(new) != 1:  # in the block more than once: a guess
                    return self._cannot(f"{name} on block {label!r}")
                blocks[label] = value.replace(new, old)
        final, self.blocks = self.blocks, dict(blocks)
        for call in calls:  # the calls from the blocks so found must lead to the final blocks
            self._apply(_name(call), _arguments(call))
        if self.blocks != final:
            self.blocks = final
            return self._cannot("a replacement whose text was in the block already")
        self.blocks = blocks
        return True

    def _cannot(self, what: str) -> bool:
        self.warnings.append(f"core memory: {what} could not be traced back through the blocks, so the session "
                             "shows the final core memory from its start")
        return False

    def _bounded(self) -> str:
        text, cut = within_bound(core_text(self.blocks), self.counter)
        if cut and not self._cut_noted:
            self._cut_noted = True
            shown = [label for label, value in self.blocks.items() if value.strip() and f"<{label}>" in text]
            whole = [label for label in shown if f"</{label}>" in text]
            lost = [label for label, value in self.blocks.items() if value.strip() and label not in shown]
            part = "".join(f"; {label} is cut short" for label in shown if label not in whole)
            out = f"; left out: {', '.join(lost)}" if lost else ""
            self.warnings.append(f"core memory is over {CORE_MEMORY_TOKENS} tokens, so it is cut to fit{part}{out} "
                                 "(the whole blocks stay in the import record)")
        return text

    def opening(self) -> list[Event]:
        text = self._bounded() if self.blocks else ""
        return [MemoryInserted(memory_id=CORE_ID, memory_type="core", content=text)] if text else []

    def after(self, state: ContextState, message: MessageAdded, moment: datetime | None = None) -> list[Event]:
        """The memory events a message's calls stand for, given the state so far."""
        events: list[Event] = []
        core = memory_graph(state).get(CORE_ID)
        exists, live, previous = core is not None, core is not None and core.live, core.content if core else ""
        when = format_ts(moment) if moment else None
        for call in _calls(message.tool_calls):
            name, arguments = _name(call), _arguments(call)
            if name in ARCHIVAL and _text(arguments.get("content")).strip():
                content = _text(arguments["content"]).strip()
                allocator = IdAllocator("m", memory_graph(state).index, seed=f"letta:{state.event_count}:{len(events)}")
                events.append(MemoryInserted(memory_id=allocator.next(content), memory_type="semantic",
                                             content=content, message_id=message.message_id, recorded_at=when))
            elif self.follows_calls and (name in APPEND or name in REPLACE):
                self._apply(name, arguments)
                text = self._bounded()
                events += self._core_change(exists, live, previous, text, message.message_id, when)
                exists, live, previous = exists or bool(text), bool(text), text or previous
        return events

    @staticmethod
    def _core_change(exists: bool, live: bool, previous: str, text: str, message_id: str,
                     when: str | None) -> list[Event]:
        if not text:  # every block emptied: core memory cleared
            return [MemoryDeleted(memory_id=CORE_ID, message_id=message_id)] if live else []
        if not exists:
            return [MemoryInserted(memory_id=CORE_ID, memory_type="core", content=text, message_id=message_id,
                                   recorded_at=when)]
        if text == previous and live:
            return []
        revived = [] if live else [MemoryRestored(memory_id=CORE_ID, message_id=message_id)]
        if text == previous:
            return revived
        return [*revived, MemoryUpdated(memory_id=CORE_ID, content=text, previous=previous, message_id=message_id)]

    def _apply(self, name: str, arguments: dict[str, Any]) -> None:
        label = _text(arguments.get("label"))
        if name in APPEND:
            self.blocks[label] = self.blocks.get(label, "") + "\n" + _text(arguments.get("content"))
        else:
            old = _text(arguments.get("old_content", arguments.get("old_str")))
            new = _text(arguments.get("new_content", arguments.get("new_str")))
            self.blocks[label] = self.blocks.get(label, "").replace(old, new)
