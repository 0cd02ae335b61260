"""The brakes in a live turn with the scripted model: the stream is cut at a step, the model
finishes after the brake text, and every brake is an event that replays, forks and travels
through export and import (tool loops and DEER: test_brakes_over_http.py)."""

from __future__ import annotations

import pytest

from engine import scripted_model
from engine.brakes.events import brake_log
from engine.brakes.settings import BRAKE_TEXTS, MISSING_PREMISE_TEXT
from engine.think_tags import CLOSE_TAG
from engine.tokens import token_counter
from sessions import SessionStore
from sessions.agent import Turn, retry_turn, run_turn
from engine.streaming import ReasoningDelta

SETTLED = (
    "We need 17 + 25.\n\n"
    "17 + 25 = 42, so the answer is 42.\n\n"
    "Wait, let me check: 25 + 17 is 42 as well. The answer is 42.\n\n"
    "TAIL-ONE Hmm, but maybe I should recount the units digit and the tens digit separately.\n\n"
    "TAIL-TWO Perhaps I should verify once more by counting up from 17 in fives.\n\n"
    "TAIL-THREE Yes."
)


def _events(session, kind=None):
    return [e for e in session.events() if kind is None or e["kind"] == kind]


def test_a_settled_answer_cuts_the_stream_and_the_model_finishes_after_the_brake_text(session, model):
    scripted_model.enqueue(model, {"reasoning": SETTLED, "content": "The answer is 42.", "chunk_size": 8}, "42.")
    result = run_turn(session, "What is 17 + 25?")
    assert result["braked"] == "settled" and result["reply"] == "42." and not result["stopped"]
    message = session.state().messages[-1]
    sbt_e = BRAKE_TEXTS["sbt-e"]
    assert message.reasoning.endswith(sbt_e) and "TAIL-ONE" not in message.reasoning  # cut at the step
    assert message.content == "42."
    first, finish = scripted_model.requests(model)
    prefill = finish["messages"][-1]
    assert prefill["role"] == "assistant" and prefill["content"].rstrip().endswith(CLOSE_TAG)
    assert sbt_e in prefill["content"] and "TAIL-ONE" not in prefill["content"]
    assert finish["tools"] == first["tools"] and finish["tool_choice"] == "auto"  # it may still call a tool
    kinds = [e["kind"] for e in _events(session)][-4:]
    assert kinds == ["llm_called", "llm_called", "message_added", "brake_applied"]
    stopped, finishing = (e["payload"] for e in _events(session, "llm_called")[-2:])
    assert stopped["finish_reason"] == "stopped" and stopped["stop_reason"].startswith("brake: settled")
    assert finishing["purpose"] == "brake_finish" and finishing["finish_reason"] == "stop"
    brake = _events(session, "brake_applied")[-1]["payload"]
    assert brake["detector"] == "settled" and brake["action"] == "stopped_reasoning" and brake["mode"] == "brake"
    assert brake["message_id"] == message.id and brake["step"] == 2 and brake["score"] >= brake["threshold"] == 0.2
    notes = [(piece["note"], piece["positions"]) for piece in brake["evidence"]]
    assert notes == [("answer 42", [1]), ("answer 42", [2]), ("answer 42 first reached", [1])]
    cut = message.reasoning[: brake["reasoning_chars"]]
    assert cut.endswith("The answer is 42.") and brake["tokens_generated"] == token_counter().count(cut)
    assert 0 < brake["tokens_saved"] and brake["saved_basis"] == "estimate" and brake["brake_text"] == sbt_e


def test_reasoning_inside_think_tags_brakes_the_same_way(session, model):
    content = f"<think>{SETTLED}</think>The answer is 42."
    scripted_model.enqueue(model, {"content": content, "chunk_size": 5}, "42.")
    result = run_turn(session, "What is 17 + 25?")
    assert result["braked"] == "settled"
    message = session.state().messages[-1]
    assert "TAIL-ONE" not in message.reasoning and message.content == "42."
    assert _events(session, "brake_applied")[-1]["payload"]["step"] == 2


