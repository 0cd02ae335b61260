"""The tool doom loop: the same call again and again, or two calls in ping-pong, in one turn.

Input is the turn's tool calls in order, OpenAI-shaped (`{"id": ..., "type": "function",
"function": {"name": ..., "arguments": "<JSON text>"}}`; objects with the same attributes, as
litellm returns, work too). Two calls are the same when their names are equal and their
arguments are equal as canonical JSON (parsed, dumped with sorted keys and no spaces), so key
order and whitespace do not count; arguments that do not parse are compared as text. The call
`id` never counts. An entry with no function name is no call of any tool and is passed over
(its position still counts, so evidence positions index the list as given). Nothing here raises
on a malformed call.

Two detectors, both named `tool_loop` (one setting in the brakes):
- repeated calls: one call made `k` times in the turn (default 3);
- ping-pong: a run of calls alternating between two different calls, A-B-A-B (4 calls).
`detect_tool_loop` runs both. `tool_loop_message` is the text the brake sends the model.

Sources: OpenCode `DOOM_LOOP_THRESHOLD=3` identical tool+args (processor.ts) and Roo Code's 3
identical calls, in ../shared/reference/field-notes.md "Doom loops"; issue 9 (k=3, A-B-A-B).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence

from engine.brakes.fields import field_of
from engine.brakes.verdict import Evidence, Verdict

TOOL_LOOP = "tool_loop"
# Identical calls in a turn before the loop brake fires: OpenCode DOOM_LOOP_THRESHOLD=3 and
# Roo Code's 3 (field-notes.md "Doom loops"; Gemini CLI uses 5); issue 9's default k.
TOOL_LOOP_REPEATS = 3
# The shortest alternating run that counts as ping-pong: A-B-A-B, as issue 9 names it.
PING_PONG_MIN_CALLS = 4
# Characters of a call shown in evidence and in the brake message (ours: enough to name the
# arguments, short enough not to echo a file's contents back at the model).
CALL_TEXT_LIMIT = 200

Key = tuple[str, str]


def canonical_arguments(arguments: object) -> str:
    """Arguments as canonical JSON: sorted keys, no spaces; text that does not parse as itself.

    No arguments (None, empty or blank text) count as `{}`; arguments already parsed (a dict)
    are dumped the same way; anything that cannot be dumped is compared by its repr.
    """
    if arguments is None:
        return "{}"
    if isinstance(arguments, (bytes, bytearray)):
        arguments = bytes(arguments).decode("utf-8", errors="replace")
    if isinstance(arguments, str):
        text = arguments.strip()
        if not text:
            return "{}"
        try:
            arguments = json.loads(text)
        except (ValueError, RecursionError):
            return text
    try:
        return json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return repr(arguments)


def canonical_call(call: object) -> Key | None:
    """(name, canonical arguments) of one tool call, or None when it names no function."""
    function = field_of(call, "function")
    name = field_of(function, "name") if function is not None else None
    if not isinstance(name, str) or not name.strip():
        return None
    return name.strip(), canonical_arguments(field_of(function, "arguments"))


def call_text(key: Key) -> str:
    """A call as a person (or the model) reads it: `name({"arg":1})`, cut to CALL_TEXT_LIMIT."""
    text = f"{key[0]}({key[1]})"
    return text if len(text) <= CALL_TEXT_LIMIT else text[: CALL_TEXT_LIMIT - 1] + "…"


def _keyed(calls: Sequence[object] | None, exempt: Collection[str]) -> list[tuple[int, Key]]:
    """(position, key) of each call that names a function and is not exempt (polling tools)."""
    if not calls or isinstance(calls, (str, bytes, Mapping)):
        return []
    keyed = []
    for position, call in enumerate(calls):
        key = canonical_call(call)
        if key is not None and key[0] not in exempt:
            keyed.append((position, key))
    return keyed


def detect_repeated_calls(
    calls: Sequence[object] | None,
    k: int = TOOL_LOOP_REPEATS,
    exempt: Collection[str] = (),
) -> Verdict:
    """Fires when one call (same tool, same canonical arguments) was made `k` times in the turn.

    Score: the most-repeated call's count over `k` (fires at 1.0). Evidence: that call's
    positions in the turn and its text; `exempt` names tools that may repeat (polling).
    """
    if k < 2:
        raise ValueError(f"k must be at least 2, got {k}")
    seen: dict[Key, list[int]] = {}
    for position, key in _keyed(calls, exempt):
        seen.setdefault(key, []).append(position)
    if not seen:
        return Verdict.quiet(TOOL_LOOP, "no tool calls")
    # The most repeated; on a tie, the one first made.
    key, positions = max(seen.items(), key=lambda item: (len(item[1]), -item[1][0]))
    count = len(positions)
    if count < 2:
        return Verdict.quiet(TOOL_LOOP, "no call repeated")
    note = f"{key[0]} called {count} times with the same arguments (brake at {k})"
    return Verdict(
        detector=TOOL_LOOP,
        score=count / k,
        fires=count >= k,
        evidence=(Evidence(note=note, positions=tuple(positions), text=call_text(key)),),
    )


def _longest_alternation(keys: list[Key]) -> tuple[int, int]:
    """(start, length) of the longest run x0, x1, x0, x1, ... with x0 != x1 (length >= 2)."""
    best_start, best_length = 0, min(len(keys), 1)
    start = 0
    for i in range(1, len(keys)):
        if keys[i] == keys[i - 1]:
            start = i  # A-A breaks an alternation; A may start the next one
            continue
        if i - start >= 2 and keys[i] != keys[i - 2]:
            start = i - 1  # A-B-C: B-C may start the next one
        if i - start + 1 > best_length:
            best_start, best_length = start, i - start + 1
    return best_start, best_length


def detect_ping_pong(
    calls: Sequence[object] | None,
    min_calls: int = PING_PONG_MIN_CALLS,
    exempt: Collection[str] = (),
) -> Verdict:
    """Fires on a run of `min_calls` calls alternating between two different calls (A-B-A-B).

    Score: the longest alternating run over `min_calls` (fires at 1.0; 0 below A-B-A, since any
    two different calls in a row alternate). Evidence: two items, one per call of the pair
    (A first), each with its positions in the turn and its text.
    """
    if min_calls < 3:
        raise ValueError(f"min_calls must be at least 3, got {min_calls}")
    keyed = _keyed(calls, exempt)
    if not keyed:
        return Verdict.quiet(TOOL_LOOP, "no tool calls")
    start, length = _longest_alternation([key for _, key in keyed])
    if length < 3:
        return Verdict.quiet(TOOL_LOOP, "no ping-pong")  # two different calls are no pattern
    run = keyed[start : start + length]
    first, second = run[0][1], run[1][1]
    evidence = tuple(
        Evidence(
            note=f"ping-pong: {key[0]} and {other[0]} alternated over {length} calls "
            f"(brake at {min_calls})",
            positions=tuple(position for position, k in run if k == key),
            text=call_text(key),
        )
        for key, other in ((first, second), (second, first))
    )
    return Verdict(
        detector=TOOL_LOOP, score=length / min_calls, fires=length >= min_calls, evidence=evidence
    )


def detect_tool_loop(
    calls: Sequence[object] | None,
    k: int = TOOL_LOOP_REPEATS,
    min_calls: int = PING_PONG_MIN_CALLS,
    exempt: Collection[str] = (),
) -> Verdict:
    """Both loop detectors: the repeated-call verdict if it fires, else ping-pong's if it fires,
    else whichever came closer (the higher score)."""
    repeated = detect_repeated_calls(calls, k=k, exempt=exempt)
    if repeated.fires:
        return repeated
    ping_pong = detect_ping_pong(calls, min_calls=min_calls, exempt=exempt)
    if ping_pong.fires or ping_pong.score > repeated.score:
        return ping_pong
    return repeated


def tool_loop_message(verdict: Verdict) -> str:
    """The message the brake sends the model for a `tool_loop` verdict that fires.

    It names what was repeated and says that tools go if the loop goes on (issue 9: "a tool
    loop gets a message naming what it repeated; if it goes on, tools are withdrawn for the
    rest of the turn"). Field-notes gives no wording of its own; the nudge-then-halt pattern
    ("nudge at 3 / halt at 5") is theirs.
    """
    if verdict.detector != TOOL_LOOP or not verdict.fires or not verdict.evidence:
        raise ValueError("tool_loop_message needs a tool_loop verdict that fires")
    warning = (
        "Its result will not change. Use the results you already have, try a different "
        "approach, or give your answer now. If the loop goes on, tools will be withdrawn for "
        "the rest of this turn."
    )
    if len(verdict.evidence) == 1:
        (item,) = verdict.evidence
        return (
            f"Loop detected: you have made the same tool call {len(item.positions)} times in "
            f"this turn, with the same arguments: {item.text}. {warning}"
        )
    a, b = verdict.evidence[:2]
    calls = len(a.positions) + len(b.positions)
    return (
        f"Loop detected: you have alternated between the same two tool calls {calls} times in "
        f"this turn: {a.text} and {b.text}. {warning.replace('Its result', 'Their results')}"
    )
