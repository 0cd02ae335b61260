"""SWE-agent trajectories (`<instance>.traj`): one JSON object per run, one session each.

A trajectory holds the run twice: `history`, the messages the model saw (system prompt,
issue, its replies, the environment's observations), and `trajectory`, the same turns as
steps `{thought, action, observation, response, state}`. The session is made from
`history` alone; of the steps only their `execution_time` is kept, in the attributes.

Two generations of the format: 0.x, where actions are shell commands written in the
assistant's text and observations come back as user messages; and 1.x with function
calling, where assistant messages carry OpenAI `tool_calls` and tool messages name their
call in `tool_call_ids` (a list) instead of `tool_call_id`. Messages are read as OpenAI
messages (`openai_chat.openai_message`); SWE-agent's own fields (`agent`, `is_demo`,
`action`, `message_type`) stay in each message's extra. A message's `thought` is what the
agent's parser took from the reply, so it is almost always inside the content already; it
becomes the reasoning part only when it is not. A demonstration (`is_demo`) is part of
what the model was shown, so it is imported like any other message, not folded. The run's
`info` (exit status, submitted patch, cost and token totals) and the model settings of
`replay_config` become the session's attributes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sessions.formats.conversation import Conversation, Format, ImportedMessage, Invalid, Parsed, Sniff, match, near, no
from sessions.formats.openai_chat import openai_message
from sessions.formats.source import Sample, Source

NAME = "swe-agent"
SECRET_KEYS = ("api_key", "api_keys", "token", "password")
ISSUE_LINE = re.compile(r"ISSUE:\s*\n\s*(\S[^\n]*)")
TITLE_LENGTH = 100


def sniff(sample: Sample) -> Sniff:
    if sample.shape != "object" or not isinstance(sample.value, dict):
        return no('not a JSON object (a SWE-agent trajectory is one object with "history" and "trajectory")')
    value = sample.value
    if "history" in value and ("trajectory" in value or "info" in value):
        if isinstance(value["history"], list):
            return match('a SWE-agent trajectory ("history" with "trajectory" or "info")')
        return near(80, 'a SWE-agent trajectory, but "history" is not a list of messages')
    steps = value.get("trajectory")
    first = steps[0] if isinstance(steps, list) and steps else None
    if isinstance(first, dict) and {"action", "observation"} <= first.keys():
        if not sample.complete:  # "history" may come after a trajectory longer than the sample
            return match("a SWE-agent trajectory (its steps fill the sample)")
        return near(70, 'a SWE-agent trajectory, but it has no "history" (the messages the model saw)')
    if "history" in value:
        return near(30, 'an object with "history", but neither "trajectory" nor "info" beside it (SWE-agent has both)')
    return no('an object without "history" and "trajectory"')


def read(source: Source) -> Parsed:
    document = source.document()
    if not isinstance(document, dict):
        raise source.error(None, "a SWE-agent trajectory is one JSON object")
    history = document.get("history")
    if not isinstance(history, list):
        yield Invalid("/history", 'a SWE-agent trajectory needs "history": the list of messages the model saw')
        return
    warnings: list[str] = []
    items: list[ImportedMessage] = []
    calls = _CallIds(warnings)
    for index, item in enumerate(history):
        message = _message(item, f"/history/{index}", calls, warnings)
        if isinstance(message, Invalid):
            yield message
            continue
        items.append(message)
    config = _replay_config(document.get("replay_config"), warnings)
    instance = _instance(document, config) or source.stem
    yield Conversation(
        key="trajectory", title=_title(instance, items), items=items, model=_model(config),
        source_id=instance, attributes=_attributes(document, config), warnings=warnings, position="/",
    )


def _message(item: Any, position: str, calls: "_CallIds", warnings: list[str]) -> ImportedMessage | Invalid:
    if isinstance(item, dict) and item.get("role") == "tool" and "tool_call_id" not in item:
        item = {**item, "tool_call_id": _first_id(item.get("tool_call_ids"), position, warnings)}
    if isinstance(item, dict) and isinstance(item.get("tool_calls"), str):
        item = {**item, **_parsed_calls(item["tool_calls"], position, warnings)}
    if isinstance(item, dict) and "role" in item and not isinstance(item["role"], str):
        return Invalid(position, f"the role must be text, not {type(item['role']).__name__}")
    message = openai_message(item, position)
    if isinstance(message, Invalid):
        return message
    ids = message.extra.get("tool_call_ids")
    if isinstance(ids, list) and len(ids) <= 1:
        message.extra.pop("tool_call_ids")  # the one id is the message's tool_call_id
    thought = message.extra.pop("thought", None)
    if message.role == "assistant" and isinstance(thought, str) and thought.strip():
        if not _already_said(thought, message.content) and not message.reasoning:
            message.reasoning = thought
    elif thought is not None:
        message.extra["thought"] = thought  # not an assistant's, or not text: kept as it was
    if message.tool_calls:
        message.tool_calls = calls.made(message.tool_calls, message)
    if message.role == "tool" and message.tool_call_id:
        message.tool_call_id = calls.answered(message.tool_call_id, message)
    return message


def _first_id(ids: Any, position: str, warnings: list[str]) -> str:
    if isinstance(ids, str):
        return ids
    if not isinstance(ids, list) or not ids:
        return ""  # no id: the builder pairs it with the oldest unanswered call
    if len(ids) > 1:
        warnings.append(f"{position}: the tool result names {len(ids)} calls ({', '.join(map(str, ids[:5]))}); "
                        "it is paired with the first")
    return ids[0] if isinstance(ids[0], str) else str(ids[0])


def _parsed_calls(text: str, position: str, warnings: list[str]) -> dict[str, Any]:
    try:
        return {"tool_calls": json.loads(text)}
    except json.JSONDecodeError:
        warnings.append(f"{position}: tool_calls is text that is not JSON; kept in the message's extra")
        return {"tool_calls": None, "tool_calls_text": text}


def _already_said(thought: str, content: Any) -> bool:
    if isinstance(content, list):
        content = "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return isinstance(content, str) and " ".join(thought.split()) in " ".join(content.split())


class _CallIds:
    """Call ids made unique: a replayed demonstration reuses one id for several calls, and
    each result must pair with its own call, so a repeated id gets a suffix and the results
    after it follow."""

    def __init__(self, warnings: list[str]) -> None:
        self.warnings = warnings
        self.seen: set[str] = set()
        self.current: dict[str, str] = {}  # an id in the file -> the id its latest call got
        self.renamed = 0

    def made(self, tool_calls: Any, message: ImportedMessage) -> Any:
        if not isinstance(tool_calls, list):
            return tool_calls  # the builder refuses what is not a list of calls, naming the message
        renamed = {}
        fixed = []
        for call in tool_calls:
            call_id = call.get("id") if isinstance(call, dict) else None
            if isinstance(call_id, str) and call_id:
                new_id, number = call_id, 1
                while new_id in self.seen:
                    number += 1
                    new_id = f"{call_id}_{number}"
                if new_id != call_id:
                    renamed[new_id] = call_id
                    call = {**call, "id": new_id}
                self.seen.add(new_id)
                self.current[call_id] = new_id
            fixed.append(call)
        if renamed:
            message.extra["renamed_tool_calls"] = renamed
            if not self.renamed:
                self.warnings.append("tool call ids repeat in the file (a replayed demonstration reuses them); "
                                     "repeated ones got a suffix so each result pairs with its own call")
            self.renamed += len(renamed)
        return fixed

    def answered(self, call_id: str, message: ImportedMessage) -> str:
        new_id = self.current.get(call_id, call_id)
        if new_id != call_id:
            message.extra["original_tool_call_id"] = call_id
        return new_id


def _replay_config(value: Any, warnings: list[str]) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            warnings.append("replay_config is text that is not JSON; left out")
            return {}
    return value if isinstance(value, dict) else {}


def _instance(document: dict[str, Any], config: dict[str, Any]) -> str | None:
    info = document.get("info") if isinstance(document.get("info"), dict) else {}
    problem = config.get("problem_statement") if isinstance(config.get("problem_statement"), dict) else {}
    for candidate in (info.get("instance_id"), problem.get("id"), document.get("instance_id")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


def _title(instance: str, items: list[ImportedMessage]) -> str:
    for message in items:
        if message.role == "user" and isinstance(message.content, str) and not _is_demo(message):
            found = ISSUE_LINE.search(message.content)
            if found:
                issue = found.group(1).strip()
                issue = issue if len(issue) <= TITLE_LENGTH else issue[: TITLE_LENGTH - 1] + "…"
                return f"{instance}: {issue}"
            break
    return instance


def _is_demo(message: ImportedMessage) -> bool:
    return str(message.extra.get("is_demo", "")).lower() == "true"


def _model(config: dict[str, Any]) -> str | None:
    agent = config.get("agent") if isinstance(config.get("agent"), dict) else {}
    model = agent.get("model") if isinstance(agent.get("model"), dict) else {}
    name = model.get("name")
    return name if isinstance(name, str) and name.strip() else None


def _attributes(document: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    info = document.get("info")
    if isinstance(info, dict):
        attributes["info"] = info
    for key in ("environment",):
        if isinstance(document.get(key), (str, int, float)):
            attributes[key] = document[key]
    agent = config.get("agent") if isinstance(config.get("agent"), dict) else {}
    if isinstance(agent.get("model"), dict):
        attributes["model_config"] = _without_secrets(agent["model"])
    env = config.get("env") if isinstance(config.get("env"), dict) else {}
    deployment = env.get("deployment") if isinstance(env.get("deployment"), dict) else {}
    if isinstance(deployment.get("image"), str):
        attributes["image"] = deployment["image"]
    steps = document.get("trajectory")
    if isinstance(steps, list):
        attributes["steps"] = len(steps)
        times = [step.get("execution_time") for step in steps if isinstance(step, dict)]
        if any(isinstance(time, (int, float)) and not isinstance(time, bool) for time in times):
            attributes["step_execution_times"] = times
    return attributes


def _without_secrets(value: dict[str, Any]) -> dict[str, Any]:
    return {key: item for key, item in value.items() if key not in SECRET_KEYS}


FORMAT = Format(NAME, "SWE-agent trajectory (.traj)", sniff, read, extensions=(".traj", ".json"))
