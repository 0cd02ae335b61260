"""How turns end and what they keep: stop signals of every kind, a process exiting mid-turn,
Anthropic's signed thinking, and the window table the loop measures against."""

from __future__ import annotations

import litellm

from engine import scripted_model
from engine.settings import sends_reasoning
from engine.streaming import StopSignal
from sessions import SessionStore
from sessions.agent import run_turn



def test_a_plain_event_already_set_stops_before_the_model_is_called(session, model):
    import threading

    stop = threading.Event()
    stop.set()
    result = run_turn(session, "never asked", stop=stop)
    assert result["stopped"] and result["stop_reason"] == "requested" and result["steps"] == 0
    assert scripted_model.requests(model) == []
    assert session.state().messages[-1].text == "never asked"  # the person's message is kept for Retry


def test_a_stop_reason_of_any_kind_is_recorded_as_one_short_line(session, model):
    scripted_model.enqueue(model, "a long answer that will be cut off before it is finished, surely")
    stop = StopSignal()
    result = run_turn(session, "Talk.", observer=lambda delta: stop.set({"brake": "loop", "n": 3}), stop=stop)
    assert result["stopped"]
    called = [e for e in session.events() if e["kind"] == "llm_called"][-1]
    assert called["payload"]["stop_reason"] == "{'brake': 'loop', 'n': 3}"


def test_anthropic_thinking_is_kept_signed_and_sent_back_by_its_convention(tmp_path):
    """A Claude model's signed thinking blocks are kept with its reply and, by Anthropic's
    convention, sent back with the next call; an OpenAI-style model's reasoning is not."""
    name = "scripted/claude-sonnet-thinking"  # the convention is read from the model string
    scripted_model.reset(name)
    blocks = [{"type": "thinking", "thinking": "The user wants six.", "signature": "sig-abc"}]
    scripted_model.enqueue(name, {"content": "Six.", "reasoning": "The user wants six.", "thinking_blocks": blocks},
                           "Seven.")
    session = SessionStore(":memory:").create_session("thinking")
    session.configure(model=name)
    run_turn(session, "Pick a number.", tools="none")
    kept = session.state().messages[-1]
    assert kept.reasoning == "The user wants six." and kept.extra["thinking_blocks"] == blocks
    assert not sends_reasoning(session.settings)  # "scripted/claude-..." is not Anthropic's API
    session.configure(send_reasoning=True)  # as Anthropic's convention would choose
    run_turn(session, "Another.", tools="none")
    sent = scripted_model.requests(name)[-1]["messages"]
    assert sent[1]["reasoning_content"] == "The user wants six." and sent[1]["thinking_blocks"] == blocks
    assert sends_reasoning({"backend": {"model": "anthropic/claude-sonnet-4-5"}, "send_reasoning": None})
    assert not sends_reasoning({"backend": {"model": "gpt-4.1"}, "send_reasoning": None})
    scripted_model.reset(name)


def test_the_window_table_agrees_with_litellm_for_every_model_offered():
    from engine.settings import KNOWN_MODELS
    from engine.windows import window_of_model

    for name in KNOWN_MODELS:
        try:
            expected = litellm.get_model_info(name).get("max_input_tokens")
        except Exception:  # litellm does not know it either
            expected = None
        if name == "embedded/smollm2-135m-instruct":
            expected = 8_192
        assert window_of_model(name) == expected, name
    assert window_of_model("no-such-model") is None


def test_a_stop_reason_from_any_event_is_recorded_as_text(session, model):
    import threading

    class Brake(threading.Event):
        reason = {"brake": "loop", "calls": 3}

    stop = Brake()
    scripted_model.enqueue(model, "a long answer that will be cut off before it is finished, surely")
    result = run_turn(session, "Talk.", observer=lambda delta: stop.set(), stop=stop)
    assert result["stopped"] and result["stop_reason"] == "{'brake': 'loop', 'calls': 3}"
    assert session.state().messages[-1].stopped


def test_redacted_thinking_is_sent_back_too(model):
    scripted_model.enqueue(model, {"content": "Six.", "thinking_blocks": [{"type": "redacted_thinking", "data": "xyz"}]},
                           "Seven.")
    session = SessionStore(":memory:").create_session("redacted")
    session.configure(model=model, send_reasoning=True)
    run_turn(session, "Pick.", tools="none")
    assert session.state().messages[-1].extra["thinking_blocks"] == [{"type": "redacted_thinking", "data": "xyz"}]
    run_turn(session, "Again.", tools="none")
    assert scripted_model.requests(model)[-1]["messages"][1]["thinking_blocks"] == [{"type": "redacted_thinking", "data": "xyz"}]


def test_a_process_exiting_mid_turn_stops_the_turn_and_exits_cleanly(tmp_path):
    """At exit a running turn is stopped (and records what it got) instead of being killed inside
    C++ code, which would abort the process."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    db = tmp_path / "exit.duckdb"
    script = f"""
import sys
from engine import scripted_model
from engine.streaming import TextDelta
from sessions import SessionStore
from sessions.agent import Turn
store = SessionStore({str(db)!r})
session = store.create_session("exiting")
session.configure(model="scripted/exit", tools="none")
scripted_model.enqueue("exit", {{"content": "word " * 400, "chunk_size": 5, "chunk_delay": 0.02}})
turn = Turn(session, "Talk for a long time.").start()
for update in turn.updates():
    if isinstance(update, TextDelta):
        break  # the reply has begun: leave now, with the turn running
sys.exit(0)
"""
    for _ in range(3):
        exited = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert exited.returncode == 0, exited.stderr[-500:]
    store = SessionStore(db, linger=0)
    called = [e["payload"] for row in store.list_sessions() for e in store.open_session(row["id"]).events()
              if e["kind"] == "llm_called"]
    store.close()
    assert len(called) == 3 and all(c["finish_reason"] == "stopped" and c["stop_reason"] == "the process is exiting"
                                    for c in called)
