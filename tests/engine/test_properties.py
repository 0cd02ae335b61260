"""Property tests: random tool calls with random (often invalid) arguments never raise, and the
state built call by call always equals the replay of the events they left."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import event as event_label
from hypothesis import strategies as st

from engine import ContextState, MessageError, apply, event_from_record, new_message, render, replay, stats
from engine.records import canonical_json
from engine.memory import memory_graph
from engine.tasks import task_board
from engine.tools import ToolContext, registry

TOOL_NAMES = registry.names + ["fold", "", "restore_fragment ", "🙂"]
READ_ONLY = {"check_reasoning", "list_tasks", "memory_search"}  # they report and change nothing: no event to leave
ROLES = ["system", "user", "assistant", "tool", "all", "robot"]
text_strategy = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()), min_size=0, max_size=200
) | st.sampled_from(["alpha beta gamma. delta\nepsilon; zeta eta theta.\n\niota kappa", "k1: v1; k2: v2; k1: v3;"])


def _junk():
    return st.one_of(
        st.none(), st.booleans(), st.integers(-5, 3000), st.floats(allow_nan=True), st.text(max_size=20),
        st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    )


@st.composite
def _arguments(draw, state: ContextState, name: str):
    fragment_ids = [f.id for f in state.fragments()]
    search_ids = list(state.searches)
    texts = [f.text for f in state.fragments() if f.status == "visible"]
    def substring():
        if not texts:
            return draw(st.text(max_size=10))
        text = draw(st.sampled_from(texts))
        start = draw(st.integers(0, len(text)))
        return text[start : start + draw(st.integers(0, 30))]
    hidden_ids = [f.id for f in state.fragments() if f.status != "visible"]
    task_ids = [task.id for task in task_board(state).tasks]
    memory_ids = [memory.id for memory in memory_graph(state).memories] + ["core", "mzzzzz"]
    if name == "restore_fragment" and hidden_ids and draw(st.booleans()):
        fragment_ids = hidden_ids
    start_marker, end_marker = substring(), substring()
    if texts and draw(st.booleans()):  # a span that exists: end after start in one visible text
        text = draw(st.sampled_from(texts))
        i = draw(st.integers(0, max(len(text) - 1, 0)))
        j = draw(st.integers(i + 1, len(text))) if i < len(text) else i
        start_marker = text[i : min(j, i + draw(st.integers(1, 12)))]
        k = draw(st.integers(max(j - 12, i + len(start_marker)), j)) if j > i else j
        end_marker = text[k:j] or text[-1:]
    candidates = {
        "fragment_id": st.sampled_from(fragment_ids) if fragment_ids else st.text(max_size=8),
        "search_id": st.sampled_from(search_ids) if search_ids else st.text(max_size=8),
        "start_marker": st.just(start_marker),
        "end_marker": st.just(end_marker),
        "query": st.builds(substring),
        "focus": st.text(max_size=30),
        "num_fragments": st.integers(-1, 25),
        "max_results": st.integers(0, 60),
        "context_size": st.integers(0, 1200),
        "extended_context": st.integers(0, 2500),
        "tokens": st.integers(-5, 40_000),  # set_reasoning_budget
        "task_id": st.sampled_from(task_ids) if task_ids else st.text(max_size=8),  # the task tools
        "parent": st.sampled_from([*task_ids, "tzzzzz"]) if task_ids else st.just("tzzzzz"),
        "depends_on": st.lists(st.sampled_from(task_ids), max_size=3) if task_ids else st.just([]),
        "title": st.text(max_size=20),
        "details": st.text(max_size=30),
        "status": st.sampled_from(["open", "active", "done", "blocked", "stale", "finished"]),
        "summary": st.text(max_size=40),
        "memory_id": st.sampled_from(memory_ids),  # the memory tools
        "memory_ids": st.lists(st.sampled_from(memory_ids), max_size=4),
        "memory_type": st.sampled_from(["core", "semantic", "episodic", "link", "procedural"]),
        "content": st.sampled_from(["Ada prefers mornings", "At 9:00 Ada booked Hall B", "", "x " * 600])
        | st.text(max_size=40),
        "entities": st.lists(st.sampled_from(["Ada", "ada ", "Hall B", "Tuesday", ""]) | st.text(max_size=10), max_size=4),
        "description": st.sampled_from(["Ada booked Hall B", ""]) | st.text(max_size=30),
        "when": st.sampled_from(["2026-12-01 14:00", "Tuesday", ""]),
        "limit": st.integers(-1, 60),
        "role": st.sampled_from(ROLES),
        "message_id": st.sampled_from([m.id for m in state.messages] + ["m0", "m99", "x"]),
        "mode": st.sampled_from(["exact", "regex", "ranked", "fuzzy"]),
        "bogus": _junk(),
    }
    well_formed = name in registry.names and draw(st.integers(0, 9)) < 8
    if well_formed:  # mostly plausible calls, so that tools really act on the state
        parameters = registry.get(name).parameters
        optional = [k for k in parameters["properties"] if k not in parameters["required"]]
        keys = parameters["required"] + draw(st.lists(st.sampled_from(optional), unique=True)) if optional else parameters["required"]
        arguments = {key: draw(candidates[key]) for key in keys}
    else:
        keys = draw(st.lists(st.sampled_from(sorted(candidates)), max_size=5, unique=True))
        arguments = {key: draw(candidates[key] | _junk()) for key in keys}
    form = draw(st.sampled_from(["dict"] * 6 + ["json"] * 2 + ["broken", "none"])) if not well_formed else draw(st.sampled_from(["dict", "json"]))
    if form == "json":
        return json.dumps(arguments, default=str)
    if form == "broken":
        return json.dumps(arguments, default=str)[:-1]
    return None if form == "none" else arguments


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_random_calls_never_raise_and_replay_equals_live_state(data):
    state = ContextState()
    events = []
    for _ in range(data.draw(st.integers(1, 20), label="steps")):
        if data.draw(st.booleans(), label="add message?") or not state.messages:
            role = data.draw(st.sampled_from(["system", "user", "assistant"]), label="role")
            try:
                event = new_message(state, role, data.draw(text_strategy, label="text"))
            except MessageError:
                continue
            events.append(event)
            state = apply(state, event)
            continue
        name = data.draw(st.sampled_from(TOOL_NAMES), label="tool")
        arguments = data.draw(_arguments(state, name), label="arguments")
        before = state
        outcome = registry.call(name, arguments, ToolContext.for_state(state))
        assert isinstance(outcome.result, dict)
        event_label(f"{name}: {'failed' if outcome.failed else 'ok'}")  # see --hypothesis-show-statistics
        if outcome.failed:
            assert [e.kind for e in outcome.events] == ["tool_failed"]
            assert outcome.state.messages == before.messages and outcome.state.searches == before.searches
            assert "internal error" not in outcome.result["error"], outcome.result["error"]
        else:
            assert outcome.events or name in READ_ONLY
        events.extend(outcome.events)
        state = outcome.state
        for message in state.messages:
            assert "".join(f.text for f in message.fragments) == message.text
        render(state)
        stats(state)
    assert replay(events) == state
    stored = [event_from_record(e.kind, json.loads(canonical_json(e.payload()))) for e in events]
    assert replay(stored) == state  # what the store and a trace keep folds to the same state
    cut = data.draw(st.integers(0, len(events)), label="cut")
    assert replay(events[cut:], replay(events[:cut])) == state
