"""The reasoning timeline: one assistant message's reasoning as a strip of steps, with its brakes.

What a person needs to judge a brake is where the reasoning was when it fired: the steps
(split at blank lines, as the detectors split them), how thick the SBT markers are in each, the
step where the answer first settled, the brake point and what it saved. The strip is a small
Vega-Lite chart, one cell per step with its width by tokens; clicking a cell picks the step, and
so does the slider under it (the chart is for the eye, the slider works everywhere, AppTest
included). Past `MAX_CELLS` steps, consecutive steps share a cell, so a 300-step trace stays one
readable strip.

Model text never reaches HTML: the strip's tooltips are chart data, the step is shown through
`markdown_literal` (every ASCII punctuation mark backslash-escaped, which CommonMark reads as the
character itself) with only the markers wrapped in bold, and evidence goes into a dataframe.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import altair as alt
import streamlit as st

from components.plain import plain
from engine.brakes.events import BrakeRecord, brake_log
from engine.brakes.timeline import ReasoningTimeline, TimelineStep, reasoning_messages, reasoning_timeline
from engine.state import ContextState

MAX_CELLS = 120  # cells in the strip before steps are binned (ours: ~8 px each at 1,000 px)
STEP_SHOWN = 8_000  # characters of one step shown under the strip
# One colour per state of a step, in the order the legend reads.
STATES = {"thinking": "#9ecae1", "answer stated": "#a1d99b", "answer first reached": "#238b45",
          "after the brake point": "#bdbdbd", "brake text (inserted)": "#fb6a4a"}
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation mark, as CommonMark may escape it
# GitHub-flavoured Markdown (which Streamlit reads) links bare URLs and e-mail addresses even when
# their punctuation is escaped; an invisible word joiner inside "http://", "www." and after "@"
# keeps them text.
_AUTOLINK = re.compile(r"(?i)(?<=[a-z])(?=://)|(?<=\bwww)(?=\.)|(?<=@)")


@dataclass(frozen=True)
class Cell:
    """One cell of the strip: a step, or a run of steps binned together."""

    first: int  # step indices, 0-based, inclusive
    last: int
    x0: int  # thinking tokens before the cell, and after it
    x1: int
    markers: int
    state: str
    answers: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"step {self.first + 1}" if self.first == self.last else f"steps {self.first + 1}–{self.last + 1}"


def _state(step: TimelineStep, settled: int | None) -> str:
    if step.inserted:
        return "brake text (inserted)"
    if step.index == settled:
        return "answer first reached"
    if step.after_brake:
        return "after the brake point"
    return "answer stated" if step.answers else "thinking"


def strip_cells(timeline: ReasoningTimeline, limit: int = MAX_CELLS) -> list[Cell]:
    """The strip's cells: one per step, or `ceil(steps / limit)` consecutive steps per cell.

    A binned cell takes the strongest state among its steps (settled, then after the brake,
    then an answer), so the settled step and the brake point never vanish into a bin."""
    steps = timeline.steps
    size = max(1, math.ceil(len(steps) / limit))
    rank = list(STATES)
    cells, at = [], 0
    for start in range(0, len(steps), size):
        group = steps[start:start + size]
        tokens = sum(step.tokens for step in group)
        state = max((_state(step, timeline.settled_step) for step in group),
                    key=lambda name: (name == "answer first reached", name == "brake text (inserted)",
                                      name == "after the brake point", rank.index(name)))
        cells.append(Cell(group[0].index, group[-1].index, at, at + max(tokens, 1),
                          sum(len(step.markers) for step in group), state,
                          tuple(dict.fromkeys(a for step in group for a in step.answers))))
        at += max(tokens, 1)
    return cells


def markdown_literal(text: str, spans: list[tuple[int, int]] = ()) -> str:
    """`text` as Markdown that shows exactly `text`, with `spans` (character offsets) in bold.

    Every ASCII punctuation mark is backslash-escaped, so no `#`, `-`, `1.`, `>`, `<b>`, `$` or
    `:red[` can start a heading, list, quote, tag, formula or directive, and no URL or address
    becomes a link (`_AUTOLINK`); line breaks are kept as hard breaks and leading spaces as
    `&nbsp;` (our own entity: a `&` in the text is escaped). Overlapping spans are merged."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        elif end > start:
            merged.append([start, end])
    pieces, at = [], 0
    for start, end in merged:
        pieces += [_escape(text[at:start]), f"**{_escape(text[start:end])}**"]
        at = end
    pieces.append(_escape(text[at:]))
    lines = "".join(pieces).split("\n")
    return "  \n".join(re.sub(r"^[ \t]+", lambda m: "&nbsp;" * len(m.group().expandtabs(4)), line) for line in lines)


