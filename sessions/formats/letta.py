"""Letta (MemGPT) agent files (`.af`): an agent's messages, core memory, tools and model.

Two schemas exist. The old one (Letta up to 0.6) is one agent object at the top level, with
`core_memory` (its blocks), `llm_config`, `tools`, `messages` and `in_context_message_indices`
(positions in `messages`, unsorted: a set). The new one (`AgentFileSchema`) holds `agents`,
each with `messages`, `in_context_message_ids`, `block_ids` and `tool_ids` that name the
file's top-level `blocks` and `tools`. Some files are a JSON string holding the JSON; the
source parses it again. Each agent becomes one session titled by its name.

A message the agent no longer had in its context (not among the in-context indices or ids)
is imported folded, so the window shows exactly the messages the agent saw. The messages stay
in file order, the order they were written in, which the log is: the agent's window order
(`in_context_message_indices` puts the latest system prompt first, though the file has it
late, after it was rewritten) is kept as given in the session's attributes, not used to
reorder. An index that is not a whole number (or an id that is not text) and one that names no
message are named in a warning.
A user turn's text is the JSON event Letta wrapped it in (`{"type": "user_message",
"message": ..., "time": ...}`, or `login`, `heartbeat`, `system_alert`): it is kept exactly
as the model read it, for the window's token counts and for replay, and its type goes to
`extra["letta_type"]`. What the user was shown is the `send_message` call's argument, which
search finds because it searches tool-call arguments. The assistant's text is its inner
monologue, which the model saw as content, so it stays content; reasoning parts (newer
Letta, Anthropic models) become the message's reasoning.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sessions.formats.conversation import (
    Conversation, Format, ImportedMessage, Invalid, ModelCall, Parsed, Sniff, match, near, no, timestamp,
)
from sessions.formats.jsonio import pointer
from sessions.formats.openai_chat import tool_definitions
from sessions.formats.source import Sample, Source

NAME = "letta"
OLD_MARKERS = ("core_memory", "in_context_message_indices", "llm_config")
NEW_AGENT_MARKERS = ("in_context_message_ids", "llm_config", "block_ids", "messages")
ROLES = {"system": "system", "user": "user", "assistant": "assistant", "tool": "tool", "function": "tool"}
USED_KEYS = {"role", "content", "text", "tool_calls", "tool_call_id", "name", "created_at", "updated_at",
             "tool_returns", "type"}
REASONING_PARTS = ("reasoning",)
USER_TYPES = ("user_message", "login", "heartbeat", "system_alert")


# ---- detection --------------------------------------------------------------------------------


def sniff(sample: Sample) -> Sniff:
    value = sample.value
    if sample.shape == "string":  # a JSON string of JSON, too big for the sample to parse it again
        head = sample.head  # an agent's system prompt can come before its "agent_type"
        if '\\"agent_type\\"' in head and ('\\"core_memory\\"' in head or '\\"agents\\"' in head
                                          or '\\"llm_config\\"' in head):
            return match("a Letta agent file kept as a JSON string")
        return no("a JSON string, not an agent file")
    if sample.shape != "object" or not isinstance(value, dict):
        return no(f"not a JSON object ({sample.shape})")
    if "agents" in value:
        agents = value["agents"]
        first = agents[0] if isinstance(agents, list) and agents else None
        if not isinstance(first, dict):
            return near(50, '"agents" is not a list of agent objects') if agents != [] else near(
                60, 'a Letta agent file with no agents in "agents"')
        if "agent_type" in first and (("blocks" in value or "tools" in value)
                                      or any(key in first for key in NEW_AGENT_MARKERS)):
            return match("a Letta agent file (agents, blocks, tools)")
        if "agent_type" not in first:
            return near(60, 'an object with "agents", but the first agent has no "agent_type"')
        return near(60, 'an object with "agents", but no "blocks" or "tools" beside them')
    markers = [key for key in OLD_MARKERS if key in value]
    if isinstance(value.get("messages"), list) and markers:
        return match(f"a Letta agent (old schema: messages with {', '.join(markers)})")
    if markers and "agent_type" in value:
        if not sample.complete:
            return match("a Letta agent (old schema; its messages lie past the sample)")
        return near(80, f'a Letta agent (it has {", ".join(markers)}), but no "messages" list')
    return no('neither a Letta agent (with "core_memory" and "messages") nor an agent file (with "agents")')


# ---- reading ----------------------------------------------------------------------------------


def read(source: Source) -> Parsed:
    document = source.document()
    stem = Path(source.name).stem or "Imported"
    if not isinstance(document, dict):
        yield Invalid("/", "a Letta agent file is a JSON object")
        return
    if "agents" not in document:
        yield agent_conversation(document, "", stem, document.get("core_memory"), document.get("tools"), {})
        return
    agents = document["agents"]
    if not isinstance(agents, list):
        yield Invalid("/agents", '"agents" must be a list of agents')
        return
    blocks = _by_id(document.get("blocks"))
    tools = _by_id(document.get("tools"))
    for index, agent in enumerate(agents):
        where = pointer("agents", index)
        if not isinstance(agent, dict):
            yield Invalid(where, f"an agent must be an object, not {type(agent).__name__}")
            continue
        warnings: list[str] = []
        memory = _resolve(agent.get("block_ids"), blocks, "block", warnings) + _list(agent.get("memory_blocks"))
        agent_tools = (_resolve(agent.get("tool_ids"), tools, "tool", warnings) if "tool_ids" in agent
                       else list(tools.values()))
        agent_tools += [tool for tool in _list(agent.get("tools")) if isinstance(tool, dict)]
        context = {"created_at": document.get("created_at"), "warnings": warnings}
        yield agent_conversation(agent, where, f"{stem} [{index}]", memory, agent_tools, context)


def agent_conversation(agent: dict[str, Any], where: str, fallback: str, memory: Any, tools: Any,
                       context: dict[str, Any]) -> Conversation | Invalid:
    """One agent as a session: its messages in order, those out of its context folded."""
    warnings: list[str] = list(context.get("warnings") or [])
    messages = agent.get("messages", [])
    if not isinstance(messages, list):
        return Invalid(f"{where}/messages", '"messages" must be a list of messages')
    visible = _in_context(agent, messages, warnings)
    items = []
    for index, item in enumerate(messages):
        message = letta_message(item, f"{where}/messages/{index}", warnings)
        if isinstance(message, Invalid):
            return message
        if visible is not None:
            by_id = "in_context_message_ids" in agent  # item is a dict: letta_message took it
            message.folded = (item.get("id") if by_id else index) not in visible
        items.append(message)
    config = agent.get("llm_config") if isinstance(agent.get("llm_config"), dict) else {}
    if agent.get("llm_config") is not None and not config and not isinstance(agent["llm_config"], dict):
        warnings.append(f"llm_config is {type(agent['llm_config']).__name__}, not an object; "
                        "kept in the attributes, no model read from it")
    if tools is not None and not isinstance(tools, list):
        warnings.append(f"tools is {type(tools).__name__}, not a list; kept in the attributes, "
                        "no tool definitions read from it")
    model = config.get("model") if isinstance(config.get("model"), str) else None
    if model is None and isinstance(agent.get("model"), str):
        model = agent["model"]
    name = agent.get("name")
    title = name.strip() if isinstance(name, str) and name.strip() else fallback
    source_id = agent.get("id") if isinstance(agent.get("id"), str) else None
    attributes = _attributes(agent, config, tools)
    raw_config = agent.get("llm_config")
    for key, value, odd in (("llm_config", raw_config, not isinstance(raw_config, dict)),
                            ("tools", tools, not isinstance(tools, list)),
                            ("core_memory", memory, _odd_memory(memory))):
        if value is not None and odd:
            attributes[key] = value  # of a shape with no place: kept as it is, and warned about
    for key in ("in_context_message_indices", "in_context_message_ids"):
        if key in agent:
            attributes[key] = agent[key]  # the agent's window order, as given
    return Conversation(
        key=where or "/", title=title, items=items, source_id=source_id, model=model,
        created_at=timestamp(agent.get("created_at") or context.get("created_at")),
        tools=_tool_definitions(tools, warnings), memory=_memory(memory, warnings),
        attributes=attributes, warnings=warnings, position=where or "/",
    )


def _in_context(agent: dict[str, Any], messages: list, warnings: list[str]) -> set | None:
    """The positions (old schema) or ids (new) of the messages in the agent's context; None: all."""
    key = next((key for key in ("in_context_message_ids", "in_context_message_indices") if key in agent), None)
    if key is None:
        return None
    listed = agent[key]
    if key == "in_context_message_ids" and isinstance(listed, list):
        _ignored(key, "message ids", [value for value in listed if not isinstance(value, str)], warnings)
        chosen = {value for value in listed if isinstance(value, str)}
        known = {message.get("id") for message in messages if isinstance(message, dict)}
        outside = sorted(value for value in chosen if value not in known)
        if outside:
            warnings.append(f"{key} names messages that are not in the file: {', '.join(outside[:10])}")
        return chosen
    if key == "in_context_message_indices" and isinstance(listed, list):
        indices = listed
        chosen = {value for value in indices if isinstance(value, int) and not isinstance(value, bool)}
        _ignored(key, "message positions",
                 [value for value in indices if not isinstance(value, int) or isinstance(value, bool)], warnings)
        outside = sorted(value for value in chosen if not 0 <= value < len(messages))
        if outside:
            warnings.append(f"{key} names messages that are not in the file: {outside[:10]}")
        return chosen
    warnings.append(f"{key} is {type(listed).__name__}, not a list; kept in the attributes, "
                    "every message imported visible")
    return None


