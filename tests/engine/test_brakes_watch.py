"""The brake as a stream observer, the brake settings, the brakes' tools and the reasoning timeline."""

from __future__ import annotations

import pytest

from engine import WorkbenchError
from engine.brakes.events import BrakeApplied, brake_log
from engine.brakes.reasoning import repetition
from engine.brakes.savings import estimated_saving, measured_saving
from engine.brakes.settings import DEFAULT_BRAKES, brake_settings, validate_brakes
from engine.brakes.timeline import reasoning_timeline
from engine.brakes.watch import DEER_MAX_PROBES, REPETITION_WINDOW, ReasoningWatch
from engine.deltas import ReasoningDelta, TextDelta
from engine.streaming import StopSignal
from engine.tokens import token_counter
from sessions import SessionStore

SETTLED = ("Add 2 and 3.\n\n2 + 3 = 5, so the answer is 5.\n\nWait, let me check: 3 + 2 = 5. The answer is 5.\n\n"
           "Hmm, maybe once more.\n\nDone.")


def _feed(watch: ReasoningWatch, text: str, size: int) -> int:
    """Feed `text` as reasoning deltas of `size` characters; returns how much went in before a stop."""
    for start in range(0, len(text), size):
        watch.on_delta(ReasoningDelta(text[start : start + size]))
        if watch.signal is not None and watch.signal.is_set():
            return start + size
    return len(text)


@pytest.mark.parametrize("size", [1, 3, 7, 64, 10_000])
def test_the_watch_brakes_at_the_same_step_however_the_text_is_cut(size):
    watch = ReasoningWatch({}, token_counter(), StopSignal())
    fed = _feed(watch, SETTLED + "\n\nTAIL " * 40, size)
    firing = watch.fired
    assert firing is not None and firing.verdict.detector == "settled" and firing.step == 2
    assert SETTLED[: firing.reasoning_chars].endswith("The answer is 5.")
    assert watch.signal.reason.startswith("brake: settled")
    assert fed <= firing.reasoning_chars + len("\n\n") + size  # stopped at the blank line closing the step
    assert firing.tokens == token_counter().count(SETTLED[: firing.reasoning_chars])


def test_a_step_is_checked_only_once_it_is_closed_by_a_blank_line():
    watch = ReasoningWatch({"brakes": {"detectors": ["answer_stability"], "answer_repeats": 2}}, token_counter(), StopSignal())
    watch.on_delta(ReasoningDelta("the answer is 5.\n\nthe answer is 5."))  # the second step is still open
    assert watch.fired is None
    watch.on_delta(ReasoningDelta("\n"))
    assert watch.fired is None  # one newline closes nothing
    watch.on_delta(ReasoningDelta("\n"))
    assert watch.fired is not None and watch.fired.step == 1


def test_once_the_answer_begins_the_thinking_is_over():
    watch = ReasoningWatch({"brakes": {"detectors": ["answer_stability"]}}, token_counter(), StopSignal())
    watch.on_delta(ReasoningDelta("Think.\n\n"))
    watch.on_delta(TextDelta("The answer is 5."))
    watch.on_delta(ReasoningDelta("the answer is 5.\n\nmore\n\n"))  # a backend's late reasoning piece
    assert watch.fired is None


def test_observe_mode_notes_each_detector_once_and_never_stops():
    watch = ReasoningWatch({"brakes": {"mode": "observe"}}, token_counter(), StopSignal())
    _feed(watch, SETTLED + "\n\nthe answer is 5.\n\nthe answer is 5.\n\n", 5)
    assert not watch.signal.is_set()
    names = [firing.verdict.detector for firing in watch.firings]
    assert len(names) == len(set(names)) and "settled" in names


def test_only_the_chosen_detectors_run():
    watch = ReasoningWatch({"brakes": {"detectors": ["hard_budget"], "thinking_budget": 16}}, token_counter(), StopSignal())
    _feed(watch, SETTLED, 4)
    assert watch.fired.verdict.detector == "hard_budget"
    quiet = ReasoningWatch({"brakes": {"detectors": []}}, token_counter(), StopSignal())
    _feed(quiet, SETTLED, 4)
    assert quiet.fired is None


