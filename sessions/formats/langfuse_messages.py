"""Messages as Langfuse observations hold them: a generation's `input` and `output`.

Langfuse stores what the instrumented code logged, so one trace may hold OpenAI Chat
Completions messages, Vercel AI SDK messages (content parts `text`, `tool-call`,
`tool-result`, `reasoning`, `image`, `file`), Anthropic-style blocks (`tool_use`,
`tool_result`, `thinking`), a request body (`{"messages": [...], "system": ...}`), a whole
Chat Completions response, or plain text. All of them come out as `ImportedMessage`s;
parts that have no place in a message are kept as attachments. `signature` is what two
copies of one message share however each was logged, so a generation's input (which
repeats the conversation so far) adds only the messages that are new. A generation's
figures (usage, cost, finish reason) are read here too, from Langfuse's fields first and
then from the OTel attributes, whose numbers are text.
"""

from __future__ import annotations

import json
import math
from typing import Any

from sessions.formats.conversation import ImportedMessage, Invalid
from sessions.formats.jsonio import parsed_if_json
from sessions.formats.openai_chat import openai_message

CALL_PARTS = {"tool-call", "tool_use"}
RESULT_PARTS = {"tool-result", "tool_result"}
REASONING_PARTS = {"reasoning", "thinking"}
SPECIAL_PARTS = CALL_PARTS | RESULT_PARTS | REASONING_PARTS


def loads(value: Any) -> Any:
    """A field Langfuse may give as JSON text (objects, lists or a quoted string): parsed when it is JSON."""
    return parsed_if_json(value, '{["')


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def input_messages(value: Any, where: str, warnings: list[str]) -> list[ImportedMessage] | Invalid:
    """The messages a generation was given."""
    value = loads(value)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [ImportedMessage("user", value, position=where)]
    if isinstance(value, dict):
        found: list[ImportedMessage] = []
        for key in ("system", "instructions"):
            if isinstance(value.get(key), str) and value[key].strip():
                found.append(ImportedMessage("system", value[key], position=where))
        listed = value.get("messages", value.get("input"))
        if isinstance(listed, (list, str)):
            rest = input_messages(listed, where, warnings)
            if isinstance(rest, Invalid):
                return rest
            found += rest
        elif "role" in value:
            return message_list([value], where)
        if isinstance(value.get("prompt"), str):
            found.append(ImportedMessage("user", value["prompt"], position=where))
        if found:
            return found
    if isinstance(value, list) and value and all(isinstance(item, dict) and "role" in item for item in value):
        return message_list(value, where)
    if isinstance(value, list) and value and all(isinstance(item, dict) and "type" in item for item in value):
        return parts_messages("user", value, where)
    warnings.append(f"{where}: the input is not a message list; kept as one user message of JSON text")
    return [ImportedMessage("user", as_text(value), position=where)]


def output_messages(value: Any, where: str, warnings: list[str]) -> list[ImportedMessage] | Invalid:
    """The reply a generation gave."""
    value = loads(value)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [ImportedMessage("assistant", value, position=where)]
    if isinstance(value, dict):
        choices = value.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else None
        if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
            return message_list([{"role": "assistant", **choice["message"]}], where)
        if "role" in value:
            return message_list([value], where)
        if any(key in value for key in ("content", "text", "toolCalls", "tool_calls")):
            content = value.get("content", value.get("text"))
            found = parts_messages("assistant", content, where) if isinstance(content, list) else [
                ImportedMessage("assistant", content if isinstance(content, str) else None, position=where)]
            calls = tool_calls(value.get("toolCalls") or value.get("tool_calls"))
            if calls:
                found[0].tool_calls = (found[0].tool_calls or []) + calls
            return found
    if isinstance(value, list) and value and all(isinstance(item, dict) and "role" in item for item in value):
        return message_list(value, where)
    if isinstance(value, list) and value and tool_calls(value) and len(tool_calls(value)) == len(value):
        return [ImportedMessage("assistant", None, tool_calls=tool_calls(value), position=where)]
    if isinstance(value, list) and value and all(isinstance(item, dict) and "type" in item for item in value):
        return parts_messages("assistant", value, where)
    warnings.append(f"{where}: the output is not a message; kept as an assistant message of JSON text")
    return [ImportedMessage("assistant", as_text(value), position=where)]


