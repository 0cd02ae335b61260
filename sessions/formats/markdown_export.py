"""Markdown export: a transcript a person reads and shares.

`markdown_document(info, state)` gives the title, the session id, where the session came
from, then every message under a heading naming its role. Folded fragments are marked by
the line the model sees (`[folded fragment f1a2b3: 1,234 tokens hidden]`), summarized ones
by their header and the summary, both as blockquotes; reasoning sits in a collapsible
`<details><summary>Reasoning</summary>` block; tool calls (arguments as pretty JSON) and
tool results are fenced code blocks.

Conversation text is never trusted. Where Markdown is rendered it must not become HTML:

- Prose keeps its Markdown (an assistant's lists, emphasis and code read as written), but
  `<`, `>` and `&` become entities, and backslashes, stray backticks and `[` are escaped
  (so no raw HTML, no autolink, no link or remote image comes from the content).
- A code span is left verbatim only when both its backtick runs sit on one line with no
  `|` inside (where a renderer could not pair them otherwise or split them in a table row);
  every other backtick is escaped, so a renderer pairs exactly the spans kept here.
- A fenced block of the content is left verbatim only when it opens at column 0 (where it
  cannot sit inside a list or a quote), and it is closed where the message ends; a line
  that a renderer could take for an indented fence opener has its first character escaped.
- The blocks this module adds around content (tool calls, results) use a fence longer than
  any backtick run inside.

Anything unsure is escaped: at worst a reader sees an entity where a renderer took text for
code, never HTML from the conversation.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.brakes.events import BrakeRecord, brake_log
from engine.records import format_ts
from engine.render import fold_marker, render_pieces, sent_core_memory, summary_header
from engine.state import ContextState, Message
from engine.text import printable
from engine.tokens import DEFAULT_ENCODING, token_counter
from sessions.formats.workbench_trace import atomic_output

ROLE_HEADINGS = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool result"}

_PROSE_ESCAPES = str.maketrans({"\\": "\\\\", "&": "&amp;", "<": "&lt;", ">": "&gt;", "`": "\\`", "[": "\\["})
_ASCII_PUNCTUATION = "!\"#$%'()*+,-./:;=?@[\\]^_`{|}~"
_LITERAL_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;",
                                  **{char: "\\" + char for char in _ASCII_PUNCTUATION}})
_BACKTICK_RUN = re.compile(r"`+")
_FENCE_OPENER = re.compile(r"(`{3,}|~{3,})(.*)")  # at column 0 only
_INDENTED_TILDE_FENCE = re.compile(r" {0,3}~{3}")
_LANGUAGE = re.compile(r"[A-Za-z0-9_+#.-]{1,30}")
_LINE_END = re.compile(r"\r\n?")


def _clean(text: str) -> str:
    """Text as UTF-8 can carry it, with the line endings CommonMark knows made plain newlines."""
    return _LINE_END.sub("\n", printable(text)).replace("\x00", "\ufffd")


def literal(text: str) -> str:
    """One line shown exactly as written: no Markdown, no HTML."""
    return " ".join(_clean(text).split("\n")).translate(_LITERAL_ESCAPES)


def code_span(text: str) -> str:
    """`text` as inline code, on one line, whatever backticks it holds."""
    flat = " ".join(_clean(text).split("\n")) or " "
    ticks = "`" * (max((len(run) for run in _BACKTICK_RUN.findall(flat)), default=0) + 1)
    padded = f" {flat} " if flat.startswith("`") or flat.endswith("`") or flat.strip() == "" else flat
    return f"{ticks}{padded}{ticks}"


def fenced(text: str, language: str = "") -> str:
    """A fenced code block holding `text` verbatim: its fence is longer than any backtick run inside."""
    body = _clean(text)
    longest = max((len(run) for run in _BACKTICK_RUN.findall(body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{body}\n{fence}"


def _inline_line(line: str) -> str:
    """One line of prose: code spans kept when a renderer must pair them the same way, all else escaped."""
    parts: list[str] = []
    runs = list(_BACKTICK_RUN.finditer(line))
    done = 0  # characters of `line` already emitted
    index = 0
    while index < len(runs):
        run = runs[index]
        if run.start() < done:
            index += 1
            continue
        closing = next((later for later in runs[index + 1:] if len(later.group()) == len(run.group())), None)
        if closing is None or "|" in line[run.end():closing.start()]:
            index += 1
            continue
        parts.append(line[done:run.start()].translate(_PROSE_ESCAPES))
        parts.append(line[run.start():closing.end()])
        done = closing.end()
        index = runs.index(closing) + 1
    parts.append(line[done:].translate(_PROSE_ESCAPES))
    escaped = "".join(parts)
    if _INDENTED_TILDE_FENCE.match(escaped):  # a renderer would open a fence here: make it text
        position = escaped.index("~")
        escaped = escaped[:position] + "\\" + escaped[position:]
    return escaped


def _closes(line: str, char: str, length: int) -> bool:
    """Whether `line` closes a fence of `length` `char`s, as CommonMark decides at the top level."""
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3:
        return False
    run = len(stripped) - len(stripped.lstrip(char))
    return run >= length and stripped[run:].strip(" \t") == ""


def prose(text: str, fences: bool = True) -> str:
    """Conversation text as Markdown that renders as it reads and never as HTML.

    `fences=False` escapes fence openers too: for text placed inside a container (a quote),
    where a renderer's fences end with the container."""
    out: list[str] = []
    fence: tuple[str, int] | None = None
    for line in _clean(text).split("\n"):
        if fence is not None:
            if _closes(line, *fence):
                out.append(fence[0] * fence[1])
                fence = None
            else:
                out.append(line)
            continue
        opener = _FENCE_OPENER.fullmatch(line) if fences else None
        if opener and not (opener.group(1)[0] == "`" and "`" in opener.group(2)):
            run = opener.group(1)
            language = _LANGUAGE.match(opener.group(2).strip())
            fence = (run[0], len(run))
            out.append(run + (language.group() if language else ""))
            continue
        out.append(_inline_line(line))
    if fence is not None:  # a fence the message left open ends with it
        out.append(fence[0] * fence[1])
    return "\n".join(out)