def _ignored(key: str, what: str, values: list, warnings: list[str]) -> None:
    if values:
        shown = ", ".join(repr(value)[:40] for value in values[:10]) + (" ..." if len(values) > 10 else "")
        warnings.append(f"{key} has entries that are not {what}, ignored: {shown}")


def letta_message(item: Any, where: str, warnings: list[str]) -> ImportedMessage | Invalid:
    """One Letta message in the OpenAI shape, or why it is not one."""
    if not isinstance(item, dict):
        return Invalid(where, f"a message must be an object, not {type(item).__name__}")
    role = item.get("role")
    extra: dict[str, Any] = {}
    if role == "approval":  # a person's answer to a tool call awaiting approval (newer Letta)
        role, extra["letta_role"] = "user", "approval"
    elif role not in ROLES:
        return Invalid(where, f"role {str(role)[:20]!r} is not one of system, user, assistant, tool")
    else:
        if role == "function":
            extra["letta_role"] = "function"
        role = ROLES[role]
    text, reasoning, attachments, part_fields = _content(item, role, where, warnings)
    extra.update({key: value for key, value in item.items()
                  if key not in USED_KEYS and value is not None and value != []})
    if part_fields:
        extra["content_part_fields"] = part_fields
    if role == "user" and text and text.lstrip().startswith("{"):
        letta_type = _event_type(text)
        if letta_type:
            extra["letta_type"] = letta_type
    tool_returns = item.get("tool_returns")
    if tool_returns:
        extra["tool_returns"] = [_without_echo(ret, text) for ret in tool_returns] if isinstance(tool_returns, list) \
            else tool_returns
    tool_calls = item.get("tool_calls") or None
    if tool_calls is not None and role != "assistant":
        extra["tool_calls"], tool_calls = tool_calls, None
    tool_call_id = item.get("tool_call_id") if role == "tool" else None
    if role != "tool" and item.get("tool_call_id") is not None:
        extra["tool_call_id"] = item["tool_call_id"]
    if role == "tool" and not tool_call_id and isinstance(tool_returns, list) and tool_returns:
        first = tool_returns[0]
        tool_call_id = first.get("tool_call_id") if isinstance(first, dict) else None
    if tool_call_id is not None and not isinstance(tool_call_id, str):
        warnings.append(f"{where}: tool_call_id is {type(tool_call_id).__name__}; kept as text")
        tool_call_id = str(tool_call_id)
    name = item.get("name") if isinstance(item.get("name"), str) else None
    model = item.get("model") if isinstance(item.get("model"), str) else None
    call = ModelCall(model=model, finish_reason="tool_calls" if tool_calls else "stop") \
        if role == "assistant" and model else None
    return ImportedMessage(role=role, content=text, reasoning=reasoning, tool_calls=tool_calls,
                           tool_call_id=tool_call_id, name=name, attachments=attachments, extra=extra,
                           timestamp=timestamp(item.get("created_at")), call=call, position=where)


