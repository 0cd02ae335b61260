"""No model call while the store is held: summaries are written before the transaction, so
the CLI keeps working while a deliberately slow model writes one."""

from __future__ import annotations

import json

import pytest

from engine import apply, new_message, scripted_model
from engine.settings import settings_of, window_stats
from engine.tools import ToolContext, registry
from sessions import SessionStore

from tests.conftest import long_text
from tests.sessions.test_cli import run


def slow_summary(db, text: str, seen: list):
    """A model that, while it 'thinks', has the CLI write to the same file (it fails if the
    file is held: the CLI waits out its lock timeout, then exits 1)."""

    def reply(request):
        cli = run("new", "written by the CLI while the model thinks", db=db)
        seen.append(cli)
        return text

    return reply


def test_a_policy_between_the_two_figures_summarizes_before_the_store_is_held(tmp_path, model):
    """The threshold lies between the context without tool schemas and with them: the plan
    that counts the schemas is the only plan, and its summary is written outside."""
    db = tmp_path / "policy.duckdb"
    store = SessionStore(db, linger=0)
    session = store.create_session("policy")
    session.add_message("user", "Old notes.\n" + long_text(12))
    session.add_message("assistant", "Noted.")
    session.add_message("user", "What did the committee decide?")
    session.configure(model=model)
    state = session.state()
    figures = window_stats(state, settings_of(state), None, session.encoding)
    assert figures["tool_schema_tokens"] > 200
    threshold = figures["rendered_tokens"] + figures["tool_schema_tokens"] // 2  # between the two figures
    session.configure(policy={"threshold": threshold, "keep_tool_results": 1, "summarize_turns": True})
    seen: list = []
    scripted_model.enqueue(model, slow_summary(db, "Committee notes: budget lines and actions.", seen))

    actions = session.apply_policy()

    assert [a["tool"] for a in actions] == ["summarize_fragment"]
    assert len(seen) == 1 and seen[0].returncode == 0, seen[0].stderr  # the CLI was not locked out
    summarized = session.state().messages[0].fragments[0]
    assert summarized.status == "summarized" and summarized.summarizer == model
    assert summarized.summary == "Committee notes: budget lines and actions."
    kinds = [e["kind"] for e in session.events()]
    assert kinds[-2:] == ["policy_applied", "fragment_summarized"]
    assert len(scripted_model.requests(model)) == 1  # asked once: not again inside the transaction
    titles = [row["title"] for row in store.list_sessions()]
    assert "written by the CLI while the model thinks" in titles
    store.close()


def test_a_batch_that_fragments_then_summarizes_a_new_fragment_is_prepared_outside(tmp_path, model):
    db = tmp_path / "batch.duckdb"
    store = SessionStore(db, linger=0)
    session = store.create_session("batch")
    session.add_message("user", long_text(10))
    session.configure(model=model)
    fragment = {"start_marker": "Paragraph 1.", "end_marker": "End of notes.", "num_fragments": 3}
    calls = [{"id": "c1", "type": "function", "function": {"name": "fragment_context", "arguments": json.dumps(fragment)}}]
    # the ids the batch will make: fragmenting is deterministic, so a dry run on the same state knows them
    state = session.state()
    state = apply(state, new_message(state, "assistant", None, tool_calls=calls))  # the batch's own message comes first
    state = registry.call("fragment_context", fragment, ToolContext.for_state(state)).state
    new_id = state.messages[0].fragments[1].id
    seen: list = []
    scripted_model.enqueue(model, slow_summary(db, "Paragraphs four to seven, in brief.", seen))

    results = session.run_model_tool_calls([
        *calls,
        {"id": "c2", "type": "function",
         "function": {"name": "summarize_fragment", "arguments": json.dumps({"fragment_id": new_id, "focus": "gist"})}},
    ])

    assert "error" not in results[0] and new_id in [p["fragment_id"] for p in results[0]["fragments"]]
    assert results[1]["summary"] == "Paragraphs four to seven, in brief." and results[1]["summarizer"] == model
    assert len(seen) == 1 and seen[0].returncode == 0, seen[0].stderr
    assert len(scripted_model.requests(model)) == 1
    store.close()


