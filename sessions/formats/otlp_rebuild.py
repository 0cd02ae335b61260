"""One trace, one conversation: the new messages each span adds, in start order.

A model span repeats the conversation so far in its input, so only its new tail is added: the
input is compared with every history seen so far (each model's input and reply, the tool
results since), since an agent and its sub-agents interleave in one trace, and the longest
shared start wins. The reply follows, carrying its model, usage and latency as a `ModelCall`.
A span whose input and reply are both already here (a nested instrumentation of the same
call) adds nothing. A tool span adds its result where no model span recorded it, and its call
too where no model span recorded that (a call without an id takes the open call of its name).
Messages compare by role, text and tool calls; an assistant turn a framework re-renders for
the next call (its reply with its tool calls appended as text, as smolagents does) counts as
the same turn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.text import one_line
from sessions.formats.conversation import Compaction, Conversation, ImportedMessage, Invalid, ModelCall, timestamp
from sessions.formats.jsonio import parsed_if_json
from sessions.formats.openai_chat import openai_message, tool_definitions
from sessions.formats.otlp_attributes import (
    OURS, as_text, model_name, operation, role_of, tool_definitions_of, tool_use, usage,
)
from sessions.formats.otlp_messages import holds_messages, span_messages
from sessions.formats.otlp_replay import is_ours, replay

GENERIC_ROOTS = {"main", "root", "run", "agent", "workflow", "trace", "invoke_agent", "chat", "execute_tool", "session"}


@dataclass
class Span:
    trace: str
    id: str
    parent: str | None
    name: str
    start: int | None
    end: int | None
    attributes: dict[str, Any]
    events: list[dict[str, Any]]
    status: dict[str, Any]
    resource: dict[str, Any]
    position: str
    order: int = 0  # where it was in the file: ties in start time keep it
    scope: str = ""  # the instrumentation scope's name


def rebuild(given: list[Span]) -> Conversation | Invalid:
    """The conversation a trace's spans hold."""
    unique: dict[str, Span] = {}
    for span in given:
        unique.setdefault(span.id, span)
    spans = sorted(unique.values(), key=lambda s: (s.start is None, s.start or 0, s.order))
    trace, first = spans[0].trace, spans[0]
    kinds = {span.id: operation(span.attributes) for span in spans}
    if not any(kind in ("model", "tool") for kind in kinds.values()):  # an agent span may hold the only messages
        kinds = {span_id: "model" if kind == "agent" else kind for span_id, kind in kinds.items()}
    root = next((s for s in spans if s.parent is None or s.parent not in unique), first)
    conversation = Conversation(key=trace, title="", position=first.position, created_at=timestamp(first.start),
                                source_id=_conversation_id(spans) or trace)
    if len(unique) < len(given):
        conversation.warnings.append("some spans were in the file twice; each was read once")
    if is_ours(spans) and replay(spans, conversation):  # our own export: its log, event by event
        conversation.title = _title(root, conversation)
        return conversation
    builder = _Rebuild(conversation)
    models = [span for span in spans if kinds[span.id] == "model"
              or (kinds[span.id] == "" and holds_messages(span.attributes, span.events))]
    builder.read(models)
    for span in spans:
        kind = kinds[span.id]
        if kind == "tool":
            problem = builder.tool_span(span)
        elif span.id in builder.parsed:
            problem = builder.model_span(span)
            problem = problem or builder.flush()
        else:
            continue
        if problem is not None:
            return problem
    problem = builder.flush(every=True)
    if problem is not None:
        return problem
    if not conversation.items:
        return Invalid(first.position, f"trace {trace}: {len(spans)} spans, but none holds a model call or tool call "
                                       "(no gen_ai.*, OpenInference or OpenLLMetry attributes)")
    conversation.warnings = list(dict.fromkeys(conversation.warnings))  # a repeated history repeats its notes
    conversation.title = _title(root, conversation)
    conversation.model = next((m.call.model for m in conversation.messages if m.call is not None), None)
    conversation.tools = builder.tools
    conversation.attributes = {"trace_id": trace, "spans": len(spans), "root_span": root.name,
                               **({"service.name": root.resource["service.name"]} if "service.name" in root.resource else {})}
    return conversation


