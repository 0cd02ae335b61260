"""The brakes in the workbench: the reasoning timeline on Chat and Replay, the notice under a
braked reply, and the brake settings form beside the model settings (issue 9)."""

from __future__ import annotations

import re

import pyarrow as pa

from markdown_it import MarkdownIt

from components.reasoning_timeline import MAX_CELLS, markdown_literal, strip_cells
from engine.brakes.events import BrakeApplied
from engine.brakes.settings import DEFAULT_BRAKES
from engine.brakes.timeline import reasoning_timeline
from sessions import SessionStore

from tests.ui.conftest import events_of

# Four steps: the answer 5 is first reached in step 2 (index 1) and restated twice after it.
REASONING = ("Add 2 and 3 to get the total.\n\n"
             "Hmm, so the answer is 5\n\n"
             "Wait, let me check again. The answer is 5.\n\n"
             "Wait, I've gotten the same answer multiple times, time to end the thinking.")
HOSTILE = ("Is it <b>x</b> **y** or `z`? [link](http://example.com) :red[alarm] $x^2$ www.example.org me@example.com\n"
           "# not a heading\n1. not a list")


def _seed(db, reasoning=REASONING, brake=True):
    """A session with a question, a reply whose reasoning was braked at step 3, and a follow-up."""
    store = SessionStore(db, linger=0)
    session = store.create_session("braked")
    session.add_message("user", "What is 2 + 3?")  # event 1
    message_id = session.add_message("assistant", "The answer is 5.", reasoning=reasoning)  # event 2
    if brake:
        cut = reasoning.index("Wait, I've gotten")
        session.record([BrakeApplied(  # event 3
            detector="answer_stability", action="stopped_reasoning", score=2.0, threshold=2.0, message_id=message_id,
            step=2, reasoning_chars=cut, tokens_generated=40, tokens_saved=240, saved_basis="estimate",
            brake_text="Wait, I've gotten the same answer multiple times, time to end the thinking.")])
    session.add_message("user", "Thanks.")  # event 4 (3 without a brake)
    store.close()
    return session.id, message_id