def _escape(text: str) -> str:
    return _PUNCTUATION.sub(r"\\\1", _AUTOLINK.sub("\u2060", text.replace("\r", "")))


def _step(number: int | None) -> str:
    return "?" if number is None else str(number + 1)


def brake_notice(record: BrakeRecord) -> str:
    """One line saying what a brake did, for the transcript ("Braked by settled at reasoning step 3 · ~240 …")."""
    note = record.notes[0] if record.notes else ""
    if record.detector == "tool_loop":
        said = {"warned": "the model was told what it repeated",
                "tools_withdrawn": "tools withdrawn for the rest of the turn",
                "observed": "observed only (mode observe): nothing was stopped"}.get(record.action, record.action)
        return f"Tool loop: {note} · {said}" if note else f"Tool loop · {said}"
    saved = {"estimate": f"~{record.tokens_saved:,} thinking tokens saved",
             "measured": f"{record.tokens_saved:,} thinking tokens after that point (measured)"}.get(
                 record.saved_basis, "tokens saved not known")
    if record.action == "observed":
        return f"Observed: {record.detector} would have braked at reasoning step {_step(record.step)} · {saved}"
    return f"Braked by {record.detector} at reasoning step {_step(record.step)} · {saved}"


def render_brake_notices(records: tuple[BrakeRecord, ...]) -> None:
    """The transcript's short notice under a braked message: one caption per brake."""
    for record in records:
        icon = ":material/visibility:" if record.action == "observed" else ":material/front_hand:"
        st.caption(f"{icon} {plain(brake_notice(record))}")


def brake_line(record: BrakeRecord) -> str:
    """The brake in full: detector, score against threshold, mode, tokens generated and saved."""
    if record.detector == "tool_loop":
        return f"{brake_notice(record)} · mode {record.mode}"
    threshold = f" (threshold {record.threshold:.2f})" if record.threshold is not None else ""
    basis = {"estimate": "estimated", "measured": "measured"}.get(record.saved_basis, "not known")
    return (f"{brake_notice(record).split(' · ')[0]} · score {record.score:.2f}{threshold} · mode {record.mode} · "
            f"{record.tokens_generated:,} thinking tokens generated, {record.tokens_saved:,} saved ({basis})")


def summary_line(timeline: ReasoningTimeline) -> str:
    """Steps, tokens, marker ratio, answers seen and where, and the settled step, on one line."""
    where: dict[str, list[int]] = {}
    for value, step in timeline.answer_steps:
        where.setdefault(value, []).append(step + 1)
    answers = "; ".join(f"{value[:40]} (step{'s' if len(steps) > 1 else ''} {', '.join(map(str, steps[:8]))}"
                        f"{'…' if len(steps) > 8 else ''})" for value, steps in list(where.items())[:5])
    settled = (f"{timeline.latest_answer[:40]} first reached at step {timeline.settled_step + 1}"
               if timeline.settled_step is not None and timeline.latest_answer is not None else "no answer yet")
    return (f"{len(timeline.steps)} steps · {timeline.tokens:,} thinking tokens · marker ratio {timeline.marker_ratio:.2f} · "
            f"answers: {answers or 'none'} · {settled}")


