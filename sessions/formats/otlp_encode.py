"""The pieces of our OTLP export: OTLP/JSON values, GenAI message parts, and what keeps them exact.

A message becomes the conventions' `{role, parts}` with the text the model saw (fold markers
and summaries in place). What the parts cannot say (the message's seq, time and ids, its
original text where that differs, extra fields, a stopped reply) goes in the message's own
`context_workbench.message` object: `parts_fields(item)` is what any reader gets from the
parts, and the object holds exactly the fields where the event differs from that, so our
importer rebuilds each `message_added` as it was.

Values that look like URLs lose their user name, password, query and fragment, and fields
named like secrets are redacted, wherever an event's payload is written.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import datetime, timedelta
from typing import Any

from engine.records import format_ts
from engine.state import Message
from engine.text import printable
from sessions.formats.otlp_attributes import OURS, PROVIDERS
from sessions.formats.otlp_send import shown_url

KIND_INTERNAL, KIND_CLIENT = 1, 3
STATUS_ERROR = 2
EPOCH = datetime(1970, 1, 1)
SCOPE = "context_workbench.otlp_export"
VERSION = "2"  # 2: each message and event carries what rebuilds it exactly
MESSAGE_KEY = OURS + "message"
SECRET = re.compile(r"api[_-]?key|secret|password|token$|authorization|credential", re.IGNORECASE)
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
URL_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*")
# ours (and other APIs') finish reasons -> the conventions' (stop, length, content_filter, tool_call, error)
FINISH = {"tool_calls": "tool_call", "function_call": "tool_call", "tool_use": "tool_call", "end_turn": "stop",
          "stop_sequence": "stop", "stopped": "stop", "max_tokens": "length", "refusal": "content_filter"}


def finish_reason(reason: str | None) -> str:
    return FINISH.get(str(reason or "stop"), str(reason or "stop"))


def request_model(model: str | None) -> str | None:
    """The model as its provider names it: litellm's provider prefix taken off (the provider is
    `gen_ai.provider.name`)."""
    if not isinstance(model, str):
        return model
    prefix, slash, rest = model.partition("/")
    return rest if slash and rest and prefix.lower() in PROVIDERS else model


# ---- messages -------------------------------------------------------------------------------------


def message_item(message: Message, text: str | None,
                 added: tuple[int, datetime, dict[str, Any], dict[str, Any] | None] | None) -> dict[str, Any]:
    """A message as `{role, parts}` with `text` (what the model saw) as its text, and the
    `context_workbench.message` object that makes it exact."""
    parts: list[dict[str, Any]] = []
    if message.reasoning:
        parts.append({"type": "reasoning", "content": message.reasoning})
    if message.role == "tool":
        parts.append({"type": "tool_call_response", "id": message.tool_call_id, "response": text or ""})
    elif text is not None:
        parts.append({"type": "text", "content": text})
    for call in message.tool_calls or ():
        function = call.get("function") or {}
        parts.append({"type": "tool_call", "id": call.get("id"), "name": function.get("name"),
                      "arguments": function.get("arguments")})
    parts += [dict(attachment) for attachment in message.attachments]  # kept whole, as generic parts
    item: dict[str, Any] = {"role": message.role, "parts": parts}
    if message.name is not None:
        item["name"] = message.name
    if added is not None:
        seq, moment, payload, actor = added
        rebuilt = parts_fields(item)
        item[MESSAGE_KEY] = {"seq": seq, "ts": format_ts(moment), **({"actor": actor} if actor else {}),
                             **{key: value for key, value in payload.items() if rebuilt.get(key, DEFAULTS.get(key)) != value}}
    return item


DEFAULTS: dict[str, Any] = {"attachments": [], "extra": {}, "stopped": False}


def parts_fields(item: dict[str, Any]) -> dict[str, Any]:
    """The `message_added` fields a `{role, parts}` message gives: role, content, reasoning,
    tool calls, the tool call it answers, attachments, name (parts of ours about it skipped)."""
    content, reasoning, calls, answered, attachments = None, None, [], None, []
    for part in item.get("parts") if isinstance(item.get("parts"), list) else []:
        if not isinstance(part, dict) or any(str(key).startswith(OURS) for key in part):
            continue
        kind = part.get("type")
        if kind == "text" and content is None:
            content = part.get("content")
        elif kind == "reasoning" and reasoning is None:
            reasoning = part.get("content")
        elif kind == "tool_call_response" and content is None:
            answered, content = part.get("id"), part.get("response")
        elif kind == "tool_call":
            calls.append({"id": part.get("id"), "type": "function",
                          "function": {"name": part.get("name"), "arguments": part.get("arguments")}})
        else:
            attachments.append(dict(part))
    found = {"role": item.get("role"), "content": content, "reasoning": reasoning, "tool_calls": calls or None,
             "tool_call_id": answered, "attachments": attachments, "name": item.get("name")}
    return found


def definition(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool.get("function") if isinstance(tool.get("function"), dict) else tool
    found = {"type": tool.get("type", "function"), "name": function.get("name")}
    for key in ("description", "parameters"):
        if function.get(key) is not None:
            found[key] = function[key]
    return found


def usage_attributes(usage: dict[str, int]) -> dict[str, int]:
    names = {"prompt_tokens": ("gen_ai.usage.input_tokens",), "completion_tokens": ("gen_ai.usage.output_tokens",),
             "cache_read_tokens": ("gen_ai.usage.cache_read.input_tokens",),
             "cache_write_tokens": ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_write.input_tokens"),
             "reasoning_tokens": ("gen_ai.usage.reasoning.output_tokens",)}
    return {name: int(usage[key]) for key, targets in names.items() if key in usage for name in targets}


# ---- what must not be written ------------------------------------------------------------------------


def redacted(value: Any) -> Any:
    """A payload with fields named like secrets redacted, and every URL cut to scheme, host and path."""
    if isinstance(value, dict):
        return {key: "[redacted]" if SECRET.search(str(key)) and value[key] else redacted(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [redacted(item) for item in value]
    if isinstance(value, str) and URL_LIKE.fullmatch(value.strip()):
        return shown_url(value.strip())
    return value


# ---- OTLP/JSON values -----------------------------------------------------------------------------


def span_body(trace: str, span_id: str, parent: str | None, name: str, kind: int, start: int, end: int,
              attributes: dict[str, Any], events: list[dict[str, Any]] | None = None,
              status: dict[str, Any] | None = None) -> dict[str, Any]:
    span = {"traceId": trace, "spanId": span_id, "name": printable(name), "kind": kind,
            "startTimeUnixNano": str(start), "endTimeUnixNano": str(max(start, end)),
            "attributes": attribute_list(attributes)}
    if parent:
        span["parentSpanId"] = parent
    if events:
        span["events"] = events
    if status:
        span["status"] = status
    return span


def attribute_list(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": any_value(value)} for key, value in values.items() if value is not None]


def any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value} if math.isfinite(value) else {"stringValue": str(value)}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(item) for item in value if item is not None]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": attribute_list(value)}}
    return {"stringValue": printable(str(value))}


def as_json(value: Any) -> str:
    """JSON text; a lone surrogate (which UTF-8 cannot carry) as a `\\udXXX` escape, so it reads back as it was."""
    return LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False, default=str))


def digest(seed: str, size: int) -> str:
    found = hashlib.sha256(seed.encode("utf-8", "surrogatepass")).hexdigest()[: size * 2]
    return found if set(found) != {"0"} else "1".rjust(size * 2, "0")


def ns(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000