def test_a_planned_summary_that_no_longer_fits_fails_alone_without_calling_the_model(tmp_path, model):
    """Between the plan and the transaction another process re-cuts the message: the planned
    summary's fragment is gone. It fails with its reason; the model is not asked again inside.
    (A summary the dry run did not prepare is refused by PreparedSummarizer, tested below.)"""
    db = tmp_path / "raced.duckdb"
    store = SessionStore(db, linger=0)
    session = store.create_session("raced")
    session.add_message("user", "Old notes.\n" + long_text(12))
    session.add_message("user", "And now?")
    session.configure(model=model, policy={"threshold": 100, "keep_tool_results": 1, "summarize_turns": True})

    def meanwhile(request):  # another process edits the same session while the model writes
        other = SessionStore(db, linger=0)
        other.open_session(session.id).call_tool(
            "fragment_context", {"start_marker": "Old notes.", "end_marker": "End of notes.", "num_fragments": 2})
        other.close()
        return "A summary of the old notes."

    scripted_model.enqueue(model, meanwhile)
    session.apply_policy()

    events = session.events()
    failed = [e for e in events if e["kind"] == "tool_failed"]
    assert len(failed) == 1 and failed[0]["payload"]["tool"] == "summarize_fragment"
    assert "no fragment" in failed[0]["payload"]["error"]
    assert [e["kind"] for e in events].count("context_fragmented") == 1  # the other process's edit is kept
    assert len(scripted_model.requests(model)) == 1
    store.close()


def test_the_prepared_summarizer_refuses_what_it_was_not_given():
    from engine.errors import ToolInputError
    from sessions.summaries import PreparedSummarizer

    prepared = PreparedSummarizer("scripted/x", {("text", "focus"): "summary"})
    assert prepared("text", "focus") == "summary"
    with pytest.raises(ToolInputError, match="never called while the store is held"):
        prepared("other text", "focus")


def test_the_sessions_lock_is_free_while_the_model_writes(model):
    """Other threads (other browser tabs on the same session) keep reading while a slow model
    writes a summary: neither the store nor the session's lock is held then."""
    import threading

    session = SessionStore(":memory:").create_session("readers")
    session.add_message("user", long_text(6))
    session.configure(model=model)
    fragment_id = session.state().messages[0].fragments[0].id
    read = []

    def reply(request):
        reader = threading.Thread(target=lambda: read.append(len(session.state().messages)))
        reader.start()
        reader.join(10)  # would time out if the model were called under the session's lock
        return "A short summary."

    scripted_model.enqueue(model, reply)
    result = session.call_tool("summarize_fragment", {"fragment_id": fragment_id, "focus": "gist"})
    assert read == [1] and result["summary"] == "A short summary."


def test_a_model_summarizer_failing_in_an_unexpected_way_keeps_its_real_error(model):
    session = SessionStore(":memory:").create_session("odd failure")
    session.add_message("user", long_text(6))
    session.configure(model=model)
    fragment_id = session.state().messages[0].fragments[0].id

    class Broken:
        name = model

        def __call__(self, text, focus):
            raise KeyError("the summarizer lost its template")

    session.summarizer = Broken()
    result = session.call_tool("summarize_fragment", {"fragment_id": fragment_id, "focus": "gist"})
    assert "KeyError" in result["error"] and "lost its template" in result["error"]
    assert "was not written" not in result["error"]


def test_stopping_a_turn_also_stops_the_policys_summary_and_the_turn_ends_there(model):
    """Stop during a policy's model summary: the summary is not written (that action fails with
    the reason), and the turn asks the model nothing more."""
    from engine.streaming import StopSignal
    from sessions.agent import run_turn

    session = SessionStore(":memory:").create_session("stop the policy")
    session.add_message("user", "Old notes.\n" + long_text(12))
    session.add_message("assistant", "Noted.")
    session.configure(model=model, tools="none",
                      policy={"threshold": 100, "keep_tool_results": 1, "summarize_turns": True})
    stop = StopSignal()

    def stopped_midway(request):  # a person presses Stop while the model writes the summary
        stop.set("Stop pressed during the policy's summary")
        return {"content": "a summary that is cut off before it ends", "chunk_size": 4}

    scripted_model.enqueue(model, stopped_midway)
    result = run_turn(session, "And now?", stop=stop)
    assert result["stopped"] and result["stop_reason"] == "Stop pressed during the policy's summary"
    failed = [e for e in session.events() if e["kind"] == "tool_failed"]
    assert failed and "stopped (Stop pressed during the policy's summary)" in failed[-1]["payload"]["error"]
    assert len(scripted_model.requests(model)) == 1  # the summary call only: no model call for the turn
    assert not [e for e in session.events() if e["kind"] == "llm_called"]
