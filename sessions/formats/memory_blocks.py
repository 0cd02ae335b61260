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
Mem-alpha's own suffix, and the import says so; the blocks stay whole in `conversation_imported`.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from engine.events import Event, MessageAdded
from engine.memory import CORE_ID, CORE_MEMORY_TOKENS, MemoryInserted, MemoryUpdated, core_memory, memory_graph
from engine.ids import IdAllocator
from engine.state import ContextState
from engine.tokens import TokenCounter

TRUNCATED = " [content exceeds 512 tokens, truncated]"  # Mem-alpha's suffix (memory.py)
APPEND, REPLACE = ("core_memory_append",), ("core_memory_replace", "memory_replace")
UNMODELLED = ("memory_insert", "memory_rethink", "memory_finish_edits")
ARCHIVAL = ("archival_memory_insert",)


def _arguments(call: dict[str, Any]) -> dict[str, Any]:
    arguments = (call.get("function") or {}).get("arguments")
    try:
        value = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _name(call: dict[str, Any]) -> str:
    return str((call.get("function") or {}).get("name") or "")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def memory_calls(messages: Iterable[Any]) -> list[dict[str, Any]]:
    """The calls, in order, that change core memory blocks."""
    return [call for message in messages for call in (message.tool_calls or ())
            if _name(call) in APPEND + REPLACE + UNMODELLED]


def core_text(blocks: dict[str, str]) -> str:
    """The blocks as Letta shows them to its model: each in a tag named by its label."""
    return "\n".join(f"<{label}>\n{value.strip()}\n</{label}>" for label, value in blocks.items() if value.strip())


def within_bound(text: str, counter: TokenCounter) -> tuple[str, bool]:
    """`text`, or its longest word-by-word prefix that fits with the suffix in 512 tokens."""
    if counter.count(text) <= CORE_MEMORY_TOKENS:
        return text, False
    words = text.split(" ")
    low, high = 0, len(words)
    while low < high:  # the most words that still fit
        middle = (low + high + 1) // 2
        if counter.count(" ".join(words[:middle]) + TRUNCATED) <= CORE_MEMORY_TOKENS:
            low = middle
        else:
            high = middle - 1
    return " ".join(words[:low]) + TRUNCATED, True


class CoreMemoryHistory:
    """Core memory over one imported conversation: the blocks at the start, then each change."""

    def __init__(self, memory: list[dict[str, Any]], calls: Iterable[dict[str, Any]], counter: TokenCounter,
                 warnings: list[str]) -> None:
        self.blocks = {str(b.get("label") or "block"): _text(b.get("value")) for b in memory if isinstance(b, dict)}
        self.counter = counter
        self.warnings = warnings
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
                if not old or not new or new not in value:
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
            self.warnings.append(f"core memory is over {CORE_MEMORY_TOKENS} tokens; it is cut to fit (the whole "
                                 "blocks stay in the import record)")
        return text

    def opening(self) -> list[Event]:
        text = self._bounded() if self.blocks else ""
        return [MemoryInserted(memory_id=CORE_ID, memory_type="core", content=text)] if text else []

    def after(self, state: ContextState, message: MessageAdded) -> list[Event]:
        """The memory events a message's calls stand for, given the state so far."""
        events: list[Event] = []
        core = memory_graph(state).get(CORE_ID)
        exists, previous = core is not None, core_memory(state)
        for call in message.tool_calls or ():
            name, arguments = _name(call), _arguments(call)
            if name in ARCHIVAL and _text(arguments.get("content")).strip():
                content = _text(arguments["content"]).strip()
                allocator = IdAllocator("m", memory_graph(state).index, seed=f"letta:{state.event_count}:{len(events)}")
                events.append(MemoryInserted(memory_id=allocator.next(content), memory_type="semantic",
                                             content=content, message_id=message.message_id))
            elif self.follows_calls and (name in APPEND or name in REPLACE):
                self._apply(name, arguments)
                text = self._bounded()
                if text == previous:
                    continue
                events.append(MemoryUpdated(memory_id=CORE_ID, content=text, previous=previous,
                                            message_id=message.message_id) if exists else
                              MemoryInserted(memory_id=CORE_ID, memory_type="core", content=text,
                                             message_id=message.message_id))
                exists, previous = True, text
        return events

    def _apply(self, name: str, arguments: dict[str, Any]) -> None:
        label = _text(arguments.get("label"))
        if name in APPEND:
            self.blocks[label] = self.blocks.get(label, "") + "\n" + _text(arguments.get("content"))
        else:
            old = _text(arguments.get("old_content", arguments.get("old_str")))
            new = _text(arguments.get("new_content", arguments.get("new_str")))
            self.blocks[label] = self.blocks.get(label, "").replace(old, new)
