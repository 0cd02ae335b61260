"""Planning `fragment_context`: where the span lies and where to cut it.

Markers are matched in the text the model can see: runs of visible fragments, in
messages of the chosen role. The span runs from the first `start_marker` to the first
`end_marker` after it, markers included. Folded and summarized fragments inside the span
stay as they are; so do visible fragments outside the span. A fragment the span starts or
ends inside is split there, and its part outside the span gets a new id. A fragment never
crosses a message boundary, so the requested number of fragments is shared out between
the runs in proportion to their tokens (at least one each).

Inside a run, cuts aim at equal token counts: the ideal cut is found by decoding a token
prefix, then moved to the nearest paragraph break, line break, sentence end or space
within a window around it, in that order of preference (sentence ends before line breaks
in hard-wrapped prose, where lines end mid-sentence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import groupby

from engine.errors import ToolInputError
from engine.events import FragmentPiece, MessageCut
from engine.ids import IdAllocator
from engine.state import ContextState, Fragment, message_index
from engine.text import is_hard_wrapped, one_line, safe_cut
from engine.tokens import TokenCounter

_PARAGRAPH = re.compile(r"\r?\n[ \t]*\r?\n\s*")
_LINE = re.compile(r"\n")
_SENTENCE = re.compile(r"[.!?…。！？][\"'”’)\]]*\s+")
_WORD = re.compile(r"[;,]\s+|\s+")
_LINE_TIERS = (_PARAGRAPH, _LINE, _SENTENCE, _WORD)  # logs, code, lists
_PROSE_TIERS = (_PARAGRAPH, _SENTENCE, _LINE, _WORD)  # hard-wrapped prose


@dataclass(frozen=True)
class _Run:
    """Consecutive visible fragments of one message."""

    message_index: int
    fragments: tuple[Fragment, ...]

    @property
    def start(self) -> int:
        return self.fragments[0].start

    @property
    def end(self) -> int:
        return self.fragments[-1].end


@dataclass(frozen=True)
class FragmentPlan:
    cuts: list[MessageCut]
    pieces: list[dict]  # the new fragments inside the span, for the tool's result
    edges: list[dict]  # new fragments just outside the span, cut off a fragment it split


def _visible_runs(state: ContextState, role: str, only: int | None = None) -> list[_Run]:
    runs: list[_Run] = []
    for index, message in enumerate(state.messages):
        if (role != "all" and message.role != role) or (only is not None and index != only):
            continue
        for visible, group in groupby(message.fragments, key=lambda f: f.status == "visible"):
            if visible:
                runs.append(_Run(index, tuple(group)))
    return runs


def _find(state: ContextState, runs: list[_Run], marker: str, first_run: int, offset: int):
    for position in range(first_run, len(runs)):
        run = runs[position]
        text = state.messages[run.message_index].text
        found = text.find(marker, max(run.start, offset if position == first_run else 0), run.end)
        if found != -1 and found + len(marker) <= run.end:
            return position, found
    return None


def _not_found(state: ContextState, runs: list[_Run], marker: str, which: str, role: str, message_id: str | None) -> str:
    where = "visible text" + (f" of {message_id}" if message_id else "" if role == "all" else f" of {role} messages")
    hint = ""
    lowered = marker.lower()
    for run in runs:
        text = state.messages[run.message_index].text[run.start : run.end]
        at = text.lower().find(lowered)
        if at != -1:
            hint = f" A case-insensitive match exists: {one_line(text[at:at + len(marker)], 60)!r}; markers are case-sensitive."
            break
    if not hint and role != "all" and message_id is None and _in_other_roles(state, marker, role):
        hint = ' It does appear in a message of another role: try role="all".'
    if which == "end_marker":
        hint += " The end marker must come after the start marker."
    return f"{which} {one_line(marker, 60)!r} was not found in the {where}.{hint}"


def _in_other_roles(state: ContextState, marker: str, role: str) -> bool:
    return any(marker in run_text for run_text in (
        state.messages[run.message_index].text[run.start : run.end] for run in _visible_runs(state, "all")
        if state.messages[run.message_index].role != role
    ))


def locate_span(
    state: ContextState, start_marker: str, end_marker: str, role: str, message_id: str | None = None
) -> list[tuple[_Run, int, int]]:
    """The visible runs the span touches, each with the span's start and end inside it."""
    only = None
    if message_id is not None:
        message = state.message(message_id)  # raises with the ids that exist
        only, role = message_index(message.id), "all"
    runs = _visible_runs(state, role, only)
    start = _find(state, runs, start_marker, 0, 0)
    if start is None:
        raise ToolInputError(_not_found(state, runs, start_marker, "start_marker", role, message_id))
    start_run, start_at = start
    end = _find(state, runs, end_marker, start_run, start_at + len(start_marker))
    if end is None:
        raise ToolInputError(_not_found(state, runs, end_marker, "end_marker", role, message_id))
    end_run, end_at = end
    span_end = end_at + len(end_marker)
    touched = []
    for position in range(start_run, end_run + 1):
        run = runs[position]
        lo = start_at if position == start_run else run.start
        hi = span_end if position == end_run else run.end
        if hi > lo:
            touched.append((run, lo, hi))
    return touched


