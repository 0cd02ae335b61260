"""The brakes on the command line: `brakes` shows and changes a session's brake settings,
`reasoning` prints a reply's reasoning timeline, and `chat` reports each brake of its turn."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine import WorkbenchError
from engine.brakes.events import BrakeRecord, brake_log
from engine.brakes.settings import DEFAULT_BRAKES, DETECTORS, MODES, brake_settings
from engine.brakes.timeline import ReasoningTimeline, reasoning_timeline
from engine.tokens import token_counter
from sessions.terminal import as_json, open_session, print_safe, terminal_safe
from sessions.store import SessionStore

_STEP_PREVIEW = 100


def add_brake_commands(command: Any) -> None:
    sub = command("brakes", cmd_brakes, "Show a session's brake settings, or change them (the rest stay as they are).")
    sub.add_argument("session", help="session id (or a unique prefix)")
    sub.add_argument("--mode", choices=MODES, help="brake: stop the stream; observe: record only")
    sub.add_argument("--detectors", metavar="LIST",
                     help=f"comma-separated, from {', '.join(DETECTORS)}; 'none' turns the brakes off")
    sub.add_argument("--budget", type=int, metavar="TOKENS", help="the hard budget: thinking tokens before a cut")
    sub.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help=f"any other setting, value as JSON or text: {', '.join(DEFAULT_BRAKES)}")
    sub.add_argument("--reset", action="store_true", help="back to the defaults (before any other change)")
    sub.add_argument("--json", action="store_true", help="print the settings as JSON")
    sub = command("reasoning", cmd_reasoning, "Print an assistant reply's reasoning timeline: steps, markers, "
                  "answers, where the answer settled, the brakes and each detector's verdict.")
    sub.add_argument("session", help="session id (or a unique prefix)")
    sub.add_argument("--message", metavar="ID", help="the assistant message, such as m4 (default: the latest with reasoning)")
    sub.add_argument("--at", type=int, help="as it was just after event SEQ")
    sub.add_argument("--json", action="store_true", help="print JSON instead of lines")


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def brake_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The changes the `brakes` command's options ask for."""
    changes: dict[str, Any] = {}
    for item in args.set:
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise WorkbenchError(f"--set takes KEY=VALUE, such as --set overthink_threshold=0.3, not {item!r}")
        key, value = key.strip(), _value(value.strip())
        if key in ("detectors", "exempt_tools") and isinstance(value, str):
            value = [name.strip() for name in value.split(",") if name.strip()]  # a comma list, as --detectors takes
        changes[key] = value
    if args.mode:
        changes["mode"] = args.mode
    if args.detectors is not None:
        names = [name.strip() for name in args.detectors.split(",") if name.strip()]
        if not names:
            raise WorkbenchError("--detectors is empty: name the detectors, or give 'none' to turn the brakes off")
        changes["detectors"] = [] if names == ["none"] else names
    if args.budget is not None:
        changes["thinking_budget"] = args.budget
    return changes


def cmd_brakes(store: SessionStore, args: argparse.Namespace) -> int:
    session = open_session(store, args.session)
    if args.reset:
        session.configure(brakes=None)
    changes = brake_changes(args)
    if changes:
        session.configure(brakes=changes)
    brakes = brake_settings(session.settings)
    if args.json:
        print(as_json(brakes))
        return 0
    changed = set((session.settings.get("brakes") or {}))
    for key, value in brakes.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        print_safe(f"{key:<22} {shown if shown != '' else '(none)'}{'' if key in changed else '   (default)'}")
    return 0


