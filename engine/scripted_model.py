"""A scripted model: replies queued in advance, for deterministic tests, demos and replays.

`enqueue("name", "text", {"tool_calls": [...]}, SomeError(...))` queues replies for the model
`scripted/name`; each completion takes the next. A reply is text, a dict with `content`
and/or `tool_calls` (`{"name", "arguments"}` or OpenAI's shape), or an exception to raise.
The requests it received are kept for inspection.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from typing import Any

_queues: dict[str, deque] = defaultdict(deque)
_requests: dict[str, list[dict[str, Any]]] = defaultdict(list)
_lock = threading.Lock()


def _key(name: str) -> str:
    return name.removeprefix("scripted/")  # "scripted/x" and "x" name the same model


def enqueue(name: str, *replies: Any) -> None:
    with _lock:
        _queues[_key(name)].extend(replies)


def reset(name: str | None = None) -> None:
    with _lock:
        for store in (_queues, _requests):
            if name is None:
                store.clear()
            else:
                store.pop(_key(name), None)


def requests(name: str) -> list[dict[str, Any]]:
    """What the model was sent: messages, tools and tool_choice, one dict per call."""
    return list(_requests[_key(name)])


def next_reply(name: str, request: dict[str, Any]) -> dict[str, Any]:
    """The next reply as an OpenAI-style message dict (raises a queued exception)."""
    name = _key(name)
    with _lock:
        _requests[name].append(request)
        if not _queues[name]:
            raise RuntimeError(f"scripted model {name!r} has no reply left; enqueue more")
        reply = _queues[name].popleft()
    if isinstance(reply, BaseException):
        raise reply
    if isinstance(reply, str):
        return {"role": "assistant", "content": reply}
    calls = []
    for position, call in enumerate(reply.get("tool_calls") or [], start=1):
        if "function" in call:
            calls.append({"id": call.get("id", f"call_s{position}"), "type": "function", "function": call["function"]})
            continue
        arguments = call.get("arguments", {})
        calls.append({
            "id": call.get("id", f"call_s{position}"),
            "type": "function",
            "function": {"name": call["name"], "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments)},
        })
    return {"role": "assistant", "content": reply.get("content"), "tool_calls": calls or None}