def _open(app, page, session_id, **state):
    at = app()
    at.session_state["selected_session_id"] = session_id
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _shown(markdown):
    """What Streamlit shows for a plain()-escaped caption: the text without its escapes."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _captions(at):
    return [_shown(c.value) for c in at.caption]


def _infos(at):
    return [_shown(i.value) for i in at.info]


def _markdown(at):
    return [m.value for m in at.markdown]


def test_chat_shows_the_brake_notice_and_the_timeline(app, db):
    session_id, message_id = _seed(db)
    at = _open(app, "pages/chat.py", session_id)
    assert any("Braked by answer_stability at reasoning step 3 · ~240 thinking tokens saved" in c for c in _captions(at))
    summary = next(c for c in _captions(at) if c.startswith("4 steps"))
    assert "answers: 5 (steps 2, 3)" in summary and "5 first reached at step 2" in summary, summary
    brake = [i for i in _infos(at) if "score 2.00 (threshold 2.00)" in i]
    assert brake and "mode brake" in brake[0] and "40 thinking tokens generated, 240 saved (estimated)" in brake[0]
    assert any(e.label == f"Timeline of {message_id}'s reasoning · braked" for e in at.expander)
    # The slider starts at the settled step; its text is shown with the marker in bold.
    assert at.select_slider(key=f"chat-reasoning-{session_id}-{message_id}-step").value == 1
    assert "**Hmm**\\, so the answer is 5" in _markdown(at)


def test_selecting_a_step_shows_its_text_and_the_verdicts_on_it(app, db):
    session_id, message_id = _seed(db)
    at = _open(app, "pages/chat.py", session_id)
    at.select_slider(key=f"chat-reasoning-{session_id}-{message_id}-step").set_value(3).run()
    assert not at.exception, at.exception
    assert "Step 4 of 4" in " ".join(_captions(at)) and "the brake text the workbench inserted" in " ".join(_captions(at))
    assert any(m.startswith("Wait\\, I\\'ve gotten the same answer") for m in _markdown(at)), _markdown(at)  # inserted: no marker
    at.select_slider(key=f"chat-reasoning-{session_id}-{message_id}-step").set_value(2).run()
    assert any(m.startswith("**Wait**\\, **let me check** again\\.") for m in _markdown(at)), _markdown(at)
    verdicts = at.dataframe[-1].value
    stability = verdicts[verdicts["detector"] == "answer_stability"].iloc[0]
    assert stability["fires"] == "fires" and "answer 5" in stability["evidence in this step"]


def test_the_chat_transcript_shows_a_tool_loop_note(app, db):
    store = SessionStore(db, linger=0)
    session = store.create_session("looping")
    session.add_message("user", "Read it.")
    message_id = session.add_message("assistant", "", tool_calls=[
        {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": "{}"}}])
    session.record([BrakeApplied(detector="tool_loop", action="warned", score=3.0, threshold=3.0, message_id=message_id,
                                 evidence=[{"note": "read_file called 3 times with the same arguments"}],
                                 tool_calls=["c1"])])
    store.close()
    at = _open(app, "pages/chat.py", session.id)
    assert any("Tool loop: read_file called 3 times with the same arguments · the model was told what it repeated" in c
               for c in _captions(at)), _captions(at)


def _brake_field(at, label):
    return next(w for w in [*at.number_input, *at.radio, *at.multiselect, *at.selectbox, *at.text_input]
                if w.label == label)


def _apply_brakes(at):
    next(b for b in at.button if b.label == "Apply brakes").click().run()
    assert not at.exception, at.exception


def test_the_brake_form_applies_only_what_changed(app, db):
    session_id, _ = _seed(db, brake=False)
    at = _open(app, "pages/chat.py", session_id)
    defaults = f"Brakes: brake · {len(DEFAULT_BRAKES['detectors'])} detectors · budget {DEFAULT_BRAKES['thinking_budget']:,}"
    assert any(e.label == defaults for e in at.expander), [e.label for e in at.expander]
    _brake_field(at, "Mode").set_value("observe")
    _brake_field(at, "Thinking budget (tokens)").set_value(4000)
    _brake_field(at, "Detectors").set_value(["hard_budget", "answer_stability", "tool_loop"])
    _brake_field(at, "Brake text").set_value("qwen")
    _brake_field(at, "Tools that may repeat").set_value("check_status, poll_job")
    _apply_brakes(at)
    configured = events_of(db, session_id)[-1]
    assert configured["kind"] == "session_configured"
    assert configured["payload"]["settings"]["brakes"] == {
        "mode": "observe", "thinking_budget": 4000, "detectors": ["hard_budget", "answer_stability", "tool_loop"],
        "brake_text": "qwen", "exempt_tools": ["check_status", "poll_job"]}
    assert any(e.label == "Brakes: observe · 3 detectors · budget 4,000" for e in at.expander)
    # The form is drawn afresh from what is in force: a second change keeps the first.
    assert _brake_field(at, "Thinking budget (tokens)").value == 4000
    _brake_field(at, "Overthink score").set_value(0.35)
    _apply_brakes(at)
    brakes = events_of(db, session_id)[-1]["payload"]["settings"]["brakes"]
    assert brakes["overthink_threshold"] == 0.35 and brakes["mode"] == "observe" and brakes["thinking_budget"] == 4000


def test_the_brake_form_refuses_a_bad_value_with_the_engines_message(app, db):
    session_id, _ = _seed(db, brake=False)
    at = _open(app, "pages/chat.py", session_id)
    before = len(events_of(db, session_id))
    _brake_field(at, "Thinking budget (tokens)").set_value(3)
    _apply_brakes(at)
    assert any("brakes.thinking_budget must be a whole number of thinking tokens from 16 to 10,000,000, not 3"
               in _shown(e.value) for e in at.error), [e.value for e in at.error]
    assert any("brakes.thinking_budget" in _shown(t.value) for t in at.toast)  # seen wherever the page is scrolled
    assert len(events_of(db, session_id)) == before
    _brake_field(at, "Thinking budget (tokens)").set_value(DEFAULT_BRAKES["thinking_budget"])  # back: nothing to record
    _apply_brakes(at)
    assert len(events_of(db, session_id)) == before and any("Nothing to apply" in c for c in _captions(at))


def test_replay_shows_the_brake_only_from_its_step(app, db):
    session_id, message_id = _seed(db)
    at = _open(app, "pages/replay.py", session_id, **{f"replay_step-{session_id}": 2})
    assert "No brake on this reasoning." in _captions(at)
    assert not [i for i in _infos(at) if "Braked by" in i]
    assert [b.label for b in at.button if b.label.startswith("Brake")] == ["Brake (answer_stability) at step 3"]
    next(b for b in at.button if b.label == "Brake (answer_stability) at step 3").click().run()
    assert not at.exception, at.exception
    assert at.slider(key=f"replay_step-{session_id}").value == 3
    assert any("Braked by answer_stability at reasoning step 3 · score 2.00 (threshold 2.00) · mode brake" in i for i in _infos(at))
    event = next(t.value for t in at.text if t.value.startswith("#3 · "))
    assert "brake_applied" in event and "answer_stability stopped the reasoning of " + message_id + " at reasoning step 3" in event
    assert "40 thinking tokens, ~240 saved (estimate)" in event


def test_reasoning_with_markdown_and_html_is_shown_literally(app, db):
    session_id, message_id = _seed(db, reasoning=f"{HOSTILE}\n\nThe answer is 5.", brake=False)
    at = _open(app, "pages/chat.py", session_id, **{f"chat-reasoning-{session_id}-{message_id}-step": 0})
    shown = next(m for m in _markdown(at) if "x" in m and "alarm" in m)
    html = MarkdownIt("commonmark").render(shown)  # what a CommonMark renderer makes of it
    assert "<b>" not in html and "<strong>" not in html and "<a " not in html and "<h1>" not in html and "<ol>" not in html
    assert "&lt;b&gt;x&lt;/b&gt; **y** or `z`? [link](http://example.com) :red[alarm] $x^2$ www.example.org " \
        "me@example.com" in html.replace("\u2060", ""), html
    assert "# not a heading" in html and "1. not a list" in html
    # GFM (Streamlit's reader) links bare URLs and addresses; a word joiner inside each keeps them text.
    assert "http\u2060\\:\\/\\/example" in shown and "www\u2060\\.example" in shown and "me\\@\u2060example" in shown
    assert html.replace("\u2060", "").count("http://example.com") == 1
    assert any(HOSTILE in t.value for t in at.text)  # the reasoning expander shows it as text


def test_markdown_literal_round_trips_text_and_bolds_only_the_spans():
    text = "  Wait, <i>maybe</i> - not * sure\n- list?"
    html = MarkdownIt("commonmark").render(markdown_literal(text, [(2, 6), (4, 6)]))
    assert html.startswith("<p>\u00a0\u00a0<strong>Wait</strong>, &lt;i&gt;maybe&lt;/i&gt; - not * sure<br />\n- list?")
    assert html.count("<strong>") == 1


def test_a_long_reasoning_is_binned_into_a_bounded_strip(app, db):
    steps = [f"Step {i}: Wait, try again." if i % 3 else f"Maybe the answer is {i % 7}." for i in range(350)]
    session_id, message_id = _seed(db, reasoning="\n\n".join(steps), brake=False)
    store = SessionStore(db, linger=0)
    timeline = reasoning_timeline(store.open_session(session_id).state())
    store.close()
    cells = strip_cells(timeline)
    assert len(timeline.steps) == 350 and len(cells) <= MAX_CELLS
    assert [c.first for c in cells][0] == 0 and cells[-1].last == 349
    assert all(a.last + 1 == b.first for a, b in zip(cells, cells[1:]))  # every step in exactly one cell
    assert cells[-1].x1 == sum(s.tokens for s in timeline.steps)  # widths by tokens, end to end
    settled = next(c for c in cells if c.first <= timeline.settled_step <= c.last)
    assert settled.state == "answer first reached"
    at = _open(app, "pages/chat.py", session_id)
    assert any("350 steps in" in c for c in _captions(at))
    chart = at.get("vega_lite_chart")[0].proto  # the layers share one data set, sent as Arrow
    drawn = pa.ipc.open_stream(chart.data.data).read_all()
    assert drawn.num_rows == len(cells) and drawn.column("first").to_pylist() == [c.first for c in cells]


def test_an_observed_reply_is_labelled_observed_and_the_table_says_which_detectors_run(app, db):
    store = SessionStore(db, linger=0)
    session = store.create_session("observed")
    session.configure(brakes={"mode": "observe"})
    session.add_message("user", "What is 2 + 3?")
    message_id = session.add_message("assistant", "5", reasoning=REASONING)
    session.record([BrakeApplied(detector="settled", mode="observe", action="observed", score=0.3, threshold=0.2,
                                 message_id=message_id, step=1, reasoning_chars=REASONING.index("\n\nWait, let"),
                                 tokens_generated=20, tokens_saved=30, saved_basis="measured")])
    store.close()
    at = _open(app, "pages/chat.py", session.id)
    labels = [e.label for e in at.expander]
    assert f"Timeline of {message_id}'s reasoning · observed" in labels and not any("braked" in label for label in labels)
    assert any("Observed: settled would have braked at reasoning step 2 · 30 thinking tokens after that point (measured)" in c
               for c in _captions(at))
    table = at.dataframe[-1].value
    runs = dict(zip(table["detector"], table["in this session"]))
    assert runs["settled"] == "on" and runs["answer_stability"] == "off" and runs["hard_budget"] == "on"
