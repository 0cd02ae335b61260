"""The messages a model span holds, in each convention that records them.

Tried in this order: GenAI message parts (`gen_ai.input.messages` / `gen_ai.output.messages` /
`gen_ai.system_instructions`, on the span or on its inference-details event), OpenInference's
flattened lists (`llm.input_messages.N.message.*`), OpenLLMetry's (`gen_ai.prompt.N.*`,
`gen_ai.completion.N.*`), the older per-message span events (`gen_ai.user.message`, ...,
`gen_ai.choice`), and a raw request and response (`input.value` / `output.value`, any-agent's
`gen_ai.output`). Each becomes OpenAI-shaped message dicts, for `openai_message` to read.
A message part this workbench wrote about itself (keys in `context_workbench.*`) is derived
data and is skipped.
"""

from __future__ import annotations

from typing import Any

from sessions.formats.jsonio import parsed_if_json
from sessions.formats.otlp_attributes import OURS, any_value, as_text, unflatten

EVENT_ROLES = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
               "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}
CONTENT_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")


def holds_messages(attributes: dict[str, Any], events: list[dict[str, Any]]) -> bool:
    """Whether a span with no known operation holds a conversation all the same."""
    prefixes = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.prompt.", "gen_ai.completion.",
                "llm.input_messages.", "llm.output_messages.")
    return any(key.startswith(prefixes) for key in attributes) or any(
        event["name"] in EVENT_ROLES or event["name"] == "gen_ai.choice"
        or any(key in event["attributes"] for key in CONTENT_KEYS) for event in events)


def span_messages(attributes: dict[str, Any], events: list[dict[str, Any]],
                  warnings: list[str]) -> tuple[list | None, list | None, str | None]:
    """(input, output, finish reason): OpenAI-shaped dicts, None where the span has no such messages."""
    for event in events:  # the current convention may carry the content on an event instead
        if any(key in event["attributes"] for key in CONTENT_KEYS):
            for key in CONTENT_KEYS:
                attributes.setdefault(key, event["attributes"].get(key))
    finish = None
    inputs = outputs = None
    system = parsed_if_json(attributes.get("gen_ai.system_instructions"))
    given = parsed_if_json(attributes.get("gen_ai.input.messages"))
    if isinstance(given, list) or system:
        instructions = [{"role": "system", "parts": system if isinstance(system, list) else [
            {"type": "text", "content": as_text(system)}]}] if system else []
        inputs = parts_messages(instructions + (given if isinstance(given, list) else []), warnings)
    given = parsed_if_json(attributes.get("gen_ai.output.messages"))
    if isinstance(given, list):
        outputs = parts_messages(given, warnings)
        finish = next((m.get("finish_reason") for m in given if isinstance(m, dict) and m.get("finish_reason")), None)
    if inputs is None:
        inputs = _flattened(attributes, "llm.input_messages") or _loop_messages(attributes, "gen_ai.prompt")
    if outputs is None:
        outputs = _flattened(attributes, "llm.output_messages") or _loop_messages(attributes, "gen_ai.completion")
        if outputs:
            finish = next((m.pop("finish_reason") for m in outputs if m.get("finish_reason")), finish)
    if inputs is None or outputs is None:
        event_in, event_out, event_finish = _event_messages(events)
        inputs, outputs = inputs if inputs is not None else event_in, outputs if outputs is not None else event_out
        finish = finish or event_finish
    if inputs is None or outputs is None:
        raw_in, raw_out, raw_finish = _raw_messages(attributes)
        inputs, outputs = inputs if inputs is not None else raw_in, outputs if outputs is not None else raw_out
        finish = finish or raw_finish
    return inputs, outputs, finish if isinstance(finish, str) else None


