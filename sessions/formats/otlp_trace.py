"""Building the OTLP/JSON document of one session (see `otlp_export` for what it holds).

The log is folded in order (`engine.fold.Folder`): a model call's input is the state when its
`llm_called` event comes, its reply the assistant message after it; a failed call is a chat
span with an error status; a tool span pairs a tool message with the call it answers; every
other event is a span event on the root span, with its payload and the change in rendered
tokens (`engine.render.stats`) it made. Every span and event carries its event's seq, and
each message its own (`otlp_encode`), so our importer replays the log exactly.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from engine.events import LLMCalled, LLMFailed, MessageAdded
from engine.fold import Folder
from engine.imports import IMPORTS, imported_tools
from engine.records import EventRecord, format_ts
from engine.render import core_memory_message, join_pieces, joined_with_core, opens_with_system, render_pieces, stats
from engine.settings import settings_of
from engine.state import Message
from engine.tokens import DEFAULT_ENCODING, token_counter
from engine.tools import tool_schemas
from sessions.formats.otlp_attributes import OURS, provider_of
from sessions.formats.otlp_encode import (
    KIND_CLIENT, KIND_INTERNAL, MESSAGE_KEY, SCOPE, STATUS_ERROR, VERSION, as_json, attribute_list, definition, digest,
    finish_reason, message_item, ns, redacted, request_model, span_body, usage_attributes,
)

TAIL_SPAN = "messages without a reply"


class TraceBuilder:
    """Folds a session's records into spans; `document()` gives the export body."""

    def __init__(self, info: dict[str, Any], service: str, encoding: str = DEFAULT_ENCODING) -> None:
        self.info, self.service = info, service
        self.session = str(info["id"])
        self.trace = digest(f"trace:{self.session}", 16)
        self.root = digest(f"span:{self.session}:session", 8)
        self.folder = Folder()
        self.counter = token_counter(encoding)
        self.encoding = encoding
        self.spans: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.first = self.last = None  # the first and last record's times (ns)
        self.last_start = 0
        self.tokens: int | None = None  # rendered tokens now; None after a change
        self.summaries: dict[str, int] = {}  # fragment id -> seq of the summary in force
        self.compactions: list[tuple[int, int, str]] = []  # (messages before it, seq, what it did)
        self.pending: tuple | None = None  # a model call awaiting its reply: (record, inputs, compacted, count, tools)
        self.covered = 0  # messages the last model span holds
        self.after_calls = 0  # spans made up to the last model span (the tail goes after them)
        self.calls: dict[str, tuple[dict[str, Any], int]] = {}  # call id -> (call, when it was made)
        self.added: dict[str, tuple] = {}  # message id -> (seq, ts, payload, actor as a dict or None)
        self.times: dict[str, int] = {}  # message id -> when it was added (ns)
        self.models: list[str] = []
        self._tools: tuple[Any, str] | None = None
        self._texts: dict[int, tuple[Message, str | None]] = {}  # rendered text of each message object

    def add(self, record: EventRecord) -> None:
        event, moment = record.event, ns(record.ts)
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
        if isinstance(event, LLMFailed):
            if self.pending:
                self._chat(None)
            self.folder.add(event)
            self._failed(record)
            return
        if isinstance(event, MessageAdded):
            self.folder.add(event)
            self.tokens = None
            message = self.folder.state.messages[-1]
            self.times[message.id] = moment
            self.added[message.id] = (record.seq, record.ts, event.payload(),
                                      record.actor.to_dict() if record.actor is not None else None)
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
            self._tail()
        model = self.models[0] if self.models else settings_of(state)["backend"].get("model")
        starts = [int(span["startTimeUnixNano"]) for span in self.spans]
        ends = [int(span["endTimeUnixNano"]) for span in self.spans]
        start = min((moment for moment in (self.first, *starts) if moment is not None), default=0)
        created = self.info.get("created_at")
        attributes = {
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": self.service,
            "gen_ai.conversation.id": self.session, "gen_ai.provider.name": provider_of(model),
            "gen_ai.request.model": request_model(model), OURS + "session.title": self.info.get("title"),
            OURS + "session.created_at": format_ts(created) if isinstance(created, datetime) else created,
            OURS + "session.forked_from": self.info.get("forked_from"),
            OURS + "session.forked_at": self.info.get("forked_at"),
            OURS + "session.imported_from": self.info.get("imported_from"),
            OURS + "events": state.event_count, OURS + "encoding": self.encoding,
        }
        root = span_body(self.trace, self.root, None, f"invoke_agent {self.service}", KIND_INTERNAL, start,
                         max([self.last or start, *ends]), attributes, self.events)
        return {"resourceSpans": [{
            "resource": {"attributes": attribute_list({"service.name": self.service})},
            "scopeSpans": [{"scope": {"name": SCOPE, "version": VERSION}, "spans": [root, *self.spans]}],
        }]}

    # ---- spans ------------------------------------------------------------------------------

    def _chat(self, message: Message | None) -> None:
        called, inputs, compacted, count, offered = self.pending
        self.pending = None
        call: LLMCalled = called.event
        end = ns(called.ts)
        start = self._start(end - int(call.latency_ms * 1e6))
        reason = finish_reason(call.finish_reason)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider_of(call.model),
            "gen_ai.request.model": request_model(call.model), "gen_ai.conversation.id": self.session,
            "gen_ai.response.finish_reasons": [reason], **usage_attributes(call.usage),
            "gen_ai.input.messages": as_json(inputs),
        }
        if message is not None:
            reply = message_item(message, self._text(message), self.added.get(message.id))
            attributes["gen_ai.output.messages"] = as_json([{**reply, "finish_reason": reason}])
        if offered:
            attributes["gen_ai.tool.definitions"] = offered
        if compacted:
            attributes["gen_ai.conversation.compacted"] = True
        if reason != call.finish_reason:
            attributes[OURS + "finish_reason"] = call.finish_reason
        attributes.update(self._ours(called, call.payload()))
        attributes[OURS + "latency_ms"] = call.latency_ms
        self.covered = count + (message is not None)
        self._span(called.seq, f"chat {request_model(call.model)}", KIND_CLIENT, start, max(start, end), attributes)
        self.after_calls = len(self.spans)

    def _failed(self, record: EventRecord) -> None:
        failed: LLMFailed = record.event
        inputs, compacted, count = self._inputs()
        moment = ns(record.ts)
        start = self._start(moment)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider_of(failed.model),
            "gen_ai.request.model": request_model(failed.model), "gen_ai.conversation.id": self.session,
            "error.type": failed.error_kind or "error", "gen_ai.input.messages": as_json(inputs),
            **({"gen_ai.conversation.compacted": True} if compacted else {}), **self._ours(record, failed.payload()),
        }
        self.covered = count
        self._span(record.seq, f"chat {request_model(failed.model)}", KIND_CLIENT, start, start, attributes,
                   status={"code": STATUS_ERROR, "message": failed.error[:500]})
        self.after_calls = len(self.spans)

    def _tool(self, record: EventRecord, message: Message) -> None:
        if (message.tool_call_id or "") not in self.calls:
            return  # a result whose call is not in the log: it is in the messages, but nothing ran here
        call, called_at = self.calls[message.tool_call_id]
        function = call.get("function") or {}
        name = str(function.get("name") or message.name or "unknown")
        start = self._start(called_at)
        attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name, "gen_ai.tool.type": "function",
                      "gen_ai.tool.call.id": message.tool_call_id, "gen_ai.conversation.id": self.session,
                      "gen_ai.tool.call.arguments": function.get("arguments"),
                      "gen_ai.tool.call.result": message.content or "", OURS + "seq": record.seq}
        failed = bool(message.extra.get("is_error"))
        if failed:
            attributes["error.type"] = str(message.extra.get("error_type") or "tool_error")
        self._span(record.seq, f"execute_tool {name}", KIND_INTERNAL, start, max(start, ns(record.ts)), attributes,
                   status={"code": STATUS_ERROR, "message": "the tool reported an error"} if failed else None)

    def _tail(self) -> None:
        """The messages no model call holds, in a last span placed after the last model span (and so
        before the tool spans of those messages), its start at the first of them."""
        state = self.folder.state
        inputs, compacted, _ = self._inputs()
        at = self.after_calls
        previous = int(self.spans[at - 1]["startTimeUnixNano"]) if at else 0
        start = max(self.times.get(state.messages[self.covered].id, self.last or 0), previous + 1)
        attributes = {"gen_ai.operation.name": "context_workbench.messages", "gen_ai.conversation.id": self.session,
                      "gen_ai.input.messages": as_json(inputs), OURS + "messages": len(inputs)}
        if compacted:
            attributes["gen_ai.conversation.compacted"] = True
        later = self.spans[at:]
        ends = [int(span["endTimeUnixNano"]) for span in later]
        tail = span_body(self.trace, digest(f"span:{self.session}:tail", 8), self.root, TAIL_SPAN, KIND_INTERNAL,
                         start, max([start, self.last or start, *ends]), attributes)
        self.spans.insert(at, tail)
        moment = start
        for span in later:  # starts still strictly increase after it
            moment = max(int(span["startTimeUnixNano"]), moment + 1)
            span["startTimeUnixNano"] = str(moment)
            span["endTimeUnixNano"] = str(max(moment, int(span["endTimeUnixNano"])))

    def _ours(self, record: EventRecord, payload: dict[str, Any]) -> dict[str, Any]:
        ours = {OURS + "seq": record.seq, OURS + "ts": format_ts(record.ts), OURS + "kind": record.kind,
                OURS + "payload": as_json(redacted(payload))}
        if record.actor is not None:  # who wrote it: kind, name, and on a shared store user and host
            ours[OURS + "actor"] = as_json(record.actor.to_dict())
        return ours

    def _span(self, key: Any, name: str, kind: int, start: int, end: int, attributes: dict[str, Any],
              status: dict[str, Any] | None = None) -> None:
        span_id = digest(f"span:{self.session}:{key}", 8)
        self.spans.append(span_body(self.trace, span_id, self.root, name, kind, start, end, attributes, None, status))

    def _start(self, natural: int) -> int:
        """Start times strictly increase, so spans keep the log's order in every viewer."""
        self.last_start = max(natural, self.last_start + 1)
        return self.last_start

    # ---- context edits ----------------------------------------------------------------------

    def _rendered(self) -> int:
        if self.tokens is None:
            self.tokens = int(stats(self.folder.state, self.encoding)["rendered_tokens"])
        return self.tokens

    def _edit(self, record: EventRecord, before: int, after: int) -> None:
        event = record.event
        attributes: dict[str, Any] = {**self._ours(record, event.payload()), OURS + "token_delta": after - before,
                                      OURS + "rendered_tokens": after}
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
        elif event.kind == "tool_failed":
            attributes["error.type"] = event.error_type
        self.events.append({"timeUnixNano": str(ns(record.ts)), "name": f"context_workbench.{event.kind}",
                            "attributes": attribute_list(attributes)})

    # ---- messages ---------------------------------------------------------------------------

    def _text(self, message: Message) -> str | None:
        """The message's text as the model sees it now: fold markers and summaries in place."""
        cached = self._texts.get(id(message))
        if cached is None or cached[0] is not message:
            if message.content is None or all(f.status == "visible" for f in message.fragments):
                text = message.content
            else:
                text = join_pieces(render_pieces(message, self.counter))
            cached = self._texts[id(message)] = (message, text)
        return cached[1]

    def _inputs(self) -> tuple[list[dict[str, Any]], bool, int]:
        """The conversation now, as the conventions' messages, and whether a summary is in it."""
        messages = self.folder.state.messages
        found = []
        for message in messages:
            item = message_item(message, self._text(message), self.added.get(message.id))
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
        core = core_memory_message(self.folder.state, self.encoding)
        if core is not None:  # the model is sent core memory first, as render() sends it
            if opens_with_system(self.folder.state):
                self._open_with_core(found[0], core["content"], messages[0])
            else:
                found.insert(0, {"role": "system", "parts": [{"type": "text", "content": core["content"]}],
                                 OURS + "core_memory": True})
        return found, compacted, len(messages)

    @staticmethod
    def _open_with_core(item: dict[str, Any], core: str, message: Message) -> None:
        """The leading system prompt's text with the core memory block opening it; the message's own
        content kept in its `context_workbench.message` object, so a re-import gets it back."""
        text = next((part for part in item["parts"] if part.get("type") == "text"), None)
        if text is None:
            item["parts"].insert(0, {"type": "text", "content": core})
        else:
            text["content"] = joined_with_core(core, text["content"])
        item[OURS + "core_memory"] = True
        if MESSAGE_KEY in item:
            item[MESSAGE_KEY].setdefault("content", message.content)

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
            definitions = [definition(tool) for tool in [*imported_tools(state), *schemas]]
            self._tools = (key, as_json(definitions) if definitions else None)
        return self._tools[1]
