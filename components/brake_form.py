"""The brake settings form, beside the model settings on the Chat page.

It shows the brakes in force (the defaults with what the session changed laid over them,
`engine.brakes.settings.brake_settings`) and returns only the keys a person changed, so
`session.configure(brakes=changes)` records just those. The numbers are not bounded here: the
engine's `validate_brakes` is the one place that says what is allowed, and its message is what
the page shows when a value is refused.

The widgets' keys carry a digest of the settings in force, so when those change (applied here,
a model's `set_reasoning_budget`, another session picked) the form is drawn afresh from them
instead of keeping stale values that Apply would write back.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import streamlit as st

from components.app_state import edit_guard
from engine.brakes.settings import BRAKE_TEXTS, DETECTORS, MODES, brake_settings

MODE_HELP = {"brake": "brake: stop the reasoning when a detector fires, then let the model answer briefly",
             "observe": "observe: record what would have braked, stop nothing"}
# (key, label, kind, help): the numbers, in the order the detectors run (engine.brakes.settings)
NUMBERS = (
    ("thinking_budget", "Thinking budget (tokens)", int, "hard_budget: s1's cap on thinking tokens"),
    ("answer_repeats", "Agreeing answers", int, "answer_stability and settled: answer-stating steps that must agree"),
    ("overthink_threshold", "Overthink score", float, "overthink_score and settled: SBT's threshold (0.2)"),
    ("confidence_threshold", "Confidence", float, "confidence: DEER's trial-answer probability"),
    ("premise_steps", "Missing-premise steps", int, "missing_premise: steps with a cue before it brakes"),
    ("repeat_limit", "Repeats in a row", int, "repetition: a sentence said back to back this often"),
    ("tool_loop_repeats", "Identical tool calls", int, "tool_loop: the same call with the same arguments in a turn"),
    ("finish_tokens", "Finish tokens", int, "the most the model may write after a brake"),
)


def brakes_summary(settings: dict[str, Any]) -> str:
    """The expander's label, such as "Brakes: brake · 4 detectors · budget 16,000" (or off)."""
    brakes = brake_settings(settings)
    if not brakes["detectors"]:
        return "Brakes: off (no detectors)"
    count = len(brakes["detectors"])
    return (f"Brakes: {brakes['mode']} · {count} detector{'s' if count != 1 else ''} · "
            f"budget {brakes['thinking_budget']:,}")


def _digest(brakes: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(brakes, sort_keys=True, default=str).encode()).hexdigest()[:8]


def render_brake_form(settings: dict[str, Any]) -> dict[str, Any] | None:
    """Mode, detectors, thresholds, brake text, finish tokens and exempt tools; returns the
    changed brake keys when applied (an empty dict when nothing changed), else None."""
    current = brake_settings(settings)
    tag = _digest(current)
    with st.form(f"brakes-{tag}", border=False):
        columns = st.columns([1, 3])
        mode = columns[0].radio("Mode", list(MODES), index=list(MODES).index(current["mode"]), key=f"brakes_mode-{tag}",
                                help="; ".join(MODE_HELP.values()))
        detectors = columns[1].multiselect("Detectors", list(DETECTORS), default=current["detectors"],
                                           key=f"brakes_detectors-{tag}",
                                           help="none turns the brakes off; confidence needs log-probabilities "
                                                "from the backend")
        values: dict[str, Any] = {}
        for row in (NUMBERS[:4], NUMBERS[4:]):
            columns = st.columns(len(row))
            for column, (name, label, kind, help_text) in zip(columns, row):
                if kind is int:
                    values[name] = column.number_input(label, value=int(current[name]), step=1,
                                                       key=f"brakes_{name}-{tag}", help=help_text)
                else:
                    values[name] = column.number_input(label, value=float(current[name]), step=0.01, format="%.2f",
                                                       key=f"brakes_{name}-{tag}", help=help_text)
        certain = None
        if "answer_certain" in current:
            certain = st.checkbox("The latest answer must be said without hesitation", bool(current["answer_certain"]),
                                  key=f"brakes_certain-{tag}", help="Dynasor's certainty: a '29?' or 'maybe 29' "
                                  "does not count as settled")
        texts = list(BRAKE_TEXTS)
        text = st.selectbox("Brake text", texts, index=texts.index(current["brake_text"]), key=f"brakes_text-{tag}",
                            format_func=lambda name: f"{name}: “{BRAKE_TEXTS[name]}”",
                            help="put at the end of the cut reasoning before the model answers; "
                                 "a missing premise always gets the ask-for-it text")
        exempt = st.text_input("Tools that may repeat", ", ".join(current["exempt_tools"]), key=f"brakes_exempt-{tag}",
                               placeholder="e.g. check_status, poll_job", help="comma-separated tool names the "
                               "tool-loop brake leaves alone (polling)")
        if not st.form_submit_button("Apply brakes", key=f"brakes_apply-{tag}", **edit_guard()):
            return None
    chosen = {"mode": mode, "detectors": [name for name in DETECTORS if name in detectors], **values,
              "brake_text": text, "exempt_tools": [name.strip() for name in exempt.split(",") if name.strip()]}
    if certain is not None:
        chosen["answer_certain"] = certain
    return {key: value for key, value in chosen.items() if value != current[key]}