def test_repetition_far_into_long_reasoning_points_at_the_whole_text():
    filler = "\n\n".join(f"Line {i} of careful and varied working about quantity {i * 7}." for i in range(400))
    loop = "\n\n" + " ".join(["I need to find the value of x in this equation."] * 40) + "\n\nnext\n\n"  # it goes on
    text = filler + loop
    assert len(filler) > REPETITION_WINDOW
    watch = ReasoningWatch({"brakes": {"detectors": ["repetition"]}}, token_counter(), StopSignal())
    _feed(watch, text, 200)
    firing = watch.fired
    assert firing is not None and firing.verdict.detector == "repetition"
    for piece in firing.verdict.evidence:
        for start, end in piece.spans:
            assert text[start:end] == piece.text and start > len(filler)
    assert firing.verdict.evidence[0].positions[0] == 400  # the step index in the whole text
    assert repetition(text[len(filler):]).fires  # the same verdict on the loop alone


def test_deer_confidence_probes_at_wait_steps_and_stops_asking_a_backend_without_logprobs():
    asked = []

    def confident(prompt):
        asked.append(prompt)
        return [-0.9, -0.001, -0.002]  # the first token is skipped, as DEER does

    settings = {"brakes": {"detectors": ["confidence"]}}
    watch = ReasoningWatch(settings, token_counter(), StopSignal(), probe=confident)
    _feed(watch, "Work it out: 6 x 7 = 42.\n\nWait, is that right?\n\nYes.\n\n", 6)
    assert asked == ["Work it out: 6 x 7 = 42.\n**Final Answer**\n\\boxed"]
    assert watch.fired.verdict.detector == "confidence" and watch.fired.verdict.score > 0.95
    silent = []
    watch = ReasoningWatch(settings, token_counter(), StopSignal(), probe=lambda p: silent.append(p))
    _feed(watch, "A.\n\n" + "Wait, again.\n\n" * 30, 5)
    assert len(silent) == 1 and watch.fired is None  # None once: no more probes
    many = []
    watch = ReasoningWatch(settings, token_counter(), StopSignal(), probe=lambda p: many.append(p) or [-1, -1])
    _feed(watch, "A.\n\n" + "Wait, again.\n\n" * 30, 5)
    assert len(many) == DEER_MAX_PROBES and watch.fired is None


def test_brake_settings_are_checked_and_explained():
    assert brake_settings({})["mode"] == "brake" and brake_settings({"brakes": {"mode": "observe"}})["thinking_budget"] == \
        DEFAULT_BRAKES["thinking_budget"]
    for bad, words in (({"mode": "stop"}, "'brake'"), ({"detectors": ["wait_counter"]}, "unknown brake detectors"),
                       ({"thinking_budget": 0}, "brakes.thinking_budget"), ({"overthink_threshold": True}, "a number"),
                       ({"brake_text": "mine"}, "sbt-e"), ({"exempt_tools": "poll"}, "list of tool names"),
                       ({"colour": 1}, "unknown brake settings"), ([], "an object")):
        with pytest.raises(WorkbenchError, match=words):
            validate_brakes(bad)
    validate_brakes({"overthink_threshold": 0.4, "thinking_budget": 2000, "detectors": []})


def test_configure_changes_some_brake_settings_and_keeps_the_rest():
    session = SessionStore(":memory:").create_session("b")
    session.configure(brakes={"mode": "observe"})
    session.configure(brakes={"thinking_budget": 2000})
    assert session.settings["brakes"] == {"mode": "observe", "thinking_budget": 2000}
    with pytest.raises(WorkbenchError, match="brake mode"):
        session.configure(brakes={"mode": "sometimes"})
    assert session.settings["brakes"]["mode"] == "observe"  # nothing half-applied
    session.configure(brakes=None)
    assert brake_settings(session.settings) == DEFAULT_BRAKES


def test_savings_are_capped_by_the_budget_left_and_measured_in_observe_mode():
    assert estimated_saving("answer_stability", 1000, None) > 0
    assert estimated_saving("answer_stability", 1000, 10) == 10
    assert estimated_saving("answer_stability", 1000, 0) == 0
    assert measured_saving(900, 300) == 600 and measured_saving(100, 300) == 0


def _braked_session():
    session = SessionStore(":memory:").create_session("timeline")
    session.add_message("user", "2 + 3?")
    reasoning = SETTLED.split("\n\nHmm")[0] + "\n\nWait, I've gotten the same answer multiple times, time to end the thinking."
    message_id = session.add_message("assistant", "5", reasoning=reasoning)
    cut = len(SETTLED.split("\n\nHmm")[0])
    session.record([BrakeApplied(detector="answer_stability", action="stopped_reasoning", score=2.0, threshold=2.0,
                                 message_id=message_id, step=2, reasoning_chars=cut, tokens_generated=30,
                                 tokens_saved=18, saved_basis="estimate",
                                 brake_text="Wait, I've gotten the same answer multiple times, time to end the thinking.")])
    return session, message_id


