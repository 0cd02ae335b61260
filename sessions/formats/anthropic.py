"""Anthropic Messages API JSON: a request body, a bare message list, or a response object.

Accepted shapes: a request body (`{"model", "system", "messages", "tools", ...}`); a bare list
of messages whose content uses Anthropic blocks; a response (`{"type": "message", "role":
"assistant", "content", "usage", ...}`); and `{"request": ..., "response": ...}`, the response
appended as the last assistant message. A plain `[{"role", "content": "text"}]` list is the
OpenAI format's: detection takes a file only on a marker that is Anthropic's alone (a
top-level `system` beside `messages`, tools with `input_schema`, a response's `"type":
"message"`, or blocks of type tool_use, tool_result, thinking, redacted_thinking, or an image
with a `source`).

`message_items` is the one conversion of Anthropic content blocks, shared with the Claude
Code reader and the cassette reader: text becomes content, `thinking` the reasoning part
(signed and redacted blocks kept in `extra["thinking_blocks"]`, which the engine sends back to
Anthropic models), `tool_use` OpenAI-shaped tool calls, `tool_result` tool messages (with
`is_error`), images OpenAI image parts, and any other block an attachment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sessions.formats.conversation import (
    Conversation, Format, ImportedMessage, Invalid, ModelCall, Parsed, Sniff, match, near, no,
)
from sessions.formats.jsonio import pointer
from sessions.formats.openai_chat import tool_definitions
from sessions.formats.source import Sample, Source

NAME = "anthropic"
MARKER_BLOCKS = frozenset({"tool_use", "tool_result", "thinking", "redacted_thinking"})
REQUEST_KEYS = ("max_tokens", "temperature", "top_p", "top_k", "stop_sequences", "thinking", "tool_choice",
                "metadata", "stream", "service_tier")
STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls", "max_tokens": "length",
                "refusal": "content_filter"}
PROMPT_PARTS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")  # together: the prompt
USAGE_KEYS = {"output_tokens": "completion_tokens", "cache_read_input_tokens": "cache_read_tokens",
              "cache_creation_input_tokens": "cache_write_tokens"}
TEXT_JOIN = "\n\n"  # separate text blocks of one message are separate paragraphs


# ---- content blocks (shared with claude_code and anthropic_cassette) ------------------------


@dataclass
class _Parts:
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    thinking_blocks: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    tool_fields: dict[str, Any] = field(default_factory=dict)  # a tool_use block's other fields, by call id
    results: list[ImportedMessage] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    citations: list[Any] = field(default_factory=list)


def message_items(role: Any, content: Any, where: str, warnings: list[str]) -> list[ImportedMessage] | Invalid:
    """One Anthropic message as the workbench's messages, or why it cannot be one.

    A user message's tool_result blocks become tool messages, first (the API puts them first),
    and whatever else it holds a user message after them; an assistant message is one message.
    """
    if role not in ("user", "assistant", "system"):
        return Invalid(where, f"role {str(role)[:20]!r} is not user or assistant")
    if content is None:
        content = ""
    if isinstance(content, dict):  # a single block where a list belongs
        content = [content]
    if not isinstance(content, (str, list)):
        return Invalid(where, f"content must be text or a list of content blocks, not {type(content).__name__}")
    parts = _Parts()
    if isinstance(content, str):
        parts.text.append(content)
    else:
        for index, block in enumerate(content):
            problem = _block(parts, block, f"{where}/content/{index}", role, warnings)
            if problem:
                return problem
    extra: dict[str, Any] = {}
    if parts.thinking_blocks:
        extra["thinking_blocks"] = parts.thinking_blocks
    if parts.tool_fields:
        extra["tool_use_fields"] = parts.tool_fields
    if parts.citations:
        extra["citations"] = parts.citations
    if role != "assistant" and parts.reasoning:  # thinking outside an assistant turn: kept, not as reasoning
        extra["reasoning"] = TEXT_JOIN.join(parts.reasoning)
    rest = bool(parts.text or parts.attachments or parts.tool_calls or parts.reasoning or parts.thinking_blocks)
    if parts.results and not rest:
        return parts.results
    message = ImportedMessage(
        role=role, content=TEXT_JOIN.join(parts.text) if parts.text else ("" if not parts.tool_calls else None),
        reasoning=TEXT_JOIN.join(parts.reasoning) if role == "assistant" and parts.reasoning else None,
        tool_calls=parts.tool_calls or None, attachments=parts.attachments, extra=extra, position=where)
    return parts.results + [message]


def _block(parts: _Parts, block: Any, where: str, role: str, warnings: list[str]) -> Invalid | None:
    if isinstance(block, str):
        parts.text.append(block)
        return None
    if not isinstance(block, dict):
        return Invalid(where, f"a content block must be an object, not {type(block).__name__}")
    kind = block.get("type")
    if kind == "text":
        parts.text.append(_text(block.get("text"), where, warnings))
        if block.get("citations"):
            parts.citations.append(block["citations"])
    elif kind == "thinking":
        thinking = _text(block.get("thinking"), where, warnings)
        if thinking:
            parts.reasoning.append(thinking)
        if isinstance(block.get("signature"), str) and block["signature"]:
            parts.thinking_blocks.append({"type": "thinking", "thinking": thinking, "signature": block["signature"]})
    elif kind == "redacted_thinking":  # encrypted: no text to show, but the model wants it back
        parts.thinking_blocks.append({"type": "redacted_thinking", "data": block.get("data")})
    elif kind == "tool_use" and role == "assistant":
        if not isinstance(block.get("name"), str):
            return Invalid(where, 'a tool_use block needs a "name"')
        call_id = block.get("id") if isinstance(block.get("id"), str) else None
        arguments = block.get("input", {})
        parts.tool_calls.append({"id": call_id, "type": "function", "function": {
            "name": block["name"], "arguments": json.dumps(arguments, ensure_ascii=False)}})
        others = {key: value for key, value in block.items() if key not in ("type", "id", "name", "input")}
        if others:
            parts.tool_fields[call_id or str(len(parts.tool_calls))] = others
    elif kind == "tool_result" and role == "user":
        parts.results.append(_tool_result(block, where, warnings))
    else:
        attachment = attachment_of(block)
        parts.attachments.append(attachment)
    return None


def _tool_result(block: dict[str, Any], where: str, warnings: list[str]) -> ImportedMessage:
    content, texts, attachments = block.get("content"), [], []
    if isinstance(content, (dict, str)) or content is None:
        content = [content] if content is not None else []
    if not isinstance(content, list):
        warnings.append(f"{where}: a tool result's content is {type(content).__name__}; kept as JSON text")
        content = [json.dumps(content)]
    for index, part in enumerate(content):
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type") == "text":
            texts.append(_text(part.get("text"), f"{where}/content/{index}", warnings))
        elif isinstance(part, dict):
            attachments.append(attachment_of(part))
        else:
            warnings.append(f"{where}/content/{index}: a {type(part).__name__} in a tool result; kept as JSON text")
            texts.append(json.dumps(part))
    call_id = block.get("tool_use_id")
    extra = {"is_error": bool(block["is_error"])} if block.get("is_error") is not None else {}
    return ImportedMessage(role="tool", content="\n".join(texts), attachments=attachments, extra=extra,
                           tool_call_id=call_id if isinstance(call_id, str) else None, position=where)


def attachment_of(block: dict[str, Any]) -> dict[str, Any]:
    """A block the message text has no place for: an image as an OpenAI image part (sendable),
    anything else kept whole under `block`, with a `type` saying what it was."""
    source = block.get("source") if isinstance(block.get("source"), dict) else {}
    if block.get("type") == "image" and source.get("type") == "base64" and isinstance(source.get("data"), str):
        media = source.get("media_type") if isinstance(source.get("media_type"), str) else "image/png"
        return {"type": "image_url", "image_url": {"url": f"data:{media};base64,{source['data']}"}}
    if block.get("type") == "image" and source.get("type") == "url" and isinstance(source.get("url"), str):
        return {"type": "image_url", "image_url": {"url": source["url"]}}
    kind = block.get("type") if isinstance(block.get("type"), str) else "unknown"
    return {"type": f"anthropic_{kind}", "block": block}


def _text(value: Any, where: str, warnings: list[str]) -> str:
    if isinstance(value, str):
        return value
    warnings.append(f"{where}: text is {type(value).__name__}, not a string; kept as JSON text")
    return json.dumps(value, ensure_ascii=False) if value is not None else ""


def usage_of(usage: Any) -> dict[str, int]:
    """Anthropic usage in the workbench's (litellm's and OpenAI's) names: prompt_tokens is every token
    the prompt held (`input_tokens`, which leaves the cache out, plus the tokens read from and
    written to the cache), with cache_read_tokens and cache_write_tokens also given apart."""
    if not isinstance(usage, dict):
        return {}
    counts = {key: value for key, value in usage.items() if _is_count(value)}
    out: dict[str, int] = {}
    if any(part in counts for part in PROMPT_PARTS):
        out["prompt_tokens"] = sum(counts.get(part, 0) for part in PROMPT_PARTS)
    out.update({ours: counts[theirs] for theirs, ours in USAGE_KEYS.items() if theirs in counts})
    details = usage.get("output_tokens_details")
    if isinstance(details, dict) and _is_count(details.get("thinking_tokens")):
        out["reasoning_tokens"] = details["thinking_tokens"]
    return out


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def model_call(message: dict[str, Any]) -> ModelCall | None:
    """The call behind a response (`model`, `usage`, `stop_reason`), if it names its model."""
    model = message.get("model")
    if not isinstance(model, str) or not model or model == "<synthetic>":
        return None
    reason = message.get("stop_reason")
    finish = STOP_REASONS.get(reason, reason) if isinstance(reason, str) else "stop"
    return ModelCall(model=model, usage=usage_of(message.get("usage")), finish_reason=finish)


def response_items(response: dict[str, Any], where: str, warnings: list[str]) -> list[ImportedMessage] | Invalid:
    """A response object as its assistant message, with the call that made it."""
    items = message_items(response.get("role", "assistant"), response.get("content"), where, warnings)
    if isinstance(items, Invalid):
        return items
    for item in items:
        if item.role == "assistant":
            item.call = model_call(response)
            for key in ("id", "stop_reason", "stop_sequence"):
                if response.get(key) is not None:
                    item.extra[key] = response[key]
    return items


# ---- the Messages JSON format ------------------------------------------------------------------


def has_blocks(messages: Any) -> bool:
    """Whether a message list uses content blocks only Anthropic's API has."""
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else ():
            if isinstance(block, dict) and (block.get("type") in MARKER_BLOCKS
                                            or (block.get("type") == "image" and "source" in block)):
                return True
    return False


