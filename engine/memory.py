"""The memory graph: core, semantic and episodic memories, and hyperedges joining entities.

Mem-alpha (arXiv 2509.25911; algorithms.md §4) gives the kinds of memory: **core**, one text of
at most 512 tokens that is always at the top of the context (engine/render.py draws it there);
**semantic** memories, facts ("John is the user's 18-year-old friend"); **episodic** memories,
events with a time ("At 14:00 the user booked Hall B"). HGMem (arXiv 2512.23959; §3) gives the
structure: a memory point is a hyperedge over two or more entities with a description, and
merging points makes one whose entities are the union of theirs. Here every memory that names
entities is such a hyperedge; `memory_link` makes one that is only a link (type "link").

Each memory has an id (`m` + 5 hex, `h` + 5 hex for a link, `core` for the core memory), the
message that was last in the context when it was written, and the history of its past values.
Nothing is ever dropped: a deleted memory, or one merged into another, keeps its record with
its status, so Replay shows it and `memory_restore` brings it back.

Five events, folded into an immutable `MemoryGraph` slice. The graph views (the bipartite
entity-memory graph, an entity's neighbourhood) are networkx graphs built from the slice when
asked, never stored.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Literal

import networkx as nx
from pydantic import Field

from engine.errors import ReplayError
from engine.events import Event
from engine.ids import RecordId
from engine.state import ContextState
from engine.subsystem import Subsystem, upserted

MemoryType = Literal["core", "semantic", "episodic", "link"]
MEMORY_TYPES: tuple[str, ...] = ("core", "semantic", "episodic", "link")
CORE_ID = "core"
CORE_MEMORY_TOKENS = 512  # Mem-alpha's bound on core memory (memory.py)
TRUNCATED = " [content exceeds 512 tokens, truncated]"  # Mem-alpha's suffix when core memory is cut
ENTITY_CHARS = 120


class MemoryInserted(Event):
    kind: Literal["memory_inserted"] = "memory_inserted"
    memory_id: RecordId
    memory_type: MemoryType
    content: str
    entities: list[str] = Field(default_factory=list)
    message_id: RecordId | None = None  # the last message in the context when it was written
    recorded_at: str | None = None  # ISO time it was written
    occurred_at: str | None = None  # for an episodic memory: when the event happened, as given


class MemoryUpdated(Event):
    kind: Literal["memory_updated"] = "memory_updated"
    memory_id: RecordId
    content: str
    previous: str
    entities: list[str] | None = None  # the new entities; None leaves them as they were
    previous_entities: list[str] | None = None
    message_id: RecordId | None = None


class MemoryDeleted(Event):
    kind: Literal["memory_deleted"] = "memory_deleted"
    memory_id: RecordId
    message_id: RecordId | None = None


class MemoryRestored(Event):
    kind: Literal["memory_restored"] = "memory_restored"
    memory_id: RecordId
    message_id: RecordId | None = None


class MemoryMerged(Event):
    """HGMem's merge: `sources` become one memory over the union of their entities."""

    kind: Literal["memory_merged"] = "memory_merged"
    memory_id: RecordId  # the new memory
    memory_type: MemoryType
    sources: list[RecordId]
    entities: list[str]
    description: str
    message_id: RecordId | None = None
    recorded_at: str | None = None
    occurred_at: str | None = None  # merged events: the time of the first source that has one


@dataclass(frozen=True, slots=True)
class Memory:
    id: str
    memory_type: str
    content: str
    entities: tuple[str, ...]
    message_id: str | None
    created_seq: int  # the event that made it
    recorded_at: str | None = None
    occurred_at: str | None = None
    status: str = "live"  # live, deleted, or merged (into `merged_into`)
    merged_into: str | None = None
    merged_from: tuple[str, ...] = ()
    history: tuple[dict[str, Any], ...] = ()  # each past value: {"seq", "change", field: old value, ...}

    @property
    def live(self) -> bool:
        return self.status == "live"

    @property
    def when(self) -> str | None:
        """When it happened (an episodic memory's own time), else when it was written."""
        return self.occurred_at or self.recorded_at


@dataclass(frozen=True, slots=True)
class MemoryGraph:
    """The slice: every memory ever written, in order, deleted and merged ones included."""

    memories: tuple[Memory, ...] = ()
    index: dict[str, int] = field(default_factory=dict, compare=False)

    def get(self, memory_id: str) -> Memory | None:
        position = self.index.get(memory_id)
        return self.memories[position] if position is not None else None

    def with_memory(self, memory: Memory) -> "MemoryGraph":
        return MemoryGraph(*upserted(self.memories, self.index, memory))

    def live(self, memory_type: str | None = None) -> list[Memory]:
        return [m for m in self.memories if m.live and (memory_type is None or m.memory_type == memory_type)]


