"""Building the OTLP/JSON document of one session (see `otlp_export` for what it holds).

The log is folded in order (`engine.fold.Folder`): a model call's input is the state when its
`llm_called` event comes, its reply the assistant message after it; a tool span pairs a tool
message with the call it answers; every other event is a span event on the root span with the
change in rendered tokens (`engine.render.stats`) it made.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import urllib.parse
from datetime import datetime, timedelta
from typing import Any

from engine.events import LLMCalled, MessageAdded
from engine.fold import Folder
from engine.imports import IMPORTS, imported_tools
from engine.records import EventRecord, format_ts
from engine.render import stats
from engine.settings import settings_of
from engine.state import Message
from engine.text import printable
from engine.tools import tool_schemas
from sessions.formats.otlp_attributes import OURS, provider_of

KIND_INTERNAL, KIND_CLIENT = 1, 3
STATUS_ERROR = 2
EPOCH = datetime(1970, 1, 1)
FINISH = {"tool_calls": "tool_call"}  # ours -> the conventions' finish reasons
SECRET = re.compile(r"api[_-]?key|secret|password|token$|authorization|credential", re.IGNORECASE)
TAIL_SPAN = "messages without a reply"


class TraceBuilder:
    """Folds a session's records into spans; `document()` gives the export body."""

    def __init__(self, info: dict[str, Any], service: str) -> None:
        self.info, self.service = info, service
        self.session = str(info["id"])
        self.trace = _digest(f"trace:{self.session}", 16)
        self.root = _digest(f"span:{self.session}:session", 8)
        self.folder = Folder()
        self.spans: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.first = self.last = None  # the first and last record's times (ns)
        self.last_start = 0
        self.tokens: int | None = None  # rendered tokens now; None after a change
        self.summaries: dict[str, int] = {}  # fragment id -> seq of the summary in force
        self.compactions: list[tuple[int, int, str]] = []  # (messages before it, seq, what it did)
        self.pending: tuple | None = None  # a model call awaiting its reply: (record, inputs, compacted, count, tools)
        self.covered = 0  # messages the last model span holds
        self.calls: dict[str, tuple[dict[str, Any], int]] = {}  # call id -> (call, when it was made)
        self.times: dict[str, int] = {}  # message id -> when it was added
        self.models: list[str] = []
        self._tools: tuple[Any, str] | None = None

    def add(self, record: EventRecord) -> None:
        event, moment = record.event, _ns(record.ts)
        self.first = moment if self.first is None else self.first
        self.last = moment
        if isinstance(event, LLMCalled):
            if self.pending:
                self._chat(None)
            self.folder.add(event)
            inputs, compacted, count = self._inputs()
            self.pending = (record, inputs, compacted, count, self._offered())
            self.models.append(event.model)
            return
        if isinstance(event, MessageAdded):
            self.folder.add(event)
            self.tokens = None
            message = self.folder.state.messages[-1]
            self.times[message.id] = moment
            for call in message.tool_calls or ():
                self.calls[call["id"]] = (call, moment)
            if self.pending:
                self._chat(message if message.role == "assistant" else None)
            if message.role == "tool":
                self._tool(record, message)
            return
        before = self._rendered()
        self.folder.add(event)
        self.tokens = None
        self._edit(record, before, self._rendered())

    def document(self) -> dict[str, Any]:
        if self.pending:
            self._chat(None)
        state = self.folder.state
        if len(state.messages) > self.covered:  # messages no model call holds
            inputs, compacted, _ = self._inputs()
            start = self._start(self.times.get(state.messages[self.covered].id, self.last or 0))
            attributes = {"gen_ai.operation.name": "context_workbench.messages", "gen_ai.conversation.id": self.session,
                          "gen_ai.input.messages": _json(inputs), OURS + "messages": len(inputs)}
            if compacted:
                attributes["gen_ai.conversation.compacted"] = True
            self._span("tail", TAIL_SPAN, KIND_INTERNAL, start, max(start, self.last or start), attributes)
        model = self.models[0] if self.models else settings_of(state)["backend"].get("model")
        starts = [int(span["startTimeUnixNano"]) for span in self.spans]
        ends = [int(span["endTimeUnixNano"]) for span in self.spans]
        start = min((moment for moment in (self.first, *starts) if moment is not None), default=0)
        attributes = {
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": self.service,
            "gen_ai.conversation.id": self.session, "gen_ai.provider.name": provider_of(model),
            "gen_ai.request.model": model, OURS + "session.title": self.info.get("title"),
            OURS + "session.created_at": format_ts(self.info["created_at"]) if isinstance(
                self.info.get("created_at"), datetime) else self.info.get("created_at"),
            OURS + "session.forked_from": self.info.get("forked_from"),
            OURS + "session.forked_at": self.info.get("forked_at"),
            OURS + "session.imported_from": self.info.get("imported_from"),
            OURS + "events": state.event_count,
        }
        root = _span_body(self.trace, self.root, None, f"invoke_agent {self.service}", KIND_INTERNAL, start,
                          max([self.last or start, *ends]), attributes, self.events)
        return {"resourceSpans": [{
            "resource": {"attributes": _attributes({"service.name": self.service})},
            "scopeSpans": [{"scope": {"name": "context_workbench.otlp_export", "version": "1"},
                            "spans": [root, *self.spans]}],
        }]}

    # ---- spans ------------------------------------------------------------------------------

    def _chat(self, message: Message | None) -> None:
        called, inputs, compacted, count, offered = self.pending
        self.pending = None
        call: LLMCalled = called.event
        end = _ns(called.ts)
        start = self._start(end - int(call.latency_ms * 1e6))
        reason = FINISH.get(call.finish_reason, call.finish_reason)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider_of(call.model),
            "gen_ai.request.model": call.model, "gen_ai.conversation.id": self.session,
            "gen_ai.response.finish_reasons": [reason], **_usage(call.usage),
            "gen_ai.input.messages": _json(inputs),
        }
        if message is not None:
            attributes["gen_ai.output.messages"] = _json([{**_message(message), "finish_reason": reason}])
        if offered:
            attributes["gen_ai.tool.definitions"] = offered
        if compacted:
            attributes["gen_ai.conversation.compacted"] = True
        attributes.update({OURS + "seq": called.seq, OURS + "latency_ms": call.latency_ms, OURS + "step": call.step,
                           OURS + "tool_calls": call.tool_calls, OURS + "stop_reason": call.stop_reason})
        self.covered = count + (message is not None)
        self._span(called.seq, f"chat {call.model}", KIND_CLIENT, start, max(start, end), attributes)

    def _tool(self, record: EventRecord, message: Message) -> None:
        call, called_at = self.calls.get(message.tool_call_id or "", (None, None))
        function = (call.get("function") or {}) if call else {}
        name = str(function.get("name") or message.name or "unknown")
        start = self._start(called_at if called_at is not None else _ns(record.ts))
        attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name, "gen_ai.tool.type": "function",
                      "gen_ai.tool.call.id": message.tool_call_id, "gen_ai.conversation.id": self.session,
                      "gen_ai.tool.call.arguments": function.get("arguments"),
                      "gen_ai.tool.call.result": message.content or "", OURS + "seq": record.seq}
        failed = bool(message.extra.get("is_error"))
        self._span(record.seq, f"execute_tool {name}", KIND_INTERNAL, start, max(start, _ns(record.ts)), attributes,
                   status={"code": STATUS_ERROR, "message": "the tool reported an error"} if failed else None)

    def _span(self, key: Any, name: str, kind: int, start: int, end: int, attributes: dict[str, Any],
              status: dict[str, Any] | None = None) -> None:
        span_id = _digest(f"span:{self.session}:{key}", 8)
        self.spans.append(_span_body(self.trace, span_id, self.root, name, kind, start, end, attributes, [], status))

    def _start(self, natural: int) -> int:
        """Start times strictly increase, so spans keep the log's order in every viewer."""
        self.last_start = max(natural, self.last_start + 1)
        return self.last_start

    # ---- context edits ----------------------------------------------------------------------

    def _rendered(self) -> int:
        if self.tokens is None:
            self.tokens = int(stats(self.folder.state)["rendered_tokens"])
        return self.tokens

    def _edit(self, record: EventRecord, before: int, after: int) -> None:
        event = record.event
        attributes: dict[str, Any] = {OURS + "seq": record.seq, OURS + "token_delta": after - before,
                                      OURS + "rendered_tokens": after}
        for key, value in _redacted(event.payload()).items():
            if value is not None and value != [] and value != {}:
                attributes[OURS + key] = value if isinstance(value, (str, int, float, bool)) else _json(value)
        if event.kind == "fragment_summarized":
            self.summaries[event.fragment_id] = record.seq
            attributes["gen_ai.conversation.compacted"] = True
        elif event.kind == "context_compacted":
            before_after = f" ({event.before_tokens:,} → {event.after_tokens:,} tokens)" if (
                event.before_tokens is not None and event.after_tokens is not None) else ""
            note = f"{event.source or 'the source'} compacted the context here{before_after}"
            self.compactions.append((len(self.folder.state.messages), record.seq, note))
            attributes["gen_ai.conversation.compacted"] = True
        elif event.kind == "fragment_restored":
            self.summaries.pop(event.fragment_id, None)
        self.events.append({"timeUnixNano": str(_ns(record.ts)), "name": f"context_workbench.{event.kind}",
                            "attributes": _attributes(attributes)})

    # ---- messages ---------------------------------------------------------------------------

    def _inputs(self) -> tuple[list[dict[str, Any]], bool, int]:
        """The conversation now, as the conventions' messages, and whether a summary is in it."""
        messages = self.folder.state.messages
        found = []
        for message in messages:
            item = _message(message)
            folded = [f.id for f in message.fragments if f.status == "folded"]
            if folded:
                item[OURS + "folded"] = folded
            for fragment in message.fragments:
                if fragment.status == "summarized":
                    item["parts"].append({"type": "compaction", "content": fragment.summary or "",
                                          OURS + "fragment_id": fragment.id,
                                          OURS + "seq": self.summaries.get(fragment.id)})
            found.append(item)
        for count, seq, note in self.compactions:
            if 0 < count <= len(found):
                found[count - 1]["parts"].append({"type": "compaction", "content": note, OURS + "seq": seq})
        compacted = any(part.get("type") == "compaction" for item in found for part in item["parts"])
        return found, compacted, len(messages)

    def _offered(self) -> str | None:
        """The tool definitions the model was offered: an import's own, and this workbench's profile
        for a session made here or configured since (as JSON, shared by the calls that had the same)."""
        state = self.folder.state
        native = IMPORTS.slice_of(state) is None or bool(state.settings)
        profile = settings_of(state).get("tools") if native else None
        key = (profile, tuple(json.dumps(tool, sort_keys=True) for tool in imported_tools(state)))
        if self._tools is None or self._tools[0] != key:
            try:
                schemas = tool_schemas(profile) if profile else []
            except ValueError:
                schemas = []
            definitions = [_definition(tool) for tool in [*imported_tools(state), *schemas]]
            self._tools = (key, _json(definitions) if definitions else None)
        return self._tools[1]