def _conversation_id(spans: list[Span]) -> str | None:
    for span in spans:
        for key in ("gen_ai.conversation.id", "session.id"):
            if isinstance(span.attributes.get(key), str) and span.attributes[key].strip():
                return span.attributes[key].strip()
    return None


def _title(root: Span, conversation: Conversation) -> str:
    given = root.attributes.get(OURS + "session.title")
    if isinstance(given, str) and given.strip():
        return given.strip()
    words = root.name.replace("[", " ").split()
    if words and words[0].lower() not in GENERIC_ROOTS and len(root.name.strip()) > 3:
        return root.name.strip()
    texts = (_plain(m.content) for m in conversation.messages if m.role == "user")
    if conversation.records is not None:
        texts = (r.event.content or "" for r in conversation.records if r.kind == "message_added" and r.event.role == "user")
    return next((one_line(text, 80) for text in texts if text.strip()), f"trace {conversation.key[:12]}")


def _plain(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return as_text(content)


class _Rebuild:
    """Adds each span's new messages to the conversation, keeping the histories seen so far."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.threads: list[list[ImportedMessage]] = []  # each model's view: input, then its reply
        self.recent: int | None = None  # the thread the last span extended
        self.open: dict[str, tuple[str, str]] = {}  # unanswered call id -> (name, arguments)
        self.assigned: set[str] = set()  # ids we gave calls that had none
        self.answered: set[str] = set()
        self.tools: list[dict[str, Any]] = []
        self._keys: dict[int, tuple[ImportedMessage, tuple]] = {}
        self._notes: dict[int, tuple[ImportedMessage, str]] = {}  # a warning for a message, given if it is added
        self._numbered = 0
        self.parsed: dict[str, tuple[list | None, list | None, str | None]] = {}  # model span id -> its messages
        self.recorded_calls: set[str] = set()  # call ids some model span's messages hold
        self.recorded_results: set[str] = set()  # call ids whose result some model span's messages hold
        self.deferred: list[Span] = []  # tool spans whose call a later model span records

    def read(self, spans: list[Span]) -> None:
        """Each model span's messages, read once; and which calls and results they record, so a tool
        span adds only what no model span holds (whatever the order the spans come in)."""
        for span in spans:
            raw_in, raw_out, finish = self.parsed[span.id] = span_messages(span.attributes, span.events,
                                                                           self.conversation.warnings)
            for item in [*(raw_in or []), *(raw_out or [])]:
                if not isinstance(item, dict):
                    continue
                for call in item.get("tool_calls") if isinstance(item.get("tool_calls"), list) else []:
                    if isinstance(call, dict) and isinstance(call.get("id"), str) and call["id"]:
                        self.recorded_calls.add(call["id"])
                if role_of(item.get("role")) == "tool" and isinstance(item.get("tool_call_id"), str):
                    self.recorded_results.add(item["tool_call_id"])

    def flush(self, every: bool = False) -> Invalid | None:
        """The tool spans held back until their call came (`every`: all that are left)."""
        waiting, self.deferred = self.deferred, []
        for span in waiting:
            problem = self.tool_span(span, ready=every)
            if problem is not None:
                return problem
        return None

    # ---- spans ---------------------------------------------------------------------------

    def model_span(self, span: Span) -> Invalid | None:
        notes = self.conversation.warnings
        raw_in, raw_out, finish = self.parsed[span.id]
        inputs = self._messages(raw_in or [], f"{span.position} input", span, span.start)
        outputs = self._messages(raw_out or [], f"{span.position} output", span, span.end or span.start)
        for problem in (inputs, outputs):
            if isinstance(problem, Invalid):
                return problem
        self._note_tools(span)
        if len(outputs) > 1:
            notes.append(f"{span.position}: {len(outputs)} output messages (choices); the first was kept")
        reply = outputs[:1]
        if inputs:
            index, shared = self._best(inputs)
        else:
            index = self.recent
            shared = len(self.threads[index]) if index is not None else 0
            inputs = list(self.threads[index]) if index is not None else []
        base = self.threads[index] if index is not None else []
        if reply and shared == len(inputs) and self._same_run(base[shared:shared + 1], reply):
            self.recent = index  # a nested or repeated span of a reply already here
            return None
        for message in inputs[shared:]:
            self._add(message)
        for message in reply:
            calls = len(message.tool_calls or ())
            reason = {"tool_call": "tool_calls", None: "tool_calls" if calls else "stop"}.get(finish, finish)
            message.call = ModelCall(model=model_name(span.attributes) or "unknown", usage=usage(span.attributes),
                                     finish_reason=str(reason), latency_ms=_latency(span))
            self._add(message)
        thread = inputs + reply
        if index is not None and shared == len(base):
            self.threads[index] = thread
        else:
            self.threads.append(thread)
            index = len(self.threads) - 1
        self.recent = index
        return None

    def tool_span(self, span: Span, ready: bool = False) -> Invalid | None:
        use = tool_use(span.attributes, span.name)
        status = str(span.status.get("code", span.status.get("status_code", ""))).lower()
        failed = status in ("2", "error", "status_code_error")
        if use["id"] and (use["id"] in self.answered or use["id"] in self.recorded_results):
            return None  # a model span records the result (and its call, or that the call is missing)
        if use["id"] in self.recorded_calls and use["id"] not in self.open and not ready:
            self.deferred.append(span)  # a later model span records the call: the result follows it
            return None
        call_id = use["id"] if use["id"] in self.open else self._open_call(use["name"], use["arguments"], use["id"])
        if call_id is None:  # no model span recorded the call either
            call_id = use["id"] or f"call_{span.id[:8]}"
            call = {"id": call_id, "type": "function", "function": {"name": use["name"], "arguments": use["arguments"] or "{}"}}
            self._add(ImportedMessage("assistant", None, tool_calls=[call], timestamp=timestamp(span.start),
                                      position=span.position), thread=True)
        result = use["result"]
        if result is None and failed:
            result = as_text(span.status.get("message") or span.status.get("description") or "the tool failed")
        if result is None:
            return None
        message = ImportedMessage("tool", result, tool_call_id=call_id, timestamp=timestamp(span.end or span.start),
                                  position=span.position, extra={"is_error": True} if failed else {})
        self._add(message, thread=True, call_id=call_id)
        return None

    # ---- messages --------------------------------------------------------------------------

    def _messages(self, raw: list[Any], where: str, span: Span, moment: int | None) -> list[ImportedMessage] | Invalid:
        found = []
        for index, item in enumerate(raw):
            position, note = f"{where} [{index}]", None
            if isinstance(item, dict):
                role = role_of(item.get("role"))
                note = None if role else f"{position}: role {str(item.get('role'))[:20]!r} imported as user"
                item = {key: value for key, value in item.items() if key != "finish_reason" and not key.startswith(OURS)}
                item["role"] = role or "user"
            message = openai_message(item, position)
            if isinstance(message, Invalid):
                return message
            message.timestamp = message.timestamp or timestamp(moment)
            if note:
                self._notes[id(message)] = (message, note)
            for call in message.tool_calls or []:
                if isinstance(call, dict) and not call.get("id"):
                    self._numbered += 1
                    call["id"] = f"call_{span.id[:8]}_{self._numbered}"
                    self.assigned.add(call["id"])
            found.append(message)
        return found

    def _add(self, message: ImportedMessage, thread: bool = False, call_id: str | None = None) -> None:
        if message.extra.pop("compaction", False):
            self.conversation.items.append(Compaction(timestamp=message.timestamp, source="otlp"))
        self.conversation.items.append(message)
        noted = self._notes.pop(id(message), None)
        if noted is not None and noted[0] is message:
            self.conversation.warnings.append(noted[1])
        for call in message.tool_calls or []:
            if isinstance(call, dict) and isinstance(call.get("id"), str):
                function = call.get("function") if isinstance(call.get("function"), dict) else {}
                self.open[call["id"]] = (str(function.get("name")), as_text(function.get("arguments")))
        if message.role == "tool":
            if not message.tool_call_id and self.open:
                message.tool_call_id = next(iter(self.open))  # as the builder pairs it: the oldest open call
            self.open.pop(message.tool_call_id or "", None)
            self.answered.add(message.tool_call_id or "")
        if thread:
            index = self._thread_with(call_id) if call_id else None
            index = index if index is not None else self.recent
            if index is None:
                self.threads.append([])
                index = len(self.threads) - 1
            self.threads[index].append(message)
            self.recent = index

    def _open_call(self, name: str, arguments: str | None, given_id: str | None) -> str | None:
        candidates = [cid for cid, (called, _) in self.open.items() if called == name
                      and (given_id is None or cid in self.assigned)]
        for cid in candidates:
            if arguments is not None and _canonical(self.open[cid][1]) == _canonical(arguments):
                return cid
        return candidates[0] if candidates else None

    def _thread_with(self, call_id: str) -> int | None:
        for index in range(len(self.threads) - 1, -1, -1):
            if any(call.get("id") == call_id for m in self.threads[index] for call in m.tool_calls or [] if isinstance(call, dict)):
                return index
        return None

    def _note_tools(self, span: Span) -> None:
        known = {tool["function"].get("name") for tool in self.tools}
        for tool in tool_definitions(tool_definitions_of(span.attributes)):
            if tool["function"].get("name") not in known:
                known.add(tool["function"].get("name"))
                self.tools.append(tool)

    # ---- comparing histories ---------------------------------------------------------------

    def _best(self, inputs: list[ImportedMessage]) -> tuple[int | None, int]:
        best, shared = None, 0
        for index, thread in enumerate(self.threads):
            length = 0
            for ours, theirs in zip(thread, inputs):
                if not self._same(ours, theirs):
                    break
                length += 1
            if length and length >= shared:
                best, shared = index, length
        return best, shared

    def _same_run(self, ours: list[ImportedMessage], theirs: list[ImportedMessage]) -> bool:
        return len(ours) == len(theirs) and all(self._same(a, b) for a, b in zip(ours, theirs))

    def _key(self, message: ImportedMessage) -> tuple:
        cached = self._keys.get(id(message))
        if cached is None or cached[0] is not message:  # an id is only unique while its object lives
            content = _plain(message.content)
            calls = tuple((c.get("id") or "", str((c.get("function") or {}).get("name")),
                           _canonical((c.get("function") or {}).get("arguments"))) for c in message.tool_calls or []
                          if isinstance(c, dict))
            self._keys[id(message)] = (message, (message.role, content.strip(), calls, message.tool_call_id or ""))
        return self._keys[id(message)][1]

    def _same(self, a: ImportedMessage, b: ImportedMessage) -> bool:
        role, text, calls, call_id = self._key(a)
        role_b, text_b, calls_b, call_id_b = self._key(b)
        if role != role_b:
            return False
        if role == "tool" and call_id and call_id_b:
            return call_id == call_id_b
        if text == text_b and len(calls) == len(calls_b) and all(
                (x[0] == y[0]) if (x[0] and y[0] and x[0] not in self.assigned and y[0] not in self.assigned)
                else x[1:] == y[1:] for x, y in zip(calls, calls_b)):
            return True
        if role != "assistant":
            return False
        # a framework that re-renders an assistant turn for the next call, adding its calls as text
        # (smolagents: "Called Tool: ...", or the reply followed by "Calling tools: [...]")
        for (_, t1, c1, _), (_, t2, c2, _) in ((self._key(a), self._key(b)), (self._key(b), self._key(a))):
            if c1 and not t1 and not c2 and all(c[0] and c[0] in t2 for c in c1):
                return True
            if len(t1) >= 20 and len(t2) > len(t1) and t2.startswith(t1) and t2[len(t1)].isspace():
                return True
        return False


def _canonical(arguments: Any) -> str:
    value = parsed_if_json(arguments) if isinstance(arguments, str) else arguments
    return json.dumps(value, sort_keys=True, ensure_ascii=False) if not isinstance(value, str) else value.strip()


def _latency(span: Span) -> float:
    given = span.attributes.get(OURS + "latency_ms")  # ours: the span may have been shortened to keep the order
    if isinstance(given, (int, float)) and not isinstance(given, bool) and given >= 0:
        return float(given)
    return round((span.end - span.start) / 1e6, 3) if span.start and span.end and span.end >= span.start else 0.0
