"""One message of a ChatGPT export, and the thread that pairs messages as they come.

`parse_message` reads a node's message whatever its `content_type`; `Thread` adds parsed
messages to a session's items in order: thoughts wait for the assistant reply after them
(becoming its reasoning), an assistant message addressed to a tool becomes a call, and the
tool's message after it the result. A thread is copied where a branch leaves it, so the
branch goes on with what was pending there.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sessions.formats.conversation import ImportedMessage, ModelCall, timestamp

ROLES = {"system", "user", "assistant", "tool"}
ROLE_ALIASES = {"developer": "system"}
TEXT_TYPES = {"text", "multimodal_text"}
CODE_TYPES = {"code", "execution_output"}
TEXT_FIELDS = ("text", "result", "content", "summary", "user_profile", "user_instructions")  # other types' text
FINISH = {"max_tokens": "length", "stop": "stop", "interrupted": "interrupted"}
READ_KEYS = {"id", "author", "create_time", "content", "metadata", "recipient"}  # the rest is kept in extra


@dataclass
class NodeMessage:
    kind: str  # "message", "thoughts" or "recap"
    message: ImportedMessage
    recipient: str | None = None  # the tool an assistant message calls


@dataclass
class Thread:
    """What the messages so far leave for the next: thoughts awaiting their reply, open tool calls."""

    pending: list[NodeMessage] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (call id, tool) without a result yet
    last: tuple[str, str] | None = None  # (tool, call id) when the item before is a tool result

    def copy(self) -> "Thread":
        return Thread(list(self.pending), list(self.calls), self.last)

    def add(self, parsed: NodeMessage, items: list[Any]) -> None:
        message = parsed.message
        if parsed.kind != "message":
            self.pending.append(parsed)
            return
        if message.role != "assistant":
            self.flush(items)
        elif self.pending:
            self._think(message)
        if parsed.recipient:
            call_id = f"call_{message.extra['id']}"
            arguments = message.content if isinstance(message.content, str) else ""
            message.tool_calls = [{"id": call_id, "type": "function",
                                   "function": {"name": parsed.recipient, "arguments": arguments}}]
            message.content = None
            if message.call is not None:
                message.call.finish_reason = "tool_calls"
            self.calls.append((call_id, parsed.recipient))
        if message.role == "tool":
            message.tool_call_id = self._answer(message.name or "")
        answered = message.role == "tool" and message.tool_call_id
        self.last = (message.name or "", message.tool_call_id) if answered else None
        items.append(message)

    def flush(self, items: list[Any]) -> None:
        """Thoughts with no reply after them: an assistant message holding only its reasoning."""
        if self.pending:
            first = self.pending[0].message
            reply = ImportedMessage(role="assistant", position=first.position, timestamp=first.timestamp,
                                    extra={"id": first.extra["id"], "content_type": "thoughts"})
            self._think(reply)
            reply.reasoning = reply.reasoning or reply.extra.get("reasoning_recap")
            items.append(reply)

    def _think(self, reply: ImportedMessage) -> None:
        thoughts = [p.message.reasoning for p in self.pending if p.kind == "thoughts" and p.message.reasoning]
        recaps = [p.message.content for p in self.pending if p.kind == "recap" and p.message.content]
        if thoughts:
            reply.reasoning = "\n\n".join(thoughts + ([reply.reasoning] if reply.reasoning else []))
        if recaps:
            reply.extra["reasoning_recap"] = "\n".join(recaps)
        reply.extra["thoughts_messages"] = [p.message.extra for p in self.pending]  # their ids and metadata
        calls = [p.message.call for p in self.pending if p.message.call is not None]
        if reply.call is None and calls:
            reply.call = replace(calls[0])  # a copy: a branch may share these thoughts
        self.pending = []

    def _answer(self, tool: str) -> str | None:
        for index in range(len(self.calls) - 1, -1, -1):
            if _same_tool(self.calls[index][1], tool):
                return self.calls.pop(index)[0]
        if self.last and _same_tool(self.last[0], tool):
            return self.last[1]  # a second result for the same call (a browser's display, then its quote)
        return self.calls.pop()[0] if self.calls else None  # None: the builder keeps it and warns


def _same_tool(called: str, tool: str) -> bool:
    return called == tool or called.startswith(tool + ".") or tool.startswith(called + ".")


def parse_message(node: str, message: dict[str, Any], where: str, answers: list[dict[str, Any] | None],
                  warnings: list[str]) -> NodeMessage:
    """One node's message; `answers` are its children's messages (a tool among them answers it)."""
    author = message.get("author") if isinstance(message.get("author"), dict) else {}
    role = author.get("role")
    extra: dict[str, Any] = {"id": node}
    if message.get("author") is not None and not isinstance(message["author"], dict):
        warnings.append(f"{where}: author is {type(message['author']).__name__}, not an object; kept in extra, "
                        "imported as a system message")
        extra["author"], role = message["author"], "system"
    if role not in ROLES:
        if role not in ROLE_ALIASES:
            warnings.append(f"{where}: author role {str(role)[:20]!r} is not one of system, user, assistant, "
                            "tool; imported as a system message")
        extra["original_role"], role = role, ROLE_ALIASES.get(role, "system")
    raw = message.get("metadata")
    metadata = raw if isinstance(raw, dict) else {}
    if raw is not None and not isinstance(raw, dict):
        warnings.append(f"{where}: metadata is {type(raw).__name__}, not an object; kept in extra as it is")
        extra["metadata"] = raw
    content = message.get("content")
    if not isinstance(content, dict):
        content = {"content_type": "text", "parts": [content]} if isinstance(content, str) else (
            {} if content is None else {"content_type": "unknown", "value": content})
    kind = content.get("content_type") if isinstance(content.get("content_type"), str) else None
    text, attachments, fields = _content(content, kind, where, warnings)
    extra.update({key: value for key, value in fields.items() if key not in extra})
    if message.get("id") not in (None, node):
        extra["message_id"] = message["id"]
    for key, value in message.items():
        if key not in READ_KEYS and key not in extra and value is not None:
            extra[key] = value
    if isinstance(author.get("name"), str) and role != "tool":
        extra["author_name"] = author["name"]
    files = metadata.get("attachments")
    if files is not None and not isinstance(files, list):
        warnings.append(f"{where}: metadata.attachments is {type(files).__name__}, not a list; kept as one attachment")
        files = [files]
    for item in files or ():
        attachments.append({"type": "file", **item} if isinstance(item, dict) else {"type": "file", "value": item})
    rest = {key: value for key, value in metadata.items() if key != "attachments"}
    if rest:
        extra["metadata"] = rest
    model = metadata.get("model_slug")
    details = metadata.get("finish_details")
    finish = details.get("type") if isinstance(details, dict) else None
    call = (ModelCall(model=model, finish_reason=FINISH.get(finish, finish) if isinstance(finish, str) else "stop")
            if isinstance(model, str) and model and role == "assistant" else None)
    hidden = metadata.get("is_visually_hidden_from_conversation") is True
    imported = ImportedMessage(
        role=role, content=text or None, attachments=attachments, extra=extra, position=where, call=call,
        name=author.get("name") if role == "tool" and isinstance(author.get("name"), str) else None,
        folded=hidden or (role == "system" and not text and not attachments),
        timestamp=timestamp(message.get("create_time")),
    )
    recipient = message.get("recipient")
    if recipient is not None:
        extra["recipient"] = recipient
        if not isinstance(recipient, str):
            warnings.append(f"{where}: recipient is {type(recipient).__name__}, not a tool name; "
                            "kept in extra, not read as a tool call")
    if kind == "thoughts":
        imported.reasoning, imported.content = _thoughts(content.get("thoughts"), where, warnings), None
        return NodeMessage("thoughts", imported)
    if kind == "reasoning_recap":
        return NodeMessage("recap", imported)
    if "recipient" not in message and role == "assistant":  # some exports leave it out: a tool child answers
        authors = [m["author"] for m in answers if m and isinstance(m.get("author"), dict)]
        recipient = next((a["name"] for a in authors if a.get("role") == "tool" and isinstance(a.get("name"), str)
                          and a["name"]), None)
        if recipient:
            extra["recipient_inferred"] = True
    called = recipient if role == "assistant" and isinstance(recipient, str) and recipient not in ("all", "") else None
    return NodeMessage("message", imported, called)


def _content(content: dict[str, Any], kind: str | None, where: str, warnings: list[str]) -> tuple[str, list, dict]:
    """(text, attachments, fields for extra) of a message's content, whatever its type."""
    if kind in TEXT_TYPES or (kind is None and "parts" in content):
        parts = content.get("parts")
        parts = parts if isinstance(parts, list) else ([] if parts is None else [parts])
        texts, attachments = [], []
        for part in parts:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and part.get("content_type") == "audio_transcription" \
                    and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif isinstance(part, dict):
                attachments.append({"type": str(part.get("content_type") or "part"), **part}
                                   if "type" not in part else dict(part))
            elif part is not None:
                warnings.append(f"{where}: a {type(part).__name__} part where text was expected; kept as text")
                texts.append(str(part))
        fields = {"content_type": kind} if kind and kind != "text" else {}
        return "\n".join(text for text in texts if text), attachments, fields
    rest = {key: value for key, value in content.items() if key != "content_type"}
    if kind in CODE_TYPES or kind in ("thoughts", "reasoning_recap"):
        text = rest.pop("text" if kind in CODE_TYPES else "content", None)
        if text is not None and not isinstance(text, str):
            warnings.append(f"{where}: {kind} text is a {type(text).__name__}; kept as text")
            text = str(text)
        rest.pop("thoughts", None)
        return text or "", [], {"content_type": kind, **{k: v for k, v in rest.items() if v is not None}}
    texts = [rest.pop(key) for key in TEXT_FIELDS if isinstance(rest.get(key), str) and rest[key].strip()]
    if texts:
        fields = {"content_type": kind or "unknown"}
        if rest:
            fields["content"] = rest
        return "\n\n".join(texts), [], fields
    return "", ([{"type": kind or "unknown", **content}] if content else []), {}


def _thoughts(value: Any, where: str, warnings: list[str]) -> str:
    if not isinstance(value, list):
        if value is not None:
            warnings.append(f"{where}: thoughts is a {type(value).__name__}, not a list; kept as text")
        return str(value) if value is not None else ""
    texts = []
    for thought in value:
        if isinstance(thought, dict):
            summary, body = thought.get("summary"), thought.get("content")
            parts = [str(part) for part in (summary, body) if part not in (None, "")]
            texts.append("\n".join(dict.fromkeys(parts)))
        elif thought is not None:
            texts.append(str(thought))
    return "\n\n".join(text for text in texts if text)