def _content(item: dict[str, Any], role: str, where: str,
             warnings: list[str]) -> tuple[str | None, str | None, list, list]:
    """A message's `content` (a list of parts, or text) or `text`: its text, reasoning, other parts,
    and the fields of text and reasoning parts beside their text (signatures), by part number."""
    content = item.get("content")
    if content is None or content == []:
        content = item.get("text")
    if content is None:
        return None, None, [], []
    if isinstance(content, str):
        return content, None, [], []
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        warnings.append(f"{where}: content is {type(content).__name__}; kept as JSON text")
        return json.dumps(content, ensure_ascii=False), None, [], []
    texts, thoughts, attachments, fields = [], [], [], []
    for number, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if isinstance(part, str):
            texts.append(part)
            continue
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
            taken = "text"
        elif kind in REASONING_PARTS and isinstance(part.get("reasoning"), str) and role == "assistant":
            thoughts.append(part["reasoning"])
            taken = "reasoning"
        elif isinstance(part, dict):
            attachments.append({**part, "type": f"letta_{kind}" if isinstance(kind, str) else "letta_part",
                                "original_type": kind})
            continue
        else:
            warnings.append(f"{where}: content part {number} is {type(part).__name__}; kept as text")
            texts.append(json.dumps(part, ensure_ascii=False))
            continue
        rest = {key: value for key, value in part.items() if key not in ("type", taken) and value is not None}
        if rest:
            fields.append({"part": number, "type": kind, **rest})
    text = "\n".join(texts) if texts else None
    return text, "\n\n".join(thoughts) or None, attachments, fields