def message_list(items: list[dict[str, Any]], where: str) -> list[ImportedMessage] | Invalid:
    found: list[ImportedMessage] = []
    for index, item in enumerate(items):
        here = f"{where} message [{index}]" if len(items) > 1 else where
        content = item.get("content")
        if isinstance(content, list) and any(_kind(part) in SPECIAL_PARTS | {"image", "file"} for part in content):
            if not isinstance(item.get("role"), str):
                return Invalid(here, 'the message has no "role"')
            found += parts_messages(item["role"], content, here)
            continue
        if not isinstance(item.get("role"), str):
            return Invalid(here, 'the message has no "role" that is text')
        message = openai_message(item, here)
        if isinstance(message, Invalid):
            return message
        found.append(message)
    return found


def parts_messages(role: str, parts: list[Any], where: str) -> list[ImportedMessage]:
    """One message from content parts, or several: tool results become tool messages."""
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    results: list[ImportedMessage] = []
    attachments: list[dict[str, Any]] = []
    for part in parts:
        kind = _kind(part)
        if isinstance(part, str):
            texts.append(part)
        elif kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind in REASONING_PARTS and isinstance(part.get("text", part.get("thinking")), str):
            reasoning.append(part.get("text", part.get("thinking")))
        elif kind in CALL_PARTS:
            calls += tool_calls([part])
        elif kind in RESULT_PARTS:
            results.append(_result(part, where))
        else:
            attachments.append(part if isinstance(part, dict) and kind else {"type": "unknown part", "part": part})
    found = list(results)
    if texts or calls or reasoning or attachments or not results:
        speaker = "user" if role == "tool" else role
        message = ImportedMessage(speaker, "\n".join(texts) if texts else None, tool_calls=calls or None,
                                  attachments=attachments, position=where)
        if reasoning and speaker == "assistant":
            message.reasoning = "\n\n".join(reasoning)
        elif reasoning:
            message.extra["reasoning"] = "\n\n".join(reasoning)
        found.append(message)
    return found


def _kind(part: Any) -> str | None:
    kind = part.get("type") if isinstance(part, dict) else None
    return kind if isinstance(kind, str) else None


def _result(part: dict[str, Any], where: str) -> ImportedMessage:
    call_id = part.get("toolCallId", part.get("tool_use_id"))
    output = part.get("output", part.get("result", part.get("content")))
    attachments: list[dict[str, Any]] = []
    if isinstance(output, dict) and "value" in output and isinstance(output.get("type"), str):
        output = output["value"]  # Vercel AI SDK 5: {"type": "text" | "json" | "error-text", "value": ...}
    if isinstance(output, list) and all(isinstance(block, dict) for block in output):
        is_text = [block.get("type") == "text" and isinstance(block.get("text"), str) for block in output]
        texts = [block["text"] for block, text in zip(output, is_text) if text]
        attachments = [block for block, text in zip(output, is_text) if not text]
        output = "\n".join(texts) if texts or attachments else as_text(output)
    extra = {"is_error": True} if part.get("is_error") or part.get("isError") else {}
    return ImportedMessage("tool", output if isinstance(output, str) else as_text(output),
                           tool_call_id=str(call_id) if call_id is not None else "",
                           name=part.get("toolName") if isinstance(part.get("toolName"), str) else None,
                           attachments=attachments, extra=extra, position=where)


def tool_calls(value: Any) -> list[dict[str, Any]]:
    """Calls in OpenAI's shape from OpenAI, Vercel AI SDK (`toolCallId`, `toolName`, `args` or
    `input`) or Anthropic (`tool_use`) dicts; what is none of these is left out."""
    calls = []
    for item in loads(value) if isinstance(loads(value), list) else []:
        item = loads(item)
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("function"), dict):
            calls.append({"id": item.get("id"), "type": "function", "function": item["function"]})
            continue
        name = item.get("toolName", item.get("name"))
        if not isinstance(name, str):
            continue
        arguments = item.get("args", item.get("input", item.get("arguments", {})))
        call_id = item.get("toolCallId", item.get("id"))
        calls.append({"id": str(call_id) if call_id is not None else None, "type": "function",
                      "function": {"name": name, "arguments": as_text(arguments)}})
    return calls


