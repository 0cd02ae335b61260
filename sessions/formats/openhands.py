"""OpenHands event lists (a saved trajectory): one JSON array of events, one session.

Each event is an action or an observation: `{id, timestamp, source, action, args}` or
`{id, timestamp, source, observation, content, extras, cause}`, where `cause` is the id of
the action an observation answers. Ids grow but need not be contiguous.

- The user's `message` action is a user message; the agent's is an assistant message.
- An agent action made by a tool call (`run`, `edit`, `browse`, `finish`, ...) carries
  `tool_call_metadata`: the call's id and function name, and `model_response`, the whole
  Chat Completions response that asked for it. That response becomes one assistant message
  with all its tool calls and an `llm_called` record (model and usage, cache tokens
  included); several actions from one response (`total_calls_in_response` > 1) share it.
- An agent action without that metadata (older, prompt-parsed agents) is still a call:
  named after the action, with its `args` as arguments and an id made from the event id.
- An observation is the result of the call its metadata names, or of its `cause`'s call;
  one that answers no call (what older agents fed back as user text) is a user message.
  Its text is `content`, or OpenHands' one-line summary (`message`) when that is empty.
- An action's `thought` is the text the model wrote beside its call, so it is the
  assistant's content (when the model response does not already give it), not reasoning.
- Environment events (agent state changes, `null` observations, state-change actions)
  are not messages: they are counted in the attributes, with the states the agent passed.
Each message keeps the event's other fields in its extra (`events`), so nothing is lost.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

from sessions.formats.conversation import (
    Conversation, Format, ImportedMessage, Invalid, ModelCall, Parsed, Sniff, match, near, no, timestamp,
)
from sessions.formats.openai_chat import openai_message, tool_definitions
from sessions.formats.source import Sample, Source

NAME = "openhands"
QUIET_OBSERVATIONS = {"agent_state_changed", "null"}
QUIET_ACTIONS = {"change_agent_state", "recall", "condensation_request"}
TITLE_LENGTH = 100
SNIFFED_ITEMS = 3


def is_event(value: Any) -> bool:
    return isinstance(value, dict) and "id" in value and "source" in value and (
        "action" in value or "observation" in value)


def sniff(sample: Sample) -> Sniff:
    if sample.shape != "array":
        return no("not a JSON array (an OpenHands trajectory is a list of events)")
    first = [item for item in (sample.value or [])[:SNIFFED_ITEMS] if isinstance(item, dict)]
    if first and is_event(first[0]) and all("action" in item or "observation" in item for item in first):
        return match('a list of OpenHands events ("id", "source", and "action" or "observation")')
    if any(isinstance(item, dict) and ("action" in item or "observation" in item) for item in first):
        return near(60, 'items have "action" or "observation" but not both "id" and "source" '
                        '(OpenHands events have all three)')
    return no('array items are not OpenHands events (they have no "action" or "observation")')


def read(source: Source) -> Parsed:
    reader = _Reader()
    for index, event in source.items():
        problem = reader.add(event, f"record [{index}]")
        if problem:
            yield Invalid(f"record [{index}]", problem)
    yield reader.conversation(source.stem)


class _Reader:
    """The session as the events arrive: actions open calls, observations answer them."""

    def __init__(self) -> None:
        self.items: list[ImportedMessage] = []
        self.calls_by_action: dict[Any, str] = {}  # action event id -> the call id it made
        self.responses: dict[str, ImportedMessage] = {}  # model response id -> its assistant message
        self.quiet: Counter = Counter()
        self.agent_states: list[str] = []
        self.tools: list[dict[str, Any]] = []
        self.model: str | None = None
        self.started: datetime | None = None
        self.unlinked_actions = 0
        self.events = 0

    def add(self, event: Any, where: str) -> str | None:
        if not isinstance(event, dict):
            return f"an event must be an object, not {type(event).__name__}"
        kind = event.get("action", event.get("observation"))
        if "action" not in event and "observation" not in event:
            return 'an event needs "action" or "observation"'
        if not isinstance(kind, str):
            return f'"{"action" if "action" in event else "observation"}" must be text, not {type(kind).__name__}'
        self.events += 1
        moment = timestamp(event.get("timestamp"))
        self.started = self.started or moment
        if "action" in event:
            return self._action(event, kind, where, moment)
        return self._observation(event, kind, where, moment)

    # ---- actions --------------------------------------------------------------------------

    def _action(self, event: dict, kind: str, where: str, moment: datetime | None) -> str | None:
        args = event.get("args") if isinstance(event.get("args"), dict) else {}
        source = event.get("source")
        if kind in QUIET_ACTIONS or (source == "environment" and kind not in ("message", "system")):
            self.quiet[f"action {kind}"] += 1
            if kind == "change_agent_state" and isinstance(args.get("agent_state"), str):
                self.agent_states.append(args["agent_state"])
            return None
        if kind == "system":
            self.tools = self.tools or tool_definitions(args.get("tools"))
            content = _text(args.get("content"), event)
            self.items.append(ImportedMessage("system", content, extra=_extra(event, content, "content", "tools"),
                                              timestamp=moment, position=where))
            return None
        metadata = event.get("tool_call_metadata") if isinstance(event.get("tool_call_metadata"), dict) else None
        if metadata is None and (kind == "message" or source == "user"):
            role = "user" if source == "user" else "assistant"
            content = _text(args.get("content"), event) if kind == "message" else _text(None, event)
            thought = args.get("thought")
            thought = thought.strip() if isinstance(thought, str) and role == "assistant" else ""
            if thought and thought not in (content or ""):
                content = f"{thought}\n\n{content}" if content else thought
            self.items.append(ImportedMessage(role, content, attachments=_images(args), timestamp=moment,
                                              position=where, extra=_extra(event, content, "content")))
            return None
        self.calls_by_action[_key(event.get("id"))] = self._call(event, kind, args, metadata or {}, where, moment)
        return None

    def _call(self, event: dict, kind: str, args: dict, metadata: dict, where: str, moment: datetime | None) -> str:
        response = metadata.get("model_response") if isinstance(metadata.get("model_response"), dict) else {}
        call_id = metadata.get("tool_call_id")
        if not (isinstance(call_id, str) and call_id):
            call_id = f"openhands_{event.get('id', where)}"
            self.unlinked_actions += not metadata
        key = response.get("id") if isinstance(response.get("id"), str) and response.get("id") else call_id
        message = self.responses.get(key)
        if message is not None:  # another action of a response already imported
            if call_id not in _call_ids(message):
                message.tool_calls = list(message.tool_calls or []) + [_action_call(call_id, kind, args, metadata)]
            message.extra["events"].append(_event_extra(event))
            return call_id
        message = self._reply(response, where) or ImportedMessage("assistant", None)
        calls = list(message.tool_calls or [])
        if call_id not in [call.get("id") for call in calls if isinstance(call, dict)]:
            calls.append(_action_call(call_id, kind, args, metadata))
        message.tool_calls = calls
        thought = args.get("thought")
        if not _has_text(message.content) and isinstance(thought, str) and thought.strip():
            message.content = thought
        message.extra = {**message.extra, "events": [_event_extra(event)]}
        message.timestamp, message.position = moment, where
        self.items.append(message)
        self.responses[key] = message
        return call_id

    def _reply(self, response: dict, where: str) -> ImportedMessage | None:
        """The assistant message a Chat Completions response holds, with its call recorded."""
        choices = response.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
        said = choice.get("message") if isinstance(choice.get("message"), dict) else None
        if said is None:
            return None
        message = openai_message({**said, "role": "assistant"}, where)
        if isinstance(message, Invalid):
            return None
        if message.tool_calls is not None and not isinstance(message.tool_calls, list):
            message.extra["unreadable_tool_calls"], message.tool_calls = message.tool_calls, None
        message.tool_calls = [_clean_call(call) for call in message.tool_calls or []] or None
        message.extra = {key: value for key, value in message.extra.items() if value is not None}
        model = response.get("model") if isinstance(response.get("model"), str) else None
        self.model = self.model or model
        reason = choice.get("finish_reason")
        message.call = ModelCall(model or "unknown", usage(response.get("usage")),
                                 finish_reason=reason if isinstance(reason, str) else "stop")
        if isinstance(response.get("id"), str):
            message.extra["response_id"] = response["id"]
        return message

    # ---- observations ---------------------------------------------------------------------

    def _observation(self, event: dict, kind: str, where: str, moment: datetime | None) -> str | None:
        extras = event.get("extras") if isinstance(event.get("extras"), dict) else {}
        if kind in QUIET_OBSERVATIONS:
            self.quiet[f"observation {kind}"] += 1
            if kind == "agent_state_changed" and isinstance(extras.get("agent_state"), str):
                self.agent_states.append(extras["agent_state"])
            return None
        metadata = event.get("tool_call_metadata") if isinstance(event.get("tool_call_metadata"), dict) else {}
        call_id = metadata.get("tool_call_id") if isinstance(metadata.get("tool_call_id"), str) else None
        call_id = call_id or self.calls_by_action.get(_key(event.get("cause")))
        content = _text(event.get("content"), event)
        extra = _extra(event, content, "content")
        if call_id is None:  # answers no call: what the agent was told as user text
            self.items.append(ImportedMessage("user", content, attachments=_images(extras), extra=extra,
                                              timestamp=moment, position=where))
            return None
        name = metadata.get("function_name") if isinstance(metadata.get("function_name"), str) else None
        self.items.append(ImportedMessage("tool", content, tool_call_id=call_id, name=name, attachments=_images(extras),
                                          extra=extra, timestamp=moment, position=where))
        return None

    # ---- the session ----------------------------------------------------------------------

    def conversation(self, stem: str) -> Conversation | Invalid:
        if not self.items:
            return Invalid("/", f"the {self.events} events hold no user, agent or tool messages "
                                "(only environment events)")
        warnings = []
        if self.unlinked_actions:
            warnings.append(f"{self.unlinked_actions} agent actions have no tool_call_metadata; each became a call "
                            "named after its action, with an id made from its event id")
        attributes: dict[str, Any] = {"events": self.events}
        if self.quiet:
            attributes["environment_events"] = dict(self.quiet)
        if self.agent_states:
            attributes["agent_states"] = self.agent_states
        return Conversation(key="events", title=_title(self.items) or stem, items=list(self.items), model=self.model,
                            created_at=self.started, tools=self.tools, attributes=attributes, warnings=warnings,
                            position="/")


def usage(value: Any) -> dict[str, int]:
    """Chat Completions usage (litellm's, with Anthropic's cache fields) in ModelCall's keys."""
    if not isinstance(value, dict):
        return {}
    prompt, completion = (value.get(key) if isinstance(value.get(key), dict) else {}
                          for key in ("prompt_tokens_details", "completion_tokens_details"))
    found = {
        "prompt_tokens": value.get("prompt_tokens"),
        "completion_tokens": value.get("completion_tokens"),
        "cache_read_tokens": value.get("cache_read_input_tokens", prompt.get("cached_tokens")),
        "cache_write_tokens": value.get("cache_creation_input_tokens"),
        "reasoning_tokens": completion.get("reasoning_tokens"),
    }
    return {key: int(number) for key, number in found.items()
            if isinstance(number, (int, float)) and not isinstance(number, bool)}


