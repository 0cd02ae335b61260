"""Recorded Anthropic API calls: a vcrpy cassette (YAML, or vcrpy's JSON) of `POST /v1/messages`.

A cassette holds `interactions`, each a request (its `body` a JSON string: a whole Messages
request) and the response (`body.string`: raw server-sent events when streamed, else the
response JSON). Each request carries the whole conversation so far, so one session per
cassette is made from the last call: its request's messages, then the assistant message
rebuilt from its events (text, thinking with its signature, tool_use input from its JSON
pieces, usage and stop reason). The earlier calls' responses are the earlier assistant
messages of that conversation: their model, usage and time (the response's `Date` header)
are recorded on them. The YAML is read without aliases (a cassette never has them; a file
that does is refused, naming the line) and no deeper than the JSON nesting limit.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import yaml

from engine.errors import ImportFormatError
from sessions.formats import anthropic
from sessions.formats.conversation import Conversation, Format, Invalid, Parsed, Sniff, match, near, no
from sessions.formats.jsonio import MAX_NESTING, check_nesting, pointer
from sessions.formats.source import Sample, Source

NAME = "anthropic-cassette"
HOST = "api.anthropic.com"
ENDPOINT = "/v1/messages"


def sniff(sample: Sample) -> Sniff:
    if sample.shape == "object" and isinstance(sample.value, dict) and "interactions" in sample.value:
        uris = [str(((item or {}).get("request") or {}).get("uri", "")) for item in sample.value["interactions"] or []
                if isinstance(item, dict)]
        if any(HOST in uri for uri in uris):
            return match("a vcrpy cassette (JSON) of Anthropic API calls")
        return near(50, f"a vcrpy cassette, but no request in it goes to {HOST}")
    if sample.shape != "text":
        return no("not a vcrpy cassette (YAML with interactions:)")
    head = sample.head
    if "interactions:" in head and HOST in head:
        return match("a vcrpy cassette of Anthropic API calls")
    if "interactions:" in head:
        return near(50, f"a vcrpy cassette, but no request in it goes to {HOST}")
    return no('text without "interactions:" (not a vcrpy cassette)')


class _Refused(Exception):
    def __init__(self, mark: Any, reason: str) -> None:
        super().__init__(reason)
        self.mark, self.reason = mark, reason


class _CassetteLoader(yaml.SafeLoader):
    """PyYAML's safe loader that reads no alias (a cassette never has one, and each repeats a part
    of the file: a few hundred bytes of them stand for billions of values) and nests no deeper than
    MAX_NESTING (PyYAML composes nested nodes recursively)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(event.start_mark, f"YAML aliases are not read (*{str(event.anchor)[:40]}): a cassette "
                           "never has them, and each repeats a part of the file, so a few can stand for billions "
                           "of values")
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise _Refused(event.start_mark, f"YAML nested deeper than {MAX_NESTING} levels; "
                               "the workbench refuses it")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load(source: Source) -> Any:
    """The cassette's YAML, without aliases and no deeper than MAX_NESTING, or an error naming the line."""
    loader = _CassetteLoader(source.text())
    try:
        return loader.get_single_data()
    except _Refused as exc:
        raise source.error(f"line {exc.mark.line + 1}, column {exc.mark.column + 1}", exc.reason) from None
    except RecursionError:
        raise source.error(None, f"YAML nested deeper than {MAX_NESTING} levels; the workbench refuses it") from None
    finally:
        loader.dispose()