def test_observe_mode_records_where_it_would_have_braked_and_measures_what_that_saves(session, model):
    session.configure(brakes={"mode": "observe"})
    scripted_model.enqueue(model, {"reasoning": SETTLED, "content": "The answer is 42."})
    result = run_turn(session, "What is 17 + 25?")
    assert "braked" not in result and len(scripted_model.requests(model)) == 1
    message = session.state().messages[-1]
    assert message.reasoning == SETTLED and message.content == "The answer is 42."
    observed = [e["payload"] for e in _events(session, "brake_applied")]
    assert [b["detector"] for b in observed] == ["settled"]
    assert all(b["mode"] == "observe" and b["action"] == "observed" and b["saved_basis"] == "measured" for b in observed)
    stability = next(b for b in observed if b["detector"] == "settled")
    counter = token_counter()
    assert stability["tokens_saved"] == counter.count(SETTLED) - stability["tokens_generated"] > 0


def test_no_detectors_means_no_brakes(session, model):
    session.configure(brakes={"detectors": []})
    scripted_model.enqueue(model, {"reasoning": SETTLED, "content": "The answer is 42."})
    run_turn(session, "What is 17 + 25?")
    assert session.state().messages[-1].reasoning == SETTLED and not _events(session, "brake_applied")


def test_a_missing_premise_brakes_with_the_ask_instead_text(session, model):
    reasoning = ("Each box holds some apples, but the number of boxes is not given.\n\n"
                 "Without it the total depends on how many boxes there are.\n\n"
                 "The count of boxes isn't specified anywhere in the question.\n\nTAIL guess ten boxes.")
    session.configure(brakes={"detectors": ["missing_premise"]})  # not a default: it fires on some well-posed questions
    scripted_model.enqueue(model, {"reasoning": reasoning, "content": "50"}, "How many boxes are there?")
    result = run_turn(session, "Each box holds 5 apples. How many apples?")
    assert result["braked"] == "missing_premise"
    assert session.state().messages[-1].reasoning.endswith(MISSING_PREMISE_TEXT)
    assert "TAIL" not in session.state().messages[-1].reasoning


def test_the_qwen_hand_over_sentence_is_an_option(session, model):
    session.configure(brakes={"brake_text": "qwen"})
    scripted_model.enqueue(model, {"reasoning": SETTLED}, "42")
    run_turn(session, "What is 17 + 25?")
    assert session.state().messages[-1].reasoning.endswith(BRAKE_TEXTS["qwen"])
    assert BRAKE_TEXTS["qwen"] in scripted_model.requests(model)[-1]["messages"][-1]["content"]


def test_the_brake_text_reaches_the_live_view_and_the_finish_streams_too(session, model):
    scripted_model.enqueue(model, {"reasoning": SETTLED}, "forty-two")
    heard = []
    run_turn(session, "What is 17 + 25?", observer=heard.append)
    reasoning = "".join(d.text for d in heard if isinstance(d, ReasoningDelta))
    assert reasoning.endswith(BRAKE_TEXTS["sbt-e"])
    assert "".join(getattr(d, "text", "") for d in heard if not isinstance(d, ReasoningDelta)).endswith("forty-two")


def test_a_failed_finish_keeps_the_cut_reasoning_and_can_be_retried(session, model):
    scripted_model.enqueue(model, {"reasoning": SETTLED}, RuntimeError("the server went away"), "42")
    result = run_turn(session, "What is 17 + 25?")
    assert result["error"] and result["stopped"]
    message = session.state().messages[-1]
    assert message.stopped and message.reasoning.endswith(BRAKE_TEXTS["sbt-e"])
    assert _events(session)[-1]["kind"] == "llm_failed" and _events(session, "brake_applied")
    assert retry_turn(session)["reply"] == "42"


def test_a_person_stopping_mid_reasoning_is_no_brake(session, model):
    import threading

    gate = threading.Event()
    scripted_model.enqueue(model, {"reasoning": SETTLED, "chunk_size": 4, "gate": gate})
    turn = Turn(session, "What is 17 + 25?").start()
    for update in turn.updates():  # the first reasoning piece: the stream is open, waiting at the gate
        if isinstance(update, ReasoningDelta):
            break
    turn.stop("the person pressed Stop")
    gate.set()
    turn.join(30)
    result = turn.outcome()
    assert result["stopped"] and "braked" not in result and not _events(session, "brake_applied")
    assert len(scripted_model.requests(model)) == 1