def _key(value: Any) -> Any:
    """An event id as a dict key, whatever the file put there."""
    return value if isinstance(value, (str, int, float)) or value is None else json.dumps(value, default=str)


def _text(value: Any, event: dict) -> str | None:
    """An event's text: `value` when it is text worth having, else OpenHands' summary line."""
    if isinstance(value, str) and value.strip():
        return value
    if value is not None and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False, default=str)
    message = event.get("message")
    return message if isinstance(message, str) and message.strip() else value


def _has_text(content: Any) -> bool:
    return bool(content.strip()) if isinstance(content, str) else bool(content)


def _images(fields: dict) -> list[dict[str, Any]]:
    urls = fields.get("image_urls")
    if not isinstance(urls, list):
        return []
    return [{"type": "image_url", "image_url": {"url": url}} for url in urls if isinstance(url, str)]


def _call_ids(message: ImportedMessage) -> list[Any]:
    return [call.get("id") for call in message.tool_calls or [] if isinstance(call, dict)]


def _clean_call(call: Any) -> Any:
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        return call
    return {"id": call.get("id"), "type": call.get("type") or "function", "function": call["function"]}


def _action_call(call_id: str, kind: str, args: dict, metadata: dict) -> dict[str, Any]:
    name = metadata.get("function_name") if isinstance(metadata.get("function_name"), str) else kind
    arguments = {key: value for key, value in args.items() if key != "thought"}
    return {"id": call_id, "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False, default=str)}}


def _event_extra(event: dict) -> dict[str, Any]:
    """An event without what the message already holds (the model response, the thought)."""
    kept = {key: value for key, value in event.items() if key not in ("tool_call_metadata", "args")}
    if isinstance(event.get("args"), dict):
        kept["args"] = {key: value for key, value in event["args"].items() if key != "thought"}
    metadata = event.get("tool_call_metadata")
    if isinstance(metadata, dict):
        kept["tool_call_metadata"] = {key: value for key, value in metadata.items() if key != "model_response"}
    return kept


def _extra(event: dict, content: Any, *held: str) -> dict[str, Any]:
    """The event for a message's extra, less the fields named in `held` (the message holds
    them), and less its summary line where that is the message's content."""
    kept = _event_extra(event)
    for field in ("args", "extras"):
        if isinstance(kept.get(field), dict):
            kept[field] = {key: value for key, value in kept[field].items() if key not in held}
    for key in held:
        kept.pop(key, None)
    if "message" in kept and kept["message"] == content:
        del kept["message"]
    return {"events": [kept]}


def _title(items: list[ImportedMessage]) -> str | None:
    for message in items:
        if message.role == "user" and isinstance(message.content, str) and message.content.strip():
            line = message.content.strip().splitlines()[0].strip()
            return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1] + "…"
    return None


FORMAT = Format(NAME, "OpenHands event list", sniff, read, extensions=(".json",))