def test_the_timeline_shows_steps_markers_the_settled_step_and_the_brake():
    session, message_id = _braked_session()
    timeline = reasoning_timeline(session.state())
    assert timeline.message_id == message_id and len(timeline.steps) == 4
    assert timeline.latest_answer == "5" and timeline.settled_step == 1
    assert [step.answers for step in timeline.steps][:3] == [(), ("5",), ("5",)]
    assert [m[0] for m in timeline.steps[2].markers] == ["Wait", "Let me check", "Check"]
    assert [step.after_brake for step in timeline.steps] == [False, False, False, True]
    assert [step.inserted for step in timeline.steps] == [False, False, False, True]
    own = SETTLED.split("\n\nHmm")[0]
    assert timeline.tokens == token_counter().count(own)  # the brake text is not the model's thinking
    assert timeline.steps[3].markers == ()  # nor is the "Wait" in it a marker of the model's
    assert "hard_budget" in timeline.active_detectors and "answer_stability" not in timeline.active_detectors
    assert timeline.brake.detector == "answer_stability" and timeline.tokens_saved == 18
    assert brake_log(session.state()).tokens_saved == 18
    assert reasoning_timeline(session.state(at=2)).brake is None  # Replay before the brake event
    assert reasoning_timeline(session.state(), "m1") is None


def test_check_reasoning_reports_to_a_model_and_explains_bad_ids():
    session, message_id = _braked_session()
    report = session.call_tool("check_reasoning", {})
    assert report["message_id"] == message_id and report["first_reached_at_step"] == 1
    assert [a["step"] for a in report["answers"]] == [1, 2]
    assert {d["detector"]: d["fires"] for d in report["detectors"]}["answer_stability"] is True
    assert "error" in session.call_tool("check_reasoning", {"message_id": "m1"})
    empty = SessionStore(":memory:").create_session("none")
    assert "nothing to check" in empty.call_tool("check_reasoning", {})["error"]


def test_set_reasoning_budget_moves_the_hard_budget_and_enforces_it():
    session = SessionStore(":memory:").create_session("budget")
    session.configure(brakes={"detectors": ["answer_stability"], "mode": "observe"})
    result = session.call_tool("set_reasoning_budget", {"tokens": 3000})
    assert result["thinking_budget"] == 3000 and result["previous"] == DEFAULT_BRAKES["thinking_budget"]
    assert "observe mode" in result["note"]
    assert brake_settings(session.settings)["detectors"] == ["answer_stability", "hard_budget"]
    for bad in (0, 15, True, "lots"):
        assert "error" in session.call_tool("set_reasoning_budget", {"tokens": bad})
    assert brake_settings(session.settings)["thinking_budget"] == 3000


def test_settled_needs_both_the_sbt_score_and_a_stable_answer():
    from engine.brakes.combined import settled

    answered_last = "Work.\n\nMore work.\n\nStill working.\n\nSo the answer is 9."  # stable, but reached at the last step
    assert not settled(answered_last, 0.2, 1, False).fires
    revised = "The answer is 4.\n\nWait, no.\n\nHmm, but maybe.\n\nPerhaps.\n\nSo the answer is 5?"
    assert not settled(revised, 0.2, 1, True).fires  # the latest answer is hedged
    assert settled("The answer is 5.\n\nCheck.\n\nCheck again.\n\nYes.", 0.2, 1, False).fires
    two = "The answer is 5.\n\nCheck.\n\nCheck again.\n\nYes."
    assert not settled(two, 0.2, 2, False).fires  # one answer-stating step, two asked for
    verdict = settled("The answer is 5.\n\nThe answer is 5.\n\nCheck.\n\nYes.", 0.2, 2, False)
    assert verdict.fires and [piece.note for piece in verdict.evidence] == ["answer 5", "answer 5", "answer 5 first reached"]


def test_the_log_keeps_a_readable_share_of_long_evidence():
    from engine.brakes.events import EVIDENCE_PIECES, evidence_for_log
    from engine.brakes.verdict import Evidence

    kept = evidence_for_log([Evidence(note=f"marker {i}", positions=(i,), text="x" * 1000) for i in range(100)])
    assert len(kept) == EVIDENCE_PIECES + 1 and kept[-1].note == f"and {100 - EVIDENCE_PIECES} more pieces of evidence not kept"
    assert len(kept[0].text) == 400 and kept[3].positions == [3]