def test_a_budget_the_model_sets_for_itself_cuts_its_next_reasoning(session, model):
    session.configure(tools="all")
    long_steps = "\n\n".join(f"Step {i}: I keep listing numbers {' '.join(str(n) for n in range(i, i + 30))}." for i in range(12))
    scripted_model.enqueue(model, {"tool_calls": [{"name": "set_reasoning_budget", "arguments": '{"tokens": 120}'}]},
                           {"reasoning": long_steps, "content": "done"}, "Finished.")
    run_turn(session, "Count for me.")
    assert session.settings["brakes"]["thinking_budget"] == 120
    brake = _events(session, "brake_applied")[-1]["payload"]
    assert brake["detector"] == "hard_budget" and brake["tokens_generated"] >= 120 and brake["threshold"] == 120
    assert "Step 11" not in session.state().messages[-1].reasoning


def test_a_brake_replays_forks_and_survives_export_and_import(session, model, tmp_path):
    scripted_model.enqueue(model, {"reasoning": SETTLED}, "42.")
    run_turn(session, "What is 17 + 25?")
    [record] = brake_log(session.state()).records
    question = next(e["seq"] for e in _events(session) if e["kind"] == "message_added"
                    and e["payload"]["role"] == "user" and e["payload"]["content"] == "What is 17 + 25?")
    before = session.fork(at=question)  # from before the turn that braked: its reply and brake are not there
    assert brake_log(before.state()).records == () and before.state().messages[-1].content == "What is 17 + 25?"
    assert brake_log(session.state(at=record.seq)).records == (record,)  # Replay: there from the brake's event on
    assert brake_log(session.state(at=record.seq - 1)).records == ()
    before.configure(brakes={"detectors": []})  # the fork answers again, unbraked
    scripted_model.enqueue(model, {"reasoning": SETTLED, "content": "42"})
    retry_turn(before)
    assert brake_log(before.state()).records == () and before.state().messages[-1].reasoning == SETTLED
    store = SessionStore(str(tmp_path / "other.duckdb"))
    for name, fmt in (("trace.jsonl", "jsonl"), ("trace.otlp.json", "otlp")):
        path = tmp_path / name
        if fmt == "jsonl":
            session.export(path)
        else:
            from sessions.exporting import export_session

            export_session(session, "otlp", path)
        report = store.import_file(path, format_name=fmt)
        copy = store.open_session(report.files[0].sessions[0]["id"])
        [again] = [e["payload"] for e in copy.events() if e["kind"] == "brake_applied"]
        original = _events(session, "brake_applied")[0]["payload"]
        assert again == original, fmt
        assert copy.state().messages[-1].reasoning == session.state().messages[-1].reasoning


def test_the_markdown_transcript_says_where_the_brake_cut(session, model, tmp_path):
    from sessions.exporting import export_session

    scripted_model.enqueue(model, {"reasoning": SETTLED}, "42.")
    run_turn(session, "What is 17 + 25?")
    path = tmp_path / "t.md"
    export_session(session, "markdown", path)
    text = path.read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith("*Brake:"))
    assert line.startswith("*Brake: settled cut the reasoning after step 3 · ") and "saved (estimated)*" in line


def test_a_model_braked_before_a_tool_call_still_makes_it_and_the_turn_goes_on(session, model):
    reasoning = SETTLED.replace("TAIL-ONE", "I should also search for the code word.")
    scripted_model.enqueue(model, {"reasoning": reasoning, "tool_calls": [{"name": "search_context",
                                                                            "arguments": {"query": "PELICAN"}}]},
                           {"tool_calls": [{"name": "search_context", "arguments": {"query": "PELICAN"}}]},
                           "42, and the code word is PELICAN.")
    result = run_turn(session, "What is 17 + 25, and the code word?")
    assert result["reply"] == "42, and the code word is PELICAN." and result["tool_calls"][0]["name"] == "search_context"
    assert "results" in result["tool_calls"][0]["result"]
    caller = next(m for m in session.state().messages if m.role == "assistant" and m.tool_calls)
    assert caller.reasoning.endswith(BRAKE_TEXTS["sbt-e"])
    [brake] = [e["payload"] for e in _events(session, "brake_applied")]
    assert brake["message_id"] == caller.id and brake["action"] == "stopped_reasoning"


def test_an_answer_that_began_in_the_chunk_that_closed_the_step_is_kept_whole(session, model):
    scripted_model.enqueue(model, {"content": f"<think>{SETTLED}</think>The answer is 42.", "chunk_size": 100_000})
    result = run_turn(session, "What is 17 + 25?")
    assert "braked" not in result and result["reply"] == "The answer is 42." and not result["stopped"]
    assert session.state().messages[-1].reasoning == SETTLED and len(scripted_model.requests(model)) == 1
    [brake] = [e["payload"] for e in _events(session, "brake_applied")]
    assert brake["mode"] == "brake" and brake["action"] == "observed" and brake["saved_basis"] == "measured"


