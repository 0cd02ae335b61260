"""Reading OpenTelemetry span attributes: AnyValue, ids, times, and what a span is.

OTLP/JSON wraps each attribute value in an AnyValue (`{"stringValue": ...}`, `{"intValue":
"12"}` with the number as text, arrays and key-value lists); the Python SDK's span JSON has
plain values. Ids come as hex (the OTLP/JSON spec), base64 (the protobuf JSON mapping),
`0x` hex or decimal integers of up to 128 bits (the SDK); all become lowercase hex here.
Times become Unix nanoseconds. A span is a model call, a tool call or an agent by its
`gen_ai.operation.name`, `openinference.span.kind` or `traceloop.span.kind`; its model,
usage and tool definitions are read from whichever convention names them.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from datetime import datetime, timedelta
from typing import Any

from sessions.formats.conversation import timestamp
from sessions.formats.jsonio import parsed_if_json

ANY_KEYS = {"string_value": "stringValue", "bool_value": "boolValue", "int_value": "intValue",
            "double_value": "doubleValue", "array_value": "arrayValue", "kvlist_value": "kvlistValue",
            "bytes_value": "bytesValue"}
OURS = "context_workbench."  # our own annotations in an export: derived data, skipped on import
AGENT_OPERATIONS = {"invoke_agent", "create_agent", "invoke_workflow"}
MODEL_OPERATIONS = {"chat", "text_completion", "generate_content", "call_llm", "completion", "responses"}
ROLE_NAMES = {"system": "system", "developer": "system", "user": "user", "human": "user", "assistant": "assistant",
              "ai": "assistant", "model": "assistant", "bot": "assistant", "tool": "tool", "function": "tool",
              "ipython": "tool"}
USAGE_KEYS = {
    "prompt_tokens": ("gen_ai.usage.input_tokens", "llm.token_count.prompt", "gen_ai.usage.prompt_tokens"),
    "completion_tokens": ("gen_ai.usage.output_tokens", "llm.token_count.completion", "gen_ai.usage.completion_tokens"),
    "cache_read_tokens": ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
                          "llm.token_count.prompt_details.cache_read"),
    "cache_write_tokens": ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_write.input_tokens",
                           "gen_ai.usage.cache_creation_input_tokens", "llm.token_count.prompt_details.cache_write"),
    "reasoning_tokens": ("gen_ai.usage.reasoning.output_tokens", "llm.token_count.completion_details.reasoning",
                         "gen_ai.usage.reasoning_tokens"),
}
# litellm's model prefixes and the GenAI conventions' provider names (gen_ai.provider.name)
PROVIDERS = {"openai": "openai", "azure": "azure.ai.openai", "azure_ai": "azure.ai.inference",
             "anthropic": "anthropic", "bedrock": "aws.bedrock", "vertex_ai": "gcp.vertex_ai", "gemini": "gcp.gemini",
             "mistral": "mistral_ai", "groq": "groq", "deepseek": "deepseek", "cohere": "cohere", "xai": "x_ai",
             "perplexity": "perplexity", "ollama": "ollama", "ollama_chat": "ollama", "embedded": "local",
             "openrouter": "openrouter", "together_ai": "together_ai", "fireworks_ai": "fireworks_ai",
             "watsonx": "ibm.watsonx.ai", "hosted_vllm": "vllm", "huggingface": "huggingface"}
BARE_MODELS = (("gpt", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"), ("chatgpt", "openai"),
               ("text-", "openai"), ("claude", "anthropic"), ("gemini", "gcp.gemini"), ("mistral", "mistral_ai"),
               ("mixtral", "mistral_ai"), ("codestral", "mistral_ai"), ("command", "cohere"),
               ("deepseek", "deepseek"), ("grok", "x_ai"))
EPOCH = datetime(1970, 1, 1)
PREFIX_OF = {provider: prefix for prefix, provider in reversed(list(PROVIDERS.items()))}


# ---- values ----------------------------------------------------------------------------------


def any_value(value: Any) -> Any:
    """An OTLP AnyValue as a plain value (anything else is returned as it is)."""
    if not isinstance(value, dict):
        return value
    value = {ANY_KEYS.get(key, key): item for key, item in value.items()}
    for key in ("stringValue", "boolValue", "doubleValue", "bytesValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return value["intValue"]
    if "arrayValue" in value:
        inner = value["arrayValue"] if isinstance(value["arrayValue"], dict) else {}
        return [any_value(item) for item in inner.get("values") or [] if isinstance(inner.get("values"), list)]
    if "kvlistValue" in value:
        inner = value["kvlistValue"] if isinstance(value["kvlistValue"], dict) else {}
        return key_values(inner.get("values"))
    return None if not value else value


def key_values(items: Any) -> dict[str, Any]:
    """OTLP's `[{"key": ..., "value": AnyValue}]` as a dict; a flat dict (the SDK's) as it is."""
    if isinstance(items, dict):
        return dict(items)
    found: dict[str, Any] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            found[item["key"]] = any_value(item.get("value"))
    return found


def hex_id(value: Any, size: int) -> str | None:
    """A trace (16 bytes) or span (8 bytes) id as lowercase hex, from any spelling; None if absent."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return f"{value:0{size * 2}x}" if value > 0 else None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text[:2].lower() == "0x" and re.fullmatch(r"[0-9a-fA-F]+", text[2:]):
        number = int(text[2:], 16)
        return f"{number:0{size * 2}x}" if number else None
    if re.fullmatch(rf"[0-9a-fA-F]{{{size * 2}}}", text):
        return None if set(text) == {"0"} else text.lower()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == size:
        return raw.hex() if any(raw) else None
    if text.isdigit():
        return f"{int(text):0{size * 2}x}" if int(text) else None
    return text