def _quoted(lines: list[str]) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in lines)


def _pretty_json(text: str) -> str | None:
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
    if not isinstance(value, (dict, list)):
        return None
    return json.dumps(value, indent=2, ensure_ascii=False)


def _body(message: Message, counter) -> list[str]:
    """The message's text: visible runs as prose (a tool's in fences), hidden fragments marked."""
    blocks: list[str] = []
    visible: list[str] = []

    def flush() -> None:
        if not visible:
            return
        text = "".join(visible)
        visible.clear()
        if not text.strip():
            return
        if message.role == "tool":
            pretty = _pretty_json(text) if len(message.fragments) == 1 else None
            blocks.append(fenced(pretty, "json") if pretty else fenced(text))
        else:
            blocks.append(prose(text))

    for piece in render_pieces(message, counter):
        fragment = piece.fragment
        if fragment.status == "visible":
            visible.append(piece.text)
            continue
        flush()
        if fragment.status == "folded":
            blocks.append(_quoted([literal(fold_marker(fragment.id, piece.original_tokens))]))
        else:
            header = literal(summary_header(fragment.id, piece.original_tokens, fragment.focus))
            summary = prose(fragment.summary or "", fences=False).split("\n")
            blocks.append(_quoted([header, "", *summary]))
    flush()
    return blocks


def _tool_call(call: dict[str, Any]) -> str:
    function = call.get("function") if isinstance(call.get("function"), dict) else {}
    name = function.get("name")
    arguments = function.get("arguments")
    line = f"**Tool call** {code_span(str(name or '?'))}"
    if call.get("id"):
        line += f" · call {code_span(str(call['id']))}"
    if isinstance(arguments, str):
        pretty = _pretty_json(arguments)
        block = fenced(pretty, "json") if pretty else fenced(arguments)
    else:
        block = fenced(json.dumps(arguments, indent=2, ensure_ascii=False, default=str), "json")
    return f"{line}\n\n{block}"


def _attachment(part: dict[str, Any]) -> str:
    kind = str(part.get("type") or "attachment")
    label = next((str(part[key]) for key in ("name", "filename", "title") if isinstance(part.get(key), str)), "")
    return f"*Attachment: {literal(kind)}" + (f" · {literal(label)}" if label else "") + "*"