def _chart(timeline: ReasoningTimeline, cells: list[Cell], chosen: int) -> alt.LayerChart:
    """Two bands over the thinking tokens: the steps by state, and their marker density; a red
    rule at the brake point, and the chosen step outlined."""
    rows = [{"first": c.first, "step": c.label, "x0": c.x0, "x1": c.x1, "tokens": c.x1 - c.x0, "markers": c.markers,
             "density": round(100 * c.markers / max(c.x1 - c.x0, 1), 1), "state": c.state,
             "answers": ", ".join(a[:30] for a in c.answers) or "—", "chosen": c.first <= chosen <= c.last}
            for c in cells]
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("x0:Q", title="thinking tokens", scale=alt.Scale(domain=[0, cells[-1].x1], nice=False)), x2="x1:Q",
        tooltip=["step:N", "tokens:Q", "markers:Q", "state:N", "answers:N"])
    # Quantitative bands, not a nominal y: the plot keeps whatever height the axis and legends leave.
    y, y2 = alt.Y("y0:Q", axis=None, scale=alt.Scale(domain=[0, 1], reverse=True)), alt.Y2("y1:Q")
    pick = alt.selection_point(name="pick", fields=["first"], on="click")
    steps = base.transform_calculate(y0="0", y1="0.68").mark_rect().encode(
        y=y, y2=y2,
        color=alt.Color("state:N", title=None, scale=alt.Scale(domain=list(STATES), range=list(STATES.values())),
                        legend=alt.Legend(orient="bottom", direction="horizontal")),
        stroke=alt.condition("datum.chosen", alt.value("#000000"), alt.value("#ffffff")),
        strokeWidth=alt.condition("datum.chosen", alt.value(2), alt.value(0.5)),
    ).add_params(pick)
    markers = base.transform_calculate(y0="0.74", y1="1").mark_rect(stroke="white", strokeWidth=0.5).encode(
        y=y, y2=y2,
        color=alt.Color("density:Q", title="markers per 100 tokens", scale=alt.Scale(range=["#fff5eb", "#d94801"]),
                        legend=alt.Legend(orient="bottom", direction="horizontal", gradientLength=120)),
    )
    layers = [steps, markers]
    cut = next((c.x0 for c in cells if c.state == "after the brake point"), None)
    if cut is None and timeline.brake is not None and timeline.brake.step is not None:
        cut = next((c.x1 for c in cells if c.first <= timeline.brake.step <= c.last), None)
    if cut is not None:
        said = brake_notice(timeline.brake) if timeline.brake is not None else "brake point"
        layers.append(alt.Chart(alt.Data(values=[{"x": cut, "brake": said}])).mark_rule(color="#d62728", strokeWidth=3)
                      .encode(x="x:Q", tooltip=["brake:N"]))
    return alt.layer(*layers).resolve_scale(color="independent").properties(
        height=44, autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))  # 44 px of strip; axis and legends below


def _pick_from_chart(chart_key: str, step_key: str) -> None:
    """A click on the strip moves the step slider (a callback runs before the page does)."""
    selection = st.session_state.get(chart_key)
    picked = ((selection or {}).get("selection") or {}).get("pick") or []
    if picked and isinstance(picked[0], dict) and isinstance(picked[0].get("first"), int):
        st.session_state[step_key] = picked[0]["first"]


def render_reasoning_timeline(timeline: ReasoningTimeline, key: str) -> int | None:
    """The strip, the summary and the brake, and the chosen step's text; returns the chosen step."""
    st.caption(plain(summary_line(timeline)))
    if timeline.brake is not None:
        st.info(plain(brake_line(timeline.brake)), icon=":material/front_hand:")
        for other in timeline.brakes:
            if other is not timeline.brake:
                st.caption(plain(f"Also: {brake_line(other)}"))
    else:
        st.caption("No brake on this reasoning.")
    if not timeline.steps:
        return None
    cells = strip_cells(timeline)
    chart_key, step_key = f"{key}-strip", f"{key}-step"
    if len(cells) < len(timeline.steps):
        st.caption(f"{len(timeline.steps)} steps in {len(cells)} cells of up to {cells[0].last - cells[0].first + 1} "
                   "steps each; the slider picks any one step.")
    options = list(range(len(timeline.steps)))
    default = timeline.settled_step if timeline.settled_step is not None else options[-1]
    if st.session_state.get(step_key) not in options:
        st.session_state[step_key] = default
    chosen = st.session_state[step_key]
    st.altair_chart(_chart(timeline, cells, chosen), key=chart_key, width="stretch",
                    on_select=lambda: _pick_from_chart(chart_key, step_key))
    if len(options) > 1:
        chosen = st.select_slider("Reasoning step", options, key=step_key, format_func=lambda i: f"{i + 1}",
                                  help="click a cell of the strip, or slide, to read a step of the reasoning")
    render_step(timeline, chosen)
    return chosen