def memory_graph(state: ContextState) -> MemoryGraph:
    return MEMORY.slice_of(state)


def memory_record(memory: Memory) -> dict[str, Any]:
    """A memory as JSON, for the CLI's --json and the MCP memory resource."""
    return {"memory_id": memory.id, "memory_type": memory.memory_type, "status": memory.status,
            "content": memory.content, "entities": list(memory.entities), "when": memory.when,
            "message_id": memory.message_id, "merged_into": memory.merged_into, "history": list(memory.history)}


def core_memory(state: ContextState) -> str:
    """The core memory's text as the model is shown it ("" when there is none, or it was deleted)."""
    core = memory_graph(state).get(CORE_ID)
    return core.content if core is not None and core.live else ""


def within_bound(text: str, counter: Any) -> tuple[str, bool]:
    """`text`, or its longest prefix that fits in 512 tokens with Mem-alpha's suffix, cut at a
    space where one is near the end (Mem-alpha cuts word by word) and at a token otherwise (a
    text with no spaces: Chinese, a URL, a line of JSON). Returns the text and whether it was cut."""
    if counter.count(text) <= CORE_MEMORY_TOKENS:
        return text, False
    room = CORE_MEMORY_TOKENS - counter.count(TRUNCATED)
    tokens = counter.encode(text)
    while room > 0:
        head = counter.decode(tokens[:room]).rstrip("\ufffd")  # no half character at the cut
        space = head.rfind(" ")
        if space >= len(head) * 0.9:
            head = head[:space]
        cut = head.rstrip() + TRUNCATED
        if counter.count(cut) <= CORE_MEMORY_TOKENS:
            return cut, True
        room -= 1
    return TRUNCATED.strip(), True


def entity_key(name: str) -> str:
    """Entities are the same when their names differ only in case, spacing or Unicode form."""
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


def clean_entities(names: Iterable[str]) -> list[str]:
    """Names with spacing and Unicode form tidied, those with no letter or digit (a lone
    zero-width space, punctuation) and repeats (by `entity_key`) dropped, first spelling kept."""
    seen: dict[str, str] = {}
    for name in names:
        tidy = " ".join(unicodedata.normalize("NFKC", str(name)).split())
        if any(char.isalnum() for char in tidy) and entity_key(tidy) not in seen:
            seen[entity_key(tidy)] = tidy
    return list(seen.values())


# ---- the fold ---------------------------------------------------------------------------------


MAX_ENTITIES = 50


def _check_new(graph: MemoryGraph, memory_id: str, memory_type: str, content: str, entities: list[str]) -> None:
    """What a log must hold for a new memory, as the tools would write it (a hand-edited log
    is refused here, not shown as a state the tools can never make)."""
    if not memory_id.strip():
        raise ReplayError("a memory has an empty id")
    if graph.get(memory_id) is not None:
        raise ReplayError(f"memory {memory_id!r} exists already")
    if (memory_id == CORE_ID) != (memory_type == "core"):
        raise ReplayError(f"memory {memory_id!r} of type {memory_type!r}: the core memory, and only it, has id 'core'")
    _check_value(memory_id, memory_type, content, entities)


def _check_value(memory_id: str, memory_type: str, content: str, entities: list[str]) -> None:
    if not content.strip():
        raise ReplayError(f"memory {memory_id!r} has no content")
    if memory_type == "link" and len(clean_entities(entities)) < 2:
        raise ReplayError(f"link {memory_id!r} joins fewer than two entities")
    if len(entities) > MAX_ENTITIES:
        raise ReplayError(f"memory {memory_id!r} names {len(entities)} entities, more than {MAX_ENTITIES}")


def _existing(graph: MemoryGraph, memory_id: str) -> Memory:
    memory = graph.get(memory_id)
    if memory is None:
        raise ReplayError(f"memory {memory_id!r} is not a memory")
    return memory


def _memory_inserted(state: ContextState, event: MemoryInserted) -> None:
    graph = memory_graph(state)
    _check_new(graph, event.memory_id, event.memory_type, event.content, event.entities)
    memory = Memory(event.memory_id, event.memory_type, event.content, tuple(clean_entities(event.entities)),
                    event.message_id, state.event_count + 1, event.recorded_at, event.occurred_at)
    state.slices[MEMORY.name] = graph.with_memory(memory)


def _memory_updated(state: ContextState, event: MemoryUpdated) -> None:
    graph = memory_graph(state)
    memory = _existing(graph, event.memory_id)
    if not memory.live:
        raise ReplayError(f"memory {event.memory_id!r} is {memory.status}; it cannot be updated")
    _check_value(memory.id, memory.memory_type, event.content,
                 event.entities if event.entities is not None else list(memory.entities))
    past: dict[str, Any] = {"seq": state.event_count + 1, "change": "updated", "content": memory.content}
    entities = memory.entities
    if event.entities is not None:
        past["entities"] = list(memory.entities)
        entities = tuple(clean_entities(event.entities))
    state.slices[MEMORY.name] = graph.with_memory(replace(
        memory, content=event.content, entities=entities, history=(*memory.history, past)))