def _event_type(text: str) -> str | None:
    try:
        event = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    kind = event.get("type") if isinstance(event, dict) else None
    return kind if isinstance(kind, str) else None


def _without_echo(value: Any, text: str | None) -> Any:
    """A tool return without its `func_response` when that is the message's text again."""
    if isinstance(value, dict) and value.get("func_response") == text:
        return {key: item for key, item in value.items() if key != "func_response" and item is not None}
    return value


# ---- memory, tools, model ---------------------------------------------------------------------


def _by_id(value: Any) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in _list(value) if isinstance(item, dict) and isinstance(item.get("id"), str)}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _resolve(ids: Any, known: dict[str, dict[str, Any]], what: str, warnings: list[str]) -> list[dict[str, Any]]:
    found, missing = [], []
    for item in _list(ids):
        (found.append(known[item]) if item in known else missing.append(str(item)))
    if missing:
        warnings.append(f"the agent names {what}s that are not in the file: {', '.join(missing[:10])}")
    return found


def _memory(value: Any, warnings: list[str]) -> list[dict[str, Any]]:
    """Core memory blocks (label, value, limit, description, ...), their empty fields left out."""
    if isinstance(value, str):
        warnings.append("core_memory is text, not memory blocks; kept as one block labelled core_memory")
        return [{"label": "core_memory", "value": value}] if value else []
    if _odd_memory(value):
        warnings.append(f"core memory is {type(value).__name__}, not a list of blocks; kept in the attributes")
    if isinstance(value, dict):  # a Memory object: {"blocks": [...], "prompt_template": ...}
        value = value.get("blocks")
    blocks = []
    for block in _list(value):
        if not isinstance(block, dict):
            warnings.append(f"a memory block is {type(block).__name__}, not an object; left out")
            continue
        blocks.append({key: item for key, item in block.items() if item is not None and item != {}})
    return blocks


def _odd_memory(value: Any) -> bool:
    """Memory of no shape that holds blocks (not a list, text, or a Memory object with a list of blocks)."""
    blocks = value.get("blocks") if isinstance(value, dict) else value
    return value is not None and not isinstance(value, str) and not isinstance(blocks, list)


def _tool_definitions(tools: Any, warnings: list[str]) -> list[dict[str, Any]]:
    schemas = []
    for tool in _list(tools):
        schema = tool.get("json_schema") if isinstance(tool, dict) else None
        if isinstance(schema, dict) and isinstance(schema.get("name"), str):
            schemas.append(schema)
        elif isinstance(tool, dict) and isinstance(tool.get("name"), str):
            schemas.append({"name": tool["name"], "description": tool.get("description"), "parameters": {}})
            warnings.append(f"tool {tool['name']} has no json_schema; kept without parameters")
    return tool_definitions(schemas)


def _attributes(agent: dict[str, Any], config: dict[str, Any], tools: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for key in ("agent_type", "description", "version", "tags", "tool_rules"):
        if agent.get(key) not in (None, "", [], {}):
            attributes[key] = agent[key]
    messages = _list(agent.get("messages"))
    if isinstance(agent.get("system"), str) and not any(
            isinstance(message, dict) and message.get("role") == "system" for message in messages):
        attributes["system"] = agent["system"]  # the prompt, when no system message holds it
    for key in ("context_window", "model_endpoint_type", "provider_name", "handle", "temperature", "max_tokens"):
        if config.get(key) is not None:
            attributes[key if key == "context_window" else f"llm_{key}"] = config[key]
    embedding = agent.get("embedding_config")
    if isinstance(embedding, dict) and isinstance(embedding.get("embedding_model"), str):
        attributes["embedding_model"] = embedding["embedding_model"]
    kept = [{key: tool[key] for key in ("name", "tool_type", "source_type", "source_code") if tool.get(key)}
            for tool in _list(tools) if isinstance(tool, dict)]
    if kept:
        attributes["letta_tools"] = kept
    return attributes


FORMAT = Format(NAME, "Letta agent file (.af)", sniff, read, extensions=(".af", ".json"))
