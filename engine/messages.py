"""Turning a message (as a caller or an OpenAI-format file gives it) into a `message_added` event.

OpenAI content may be a string, null, or a list of parts; text parts are joined into the
text we fragment and search, and other parts (images, audio) are kept as attachments and
rendered back unchanged. Tool-call arguments given as objects are stored as the JSON
string the API expects. Every string is normalized here (`engine.text.normalize_text`), the
door every message passes, so what is stored is what was seen.
"""

from __future__ import annotations

import json
from typing import Any

from engine.errors import MessageError
from engine.events import ROLES, MessageAdded
from engine.ids import derive_id
from engine.state import ContextState
from engine.text import normalize_text, normalize_value


def _split_content(content: Any) -> tuple[str | None, list[dict[str, Any]]]:
    if content is None or isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        raise MessageError(f"content must be a string, null or a list of parts, not {type(content).__name__}")
    texts, attachments = [], []
    for position, part in enumerate(content):
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part, dict):
            attachments.append(part)
        else:
            raise MessageError(f"content part {position} must be an object, not {type(part).__name__}")
    return "\n".join(texts), attachments


def _normalize_tool_calls(tool_calls: Any, message_id: str) -> list[dict[str, Any]]:
    """Calls in OpenAI's shape; a call without an id gets `call_<message>_<n>`."""
    if not isinstance(tool_calls, list):
        raise MessageError("tool_calls must be a list of calls")
    normalized = []
    for position, call in enumerate(tool_calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise MessageError(
                f"tool call {position} must look like "
                '{"id": "call_1", "type": "function", "function": {"name": "...", "arguments": "{}"}}'
            )
        arguments = function.get("arguments", "")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        call_id = call.get("id") or f"call_{message_id}_{position + 1}"
        if not isinstance(call_id, str):
            raise MessageError(f"tool call {position}: id must be a string")
        normalized.append(
            {
                **call,
                "id": call_id,
                "type": call.get("type", "function"),
                "function": {**function, "arguments": arguments},
            }
        )
    return normalized


def coerce_model_tool_calls(tool_calls: Any, taken: set[str] | frozenset = frozenset(), suffix: str = "") -> list[dict[str, Any]]:
    """A model's tool calls in a shape that can be stored and answered, whatever it sent.

    Unlike a person's input, a model's malformed call is not refused: it is kept (coerced
    to OpenAI's shape) so the registry can answer it with an error the model can read.
    Missing or repeated ids (within the list, or among `taken`: ids already in the
    conversation) are made unique, so each result pairs with exactly one call.
    """
    calls = tool_calls if isinstance(tool_calls, list) else [tool_calls]
    coerced, seen = [], set()
    for position, call in enumerate(calls, start=1):
        call = call if isinstance(call, dict) else {"function": {"name": "", "arguments": json.dumps(call, default=repr)}}
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        name = function.get("name") if isinstance(function.get("name"), str) else ""
        arguments = function.get("arguments", "")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, default=repr, ensure_ascii=False)
        call_id = call.get("id") if isinstance(call.get("id"), str) and call.get("id") else f"call_{position}"
        if call_id in seen or call_id in taken:
            call_id = f"{call_id}_{suffix or position}"
        while call_id in seen or call_id in taken:
            call_id = f"{call_id}_{position}"
        seen.add(call_id)
        coerced.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}})
    return coerced


def _text_keys(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"the key {key!r} is not text")
            _text_keys(item)
    elif isinstance(value, list):
        for item in value:
            _text_keys(item)


def _require_json(value: Any, what: str) -> None:
    """Refuse what the store cannot give back as it was: bytes, NaN, infinities, keys that are not text."""
    try:
        _text_keys(value)
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise MessageError(f"{what} must be JSON data (text, numbers, true/false, null, lists, objects): {exc}") from None
    except RecursionError:
        raise MessageError(f"{what} is nested too deeply to store") from None


def new_message(
    state: ContextState,
    role: str,
    content: Any,
    *,
    name: str | None = None,
    tool_calls: Any = None,
    tool_call_id: str | None = None,
    extra: dict[str, Any] | None = None,
    reasoning: str | None = None,
    stopped: bool = False,
    attachments: list[dict[str, Any]] | None = None,
) -> MessageAdded:
    """The event that adds this message after the messages in `state`.

    `reasoning` is an assistant's thinking before its reply, kept as its own part;
    `stopped` marks a reply cut short (its content is what had arrived). `attachments` are
    parts kept beside the text (an import's images, files, unknown blocks), after any that
    `content` holds.
    """
    if role not in ROLES:
        raise MessageError(f"role {str(role)[:40]!r} is not one of {', '.join(ROLES)}")
    message_id = state.next_message_id()
    try:
        content, name, tool_call_id, tool_calls, extra, attachments = (
            normalize_value(value) for value in (content, name, tool_call_id, tool_calls, extra, attachments)
        )
    except ValueError as exc:  # nested past the recursion limit
        raise MessageError(f"the message is {exc}") from None
    for value, what in ((content, "content"), (tool_calls, "tool_calls"), (extra, "the message's other fields"),
                        (attachments, "attachments")):
        _require_json(value, what)
    if attachments is not None and not (isinstance(attachments, list) and all(isinstance(a, dict) for a in attachments)):
        raise MessageError("attachments must be a list of objects")
    text, parts = _split_content(content)
    attachments = parts + list(attachments or [])
    if reasoning is not None:
        if not isinstance(reasoning, str):
            raise MessageError("reasoning must be text")
        if role != "assistant":
            raise MessageError("only assistant messages carry reasoning")
        reasoning = normalize_text(reasoning) or None
    if tool_calls == []:
        tool_calls = None  # an empty list is not valid in the OpenAI format; it means no calls
    if tool_calls is not None:
        if role != "assistant":
            raise MessageError("only assistant messages carry tool_calls")
        tool_calls = _normalize_tool_calls(tool_calls, message_id)
    if role == "tool" and not isinstance(tool_call_id, str):
        raise MessageError("a tool message needs tool_call_id: the id of the call it answers")
    if tool_call_id is not None and not isinstance(tool_call_id, str):
        raise MessageError("tool_call_id must be a string")
    if name is not None and not isinstance(name, str):
        raise MessageError("name must be a string")
    fragment_id = None
    if text:
        fragment_id = derive_id("f", f"message:{state.event_count}:{message_id}", state.fragment_owner)
    return MessageAdded(
        message_id=message_id,
        role=role,
        content=text,
        fragment_id=fragment_id,
        name=name,
        tool_calls=tool_calls,
        tool_call_id=tool_call_id,
        attachments=attachments,
        extra=dict(extra or {}),
        reasoning=reasoning,
        stopped=bool(stopped),
    )