def _message(message: Message) -> dict[str, Any]:
    """A message as the conventions' `{role, parts}` (its original text, whatever is folded)."""
    parts: list[dict[str, Any]] = []
    if message.reasoning:
        parts.append({"type": "reasoning", "content": message.reasoning})
    if message.role == "tool":
        parts.append({"type": "tool_call_response", "id": message.tool_call_id, "response": message.content or ""})
    elif message.content:
        parts.append({"type": "text", "content": message.content})
    for call in message.tool_calls or ():
        function = call.get("function") or {}
        parts.append({"type": "tool_call", "id": call.get("id"), "name": function.get("name"),
                      "arguments": function.get("arguments")})
    parts += [dict(attachment) for attachment in message.attachments]  # kept whole, as generic parts
    item: dict[str, Any] = {"role": message.role, "parts": parts}
    if message.name is not None:
        item["name"] = message.name
    return item


def _definition(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool.get("function") if isinstance(tool.get("function"), dict) else tool
    found = {"type": tool.get("type", "function"), "name": function.get("name")}
    for key in ("description", "parameters"):
        if function.get(key) is not None:
            found[key] = function[key]
    return found


def _usage(usage: dict[str, int]) -> dict[str, int]:
    names = {"prompt_tokens": ("gen_ai.usage.input_tokens",), "completion_tokens": ("gen_ai.usage.output_tokens",),
             "cache_read_tokens": ("gen_ai.usage.cache_read.input_tokens",),
             "cache_write_tokens": ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_write.input_tokens"),
             "reasoning_tokens": ("gen_ai.usage.reasoning.output_tokens",)}
    return {name: int(usage[key]) for key, targets in names.items() if key in usage for name in targets}


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: "[redacted]" if SECRET.search(str(key)) and value[key] else _redacted(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    if isinstance(value, str) and "://" in value and "@" in value.split("://", 1)[1].split("/", 1)[0]:
        return shown_url(value)  # a URL's user name and password stay out
    return value


def shown_url(url: str) -> str:
    """A URL without any user name or password in it."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", "")) if parts.scheme else url[:80]


# ---- OTLP/JSON values -----------------------------------------------------------------------------


def _span_body(trace: str, span_id: str, parent: str | None, name: str, kind: int, start: int, end: int,
               attributes: dict[str, Any], events: list[dict[str, Any]], status: dict[str, Any] | None = None):
    span = {"traceId": trace, "spanId": span_id, "name": printable(name), "kind": kind,
            "startTimeUnixNano": str(start), "endTimeUnixNano": str(max(start, end)),
            "attributes": _attributes(attributes)}
    if parent:
        span["parentSpanId"] = parent
    if events:
        span["events"] = events
    if status:
        span["status"] = status
    return span


def _attributes(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _any(value)} for key, value in values.items() if value is not None]


def _any(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value} if math.isfinite(value) else {"stringValue": str(value)}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_any(item) for item in value if item is not None]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": _attributes(value)}}
    return {"stringValue": printable(str(value))}


def _json(value: Any) -> str:
    return printable(json.dumps(value, ensure_ascii=False, default=str))


def _digest(seed: str, size: int) -> str:
    digest = hashlib.sha256(seed.encode("utf-8", "surrogatepass")).hexdigest()[: size * 2]
    return digest if set(digest) != {"0"} else "1".rjust(size * 2, "0")


def _ns(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000