def _memory_deleted(state: ContextState, event: MemoryDeleted) -> None:
    graph = memory_graph(state)
    memory = _existing(graph, event.memory_id)
    if not memory.live:
        raise ReplayError(f"memory {event.memory_id!r} is {memory.status} already")
    past = {"seq": state.event_count + 1, "change": "deleted", "status": memory.status}
    state.slices[MEMORY.name] = graph.with_memory(replace(memory, status="deleted", history=(*memory.history, past)))


def _memory_restored(state: ContextState, event: MemoryRestored) -> None:
    graph = memory_graph(state)
    memory = _existing(graph, event.memory_id)
    if memory.live:
        raise ReplayError(f"memory {event.memory_id!r} is not deleted or merged")
    past = {"seq": state.event_count + 1, "change": "restored", "status": memory.status,
            "merged_into": memory.merged_into}
    state.slices[MEMORY.name] = graph.with_memory(replace(
        memory, status="live", merged_into=None, history=(*memory.history, past)))


def _memory_merged(state: ContextState, event: MemoryMerged) -> None:
    graph = memory_graph(state)
    _check_new(graph, event.memory_id, event.memory_type, event.description, event.entities)
    if event.memory_type == "core":
        raise ReplayError("a merge cannot make the core memory")
    if len(set(event.sources)) < 2:
        raise ReplayError("a merge joins at least two memories")
    seq = state.event_count + 1
    for source_id in event.sources:
        source = _existing(graph, source_id)
        if not source.live or source.memory_type == "core":
            raise ReplayError(f"memory {source_id!r} cannot be merged (it is {source.status}, {source.memory_type})")
        past = {"seq": seq, "change": "merged", "status": source.status, "merged_into": event.memory_id}
        graph = graph.with_memory(replace(source, status="merged", merged_into=event.memory_id,
                                          history=(*source.history, past)))
    merged = Memory(event.memory_id, event.memory_type, event.description, tuple(clean_entities(event.entities)),
                    event.message_id, seq, event.recorded_at, event.occurred_at, merged_from=tuple(event.sources))
    state.slices[MEMORY.name] = graph.with_memory(merged)


MEMORY = Subsystem(
    "memory",
    {MemoryInserted: _memory_inserted, MemoryUpdated: _memory_updated, MemoryDeleted: _memory_deleted,
     MemoryRestored: _memory_restored, MemoryMerged: _memory_merged},
    empty_slice=MemoryGraph(),
    description="the memory graph: core, semantic and episodic memories (Mem-alpha) and hyperedges (HGMem)",
)


# ---- the graph --------------------------------------------------------------------------------


def entity_node(name: str) -> str:
    return "entity:" + entity_key(name)


def bipartite_graph(graph: MemoryGraph, memory_types: Iterable[str] | None = None,
                    include_gone: bool = False) -> nx.Graph:
    """Entities on one side, memories on the other, an edge where a memory names an entity.

    Memory nodes are their ids (attributes: kind="memory", memory_type); entity nodes are
    `entity_node(name)` (kind="entity", name: the first spelling seen). Memories that name no
    entity are nodes on their own. Only live memories unless `include_gone`."""
    wanted = set(memory_types) if memory_types is not None else None
    drawn = nx.Graph()
    for memory in graph.memories:
        if (not memory.live and not include_gone) or (wanted is not None and memory.memory_type not in wanted):
            continue
        drawn.add_node(memory.id, kind="memory", memory_type=memory.memory_type)
        for name in memory.entities:
            node = entity_node(name)
            if node not in drawn:
                drawn.add_node(node, kind="entity", name=name)
            drawn.add_edge(memory.id, node)
    return drawn


def focus(drawn: nx.Graph, entity: str, hops: int = 1) -> nx.Graph:
    """An entity and its neighbours: the memories that name it and the other entities those
    name (one hop); each hop more goes one memory further out."""
    node = entity_node(entity)
    if node not in drawn:
        raise KeyError(entity)
    return nx.ego_graph(drawn, node, radius=2 * max(hops, 0))


def entities(graph: MemoryGraph) -> list[tuple[str, int]]:
    """Every entity the live memories name, with how many name it, most named first."""
    counts: dict[str, list[Any]] = {}
    for memory in graph.live():
        for name in memory.entities:
            counts.setdefault(entity_key(name), [name, 0])[1] += 1
    return sorted(((name, count) for name, count in counts.values()), key=lambda item: (-item[1], item[0].casefold()))