def nanos(value: Any) -> int | None:
    """A time as Unix nanoseconds: from nanoseconds (a number or digits) or seconds, or ISO text."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        value = int(value * 1e9) if value < 1e11 else int(value)
    if isinstance(value, int):
        while 0 < value < 10**17:  # seconds, milliseconds or microseconds
            value *= 1000
        return value if value > 0 else None
    moment = timestamp(value)
    return None if moment is None else (moment - EPOCH) // timedelta(microseconds=1) * 1000




def as_text(value: Any) -> str:
    """Text from a file: a string as it is, anything else as JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def unflatten(attributes: dict[str, Any], prefix: str) -> Any:
    """Dotted keys under `prefix` as nested values: `p.0.message.role` -> [{"message": {"role": ...}}]."""
    root: dict[Any, Any] = {}
    start = prefix + "."
    for key, value in attributes.items():
        if not key.startswith(start):
            continue
        steps = [int(step) if step.isdigit() else step for step in key[len(start):].split(".")]
        node = root
        for step in steps[:-1]:
            if not isinstance(node.get(step), dict):
                node[step] = {}
            node = node[step]
        node[steps[-1]] = value
    return _as_lists(root) if root else None


def _as_lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _as_lists(value) for key, value in node.items()}
    if converted and all(isinstance(key, int) for key in converted):
        return [converted[key] for key in sorted(converted)]
    return converted


def whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


# ---- what a span is ---------------------------------------------------------------------------


def operation(attributes: dict[str, Any]) -> str:
    """"model", "tool", "agent" or "" (anything else), from the span's convention."""
    name = str(attributes.get("gen_ai.operation.name") or "").lower()
    kind = str(attributes.get("openinference.span.kind") or "").upper()
    loop = str(attributes.get("traceloop.span.kind") or "").lower()
    if name == "execute_tool" or kind == "TOOL" or loop == "tool":
        return "tool"
    if name in AGENT_OPERATIONS or kind in ("AGENT", "CHAIN") or loop in ("agent", "workflow"):
        return "agent"
    if name in MODEL_OPERATIONS or kind == "LLM" or "llm.input_messages.0.message.role" in attributes:
        return "model"
    return ""


def usage(attributes: dict[str, Any]) -> dict[str, int]:
    found = {}
    for name, keys in USAGE_KEYS.items():
        for key in keys:
            number = whole(attributes.get(key))
            if number is not None:
                found[name] = number
                break
    return found


def provider_of(model: str | None) -> str:
    """The GenAI provider name for a litellm model name: its prefix, or what a bare name implies."""
    name = (model or "").strip().lower()
    if "/" in name:
        prefix = name.split("/", 1)[0]
        return PROVIDERS.get(prefix, prefix)
    for start, provider in BARE_MODELS:
        if name.startswith(start):
            return provider
    return "unknown"


def model_name(attributes: dict[str, Any]) -> str | None:
    """The model as litellm names it: a bare name gets its provider's prefix unless the name implies it."""
    model = next((attributes[key] for key in ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name",
                                               "llm.request.model") if isinstance(attributes.get(key), str)
                  and attributes[key].strip()), None)
    if model is None:
        return None
    provider = next((attributes[key] for key in ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
                     if isinstance(attributes.get(key), str) and attributes[key].strip()), None)
    if provider and "/" not in model and provider.lower() not in ("unknown", provider_of(model)):
        return f"{PREFIX_OF.get(provider.lower(), provider.lower().replace(' ', '_'))}/{model}"
    return model


def tool_definitions_of(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    """Tool definitions as given (gen_ai.tool.definitions, llm.tools, llm.request.functions)."""
    value = parsed_if_json(attributes.get("gen_ai.tool.definitions"))
    if isinstance(value, list):
        return value
    tools = []
    for entry in unflatten(attributes, "llm.tools") or []:
        tool = entry.get("tool") if isinstance(entry, dict) else None
        if isinstance(tool, dict):
            schema = parsed_if_json(tool.get("json_schema"))
            tools.append(schema if isinstance(schema, dict) else tool)
    for entry in unflatten(attributes, "llm.request.functions") or []:
        if isinstance(entry, dict):
            tools.append({**entry, "parameters": parsed_if_json(entry.get("parameters")) or {}})
    return tools


def tool_use(attributes: dict[str, Any], span_name: str) -> dict[str, Any]:
    """A tool span's call: name, id, arguments and result (None where the span does not say)."""
    def first(*keys: str) -> Any:
        return next((attributes[key] for key in keys if attributes.get(key) is not None), None)

    name = first("gen_ai.tool.name", "tool.name", "tool_call.function.name", "traceloop.entity.name")
    if not isinstance(name, str) or not name.strip():
        name = span_name.removeprefix("execute_tool").strip() or span_name
    arguments = first("gen_ai.tool.call.arguments", "gen_ai.tool.args", "tool_call.function.arguments",
                      "input.value", "traceloop.entity.input")
    result = first("gen_ai.tool.call.result", "gen_ai.output", "output.value", "traceloop.entity.output")
    call_id = first("gen_ai.tool.call.id", "tool_call.id")
    return {"name": name, "id": call_id if isinstance(call_id, str) and call_id else None,
            "arguments": None if arguments is None else as_text(arguments),
            "result": None if result is None else as_text(result)}


def role_of(value: Any) -> str | None:
    return ROLE_NAMES.get(value.strip().lower()) if isinstance(value, str) else None