def _brake(record: BrakeRecord) -> str:
    step = "" if record.step is None else f" after step {record.step + 1}"
    if record.action in ("warned", "tools_withdrawn"):
        did = "warned the model" if record.action == "warned" else "withdrew the tools for the turn"
        return f"*Brake: {literal(record.detector)} {did}: {literal('; '.join(record.notes[:1]))}*"
    did = "cut the reasoning" if record.action == "stopped_reasoning" else "would have cut the reasoning (observed)"
    basis = "estimated" if record.saved_basis == "estimate" else "measured"
    return (f"*Brake: {literal(record.detector)} {did}{step} · {record.tokens_generated:,} thinking tokens · "
            f"~{record.tokens_saved:,} saved ({basis})*")


def message_section(position: int, message: Message, counter, brakes: tuple[BrakeRecord, ...] = ()) -> str:
    pieces = render_pieces(message, counter)
    original = sum(piece.original_tokens for piece in pieces)
    rendered = sum(piece.rendered_tokens for piece in pieces)
    facts = [message.id, f"{original:,} tokens"]
    if rendered != original:
        facts.append(f"{rendered:,} sent now")
    if message.name:
        facts.append(f"name {literal(message.name)}")
    if message.tool_call_id:
        facts.append(f"result of call {code_span(message.tool_call_id)}")
    if message.stopped:
        facts.append("stopped before it finished")
    role = ROLE_HEADINGS.get(message.role, literal(message.role.title()))
    blocks = [f"## {position} · {role}", " · ".join(facts)]
    if message.reasoning:
        blocks.append("<details><summary>Reasoning</summary>\n\n" + prose(message.reasoning) + "\n\n</details>")
    blocks += _body(message, counter)
    blocks += [_tool_call(call) for call in message.tool_calls or ()]
    blocks += [_attachment(part) for part in message.attachments]
    blocks += [_brake(record) for record in brakes]
    if len(blocks) == 2:
        blocks.append("*(no text)*")
    return "\n\n".join(blocks)


def _origin(info: dict[str, Any]) -> str:
    if info.get("forked_from"):
        return f"forked from session {code_span(str(info['forked_from']))} at event {info.get('forked_at')}"
    if info.get("imported_from"):
        return f"imported from {literal(str(info['imported_from']))}"
    return "made in Context Workbench"


def markdown_document(info: dict[str, Any], state: ContextState, encoding: str = DEFAULT_ENCODING) -> str:
    """The whole transcript as Markdown text."""
    counter = token_counter(encoding)
    created = info.get("created_at")
    created_text = format_ts(created) if isinstance(created, datetime) else str(created or "unknown")
    pieces = [piece for message in state.messages for piece in render_pieces(message, counter)]
    original = sum(piece.original_tokens for piece in pieces)
    rendered = sum(piece.rendered_tokens for piece in pieces)
    count = len(state.messages)
    summary = f"{count} message{'s' if count != 1 else ''}, {original:,} tokens of text"
    if rendered != original:
        summary += f"; {rendered:,} sent to the model now (folded and summarized parts are marked)"
    head = [
        f"# {literal(str(info.get('title') or 'Untitled session'))}",
        "\n".join([
            f"- Session: {code_span(str(info['id']))}",
            f"- Created: {created_text}",
            f"- Origin: {_origin(info)}",
            "- Exported from Context Workbench",
            f"- {summary}",
        ]),
        "---",
    ]
    core = sent_core_memory(state, encoding)
    if core:  # sent first with every request (engine/render.py)
        head += ["## Core memory", _quoted(prose(core, fences=False).split("\n"))]
    log = brake_log(state)
    sections = [message_section(position, message, counter, log.for_message(message.id))
                for position, message in enumerate(state.messages, 1)]
    return "\n\n".join(head + sections) + "\n"


def write_markdown(path: str | Path, info: dict[str, Any], state: ContextState,
                   encoding: str = DEFAULT_ENCODING) -> Path:
    """Write the transcript atomically (a temporary file beside `path`, renamed over it)."""
    path = Path(path).expanduser()
    with atomic_output(path) as out:
        out.write(markdown_document(info, state, encoding))
    return path


__all__ = ["code_span", "fenced", "literal", "markdown_document", "prose", "write_markdown"]