def test_reasoning_without_blank_lines_is_still_braked():
    one_line = " ".join(f"value {i} is the number {i * 3}." for i in range(600))  # no newline at all
    watch = ReasoningWatch({"brakes": {"detectors": ["hard_budget"], "thinking_budget": 100}}, token_counter(), StopSignal())
    fed = _feed(watch, one_line, 11)
    assert watch.fired.verdict.detector == "hard_budget" and fed < 1000  # at the budget, not at the end
    assert 100 <= watch.fired.tokens < 130
    lines = "Let me compute the value of x once again carefully.\n" * 200  # single newlines only
    watch = ReasoningWatch({"brakes": {"detectors": ["repetition"]}}, token_counter(), StopSignal())
    fed = _feed(watch, lines, 16)
    assert watch.fired.verdict.detector == "repetition" and fed < len(lines) // 2


def test_windows_line_ends_and_leading_space_keep_steps_and_offsets():
    crlf = "  \r\n" + SETTLED.replace("\n", "\r\n")
    watch = ReasoningWatch({}, token_counter(), StopSignal())
    _feed(watch, crlf, 5)
    assert watch.fired.step == 2 and watch.reasoning.startswith("Add 2 and 3.\n\n")
    assert watch.reasoning[: watch.fired.reasoning_chars] == SETTLED[: watch.fired.reasoning_chars]


def test_a_long_reasoning_is_checked_less_often_but_still_braked():
    from engine.brakes.watch import EVERY_STEP_UP_TO

    filler = "\n\n".join(f"Working line {i}: nothing settled yet, count {i}." for i in range(1500))
    assert len(filler) > 3 * EVERY_STEP_UP_TO
    checks = []
    watch = ReasoningWatch({"brakes": {"mode": "observe", "detectors": ["answer_stability"]}}, token_counter(), StopSignal())
    original = watch._check_at
    watch._check_at = lambda upto, done: checks.append(len(upto)) or original(upto, done)
    _feed(watch, filler + "\n\nSo the answer is 7.\n\n" + "Yes, the answer is 7.\n\n" * 100, 64)
    assert len(checks) < 1500 // 2  # not every one of the 1,540 steps
    assert all(b <= EVERY_STEP_UP_TO or b >= a * 1.02 - 64 for a, b in zip(checks, checks[1:]))
    assert watch.fired is not None and watch.fired.verdict.detector == "answer_stability"


def test_a_model_cannot_turn_brakes_back_on_that_a_person_turned_off():
    session = SessionStore(":memory:").create_session("off")
    session.configure(brakes={"detectors": []})
    result = session.call_tool("set_reasoning_budget", {"tokens": 500})
    assert "the brakes are off" in result["note"] and brake_settings(session.settings)["detectors"] == []


def test_markers_found_a_piece_at_a_time_are_the_markers_of_the_whole():
    import random

    from engine.brakes import reasoning

    pieces = ["wait", "Wait,", "but", "check", "Let me check", "hold on", "going\nback", "Hmmm", "button",
              "checkout", "x", "\n\n", "Perhaps", "let me try another", "maybe I should consider"]
    rng = random.Random(3)
    for _ in range(200):
        text = "".join(rng.choice(pieces) + rng.choice([" ", "", "\n", "\n\n", ". "]) for _ in range(rng.randint(10, 200)))
        fresh = [(m.group(1), m.start()) for m in reasoning._MARKERS.finditer(text)]
        for cut in sorted(rng.sample(range(len(text) + 1), min(8, len(text) + 1))) + [len(text)]:
            grown = reasoning.marker_spans(text[:cut])  # extends the thread's last text each time
        assert [(text[s:e], s) for _, s, e in grown] == fresh


def test_one_character_deltas_cost_one_check_per_step_and_the_budget_still_holds():
    text = "\n\n".join(f"Step {i}: we keep adding the numbers {i} and {i + 1} to get {2 * i + 1}." for i in range(400))
    watch = ReasoningWatch({"brakes": {"detectors": ["hard_budget", "settled"], "thinking_budget": 2_000}},
                           token_counter(), StopSignal())
    checks = []
    original = watch._check_at
    watch._check_at = lambda upto, done: checks.append(len(upto)) or original(upto, done)
    fed = _feed(watch, text, 1)
    assert watch.fired.verdict.detector == "hard_budget" and 2_000 <= watch.fired.tokens <= 2_030
    steps_read = text[:fed].count("\n\n")
    assert len(checks) <= steps_read + 2  # one check per closed step, plus the budget's own
    assert fed < len(text) // 2
