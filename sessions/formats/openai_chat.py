"""OpenAI Chat Completions messages: a list, a request body, JSON lines, or many conversations.

Accepted shapes: a JSON array of messages; an object with `"messages"` (a request body,
whose `tools` or `functions` are kept as the tool definitions); JSON lines of messages; and
many conversations at once, one session each: an array of records, or JSON lines of
records, each holding its messages under `messages` (fine-tuning files) or `traj`
(τ-bench trajectories).

An assistant's `reasoning_content` (litellm's field), `reasoning` (OpenRouter's) or a reply
that opens with `<think>…</think>` becomes the message's reasoning part; legacy
`function_call` and `function` messages become tool calls and tool results.
"""

from __future__ import annotations

import json
from typing import Any

from engine.streaming import OPEN_TAG, split_think_tags
from sessions.formats.conversation import (
    Conversation, Format, ImportedMessage, Invalid, Parsed, Sniff, match, near, no, timestamp,
)
from sessions.formats.source import Sample, Source

NAME = "openai"
MESSAGE_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id")
REASONING_KEYS = ("reasoning_content", "reasoning")
ROLE_ALIASES = {"developer": "system", "function": "tool"}
ROLES = {"system", "user", "assistant", "tool", "developer", "function"}
LIST_KEYS = ("messages", "traj")  # where a record keeps its conversation


def is_message(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("role"), str) and (
        "content" in value or "tool_calls" in value or "function_call" in value)


def _record_messages(value: Any) -> list | None:
    if isinstance(value, dict):
        for key in LIST_KEYS:
            if isinstance(value.get(key), list):
                return value[key]
    return None


def sniff(sample: Sample) -> Sniff:
    value = sample.value
    if sample.shape == "array":
        if not value:
            return near(30, "an empty JSON array: no messages in it")
        first = value[0]
        if is_message(first):
            return match("a JSON array of chat messages")
        messages = _record_messages(first)
        if messages is not None and (not messages or is_message(messages[0])):
            return match("a JSON array of conversations, each with a message list")
        if isinstance(first, dict) and "role" in first:
            return near(60, 'items have a "role" but no "content" or "tool_calls"')
        if messages:
            return near(60, 'records hold a message list, but its first item is not a chat message '
                            '(an object with "role" and "content")')
        keys = ", ".join(list(first)[:6]) if isinstance(first, dict) else type(first).__name__
        return no(f'array items are not messages (they have no "role"; they hold {keys})')
    if sample.shape == "object":
        messages = _record_messages(value)
        if messages is not None and (not messages or is_message(messages[0])):
            return match("an object with a message list")
        if isinstance(value, dict) and "messages" in value:
            return near(70, '"messages" is not a list of chat messages')
        return no('an object without "messages"')
    if sample.shape == "lines":
        first = sample.value[0][1]
        if is_message(first):
            return match("JSON lines of chat messages")
        if _record_messages(first) is not None:
            return match("JSON lines, one conversation per line")
        return no('lines are neither messages (with "role") nor records with "messages"')
    return no(f"not JSON ({sample.shape})")


def read(source: Source) -> Parsed:
    shape = source.sample.shape
    title = source.stem
    if shape == "lines":
        messages, conversations = [], 0
        for number, value in source.lines():
            if isinstance(value, Exception):
                yield Invalid(f"line {number}", str(value).split(": ", 2)[-1])
            elif _record_messages(value) is not None:
                conversations += 1
                yield from conversation(value, f"line {number}", _record_title(value, f"{title} (line {number})"))
            else:
                messages.append((f"line {number}", value))
        if messages and conversations:
            yield Invalid(messages[0][0], "a message line among conversation lines; keep one kind per file")
        elif messages:
            yield from _from_messages(messages, title, "line 1", {})
        return
    if shape == "array" and source.sample.value and _record_messages(source.sample.value[0]) is not None:
        for index, value in source.items():
            if _record_messages(value) is None:
                yield Invalid(f"record [{index}]", 'a record needs a message list under "messages" or "traj"')
            else:
                yield from conversation(value, f"record [{index}]", _record_title(value, f"{title} [{index}]"))
        return
    document = source.document()
    if isinstance(document, list):
        yield from _from_messages([(f"message [{i}]", m) for i, m in enumerate(document)], title, "/", {})
    elif isinstance(document, dict):
        yield from conversation(document, "/", _record_title(document, title))
    else:
        yield Invalid("/", "expected a message list or an object with \"messages\"")


def conversation(record: dict[str, Any], position: str, title: str) -> list[Conversation | Invalid]:
    """The record as a conversation, or every reason its messages cannot be read."""
    messages = _record_messages(record)
    if messages is None:
        return [Invalid(position, '"messages" must be an array of messages')]
    key = "traj" if "traj" in record and "messages" not in record else "messages"
    prefix = "" if position == "/" else f"{position} "
    items = [(f"{prefix}{key} [{i}]".strip(), m) for i, m in enumerate(messages)]
    attributes = {name: record[name] for name in ("task_id", "trial", "reward", "id", "model") if name in record}
    return _from_messages(items, title, position, attributes, record)


