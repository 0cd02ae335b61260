"""The memory graph's tools for a model: insert, update, delete, restore, search, link, merge.

Mem-alpha's tools (arXiv 2509.25911, `functions.py`; algorithms.md §4) with its rules: core
memory is one text of at most 512 tokens; an exact duplicate is not stored twice; search is
BM25. HGMem's (arXiv 2512.23959; §3) memory points: `memory_link` joins entities with a
description, `memory_merge` makes one memory over the union of its sources' entities. Every
change keeps the old value (engine/memory.py), so `memory_restore` can undo a delete or a merge.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from engine.errors import ToolInputError
from engine.ids import IdAllocator
from engine.memory import (
    CORE_ID, CORE_MEMORY_TOKENS, ENTITY_CHARS, Memory, MemoryDeleted, MemoryGraph, MemoryInserted, MemoryMerged,
    MemoryRestored, MemoryUpdated, clean_entities, entity_key, memory_graph,
)
from engine.search import bm25, term_counts
from engine.summarize import terms
from engine.text import one_line
from engine.tools.registry import ToolContext, ToolResult
from engine.tools.types import ResultCount

MEMORY_CHARS = 4_000  # one fact or one event; longer notes are several memories (ours)
MAX_ENTITIES = 50
HIT_CHARS = 500
WHEN_CHARS = 100
Writable = Literal["semantic", "episodic", "core"]
Searchable = Literal["semantic", "episodic", "link", "core"]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _last_message(ctx: ToolContext) -> str | None:
    return ctx.state.messages[-1].id if ctx.state.messages else None


def _memory(graph: MemoryGraph, memory_id: str) -> Memory:
    memory = graph.get(memory_id)
    if memory is None:
        known = ", ".join(m.id for m in graph.live()[-10:]) or "none yet (add one with memory_insert)"
        other = " (that looks like a task id: task ids go to the task tools)" if memory_id[:1] == "t" else \
            " (that looks like a fragment id: fragments go to the context tools)" if memory_id[:1] == "f" else ""
        raise ToolInputError(f"no memory {memory_id!r}{other}; the memories are {known}. memory_search finds one "
                             "by its words")
    return memory


def _live(graph: MemoryGraph, memory_id: str) -> Memory:
    memory = _memory(graph, memory_id)
    if memory.status == "merged":
        raise ToolInputError(f"{memory_id!r} was merged into {memory.merged_into!r}; use that one, or memory_restore "
                             f"{memory_id!r} to bring it back")
    if not memory.live:
        raise ToolInputError(f"{memory_id!r} is deleted; memory_restore brings it back")
    return memory


def _content(content: str, memory_type: str, ctx: ToolContext) -> str:
    text = content.strip()
    if not text:
        raise ToolInputError("content is empty; write the fact, the event or the core notes to keep")
    if memory_type == "core":
        tokens = ctx.counter.count(text)
        if tokens > CORE_MEMORY_TOKENS:
            raise ToolInputError(f"core memory can hold at most {CORE_MEMORY_TOKENS} tokens and this is {tokens}; "
                                 "keep only what you need in every turn, and store the rest as semantic or episodic "
                                 "memories (memory_insert)")
    elif len(text) > MEMORY_CHARS:
        raise ToolInputError(f"a memory is at most {MEMORY_CHARS:,} characters and this is {len(text):,}; "
                             "store one fact or one event per memory")
    return text


def _entities(names: list[str], at_least: int = 0) -> list[str]:
    cleaned = clean_entities(names)
    too_long = [name for name in cleaned if len(name) > ENTITY_CHARS]
    if too_long:
        raise ToolInputError(f"an entity is a name of at most {ENTITY_CHARS} characters, such as \"Hall B\"; "
                             f"{one_line(too_long[0], 40)!r} is {len(too_long[0])}")
    if len(cleaned) > MAX_ENTITIES:
        raise ToolInputError(f"{len(cleaned)} entities; name at most {MAX_ENTITIES}, the ones the memory is about")
    if len(cleaned) < at_least:
        raise ToolInputError(f"name at least {at_least} different entities to link (a link joins entities), "
                             f"such as [\"Ada\", \"Hall B\"]; got {len(cleaned)}")
    return cleaned


def _new_id(ctx: ToolContext, graph: MemoryGraph, prefix: str, detail: str) -> str:
    return IdAllocator(prefix, graph.index, seed=f"memory:{ctx.state.event_count}").next(detail)


def _duplicate(graph: MemoryGraph, memory_type: str, content: str, entities: list[str]) -> Memory | None:
    keys = {entity_key(name) for name in entities}
    return next((m for m in graph.live(memory_type) if m.content == content
                 and {entity_key(name) for name in m.entities} == keys), None)


def memory_insert(ctx: ToolContext, memory_type: Writable, content: str, entities: list[str] = [],  # noqa: B006
                  when: str | None = None) -> ToolResult:
    """Write something down in your memory, to find it again later.

    "semantic" is a fact ("Ada prefers morning meetings"); "episodic" is an event with its time
    ("At 14:00 on Tuesday the user booked Hall B"); "core" is the short text (at most 512
    tokens) always shown at the top of your context: who you work for and what matters in
    every turn. Name the entities the memory is about (people, places, things), so it joins
    the memory graph. Returns the memory's id, such as "m1a2b3".

    Args:
        memory_type: "semantic" for a fact, "episodic" for an event, "core" for the always-shown notes.
        content: The fact, the event, or the core notes, in a sentence or a few.
        entities: The names the memory is about, such as ["Ada", "Hall B"].
        when: For an event: when it happened, such as "2026-12-01 14:00"; the time now if left out.
    """
    graph = memory_graph(ctx.state)
    text = _content(content, memory_type, ctx)
    names = _entities(list(entities))
    if when is not None and len(when) > WHEN_CHARS:
        raise ToolInputError(f"when is {len(when):,} characters; give the time in at most {WHEN_CHARS}, "
                             'such as "2026-12-01 14:00"')
    if memory_type == "core":
        core = graph.get(CORE_ID)
        if core is not None and core.live:
            raise ToolInputError(f"core memory holds {ctx.counter.count(core.content)} tokens already; call "
                                 "memory_update(\"core\", content) with the whole new text (old and new combined)")
        if core is not None:  # deleted earlier: it comes back with the new text
            return ToolResult.ok({"memory_id": CORE_ID, "memory_type": "core"}, [
                MemoryRestored(memory_id=CORE_ID, message_id=_last_message(ctx)),
                MemoryUpdated(memory_id=CORE_ID, content=text, previous=core.content, entities=names,
                              previous_entities=list(core.entities), message_id=_last_message(ctx))])
    duplicate = _duplicate(graph, memory_type, text, names)
    if duplicate is not None:
        raise ToolInputError(f"this is stored already as {duplicate.id!r}; nothing was added")
    memory_id = CORE_ID if memory_type == "core" else _new_id(ctx, graph, "m", text)
    now = _now()
    event = MemoryInserted(memory_id=memory_id, memory_type=memory_type, content=text, entities=names,
                           message_id=_last_message(ctx), recorded_at=now,
                           occurred_at=(when.strip() or None) if memory_type == "episodic" and when else None)
    return ToolResult.ok({"memory_id": memory_id, "memory_type": memory_type, "entities": names}, [event])


def memory_update(ctx: ToolContext, memory_id: str, content: str, entities: list[str] | None = None) -> ToolResult:
    """Replace a memory's text with a new one; the old text stays in its history.

    For core memory, give the whole new text (what to keep of the old, combined with the new);
    it must stay within 512 tokens.

    Args:
        memory_id: The memory to change, such as "m1a2b3", or "core" for the core memory.
        content: The memory's whole new text.
        entities: The complete new list of entities it is about; left out, they stay as they are.
    """
    graph = memory_graph(ctx.state)
    if memory_id == CORE_ID and graph.get(CORE_ID) is None:
        return memory_insert(ctx, "core", content, list(entities or []))
    if memory_id == CORE_ID and not graph.get(CORE_ID).live:
        return memory_insert(ctx, "core", content, list(entities if entities is not None else graph.get(CORE_ID).entities))
    memory = _live(graph, memory_id)
    text = _content(content, memory.memory_type, ctx)
    names = _entities(list(entities), 2 if memory.memory_type == "link" else 0) if entities is not None else None
    same_names = names is None or [entity_key(n) for n in names] == [entity_key(n) for n in memory.entities]
    if text == memory.content and same_names:
        raise ToolInputError(f"{memory_id!r} says that already; nothing to change")
    event = MemoryUpdated(memory_id=memory_id, content=text, previous=memory.content,
                          entities=None if same_names else names,
                          previous_entities=None if same_names else list(memory.entities),
                          message_id=_last_message(ctx))
    return ToolResult.ok({"memory_id": memory_id, "previous": one_line(memory.content, 200)}, [event])


def memory_delete(ctx: ToolContext, memory_id: str) -> ToolResult:
    """Delete a memory that is wrong or no longer useful. It is kept in the history, so
    memory_restore can bring it back. Deleting "core" clears the core memory.

    Args:
        memory_id: The memory to delete, such as "m1a2b3", or "core".
    """
    graph = memory_graph(ctx.state)
    memory = _live(graph, memory_id)
    return ToolResult.ok({"memory_id": memory_id, "deleted": one_line(memory.content, 200)},
                         [MemoryDeleted(memory_id=memory_id, message_id=_last_message(ctx))])


def memory_restore(ctx: ToolContext, memory_id: str) -> ToolResult:
    """Bring back a memory that was deleted or merged into another.

    Args:
        memory_id: The deleted or merged memory, such as "m1a2b3", or "core".
    """
    graph = memory_graph(ctx.state)
    memory = _memory(graph, memory_id)
    if memory.live:
        raise ToolInputError(f"{memory_id!r} is not deleted; nothing to restore")
    return ToolResult.ok({"memory_id": memory_id, "restored": one_line(memory.content, 200),
                          "was": memory.status}, [MemoryRestored(memory_id=memory_id, message_id=_last_message(ctx))])


def memory_search(ctx: ToolContext, query: str, memory_type: Searchable | None = None,
                  limit: ResultCount = 10) -> ToolResult:
    """Search your memories by their words (BM25 ranking), best match first.

    Args:
        query: Words the memory would contain, such as "venue booking Tuesday".
        memory_type: Only this kind: "semantic", "episodic", "core" or "link"; all kinds if left out.
        limit: How many memories to return at most.
    """
    if not query.strip():
        raise ToolInputError('query is empty; give words the memory would contain, such as "venue booking"')
    query_terms = sorted(set(terms(query)))
    if not query_terms:
        raise ToolInputError(f"query {one_line(query, 60)!r} has no searchable words (only common words, symbols "
                             "or single letters); add the words that matter, such as names, places or things")
    candidates = memory_graph(ctx.state).live(memory_type)
    documents = [term_counts(" ".join((m.content, *m.entities))) for m in candidates]
    scores, _ = bm25(documents, query_terms)
    ranked = sorted((item for item in zip(scores, range(len(candidates))) if item[0] > 0), key=lambda x: (-x[0], x[1]))
    hits = []
    for score, position in ranked[:limit]:
        memory = candidates[position]
        content = memory.content if len(memory.content) <= HIT_CHARS else memory.content[:HIT_CHARS] + "…"
        hits.append({"memory_id": memory.id, "memory_type": memory.memory_type, "content": content,
                     "entities": list(memory.entities), "when": memory.when, "score": round(score, 4)})
    result = {"query": query, "hits": hits, "total": len(ranked)}
    if not candidates:
        result["note"] = "no memories of that kind yet" if memory_type else "no memories yet; memory_insert writes one"
    return ToolResult.ok(result)


def memory_link(ctx: ToolContext, entities: list[str], description: str) -> ToolResult:
    """Join two or more entities with a description of how they are related (a hyperedge of
    the memory graph), such as ["Ada", "Hall B", "Tuesday"], "Ada booked Hall B for Tuesday".

    Args:
        entities: The names to join, at least two, such as ["Ada", "Hall B"].
        description: How they are related, in a sentence.
    """
    graph = memory_graph(ctx.state)
    names = _entities(list(entities), at_least=2)
    text = _content(description, "link", ctx)
    duplicate = _duplicate(graph, "link", text, names)
    if duplicate is not None:
        raise ToolInputError(f"this link is stored already as {duplicate.id!r}; nothing was added")
    link_id = _new_id(ctx, graph, "h", text + "|" + "|".join(names))
    event = MemoryInserted(memory_id=link_id, memory_type="link", content=text, entities=names,
                           message_id=_last_message(ctx), recorded_at=_now())
    return ToolResult.ok({"memory_id": link_id, "entities": names}, [event])


def memory_merge(ctx: ToolContext, memory_ids: list[str], description: str) -> ToolResult:
    """Merge memories that say parts of one thing into a single memory with a new description.

    The merged memory is about every entity its sources named; the sources are set aside
    (memory_restore brings one back). Memories of one kind stay that kind; a mix becomes a link.

    Args:
        memory_ids: The memories to merge, at least two, such as ["m1a2b3", "h4c5d6"].
        description: What the merged memory says, covering all of them.
    """
    graph = memory_graph(ctx.state)
    wanted = list(dict.fromkeys(memory_ids))
    if len(wanted) < 2:
        raise ToolInputError("name at least two different memories to merge")
    if CORE_ID in wanted:
        raise ToolInputError("core memory cannot be merged; change it with memory_update(\"core\", content)")
    sources = [_live(graph, memory_id) for memory_id in wanted]
    kinds = {source.memory_type for source in sources}
    memory_type = kinds.pop() if len(kinds) == 1 else "link"
    text = _content(description, memory_type, ctx)
    names = clean_entities(name for source in sources for name in source.entities)
    if memory_type == "link" and len(names) < 2:
        raise ToolInputError("a mix of kinds becomes a link, and these memories name fewer than two entities "
                             "between them; give them entities first (memory_update) or merge memories of one kind")
    merged_id = _new_id(ctx, graph, "h" if memory_type == "link" else "m", text + "|" + "|".join(wanted))
    event = MemoryMerged(memory_id=merged_id, memory_type=memory_type, sources=wanted, entities=names,
                         description=text, message_id=_last_message(ctx), recorded_at=_now(),
                         occurred_at=next((source.occurred_at for source in sources if source.occurred_at), None))
    return ToolResult.ok({"memory_id": merged_id, "memory_type": memory_type, "entities": names,
                          "merged": wanted}, [event])