def render_step(timeline: ReasoningTimeline, index: int) -> None:
    """One step's text with its markers in bold, what it holds, and the detectors' verdicts on it."""
    step = timeline.steps[index]
    facts = [f"Step {index + 1} of {len(timeline.steps)}", f"{step.tokens:,} tokens"]
    facts += [f"markers: {', '.join(dict.fromkeys(m[0] for m in step.markers))}"] if step.markers else ["no markers"]
    facts += [f"answer: {', '.join(step.answers)}"] if step.answers else []
    facts += ["the latest answer was first reached here"] if index == timeline.settled_step else []
    facts += ["the brake text the workbench inserted"] if step.inserted else \
        (["after the brake point"] if step.after_brake else [])
    st.caption(plain(" · ".join(facts)))
    text = timeline.text[step.start:step.end]
    spans = [(start - step.start, end - step.start) for _, start, end in step.markers]
    shown = text[:STEP_SHOWN]
    st.markdown(markdown_literal(shown, [(s, min(e, len(shown))) for s, e in spans if s < len(shown)]))
    if len(text) > STEP_SHOWN:
        st.caption(f"… {len(text) - STEP_SHOWN:,} more characters in this step")
    cut = timeline.brake is not None and timeline.brake.action == "stopped_reasoning"
    st.caption("Each detector on the model's own thinking" + (" up to the brake point (what the brake saw)" if cut else "")
               + ", at this session's thresholds; 'off' ones do not run in this session.")
    st.dataframe(verdict_rows(timeline, index), hide_index=True, width="stretch")


def verdict_rows(timeline: ReasoningTimeline, index: int) -> list[dict[str, Any]]:
    """Each detector's verdict on the reasoning as it stands, with its evidence in step `index`."""
    rows = []
    for verdict in timeline.verdicts:
        here = [piece.note for piece in verdict.evidence if index in piece.positions]
        rows.append({"detector": verdict.detector,
                     "in this session": "on" if verdict.detector in timeline.active_detectors else "off",
                     "score": round(verdict.score, 2), "fires": "fires" if verdict.fires else "quiet",
                     "evidence in this step": "; ".join(here)[:300] or "—",
                     "evidence elsewhere": len(verdict.evidence) - len(here)})
    return rows


def _mark(records: tuple[BrakeRecord, ...]) -> str:
    """" · braked" or " · observed" for a message's reasoning brakes (tool loops have no timeline)."""
    actions = {record.action for record in records if record.reasoning_chars is not None}
    return " · braked" if "stopped_reasoning" in actions else " · observed" if "observed" in actions else ""


def render_reasoning_panel(state: ContextState, key: str, counter: Any = None) -> None:
    """The timeline of the latest message with reasoning, with a picker of earlier ones; nothing
    when no message has reasoning."""
    messages = reasoning_messages(state)
    if not messages:
        return
    ids = [message.id for message in reversed(messages)]
    log = brake_log(state)
    marks = {message_id: _mark(log.for_message(message_id)) for message_id in ids}
    label = f"Timeline of {ids[0]}'s reasoning{marks[ids[0]]}"
    with st.expander(label, expanded=bool(marks[ids[0]]), icon=":material/timeline:"):
        chosen = ids[0]
        if len(ids) > 1:
            chosen = st.selectbox("Reasoning of", ids, key=f"{key}-message",
                                  format_func=lambda i: f"{i}{marks[i]}{' (latest)' if i == ids[0] else ''}")
        timeline = reasoning_timeline(state, chosen, counter)
        if timeline is not None:
            render_reasoning_timeline(timeline, key=f"{key}-{chosen}")