def _record_title(record: Any, fallback: str) -> str:
    if isinstance(record, dict):
        for key in ("title", "name"):
            if isinstance(record.get(key), str) and record[key].strip():
                return record[key].strip()
        if "task_id" in record:
            trial = f", trial {record['trial']}" if "trial" in record else ""
            return f"task {record['task_id']}{trial}"
    return fallback


def _from_messages(items: list[tuple[str, Any]], title: str, position: str, attributes: dict[str, Any],
                   record: dict[str, Any] | None = None) -> list[Conversation | Invalid]:
    read = [openai_message(item, where) for where, item in items]
    parsed = [message for message in read if not isinstance(message, Invalid)]
    bad = [message for message in read if isinstance(message, Invalid)]
    record = record or {}
    warnings: list[str] = []
    tools = tool_definitions(record.get("tools") or record.get("functions"), warnings)
    for message in parsed:
        if message.role == "assistant" and any(key in message.extra for key in REASONING_KEYS):
            warnings.append(f"{message.position}: its reasoning is not text; kept among the message's fields")
    model = record.get("model") if isinstance(record.get("model"), str) else None
    return [Conversation(key=position, title=title, items=parsed, model=model, tools=tools, attributes=attributes,
                        position=position, source_id=str(record["id"]) if "id" in record else None,
                        created_at=timestamp(record.get("created") or record.get("created_at")), problems=bad,
                        warnings=warnings)]


def tool_definitions(value: Any, warnings: list[str] | None = None) -> list[dict[str, Any]]:
    """Tools as OpenAI `{"type": "function", "function": {...}}`, from either API's shape.
    What is not a tool definition is left out, with a warning when `warnings` is given."""
    if not isinstance(value, list):
        if value not in (None, "", []) and warnings is not None:
            warnings.append(f"the tool definitions are a {type(value).__name__}, not a list; left out")
        return []
    tools = []
    for position, tool in enumerate(value):
        if not isinstance(tool, dict) or not (isinstance(tool.get("function"), dict) or isinstance(tool.get("name"), str)):
            if warnings is not None:
                warnings.append(f"tool definition [{position}] has no function name; left out")
            continue
        if isinstance(tool.get("function"), dict):
            tools.append({"type": "function", "function": tool["function"]})
        elif isinstance(tool.get("name"), str):  # a bare function, or Anthropic's {name, description, input_schema}
            schema = tool.get("parameters") or tool.get("input_schema") or tool.get("json_schema") or {}
            function = {"name": tool["name"], "parameters": schema}
            if isinstance(tool.get("description"), str):
                function["description"] = tool["description"]
            tools.append({"type": "function", "function": function})
    return tools


def openai_message(item: Any, position: str) -> ImportedMessage | Invalid:
    """One OpenAI-format message, or why it is not one."""
    if not isinstance(item, dict):
        return Invalid(position, "a message must be an object with a role and content")
    if "role" not in item:
        return Invalid(position, 'the message has no "role"')
    if not isinstance(item["role"], str):
        return Invalid(position, f'"role" must be text such as "user", not {json.dumps(item["role"])[:40]}')
    role = item["role"]
    if not isinstance(role, str) or role not in ROLES:
        return Invalid(position, f"role {str(role)[:20]!r} is not one of system, user, assistant, tool")
    foreign = _anthropic_part(item.get("content"))
    if foreign:
        return Invalid(position, f"a content part of type {foreign!r} is an Anthropic block, not OpenAI's: "
                                 "this looks like an Anthropic message list; import it with --format anthropic")
    extra = {key: value for key, value in item.items() if key not in MESSAGE_KEYS}
    if role in ROLE_ALIASES:
        extra["original_role"], role = role, ROLE_ALIASES[role]
    content, reasoning = item.get("content"), None
    tool_calls = item.get("tool_calls")
    if role == "assistant":
        for key in REASONING_KEYS:
            if isinstance(extra.get(key), str):
                reasoning = extra.pop(key)
                break
        if reasoning is None and isinstance(content, str) and content.lstrip().startswith(OPEN_TAG):
            content, reasoning = split_think_tags(content)
        legacy = extra.pop("function_call", None)
        if isinstance(legacy, dict) and not tool_calls:
            tool_calls = [{"id": None, "type": "function", "function": legacy}]
    tool_call_id = item.get("tool_call_id")
    if role == "tool" and tool_call_id is None and extra.get("original_role") == "function":
        tool_call_id = ""  # a legacy function result: the builder pairs it with the call before it
    return ImportedMessage(role=role, content=content, reasoning=reasoning or None, tool_calls=tool_calls or None,
                           tool_call_id=tool_call_id, name=item.get("name"), extra=extra, position=position,
                           timestamp=timestamp(extra.get("timestamp") or extra.get("created_at")))


ANTHROPIC_BLOCKS = ("tool_use", "tool_result", "thinking", "redacted_thinking", "server_tool_use")


def _anthropic_part(content: Any) -> str | None:
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") in ANTHROPIC_BLOCKS:
                return part["type"]
    return None


def arguments_text(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


FORMAT = Format(NAME, "OpenAI chat messages", sniff, read, extensions=(".json", ".jsonl"))