def anthropic_roles(messages: list[Any], allowed: tuple[str, ...] = ("user", "assistant")) -> bool:
    """Whether every message is an object with one of Anthropic's roles (a Letta agent's or an
    OpenAI list's "tool" and "system" messages are not)."""
    return all(isinstance(message, dict) and message.get("role") in allowed for message in messages)


def is_request(value: Any, partial: bool = False) -> bool:
    """Whether `value` is a Messages request (`partial`: a sample cut short, its last message maybe unfinished)."""
    if not isinstance(value, dict) or not isinstance(value.get("messages"), list):
        return False
    messages = value["messages"][:-1] if partial else value["messages"]
    if not anthropic_roles(messages):
        return False
    tools = value.get("tools") if isinstance(value.get("tools"), list) else []
    return ("system" in value or any(isinstance(tool, dict) and "input_schema" in tool for tool in tools)
            or has_blocks(messages))


def is_response(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "message" and value.get("role") == "assistant" \
        and isinstance(value.get("content"), list)


def sniff(sample: Sample) -> Sniff:
    value = sample.value
    if sample.shape == "object" and isinstance(value, dict):
        if is_request(value, partial=not sample.complete):
            return match("an Anthropic Messages request")
        if is_response(value):
            return match("an Anthropic Messages response")
        if isinstance(value.get("request"), dict) and is_request(value["request"], partial=not sample.complete):
            return match("an Anthropic request with its response")
        if isinstance(value.get("messages"), list) and not anthropic_roles(value["messages"]):
            if has_blocks(value["messages"]):
                return near(60, "Anthropic content blocks, but messages with roles other than user and assistant")
            return no('messages with roles other than user and assistant (Anthropic requests have only those)')
        if isinstance(value.get("messages"), list):
            return no('messages with no Anthropic marker (no "system", no tools with "input_schema", '
                      "no tool_use, tool_result or thinking blocks): the OpenAI format's")
        if value.get("type") == "message":
            return near(60, '"type": "message" but no assistant "role" with a "content" list')
        return no('an object without "messages"')
    if sample.shape == "array":
        whole = value[:-1] if not sample.complete and len(value) > 1 else value  # the last may be cut off
        if value and anthropic_roles(whole, ("user", "assistant", "system")) and has_blocks(value):
            return match("a message list with Anthropic content blocks")
        if value and isinstance(value[0], dict) and "role" in value[0]:
            return no("messages without Anthropic content blocks (tool_use, tool_result, thinking): "
                      "the OpenAI format's")
        return no("array items are not messages")
    return no(f"not a JSON object or array ({sample.shape})")


def read(source: Source) -> Parsed:
    for found in _read(source):
        if isinstance(found, Conversation) and not found.messages:
            yield Invalid(found.position or "/", "no messages: the system prompt and the message list are empty")
        else:
            yield found


def _read(source: Source) -> Parsed:
    document = source.document()
    title = Path(source.name).stem or "Imported"
    if isinstance(document, list):  # a bare message list: positions are /0, /1, ...
        yield conversation({"messages": document}, title, messages_at="")
    elif isinstance(document, dict) and isinstance(document.get("request"), dict):
        response = document.get("response") if isinstance(document.get("response"), dict) else None
        if not isinstance(document["request"].get("messages"), list):
            yield Invalid("/request", '"messages" must be a list of messages')
        else:
            yield conversation(document["request"], title, "/request", response, response_at="/response")
    elif is_response(document):
        yield conversation({"messages": [], "model": document.get("model")}, title, response=document)
    elif isinstance(document, dict) and isinstance(document.get("messages"), list):
        yield conversation(document, title)
    else:
        yield Invalid("/", 'expected a Messages request ("messages" a list), a message list or a response')


def conversation(request: dict[str, Any], title: str, prefix: str = "", response: dict[str, Any] | None = None,
                 key: str = "/", messages_at: str = "messages", response_at: str = "/") -> Conversation | Invalid:
    """A request (its system prompt, messages and tools) and optionally the response to it. Positions
    are `prefix` + /system, /messages/N (`messages_at` "" for a bare list: /N), and `response_at`."""
    warnings: list[str] = []
    items: list[ImportedMessage] = []
    system = request.get("system")
    if system is not None and system != "" and system != []:
        found = message_items("system", system, f"{prefix}/system", warnings)
        if isinstance(found, Invalid):
            return found
        items += found
    messages = request["messages"]
    for index, message in enumerate(messages):
        where = prefix + (pointer(messages_at, index) if messages_at else pointer(index))
        if not isinstance(message, dict):
            return Invalid(where, "a message must be an object with a role and content")
        found = message_items(message.get("role"), message.get("content"), where, warnings)
        if isinstance(found, Invalid):
            return found
        items += found
    if response is not None:
        found = response_items(response, response_at, warnings)
        if isinstance(found, Invalid):
            return found
        items += found
    model = request.get("model") if isinstance(request.get("model"), str) else None
    attributes = {name: request[name] for name in REQUEST_KEYS if name in request}
    return Conversation(key=key, title=first_text(items) or title, items=items, model=model,
                        tools=tool_definitions(request.get("tools")), attributes=attributes,
                        warnings=warnings, position=prefix or "/")


def first_text(items: list[Any], limit: int = 80) -> str | None:
    """A title from the first user message's text."""
    for item in items:
        if isinstance(item, ImportedMessage) and item.role == "user" and isinstance(item.content, str):
            line = " ".join(item.content.split())
            if line:
                return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
    return None


FORMAT = Format(NAME, "Anthropic Messages JSON", sniff, read, extensions=(".json",))