def parts_messages(messages: list[Any], warnings: list[str]) -> list[Any]:
    """GenAI `{role, parts}` messages as OpenAI dicts (a tool response becomes a tool message);
    a message in OpenAI's own shape (`content`, no `parts`) passes through."""
    found: list[Any] = []
    for message in messages:
        if not isinstance(message, dict) or "parts" not in message:
            found.append(message)
            continue
        text: list[dict[str, Any]] = []
        others: list[dict[str, Any]] = []
        reasoning, calls, results, compaction = [], [], [], False
        parts = message["parts"] if isinstance(message["parts"], list) else [message["parts"]]
        for part in parts:
            kind = part.get("type") if isinstance(part, dict) else None
            if isinstance(part, dict) and any(str(key).startswith(OURS) for key in part):
                continue  # our export's note of a summary or compaction, derived from the events
            if kind == "text":
                content = part.get("content", part.get("text"))
                if not isinstance(content, str):
                    warnings.append(f"a text part held {type(content).__name__}, imported as JSON text")
                text.append({"type": "text", "text": as_text(content)})
            elif kind in ("reasoning", "thinking"):
                reasoning.append(as_text(part.get("content", part.get("text"))))
            elif kind == "tool_call":
                calls.append({"id": part.get("id") if isinstance(part.get("id"), str) else None, "type": "function",
                              "function": {"name": as_text(part.get("name")), "arguments": as_text(part.get("arguments"))
                                           if part.get("arguments") is not None else "{}"}})
            elif kind == "tool_call_response":
                response = part.get("response", part.get("result"))
                results.append({"role": "tool", "tool_call_id": part.get("id") if isinstance(part.get("id"), str) else "",
                                "content": as_text(response)})
            elif kind == "compaction":
                compaction = True
                text.append({"type": "text", "text": as_text(part.get("content"))})
            else:
                others.append(dict(part) if isinstance(part, dict) else {"type": "unknown_part", "value": part})
        found += results
        if text or others or reasoning or calls or not results:
            item: dict[str, Any] = {"role": message.get("role"), "content": _content(text, others)}
            if calls:
                item["tool_calls"] = calls
            if reasoning:
                item["reasoning"] = "\n".join(reasoning)
            if isinstance(message.get("name"), str):
                item["name"] = message["name"]
            if compaction:
                item["compaction"] = True
            found.append(item)
    return found


def _content(text: list[dict[str, Any]], others: list[dict[str, Any]]) -> Any:
    if not others:
        return "\n".join(part["text"] for part in text) if text else None
    return text + others


def _flattened(attributes: dict[str, Any], prefix: str) -> list[dict[str, Any]] | None:
    """OpenInference's `llm.input_messages.N.message.*` as OpenAI dicts."""
    entries = unflatten(attributes, prefix)
    if not isinstance(entries, list):
        return None
    found = []
    for entry in entries:
        message = entry.get("message") if isinstance(entry, dict) else None
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if content is None and isinstance(message.get("contents"), list):
            content = []
            for item in message["contents"]:
                part = item.get("message_content") if isinstance(item, dict) else None
                if not isinstance(part, dict):
                    continue
                if part.get("type", "text") == "text":
                    content.append({"type": "text", "text": as_text(part.get("text"))})
                elif part.get("type") == "image" and isinstance(part.get("image"), dict):
                    url = (part["image"].get("image") or {}).get("url") if isinstance(part["image"].get("image"), dict) else None
                    content.append({"type": "image_url", "image_url": {"url": url}})
                else:
                    content.append(part)
        calls = []
        for item in message.get("tool_calls") or []:
            call = item.get("tool_call") if isinstance(item, dict) else None
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                calls.append({"id": call.get("id"), "type": "function", "function": {
                    "name": as_text(function.get("name")), "arguments": as_text(function.get("arguments") or "{}")}})
        found.append({"role": message.get("role"), "content": content, "tool_calls": calls or None,
                      "tool_call_id": message.get("tool_call_id"), "name": message.get("name")})
    return found


