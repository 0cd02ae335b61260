"""Who wrote what in a live turn: the person's message, the model's calls, replies and tool calls,
the brake's own event, and the context policy's folds, each under its actor."""

from __future__ import annotations

from engine import scripted_model
from engine.actors import Actor
from sessions.agent import run_turn

from tests.llm.test_brakes_in_the_loop import SETTLED


def _by(session) -> list[tuple[str, str, str | None]]:
    return [(r.kind, r.actor.kind, r.actor.name) for r in session.records()]


def test_a_braked_turn_is_the_persons_message_the_models_reply_and_the_brakes_event(session, model):
    session.actor = Actor.person("workbench")
    start = session.last_seq
    scripted_model.enqueue(model, {"reasoning": SETTLED, "content": "The answer is 42.", "chunk_size": 8}, "42.")
    assert run_turn(session, "What is 17 + 25?")["braked"] == "settled"
    assert _by(session)[start:] == [
        ("message_added", "person", "workbench"),
        ("llm_called", "model", model), ("llm_called", "model", model), ("message_added", "model", model),
        ("brake_applied", "brake", "settled"),
    ]


def test_a_models_tool_calls_and_the_policys_folds_are_theirs(session, model):
    session.configure(tools="sculptor", policy={"threshold": 200, "keep_tool_results": 1, "summarize_turns": False})
    start = session.last_seq
    search = {"tool_calls": [{"name": "search_context", "arguments": '{"query": "PELICAN"}'}]}
    scripted_model.enqueue(model, search, search, "The code word is PELICAN.")  # the second makes the first stale
    run_turn(session, "What is the code word?")
    written = _by(session)[start:]
    assert ("policy_applied", "policy", None) in written
    policy_seq = [kind for kind, _, _ in written].index("policy_applied")
    folds = [entry for entry in written[policy_seq + 1:] if entry[0] in ("fragment_folded", "fragment_summarized")]
    assert folds and all(actor == "policy" for _, actor, _ in folds)
    assert ("context_searched", "model", model) in written
    assert written[-1] == ("message_added", "model", model)
