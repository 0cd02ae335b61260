"""The memory graph (issue 10): core memory bounded and always on top, semantic and episodic
memories with their source message, hyperedges and merge (HGMem), delete and restore keeping
history, BM25 search, and replay equal to live for every memory event."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine import render, stats
from engine.errors import ReplayError
from engine.fold import replay
from engine.memory import (
    CORE_MEMORY_TOKENS, MemoryDeleted, MemoryInserted, MemoryMerged, MemoryRestored, MemoryUpdated, bipartite_graph,
    core_memory, entities, entity_node, focus, memory_graph,
)
from engine.render import CORE_MEMORY_HEADER, render_each
from engine.tokens import token_counter
from sessions import SessionStore


def _session():
    session = SessionStore(":memory:").create_session("memory")
    session.add_message("user", "I'm Ada; book Hall B for the offsite on Tuesday.")
    return session


def _insert(session, memory_type, content, **arguments):
    result = session.call_tool("memory_insert", {"memory_type": memory_type, "content": content, **arguments})
    assert "memory_id" in result, result
    return result["memory_id"]


def test_memories_keep_their_type_entities_source_message_and_time():
    session = _session()
    fact = _insert(session, "semantic", "Ada prefers morning meetings", entities=["Ada", " ada "])
    session.add_message("assistant", "Booked.")
    event = _insert(session, "episodic", "At 14:00 the user booked Hall B", entities=["Hall B", "Ada"],
                    when="2026-12-01 14:00")
    graph = memory_graph(session.state())
    assert graph.get(fact).entities == ("Ada",)  # the same entity in another case and spacing is one
    assert graph.get(fact).message_id == "m1" and graph.get(event).message_id == "m2"
    assert graph.get(event).when == "2026-12-01 14:00" and graph.get(event).occurred_at == "2026-12-01 14:00"
    assert graph.get(fact).occurred_at is None and graph.get(fact).when == graph.get(fact).recorded_at
    assert fact.startswith("m") and len(fact) == 6
    assert entities(graph) == [("Ada", 2), ("Hall B", 1)]
    duplicate = session.call_tool("memory_insert", {"memory_type": "semantic", "content": "Ada prefers morning meetings",
                                                    "entities": ["ADA"]})
    assert duplicate["error"].endswith(f"this is stored already as {fact!r}; nothing was added")


def test_core_memory_is_bounded_always_rendered_first_and_counted():
    session = _session()
    _insert(session, "core", "User: Ada. Goal: the offsite on Tuesday.")
    state = session.state()
    shown = render(state)
    assert shown[0] == {"role": "system", "content": f"{CORE_MEMORY_HEADER}\nUser: Ada. Goal: the offsite on Tuesday."}
    assert shown[1:] == render_each(state) and len(render_each(state)) == len(state.messages)
    counter = token_counter()
    numbers = stats(state)
    assert numbers["core_memory_tokens"] == counter.count(shown[0]["content"])
    expected = sum(counter.count(m["content"]) + 3 for m in shown) + 3  # each message framed, the reply primed
    assert numbers["rendered_tokens"] == expected
    again = session.call_tool("memory_insert", {"memory_type": "core", "content": "more"})
    assert "memory_update(\"core\", content)" in again["error"]
    too_long = session.call_tool("memory_update", {"memory_id": "core", "content": "word " * 600})
    assert f"at most {CORE_MEMORY_TOKENS} tokens and this is 600" in too_long["error"]
    assert core_memory(session.state()) == "User: Ada. Goal: the offsite on Tuesday."
    fits = " ".join(["word"] * CORE_MEMORY_TOKENS)
    assert counter.count(fits) == CORE_MEMORY_TOKENS
    assert "previous" in session.call_tool("memory_update", {"memory_id": "core", "content": fits})


def test_deleting_core_clears_it_and_restoring_or_rewriting_brings_it_back():
    session = _session()
    _insert(session, "core", "first notes")
    session.call_tool("memory_delete", {"memory_id": "core"})
    assert core_memory(session.state()) == "" and render(session.state())[0]["role"] == "user"
    assert stats(session.state())["core_memory_tokens"] == 0
    session.call_tool("memory_restore", {"memory_id": "core"})
    assert core_memory(session.state()) == "first notes"
    session.call_tool("memory_delete", {"memory_id": "core"})
    result = session.call_tool("memory_update", {"memory_id": "core", "content": "second notes"})
    assert result["memory_id"] == "core"
    core = memory_graph(session.state()).get("core")
    assert core.content == "second notes" and core.live
    assert [h["change"] for h in core.history] == ["deleted", "restored", "deleted", "restored", "updated"]


def test_update_keeps_history_and_delete_restore_is_reversible():
    session = _session()
    fact = _insert(session, "semantic", "The venue is Hall A", entities=["venue"])
    session.call_tool("memory_update", {"memory_id": fact, "content": "The venue is Hall B", "entities": ["venue", "Hall B"]})
    memory = memory_graph(session.state()).get(fact)
    assert memory.content == "The venue is Hall B" and memory.entities == ("venue", "Hall B")
    assert memory.history[-1]["content"] == "The venue is Hall A" and memory.history[-1]["entities"] == ["venue"]
    assert "says that already" in session.call_tool("memory_update", {"memory_id": fact, "content": "The venue is Hall B"})["error"]
    session.call_tool("memory_delete", {"memory_id": fact})
    gone = memory_graph(session.state())
    assert gone.get(fact).status == "deleted" and gone.live() == []
    assert fact not in bipartite_graph(gone) and fact in bipartite_graph(gone, include_gone=True)
    assert "memory_restore brings it back" in session.call_tool("memory_update", {"memory_id": fact, "content": "x"})["error"]
    assert "deleted" in session.call_tool("memory_delete", {"memory_id": fact})["error"]
    search = session.call_tool("memory_search", {"query": "venue"})
    assert search["hits"] == []  # a deleted memory is not found
    restored = session.call_tool("memory_restore", {"memory_id": fact})
    assert restored["was"] == "deleted" and memory_graph(session.state()).get(fact).live
    assert "not deleted" in session.call_tool("memory_restore", {"memory_id": fact})["error"]
    assert session.call_tool("memory_search", {"query": "venue"})["hits"][0]["memory_id"] == fact


def test_links_join_entities_and_merge_makes_the_union():
    session = _session()
    a = session.call_tool("memory_link", {"entities": ["Ada", "Hall B"], "description": "Ada booked Hall B"})["memory_id"]
    b = session.call_tool("memory_link", {"entities": ["Hall B", "Tuesday", "hall b"],
                                          "description": "Hall B is free on Tuesday"})["memory_id"]
    assert a.startswith("h") and b.startswith("h")
    assert "at least 2 different entities" in session.call_tool("memory_link", {"entities": ["Ada", "ADA"],
                                                                               "description": "x"})["error"]
    merged = session.call_tool("memory_merge", {"memory_ids": [a, b], "description": "Ada booked Hall B for Tuesday"})
    assert merged["entities"] == ["Ada", "Hall B", "Tuesday"] and merged["memory_type"] == "link"
    graph = memory_graph(session.state())
    assert [graph.get(x).status for x in (a, b)] == ["merged", "merged"]
    assert graph.get(a).merged_into == merged["memory_id"] and graph.get(merged["memory_id"]).merged_from == (a, b)
    drawn = bipartite_graph(graph)
    assert set(drawn.neighbors(merged["memory_id"])) == {entity_node(n) for n in ("Ada", "Hall B", "Tuesday")}
    assert "was merged into" in session.call_tool("memory_delete", {"memory_id": a})["error"]
    assert "at least two different" in session.call_tool("memory_merge", {"memory_ids": [a, a], "description": "x"})["error"]
    assert "core memory cannot be merged" in session.call_tool(
        "memory_merge", {"memory_ids": [merged["memory_id"], _core(session)], "description": "x"})["error"]
    session.call_tool("memory_restore", {"memory_id": a})
    assert memory_graph(session.state()).get(a).live and memory_graph(session.state()).get(a).merged_into is None
    facts = [_insert(session, "semantic", f"fact {n}", entities=[f"e{n}"]) for n in (1, 2)]
    same_kind = session.call_tool("memory_merge", {"memory_ids": facts, "description": "facts one and two"})
    assert same_kind["memory_type"] == "semantic" and same_kind["memory_id"].startswith("m")


def _core(session):
    _insert(session, "core", "notes")
    return "core"


def test_focus_is_an_entity_its_memories_and_their_entities():
    session = _session()
    _insert(session, "semantic", "Ada works with Bo", entities=["Ada", "Bo"])
    _insert(session, "semantic", "Bo owns a boat", entities=["Bo", "boat"])
    _insert(session, "semantic", "Cy is elsewhere", entities=["Cy"])
    drawn = bipartite_graph(memory_graph(session.state()))
    near = focus(drawn, "ada")
    assert {drawn.nodes[n].get("name") for n in near if drawn.nodes[n]["kind"] == "entity"} == {"Ada", "Bo"}
    assert {drawn.nodes[n].get("name") for n in focus(drawn, "Ada", hops=2) if drawn.nodes[n]["kind"] == "entity"} \
        == {"Ada", "Bo", "boat"}
    with pytest.raises(KeyError):
        focus(drawn, "nobody")
    semantic_only = bipartite_graph(memory_graph(session.state()), memory_types=["episodic"])
    assert semantic_only.number_of_nodes() == 0


def test_search_ranks_by_bm25_filters_by_type_and_refuses_empty_queries():
    session = _session()
    _insert(session, "semantic", "The caterer needs the headcount by Friday", entities=["caterer"])
    booked = _insert(session, "episodic", "At 14:00 the user booked Hall B for the offsite", entities=["Hall B"])
    _insert(session, "semantic", "Hall B seats forty people", entities=["Hall B"])
    hits = session.call_tool("memory_search", {"query": "booking the offsite hall"})["hits"]
    assert hits[0]["memory_id"] == booked and hits[0]["score"] > hits[1]["score"] > 0
    only = session.call_tool("memory_search", {"query": "hall", "memory_type": "semantic"})["hits"]
    assert [h["memory_type"] for h in only] == ["semantic"]
    assert session.call_tool("memory_search", {"query": "hall", "limit": 1})["total"] == 2
    assert "query is empty" in session.call_tool("memory_search", {"query": "  "})["error"]
    assert "only common words" in session.call_tool("memory_search", {"query": "the of and"})["error"]
    assert "no memories yet" in SessionStore(":memory:").create_session("x").call_tool(
        "memory_search", {"query": "hall"})["note"]


def test_bad_input_gets_clear_errors_and_changes_nothing():
    session = _session()
    fact = _insert(session, "semantic", "a fact")
    before = len(session.events())
    errors = [
        session.call_tool("memory_update", {"memory_id": "mnope", "content": "x"})["error"],
        session.call_tool("memory_delete", {"memory_id": "mnope"})["error"],
        session.call_tool("memory_restore", {"memory_id": "mnope"})["error"],
        session.call_tool("memory_insert", {"memory_type": "semantic", "content": "   "})["error"],
        session.call_tool("memory_insert", {"memory_type": "procedural", "content": "x"})["error"],
        session.call_tool("memory_insert", {"memory_type": "semantic", "content": "x" * 4_001})["error"],
        session.call_tool("memory_insert", {"memory_type": "semantic", "content": "x", "entities": ["e" * 121]})["error"],
        session.call_tool("memory_merge", {"memory_ids": [fact, "mnope"], "description": "x"})["error"],
    ]
    assert f"no memory 'mnope'; the memories are {fact}" in errors[0]
    assert "content is empty" in errors[3] and "at most 4,000 characters" in errors[5] and "120 characters" in errors[6]
    assert "memory_type" in errors[4]
    assert len(session.events()) == before + len(errors)  # one tool_failed each, nothing else
    assert memory_graph(session.state()).live()[0].content == "a fact"


def test_replay_equals_live_and_refuses_memory_events_that_do_not_fit(tmp_path):
    session = SessionStore(tmp_path / "store.duckdb").create_session("memory")
    session.add_message("user", "I'm Ada.")
    fact = _insert(session, "semantic", "Ada likes tea", entities=["Ada"])
    link = session.call_tool("memory_link", {"entities": ["Ada", "tea"], "description": "Ada drinks tea"})["memory_id"]
    _insert(session, "core", "Ada")
    session.call_tool("memory_update", {"memory_id": fact, "content": "Ada likes green tea"})
    merged = session.call_tool("memory_merge", {"memory_ids": [fact, link], "description": "Ada and tea"})["memory_id"]
    session.call_tool("memory_delete", {"memory_id": merged})
    session.call_tool("memory_restore", {"memory_id": fact})
    kinds = [record.event.kind for record in session.records()]
    for kind in ("memory_inserted", "memory_updated", "memory_merged", "memory_deleted", "memory_restored"):
        assert kind in kinds
    replayed = replay(record.event for record in session.records())
    assert memory_graph(replayed) == memory_graph(session.state())
    reopened = SessionStore(tmp_path / "store.duckdb").open_session(session.id)  # read back from the file
    assert memory_graph(reopened.state()) == memory_graph(session.state())
    bad = [
        [MemoryUpdated(memory_id="mx", content="a", previous="")],
        [MemoryInserted(memory_id="m1", memory_type="semantic", content="a"),
         MemoryInserted(memory_id="m1", memory_type="semantic", content="b")],
        [MemoryInserted(memory_id="core", memory_type="semantic", content="a")],
        [MemoryInserted(memory_id="h1", memory_type="link", content="a", entities=["only one"])],
        [MemoryInserted(memory_id="m1", memory_type="semantic", content="a"), MemoryRestored(memory_id="m1")],
        [MemoryInserted(memory_id="m1", memory_type="semantic", content="a"), MemoryDeleted(memory_id="m1"),
         MemoryDeleted(memory_id="m1")],
        [MemoryInserted(memory_id="m1", memory_type="semantic", content="a"),
         MemoryMerged(memory_id="m2", memory_type="semantic", sources=["m1"], entities=[], description="d")],
        [MemoryInserted(memory_id="m1", memory_type="semantic", content="a"), MemoryDeleted(memory_id="m1"),
         MemoryInserted(memory_id="m2", memory_type="semantic", content="b"),
         MemoryMerged(memory_id="m3", memory_type="semantic", sources=["m1", "m2"], entities=[], description="d")],
        [MemoryInserted(memory_id="core", memory_type="core", content="a"),
         MemoryInserted(memory_id="m2", memory_type="semantic", content="b"),
         MemoryMerged(memory_id="m3", memory_type="semantic", sources=["core", "m2"], entities=[], description="d")],
        [MemoryInserted(memory_id="m1", memory_type="semantic", content="a"),
         MemoryInserted(memory_id="m2", memory_type="semantic", content="b"),
         MemoryMerged(memory_id="core", memory_type="core", sources=["m1", "m2"], entities=[], description="d")],
        [MemoryInserted(memory_id="m1", memory_type="semantic", content="   ")],
        [MemoryInserted(memory_id="m1", memory_type="semantic", content="a", entities=[f"e{n}" for n in range(51)])],
        [MemoryInserted(memory_id="core", memory_type="core", content="a"),
         MemoryUpdated(memory_id="core", content="", previous="a")],
        [MemoryInserted(memory_id="h1", memory_type="link", content="a", entities=["x", "y"]),
         MemoryUpdated(memory_id="h1", content="a", previous="a", entities=[])],
    ]
    for events in bad:
        with pytest.raises(ReplayError):
            replay(events)
    for odd_id in ("", "m1`![x](http://evil.example/x.png)`", "m 1", "x" * 41):  # read back from a file: refused
        with pytest.raises(ValidationError, match="memory_id"):
            MemoryInserted(memory_id=odd_id, memory_type="semantic", content="a")


def test_bm25_puts_a_rare_word_above_a_common_one():
    session = _session()
    for n in range(6):
        _insert(session, "semantic", f"meeting notes number {n}")
    rare = _insert(session, "semantic", "the meeting about the zeppelin")
    hits = session.call_tool("memory_search", {"query": "meeting zeppelin"})["hits"]
    assert hits[0]["memory_id"] == rare and hits[0]["score"] > 2 * hits[1]["score"]
    assert len(hits) == 7  # every memory with "meeting" still counts, below


def test_merged_events_keep_their_time_and_entities_are_one_across_unicode_forms():
    session = _session()
    first = _insert(session, "episodic", "Ada arrived", entities=["Jos\u00e9"], when="2025-01-01 09:00")
    second = _insert(session, "episodic", "Ada left", entities=["Jose\u0301", "\u200b", "  "], when="2025-01-02")
    merged = session.call_tool("memory_merge", {"memory_ids": [first, second], "description": "Ada's visit"})
    memory = memory_graph(session.state()).get(merged["memory_id"])
    assert memory.memory_type == "episodic" and memory.when == "2025-01-01 09:00"
    assert memory.entities == ("Jos\u00e9",)  # the two spellings of José are one; nothing for a lone zero-width space


def test_odd_arguments_get_errors_that_say_how_to_fix_them():
    session = _session()
    task = session.call_tool("add_task", {"title": "a task", "parent": "", "depends_on": [""]})
    assert task["task_id"].startswith("t")  # "" from a model means none
    wrong_kind = session.call_tool("memory_delete", {"memory_id": task["task_id"]})["error"]
    assert "looks like a task id" in wrong_kind
    assert "no searchable words" in session.call_tool("memory_search", {"query": "C++ 🍵"})["error"]
    as_text = session.call_tool("memory_merge", {"memory_ids": "m1", "description": "x"})["error"]
    assert 'Example of valid arguments: {"memory_ids": ["m1a2b3", "h4c5d6"]' in as_text
    assert "at most 100" in session.call_tool("memory_insert", {"memory_type": "episodic", "content": "x",
                                                                "when": "x" * 101})["error"]
    assert "at most 200" in session.call_tool("add_task", {"title": "x" * 201})["error"]
    assert "core memory cannot be merged" in session.call_tool(
        "memory_merge", {"memory_ids": ["core", "mzzzzz"], "description": "x"})["error"]


def test_core_memory_opens_a_system_prompt_instead_of_coming_before_it():
    session = SessionStore(":memory:").create_session("prompted")
    session.add_message("system", "You plan offsites.")
    session.add_message("user", "Hi.")
    _insert(session, "core", "User: Ada.")
    state = session.state()
    shown = render(state)
    assert [m["role"] for m in shown] == ["system", "user"]
    assert shown[0]["content"] == f"{CORE_MEMORY_HEADER}\nUser: Ada.\n\nYou plan offsites."
    counter = token_counter()
    assert stats(state)["rendered_tokens"] == sum(counter.count(m["content"]) + 3 for m in shown) + 3
    for prompt, core in (("\nYou plan offsites.", "User: Ada"), ("\n\n\nBe brief", "User: Ada"), ("x", "Ada")):
        other = SessionStore(":memory:").create_session("prompted")  # tokens do not add up across the join
        other.add_message("system", prompt)
        _insert(other, "core", core)
        shown = render(other.state())
        assert stats(other.state())["rendered_tokens"] == sum(counter.count(m["content"]) + 3 for m in shown) + 3


def test_chinese_and_japanese_memories_are_found_by_their_words():
    session = _session()
    tea = _insert(session, "semantic", "用户喜欢喝绿茶", entities=["用户"])
    _insert(session, "semantic", "用户住在上海", entities=["用户"])
    tokyo = _insert(session, "episodic", "会議は東京で開かれた")
    assert [h["memory_id"] for h in session.call_tool("memory_search", {"query": "绿茶"})["hits"]] == [tea]
    assert session.call_tool("memory_search", {"query": "東京"})["hits"][0]["memory_id"] == tokyo
    assert len(session.call_tool("memory_search", {"query": "用户"})["hits"]) == 2