def _loop_messages(attributes: dict[str, Any], prefix: str) -> list[dict[str, Any]] | None:
    """OpenLLMetry's `gen_ai.prompt.N.role` / `.content` / `.tool_calls.M.name`."""
    entries = unflatten(attributes, prefix)
    if not isinstance(entries, list):
        return None
    found = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        calls = [{"id": call.get("id"), "type": "function", "function": {
            "name": as_text(call.get("name")), "arguments": as_text(call.get("arguments") or "{}")}}
            for call in entry.get("tool_calls") or [] if isinstance(call, dict)]
        message = {"role": entry.get("role") or ("assistant" if prefix.endswith("completion") else "user"),
                   "content": entry.get("content"), "tool_calls": calls or None, "tool_call_id": entry.get("tool_call_id")}
        if isinstance(entry.get("finish_reason"), str):
            message["finish_reason"] = entry["finish_reason"]
        found.append(message)
    return found


def _event_messages(events: list[dict[str, Any]]) -> tuple[list | None, list | None, str | None]:
    """The older per-message span events: gen_ai.user.message, ..., gen_ai.choice."""
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    finish = None
    for event in events:
        body = _event_body(event)
        if event["name"] in EVENT_ROLES:
            role = body.get("role") if isinstance(body.get("role"), str) else EVENT_ROLES[event["name"]]
            inputs.append({"role": role, "content": body.get("content"), "tool_calls": body.get("tool_calls") or None,
                           "tool_call_id": body.get("id") if role == "tool" else None})
        elif event["name"] == "gen_ai.choice":
            message = body.get("message") if isinstance(body.get("message"), dict) else body
            finish = finish or body.get("finish_reason")
            outputs.append({"role": "assistant", "content": message.get("content"),
                            "tool_calls": message.get("tool_calls") or None})
    return inputs or None, outputs or None, finish if isinstance(finish, str) else None


def _event_body(event: dict[str, Any]) -> dict[str, Any]:
    attributes = event["attributes"]
    body = event.get("body")
    if body is None:
        body = attributes.get("gen_ai.event.content", attributes.get("body"))
    body = parsed_if_json(any_value(body))
    if isinstance(body, dict):
        return body
    if isinstance(body, str):
        return {"content": body}
    return {key: parsed_if_json(value) for key, value in attributes.items() if not key.startswith("gen_ai.system")}


def _raw_messages(attributes: dict[str, Any]) -> tuple[list | None, list | None, str | None]:
    """A raw OpenAI request and response (input.value / output.value), or any-agent's gen_ai.output."""
    request, response = parsed_if_json(attributes.get("input.value")), parsed_if_json(attributes.get("output.value"))
    inputs = request["messages"] if isinstance(request, dict) and isinstance(request.get("messages"), list) else None
    outputs, finish = None, None
    if isinstance(response, dict) and isinstance(response.get("choices"), list) and response["choices"]:
        choice = response["choices"][0] if isinstance(response["choices"][0], dict) else {}
        outputs = [choice["message"]] if isinstance(choice.get("message"), dict) else None
        finish = choice.get("finish_reason")
    if outputs is None and "gen_ai.output" in attributes:
        value = parsed_if_json(attributes["gen_ai.output"])
        if isinstance(value, list) and value and all(isinstance(v, dict) and "tool.name" in v for v in value):
            outputs = [{"role": "assistant", "content": None, "tool_calls": [
                {"id": None, "type": "function", "function": {"name": as_text(v["tool.name"]),
                                                              "arguments": as_text(v.get("tool.args") or "{}")}}
                for v in value]}]
        else:
            outputs = [{"role": "assistant", "content": as_text(attributes["gen_ai.output"])}]
    if inputs is None and "gen_ai.input.messages" in attributes:
        value = parsed_if_json(attributes["gen_ai.input.messages"])
        inputs = value if isinstance(value, list) else None
    return inputs, outputs, finish if isinstance(finish, str) else None
