"""Our own OTLP export read back: the session's log replayed event by event.

A trace whose scope is `context_workbench.otlp_export` (version 2) carries every event of the
session: each message in the parts of the spans that hold it, with its
`context_workbench.message` object (seq, time, ids, and the fields the parts do not give:
`otlp_encode.parts_fields`); each model call (`llm_called`, `llm_failed`) on its chat span;
every other event (folds, summaries, fragmenting, compactions, settings, policies, searches,
imports) as a `context_workbench.{kind}` span event with its payload. They are put back in
seq order and folded, so the imported session has the same folds, summaries and compactions
and renders the same tokens. An event that no longer fits (a trace edited by hand, a payload
redacted on export) is left out with a warning naming it; events the trace lacks (a
collector that dropped span events) are counted in a warning.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.actors import Actor
from engine.catalog import event_from_record
from engine.fold import Folder
from engine.records import EventRecord, parse_ts
from sessions.formats.conversation import Conversation, timestamp
from sessions.formats.jsonio import parsed_if_json
from sessions.formats.otlp_attributes import OURS, whole
from sessions.formats.otlp_encode import MESSAGE_KEY, SCOPE, parts_fields

MESSAGE_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages")
MAX_NAMED = 10  # events named one by one in the warnings


def is_ours(spans: list[Any]) -> bool:
    return any(getattr(span, "scope", "") == SCOPE for span in spans)


def replay(spans: list[Any], conversation: Conversation) -> bool:
    """Fill `conversation.records` with the session's events; False when the trace does not carry
    them (an export older than version 2), to be read like any other trace."""
    units: dict[int, tuple[datetime | None, str, Any, Actor | None]] = {}
    for span in spans:
        for event in span.events:
            if event["name"].startswith(OURS):
                _take(units, event["attributes"], event.get("time"))
        if span.attributes.get(OURS + "kind") in ("llm_called", "llm_failed"):
            _take(units, span.attributes, None)
        for key in MESSAGE_KEYS:
            messages = parsed_if_json(span.attributes.get(key))
            for item in messages if isinstance(messages, list) else []:
                info = item.get(MESSAGE_KEY) if isinstance(item, dict) else None
                seq = whole(info.get("seq")) if isinstance(info, dict) else None
                if seq and seq not in units:
                    fields = {k: v for k, v in info.items() if k not in ("seq", "ts", "actor")}
                    units[seq] = (_moment(info.get("ts"), None), "message_added", {**parts_fields(item), **fields},
                                  _actor(info.get("actor")))
    if not units:
        return False
    conversation.records = _fold(units, conversation)
    expected = next((whole(span.attributes.get(OURS + "events")) for span in spans
                     if span.attributes.get(OURS + "events") is not None), None)
    if expected and expected > len(units):
        conversation.warnings.append(f"the session had {expected:,} events; {expected - len(units):,} of them are "
                                     "not in the trace (a collector may have dropped span events), and the rest "
                                     "were replayed")
    return True


def _take(units: dict[int, tuple], attributes: dict[str, Any], time: int | None) -> None:
    seq, kind = whole(attributes.get(OURS + "seq")), attributes.get(OURS + "kind")
    if not seq or not isinstance(kind, str) or seq in units:
        return
    units[seq] = (_moment(attributes.get(OURS + "ts"), time), kind, parsed_if_json(attributes.get(OURS + "payload")),
                  _actor(parsed_if_json(attributes.get(OURS + "actor"))))


def _actor(value: Any) -> Actor | None:
    """Who wrote the event, as our own export says; anything else is the import's (None here)."""
    try:
        return Actor.from_dict(value) if value is not None else None
    except ValueError:
        return None


def _moment(text: Any, time: int | None) -> datetime | None:
    if isinstance(text, str):
        try:
            return parse_ts(text)
        except ValueError:
            pass
    return timestamp(time) if time else None


def _fold(units: dict[int, tuple], conversation: Conversation) -> list[EventRecord]:
    folder, records, left_out = Folder(), [], []
    last = conversation.created_at
    for seq in sorted(units):
        moment, kind, payload, actor = units[seq]
        try:
            event = event_from_record(kind, payload if isinstance(payload, dict) else {})
            folder.add(event)
        except Exception as exc:  # noqa: BLE001 (a file's payload must not crash the import; each is named)
            left_out.append(f"event {seq} ({kind[:40]}): {exc}")
            folder = Folder()  # a rule that failed half way may have changed the state: fold again
            for record in records:
                folder.add(record.event)
            continue
        last = moment or last or datetime(1970, 1, 1)
        records.append(EventRecord(len(records) + 1, last, event, actor))
    for problem in left_out[:MAX_NAMED]:
        conversation.warnings.append(f"{problem}; it could not be replayed and was left out")
    if len(left_out) > MAX_NAMED:
        conversation.warnings.append(f"and {len(left_out) - MAX_NAMED:,} more events could not be replayed")
    return records