def signature(message: ImportedMessage) -> tuple:
    """What two logged copies of one message share: a tool call by its ids, a result by its
    call, anything else by its role and words."""
    ids = tuple(call.get("id") for call in message.tool_calls or [] if isinstance(call, dict))
    if ids and all(ids):
        return ("calls", ids)
    if message.role == "tool" and message.tool_call_id:
        return ("result", message.tool_call_id)
    names = tuple(str((call.get("function") or {}).get("name"))
                  for call in message.tool_calls or [] if isinstance(call, dict))
    return (message.role, _words(message.content), names)


def content_text(content: Any) -> str | None:
    """A message's text, whether its content is text or a list of parts."""
    if isinstance(content, list):
        return "\n".join(part["text"] for part in content
                         if isinstance(part, dict) and isinstance(part.get("text"), str))
    return content if isinstance(content, str) else None


def _words(content: Any) -> str:
    text = content_text(content)
    return " ".join(text.split()) if text is not None else as_text(content)


# ---- a generation's figures ------------------------------------------------------------

USAGE_KEYS = {  # ModelCall key: usage-detail keys, then OTel attributes, in the order they are trusted
    "prompt_tokens": (("input", "promptTokens", "prompt_tokens", "input_tokens"),
                      ("gen_ai.usage.input_tokens", "ai.usage.inputTokens", "ai.usage.promptTokens")),
    "completion_tokens": (("output", "completionTokens", "completion_tokens", "output_tokens"),
                          ("gen_ai.usage.output_tokens", "ai.usage.outputTokens", "ai.usage.completionTokens")),
    "cache_read_tokens": (("input_cached_tokens", "cache_read_input_tokens", "input_cache_read", "cached_tokens"),
                          ("ai.usage.cachedInputTokens", "gen_ai.usage.cache_read_input_tokens")),
    "cache_write_tokens": (("cache_creation_input_tokens", "input_cache_creation"),
                           ("gen_ai.usage.cache_creation_input_tokens",)),
    "reasoning_tokens": (("output_reasoning_tokens", "reasoning_tokens", "output_reasoning"),
                         ("ai.usage.reasoningTokens", "gen_ai.usage.reasoning_tokens")),
}


def usage(raw: dict[str, Any], attributes: dict[str, Any]) -> dict[str, int]:
    """A generation's token counts: `usageDetails` (or the older `usage`), then OTel attributes,
    then Langfuse's totals."""
    details = next((loads(raw.get(key)) for key in ("usageDetails", "usage") if isinstance(loads(raw.get(key)), dict)
                    and loads(raw.get(key))), {})
    found: dict[str, int] = {}
    for name, (detail_keys, attribute_keys) in USAGE_KEYS.items():
        for value in [details.get(key) for key in detail_keys] + [attributes.get(key) for key in attribute_keys]:
            if number(value) is not None:
                found[name] = int(number(value))
                break
    for name, total in (("prompt_tokens", "inputUsage"), ("completion_tokens", "outputUsage")):
        if name not in found and number(raw.get(total)):
            found[name] = int(number(raw[total]))
    return found


def costs(raw: dict[str, Any]) -> dict[str, Any]:
    total, details = number(raw.get("totalCost")), loads(raw.get("costDetails"))
    cost: dict[str, Any] = {}
    if total:
        cost["total"] = total
    if isinstance(details, dict) and details:
        cost["details"] = details
    return {"cost": cost} if cost else {}


def finish_reason(raw: dict[str, Any], attributes: dict[str, Any]) -> str:
    parameters = loads(raw.get("modelParameters"))
    reasons = loads(attributes.get("gen_ai.response.finish_reasons"))
    reason = first_text(parameters.get("finishReason") if isinstance(parameters, dict) else None,
                        attributes.get("ai.response.finishReason"),
                        reasons[0] if isinstance(reasons, list) and reasons else None)
    return (reason or "stop").replace("-", "_")


def number(value: Any) -> float | None:
    """A count or cost as the source gave it (a number, or text such as OTel's "1115"); None
    when it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        found = float(value)
    except ValueError:
        return None
    return found if math.isfinite(found) else None


def first_text(*values: Any) -> str | None:
    return next((value for value in values if isinstance(value, str) and value.strip()), None)