def share_out(total: int, weights: list[int]) -> list[int]:
    """Split `total` pieces among parts by weight, largest remainders first, at least 1 each."""
    if total <= len(weights):
        return [1] * len(weights)
    if not any(weights):
        weights = [1] * len(weights)
    spare, weight_sum = total - len(weights), sum(weights)
    exact = [spare * weight / weight_sum for weight in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: spare - sum(counts)]:
        counts[i] += 1
    return [count + 1 for count in counts]


def _snap(text: str, ideal: int, lo: int, hi: int, reach: int) -> int:
    """A cut near `ideal`, strictly between `lo` and `hi`, at the best boundary in reach."""
    window_lo, window_hi = max(lo + 1, ideal - reach), min(hi - 1, ideal + reach)
    if window_lo <= window_hi:
        window = text[window_lo : window_hi + 1]
        for tier in _PROSE_TIERS if is_hard_wrapped(window) else _LINE_TIERS:
            best = None
            for match in tier.finditer(window):
                cut = window_lo + match.end()
                if lo < cut < hi and (best is None or abs(cut - ideal) < abs(best - ideal)):
                    best = cut
            if best is not None:
                return best
    plain = min(max(ideal, lo + 1), hi - 1)
    moved = safe_cut(text, plain)  # never between a letter and its accent, or inside a pair
    return moved if lo < moved < hi else plain


def cut_points(text: str, lo: int, hi: int, pieces: int, counter: TokenCounter) -> list[int]:
    """Boundaries lo < c1 < ... < hi splitting text[lo:hi] into about-equal-token pieces."""
    tokens = counter.encode(text[lo:hi])
    pieces = max(1, min(pieces, len(tokens), hi - lo))
    cuts = [lo]
    reach = max(24, (hi - lo) // (pieces * 3))
    for j in range(1, pieces):
        ideal = lo + len(counter.decode(tokens[: round(j * len(tokens) / pieces)]))
        remaining = pieces - j
        upper = hi - remaining  # leave at least one character for each piece still to come
        if cuts[-1] + 1 > upper:
            break
        cuts.append(_snap(text, min(max(ideal, cuts[-1] + 1), upper), cuts[-1], upper + 1, reach))
    cuts.append(hi)
    return cuts


def plan_fragments(
    state: ContextState,
    start_marker: str,
    end_marker: str,
    num_fragments: int,
    role: str,
    counter: TokenCounter,
    message_id: str | None = None,
) -> FragmentPlan:
    touched = locate_span(state, start_marker, end_marker, role, message_id)
    token_counts = [counter.count(state.messages[run.message_index].text[lo:hi]) for run, lo, hi in touched]
    shares = share_out(num_fragments, token_counts)
    ids = IdAllocator("f", state.fragment_owner, seed=f"fragment:{state.event_count}")
    cuts: list[MessageCut] = []
    pieces: list[dict] = []
    edges: list[dict] = []
    for (run, lo, hi), share in zip(touched, shares):
        message = state.messages[run.message_index]
        text = message.text
        overlapping = [f for f in run.fragments if f.end > lo and f.start < hi]  # others keep their ids
        first, last = overlapping[0], overlapping[-1]
        inner = cut_points(text, lo, hi, share, counter)
        bounds = ([first.start] if lo > first.start else []) + inner + ([last.end] if hi < last.end else [])
        if [(f.start, f.end) for f in overlapping] == list(zip(bounds, bounds[1:])):
            pieces.extend(_describe(f.id, message.id, f.text, counter) for f in overlapping if lo <= f.start < hi)
            continue
        new_pieces = []
        for a, b in zip(bounds, bounds[1:]):
            fragment_id = ids.next(f"{message.id}:{a}:{b}")
            new_pieces.append(FragmentPiece(fragment_id=fragment_id, start=a, end=b))
            (pieces if lo <= a < hi else edges).append(_describe(fragment_id, message.id, text[a:b], counter))
        cuts.append(MessageCut(message_id=message.id, replaced=[f.id for f in overlapping], pieces=new_pieces))
    return FragmentPlan(cuts, pieces, edges)


def _describe(fragment_id: str, message_id: str, text: str, counter: TokenCounter) -> dict:
    return {
        "fragment_id": fragment_id,
        "message_id": message_id,
        "tokens": counter.count(text),
        "preview": one_line(text, 80),
    }