def test_a_finish_that_thinks_again_and_runs_out_still_answers(session, model):
    scripted_model.enqueue(model, {"reasoning": SETTLED}, {"reasoning": "Let me think about this again...", "content": ""})
    result = run_turn(session, "What is 17 + 25?")
    assert result["braked"] == "settled" and result["reply"] == "42"  # what the cut reasoning had reached
    assert session.state().messages[-1].reasoning.endswith("Let me think about this again...")


def test_no_trial_answers_are_forked_inside_the_embedded_models_own_stream():
    from engine.settings import EMBEDDED_MODEL, Backend
    from sessions.braking import watch_call

    settings = {"brakes": {"detectors": ["confidence"]}}
    embedded, _ = watch_call(settings, token_counter(), None, Backend(model=EMBEDDED_MODEL), [])
    other, _ = watch_call(settings, token_counter(), None, Backend(model="openai/x", api_base="http://127.0.0.1:1/v1"), [])
    assert embedded._probe is None and other._probe is not None


def test_a_trace_whose_brake_settings_this_version_cannot_use_is_refused_by_line(session, model, tmp_path):
    from engine import WorkbenchError

    session.configure(brakes={"mode": "observe"})
    path = tmp_path / "t.jsonl"
    session.export(path)
    bad = path.read_text(encoding="utf-8").replace('"mode":"observe"', '"detectors":"settled","mode":"observe"')
    assert bad != path.read_text(encoding="utf-8")
    (tmp_path / "bad.jsonl").write_text(bad, encoding="utf-8")
    store = SessionStore(":memory:")
    with pytest.raises(WorkbenchError, match=r"line \d+.*settings this version cannot use: brakes.detectors is a list"):
        store.import_file(tmp_path / "bad.jsonl", format_name="jsonl")
    assert store.list_sessions() == []


def test_the_finishs_own_thinking_is_kept_after_the_brake_text_and_an_empty_finish_offers_retry(session, model):
    from engine.brakes.timeline import reasoning_timeline

    scripted_model.enqueue(model, {"reasoning": SETTLED}, {"reasoning": "Fine, so 42 it is.", "content": "42."})
    run_turn(session, "What is 17 + 25?")
    message = session.state().messages[-1]
    assert message.reasoning.endswith(BRAKE_TEXTS["sbt-e"] + "\n\nFine, so 42 it is.") and message.content == "42."
    timeline = reasoning_timeline(session.state())
    assert [(s.inserted, s.after_brake) for s in timeline.steps][-2:] == [(True, True), (False, True)]
    assert message.extra == {}
    no_answer = "Let me think.\n\n" + "\n\n".join(f"Still thinking about part {i} of it." for i in range(40))
    session.configure(brakes={"thinking_budget": 60})
    scripted_model.enqueue(model, {"reasoning": no_answer}, {"reasoning": "Hmm.", "content": ""})
    result = run_turn(session, "And a hard one?")
    assert result["reply"] == "" and result["stopped"] and session.state().messages[-1].stopped  # Retry is offered
    scripted_model.enqueue(model, {"reasoning": SETTLED.replace("17 + 25 = 42, so", "so")}, {"content": ""})
    session.configure(brakes={"thinking_budget": 16_000})
    run_turn(session, "Once more?")
    last = session.state().messages[-1]
    assert last.content == "42" and "taken from the reasoning" in last.extra["answer"]


def test_a_reply_whose_template_opened_the_reasoning_is_braked_once_the_backend_says_so(session, model):
    content = f"{SETTLED}</think>The answer is 42."  # only the closing tag arrives
    scripted_model.enqueue(model, {"content": content, "chunk_size": 6})
    run_turn(session, "What is 17 + 25?")
    assert "TAIL-ONE" in session.state().messages[-1].reasoning  # unknowable live: read as the answer until </think>
    assert not _events(session, "brake_applied")
    session.configure(starts_in_reasoning=True)
    heard = []
    scripted_model.enqueue(model, {"content": content, "chunk_size": 6}, "42.")
    result = run_turn(session, "And again?", observer=heard.append)
    assert result["braked"] == "settled" and result["reply"] == "42."  # the finish is read as an answer
    assert "TAIL-ONE" not in session.state().messages[-1].reasoning
    assert not any(getattr(d, "text", "").startswith("We need") for d in heard if not isinstance(d, ReasoningDelta))