def read(source: Source) -> Parsed:
    try:
        cassette = load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else None
        raise source.error(where, f"not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    interactions = cassette.get("interactions") if isinstance(cassette, dict) else None
    if not isinstance(interactions, list):
        raise source.error(None, 'a cassette needs a list of "interactions"')
    calls, warnings = [], []
    for index, interaction in enumerate(interactions):
        where = f"interaction [{index}]"
        request = interaction.get("request") if isinstance(interaction, dict) else None
        if not isinstance(request, dict):
            yield Invalid(where, 'an interaction needs a "request"')
            continue
        if ENDPOINT not in str(request.get("uri", "")):
            warnings.append(f"{where}: a call to {str(request.get('uri'))[:80]}, not {ENDPOINT}; left out")
            continue
        body = _json_body(request.get("body"))
        if not (isinstance(body, dict) and isinstance(body.get("messages"), list)):
            yield Invalid(f"{where} request body", "not a Messages request (a JSON object with \"messages\")")
            continue
        response = interaction.get("response") if isinstance(interaction.get("response"), dict) else {}
        message = _response_message(response, where, warnings)
        deep = _too_deep(source, body, f"{where} request body") or _too_deep(source, message, f"{where} response")
        if deep is not None:
            yield deep
            continue
        calls.append((where, body, message, _date(response)))
    if not calls:
        if not interactions or warnings:
            why = f" ({warnings[0]})" if warnings else ""
            raise source.error(None, f"the cassette holds no calls to {ENDPOINT}{why}")
        return
    where, last, message, moment = calls[-1]
    title = Path(source.name).stem or "Imported"
    prefix = f"{where} request body "
    conversation = anthropic.conversation(last, title, prefix, key=where)
    if isinstance(conversation, Invalid):
        yield conversation
        return
    if message is not None:
        items = anthropic.response_items(message, f"{where} response", conversation.warnings)
        if isinstance(items, Invalid):
            yield items
            return
        for item in items:
            item.timestamp = moment
        conversation.items += items
    if not conversation.messages:  # a response always gives a message: there was none
        yield Invalid(where, "the cassette holds no messages: the last call's request has none, and no reply "
                      "to it was recorded")
        return
    _record_earlier_calls(conversation, last, prefix, calls[:-1])
    conversation.warnings = warnings + conversation.warnings
    conversation.created_at = next((call[3] for call in calls if call[3] is not None), None)
    conversation.source_id = message.get("id") if message and isinstance(message.get("id"), str) else None
    yield conversation


def _record_earlier_calls(conversation: Conversation, last: dict[str, Any], prefix: str, earlier: list) -> None:
    """An earlier call's response is the assistant message that follows its request's messages."""
    sent = last["messages"]
    by_position = {item.position: item for item in conversation.messages}
    for where, body, response, moment in earlier:
        n = len(body["messages"])
        if body["messages"] == sent:  # the last call made again (a retry): the last one's reply stands
            continue
        if n > len(sent) or body["messages"] != sent[:n]:
            conversation.warnings.append(f"{where}: its request is not a step of the last call's conversation; "
                                         "its response is left out")
            continue
        item = by_position.get(prefix + pointer("messages", n))
        if item is None or item.role != "assistant" or response is None:
            continue
        item.call = anthropic.model_call(response)
        item.timestamp = moment
        for key in ("id", "stop_reason"):
            if isinstance(response.get(key), str):
                item.extra[key] = response[key]


def _too_deep(source: Source, value: Any, where: str) -> Invalid | None:
    try:
        check_nesting(source, value)
    except ImportFormatError as exc:
        return Invalid(where, str(exc).split(": ", 1)[-1])
    return None


def _json_body(body: Any) -> Any:
    if isinstance(body, dict) and "string" in body:  # vcrpy's newer shape: {"string": ...}
        body = body["string"]
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            return json.loads(body)
        except (json.JSONDecodeError, RecursionError):
            return None
    return body


def _response_message(response: dict[str, Any], where: str, warnings: list[str]) -> dict[str, Any] | None:
    status = response.get("status") if isinstance(response.get("status"), dict) else {}
    body = response.get("body")
    text = body.get("string") if isinstance(body, dict) else body
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if status.get("code") not in (None, 200):
        warnings.append(f"{where}: the call failed (HTTP {status.get('code')}): {str(text)[:200]}")
        return None
    if not isinstance(text, str) or not text.strip():
        warnings.append(f"{where}: the response has no body")
        return None
    if text.lstrip().startswith("{"):
        value = _json_body(text)
        if anthropic.is_response(value):
            return value
        warnings.append(f"{where}: the response is not a message: {text[:200]}")
        return None
    return rebuild(text, where, warnings)


def rebuild(stream: str, where: str, warnings: list[str]) -> dict[str, Any] | None:
    """The message a stream of server-sent events delivered, as the API would have returned it."""
    message: dict[str, Any] | None = None
    blocks: dict[int, dict[str, Any]] = {}
    pieces: dict[int, list[str]] = {}
    for data in _events(stream):
        try:
            event = json.loads(data)
        except (json.JSONDecodeError, RecursionError):
            warnings.append(f"{where}: an event that is not JSON: {data[:80]}")
            continue
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "message_start" and isinstance(event.get("message"), dict):
            message = dict(event["message"])
        elif kind == "content_block_start" and isinstance(event.get("content_block"), dict):
            blocks[_index(event)] = dict(event["content_block"])
        elif kind == "content_block_delta" and isinstance(event.get("delta"), dict):
            _delta(blocks.setdefault(_index(event), {"type": "text", "text": ""}), event["delta"],
                   pieces.setdefault(_index(event), []))
        elif kind == "message_delta":
            message = message or {"type": "message", "role": "assistant"}
            message.update({k: v for k, v in (event.get("delta") or {}).items() if v is not None})
            message["usage"] = {**(message.get("usage") or {}), **(event.get("usage") or {})}
        elif kind == "error":
            warnings.append(f"{where}: the stream ended in an error: {json.dumps(event.get('error'))[:200]}")
    if message is None:
        warnings.append(f"{where}: the response stream has no message_start")
        return None
    for index, block in blocks.items():
        if block.get("type") in ("tool_use", "server_tool_use") and pieces.get(index):
            joined = "".join(pieces[index])
            try:
                block["input"] = json.loads(joined) if joined.strip() else block.get("input", {})
            except json.JSONDecodeError:
                warnings.append(f"{where}: tool input that is not JSON, kept as text: {joined[:80]}")
                block["input"] = joined
    message["content"] = [blocks[index] for index in sorted(blocks)]
    return message


def _events(stream: str) -> list[str]:
    """The `data:` of each server-sent event (the lines of one event joined)."""
    events, data = [], []
    for line in stream.splitlines() + [""]:
        if not line.strip():
            if data:
                events.append("\n".join(data))
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    return events


def _index(event: dict[str, Any]) -> int:
    index = event.get("index")
    return index if isinstance(index, int) else 0


def _delta(block: dict[str, Any], delta: dict[str, Any], pieces: list[str]) -> None:
    kind = delta.get("type")
    if kind == "text_delta":
        block["text"] = str(block.get("text") or "") + str(delta.get("text") or "")
    elif kind == "thinking_delta":
        block["thinking"] = str(block.get("thinking") or "") + str(delta.get("thinking") or "")
    elif kind == "signature_delta":
        block["signature"] = str(block.get("signature") or "") + str(delta.get("signature") or "")
    elif kind == "input_json_delta":
        pieces.append(str(delta.get("partial_json") or ""))
    elif kind == "citations_delta":
        block.setdefault("citations", []).append(delta.get("citation"))


def _date(response: dict[str, Any]) -> datetime | None:
    """When the server answered (its `Date` header), as naive UTC."""
    headers = response.get("headers") if isinstance(response.get("headers"), dict) else {}
    value = headers.get("Date") or headers.get("date")
    value = value[0] if isinstance(value, list) and value else value
    try:
        moment = parsedate_to_datetime(value) if isinstance(value, str) else None
    except (TypeError, ValueError, IndexError):
        return None
    if moment is not None and moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


FORMAT = Format(NAME, "recorded Anthropic API calls (vcrpy cassette)", sniff, read, extensions=(".yaml", ".yml"))