def _brake_line(record: BrakeRecord) -> str:
    if record.detector == "tool_loop":
        what = {"warned": "warned the model", "tools_withdrawn": "withdrew the tools for the turn",
                "observed": "saw a loop (observed, nothing stopped)"}.get(record.action, record.action)
        return f"{record.detector}: {what} ({'; '.join(record.notes[:1])})"
    verb = "cut the reasoning" if record.action == "stopped_reasoning" else "would have cut the reasoning (observed)"
    basis = "estimated" if record.saved_basis == "estimate" else "measured"
    step = "?" if record.step is None else record.step + 1  # people count steps from 1
    threshold = f", threshold {record.threshold:g}" if record.threshold is not None else ""
    return (f"{record.detector} {verb} after step {step} (score {record.score:.2f}{threshold}): "
            f"{record.tokens_generated:,} thinking tokens, ~{record.tokens_saved:,} saved ({basis})")


def report_brakes(session: Any, after_seq: int) -> None:
    """On stderr: each brake a turn recorded (events after `after_seq`)."""
    for record in brake_log(session.state()).records:
        if record.seq > after_seq:
            print(terminal_safe(f"[brake] {_brake_line(record)}"), file=sys.stderr)


def _timeline_json(timeline: ReasoningTimeline) -> dict[str, Any]:
    return {
        "message_id": timeline.message_id, "tokens": timeline.tokens, "marker_ratio": timeline.marker_ratio,
        "latest_answer": timeline.latest_answer, "settled_step": timeline.settled_step,
        "steps": [{"step": s.index, "tokens": s.tokens, "markers": [m[0] for m in s.markers], "answers": list(s.answers),
                   "after_brake": s.after_brake, "text": timeline.text[s.start:s.end]} for s in timeline.steps],
        "brakes": [{"detector": b.detector, "action": b.action, "mode": b.mode, "step": b.step, "score": b.score,
                    "threshold": b.threshold, "tokens_generated": b.tokens_generated, "tokens_saved": b.tokens_saved,
                    "saved_basis": b.saved_basis} for b in timeline.brakes],
        "detectors": [{"detector": v.detector, "score": v.score, "fires": v.fires} for v in timeline.verdicts],
    }


def cmd_reasoning(store: SessionStore, args: argparse.Namespace) -> int:
    session = open_session(store, args.session)
    state = session.state(args.at)
    timeline = reasoning_timeline(state, args.message, token_counter(session.encoding))
    if timeline is None:
        where = f"message {args.message!r} is not an assistant reply with reasoning" if args.message else \
            "no assistant reply has reasoning yet"
        raise WorkbenchError(f"{where}; `python -m sessions show {session.id}` lists the messages")
    if args.json:
        print(as_json(_timeline_json(timeline)))
        return 0
    answer = (f"latest answer {timeline.latest_answer}, first reached in step {(timeline.settled_step or 0) + 1}"
              if timeline.latest_answer is not None else "no answer stated")
    print_safe(f"{timeline.message_id} · {len(timeline.steps)} steps · {timeline.tokens:,} thinking tokens · "
           f"marker ratio {timeline.marker_ratio:.3f} · {answer}")
    cut = timeline.brake
    for step in timeline.steps:
        if cut is not None and step.after_brake:
            print_safe(f"■ {_brake_line(cut)}")  # at the brake point, before what came after it
            cut = None
        flags = [f"answer {', '.join(step.answers)}" if step.answers else "",
                 "◆ first reached" if step.index == timeline.settled_step else "",
                 "(brake text)" if step.inserted else "",
                 f"[{', '.join(m[0] for m in step.markers)}]" if step.markers else ""]
        text = " ".join(timeline.text[step.start:step.end].split())
        preview = text if len(text) <= _STEP_PREVIEW else text[:_STEP_PREVIEW] + "…"
        print_safe(f"{'·' if step.after_brake else ' '} #{step.index + 1:<3} {step.tokens:>6,} tok  "
               f"{' '.join(flag for flag in flags if flag):<30} {preview}")
    if cut is not None:
        print_safe(f"■ {_brake_line(cut)}")
    print_safe("detectors: " + "; ".join(f"{v.detector} {v.score:.2f}{' fires' if v.fires else ''}" for v in timeline.verdicts))
    return 0
