"""A scripted model: replies queued in advance, for deterministic tests, demos and replays.

`enqueue("name", "text", {"tool_calls": [...]}, SomeError(...))` queues replies for the model
`scripted/name`; each completion takes the next. A reply is text, a dict, or an exception to
raise, or a function of the request that returns one of those (called while the model
"thinks", so a test can act at that moment). The requests it received are kept for
inspection. A dict may carry:

- `content`: the text, passed through untouched (`<think>` tags included, so the real
  litellm path and our splitter see what a local server would send);
- `thinking_blocks`: Anthropic-style signed blocks, sent beside the reasoning (whole, on the
  first piece of a stream);
- `reasoning`: reasoning text, sent as `reasoning_content` (as litellm normalizes it) in the
  whole message and in stream chunks, before the content;
- `tool_calls`: `{"name", "arguments"}` or OpenAI's shape;
- `usage`: what the backend reports (`prompt_tokens`, `completion_tokens`,
  `completion_tokens_details`), in the message and on the last content chunk; without it
  the caller counts;
- how it streams: `chunk_size` (12 characters unless told), `chunks` (the exact content
  pieces, such as `["<thi", "nk>..."]`), `chunk_delay` (seconds before each chunk after the
  first) and `gate` (a `threading.Event` the stream waits for after its first chunk, so a
  test can act mid-stream without sleeping).
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from typing import Any, Iterator

_queues: dict[str, deque] = defaultdict(deque)
_requests: dict[str, list[dict[str, Any]]] = defaultdict(list)
_lock = threading.Lock()
PACING = ("chunk_size", "chunks", "chunk_delay", "gate")
GATE_TIMEOUT_S = 30.0


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
    """The next reply as an OpenAI-style message dict (raises a queued exception).

    Besides `role`, `content` and `tool_calls` it may hold `reasoning_content`, `usage` and
    `pacing` (the streaming options above), which the provider takes out before use.
    """
    name = _key(name)
    with _lock:
        _requests[name].append(request)
        if not _queues[name]:
            raise RuntimeError(f"scripted model {name!r} has no reply left; enqueue more")
        reply = _queues[name].popleft()
    if callable(reply) and not isinstance(reply, type):  # a function of the request: a test acts while the model "thinks"
        reply = reply(request)
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
    content = "".join(reply["chunks"]) if "chunks" in reply else reply.get("content")
    message: dict[str, Any] = {"role": "assistant", "content": content, "tool_calls": calls or None}
    if reply.get("reasoning"):
        message["reasoning_content"] = reply["reasoning"]
    if reply.get("thinking_blocks"):  # Anthropic's shape, as litellm hands it on: signed blocks
        message["thinking_blocks"] = reply["thinking_blocks"]
    if reply.get("usage"):
        message["usage"] = reply["usage"]
    message["pacing"] = {key: reply[key] for key in PACING if key in reply}
    return message


def paced(pieces: list[dict[str, Any]], pacing: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`pieces` one by one, waiting as `pacing` says (`chunk_delay` seconds, or for the `gate`)."""
    for position, piece in enumerate(pieces):
        if position:
            if pacing.get("chunk_delay"):
                time.sleep(pacing["chunk_delay"])
            gate = pacing.get("gate")
            if gate is not None and not gate.wait(GATE_TIMEOUT_S):
                raise RuntimeError(f"scripted stream: the gate stayed closed for {GATE_TIMEOUT_S:.0f} s")
        yield piece
