"""Claude Code sessions: `~/.claude/projects/<project>/<session>.jsonl`, one record a line.

Records chain by `parentUuid` (a compaction boundary starts afresh and names the record
before it in `logicalParentUuid`); the conversation is the chain from a root (`parentUuid`
null) to its latest record, whatever the order of the lines. A record off that chain is an
edited or regenerated turn: it becomes a fork at the record it branched from. One API
response is written over several lines, one content block each, sharing `message.id`: they
are merged into one assistant message, its usage counted once. Subagents (`isSidechain`) are
chains of their own in the same file: each becomes a subagent session linked to the Task call
whose prompt started it. `summary` lines title the session; a `compact_boundary` is a
compaction point; `isMeta` lines (an expanded slash command, which the model did read) are
user messages marked `extra["is_meta"]`. Other line types (2.x's `file-history-snapshot`,
`queue-operation`, `progress`, ...) are skipped and counted. Records whose `parentUuid` links
go round in a loop, so that no root leads to them, are named in a warning (or an error when
they are all the file holds).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

from sessions.formats import anthropic
from sessions.formats.conversation import (
    Compaction, Conversation, Format, ImportedMessage, Invalid, Parsed, Sniff, match, near, no, timestamp,
)
from sessions.formats.source import Sample, Source

NAME = "claude-code"
MESSAGE_TYPES = ("user", "assistant")
TASK_TOOLS = ("Task", "Agent")
USER_FLAGS = {"isMeta": "is_meta", "isCompactSummary": "is_compact_summary",
              "isVisibleInTranscriptOnly": "visible_in_transcript_only"}
ATTRIBUTES = {"sessionId": "session_id", "cwd": "cwd", "gitBranch": "git_branch", "version": "version",
              "agentId": "agent_id"}
COMMAND = re.compile(r"<command-name>\s*(.*?)\s*</command-name>", re.DOTALL)
ARGS = re.compile(r"<command-args>\s*(.*?)\s*</command-args>", re.DOTALL)


def sniff(sample: Sample) -> Sniff:
    if sample.shape == "lines":
        records = [value for _, value in sample.value if isinstance(value, dict)]
    elif sample.shape == "object" and isinstance(sample.value, dict):
        records = [sample.value]
    else:
        return no("not JSON lines")
    for record in records:
        if record.get("type") in MESSAGE_TYPES and "uuid" in record and "sessionId" in record \
                and isinstance(record.get("message"), dict):
            return match("Claude Code session records")
    if any("uuid" in record and "parentUuid" in record for record in records):
        return near(70, 'records chained by "uuid" and "parentUuid", but none in the first lines is a user or '
                        'assistant record with a "sessionId" and a "message"')
    if records and all(record.get("type") == "summary" and "leafUuid" in record for record in records):
        return near(60, "only Claude Code summary lines: no user or assistant records in the first lines")
    return no('lines are not Claude Code records (with "type", "uuid", "sessionId" and "message")')


@dataclass(eq=False)  # compared by identity: a record is itself, however alike two are
class _Node:
    number: int
    value: dict[str, Any]
    uuid: str
    kind: str  # "user", "assistant", "compaction", or "pass" (kept only to follow the chain)
    items: list[ImportedMessage] = field(default_factory=list)  # a user line's messages
    children: list["_Node"] = field(default_factory=list)


@dataclass
class _File:
    nodes: dict[str, _Node] = field(default_factory=dict)
    holding: set[str] = field(default_factory=set)  # records a root leads to with a message at or after them
    summaries: list[dict[str, Any]] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)


def read(source: Source) -> Parsed:
    file = _File()
    lines = [(1, source.document())] if source.sample.shape == "object" else source.lines()
    for number, value in lines:
        problem = _take(file, number, value)
        if problem is not None:
            yield problem
    yield from _conversations(file)


def _take(file: _File, number: int, value: Any) -> Invalid | None:
    where = f"line {number}"
    if isinstance(value, Exception):
        return Invalid(where, str(value).split(": ", 2)[-1])
    if not isinstance(value, dict):
        return Invalid(where, f"a Claude Code line must be a JSON object, not {type(value).__name__}")
    kind = value.get("type")
    if kind == "summary":
        file.summaries.append(value)
        return None
    uuid = value.get("uuid")
    if isinstance(uuid, str) and uuid in file.nodes and file.nodes[uuid].value == value:
        file.skipped["repeated line"] += 1
        return None
    if not isinstance(uuid, str) or uuid in file.nodes:
        if kind in MESSAGE_TYPES:
            return Invalid(where, f'a {kind} record needs a "uuid" of its own'
                           + (f" ({uuid[:36]} is on line {file.nodes[uuid].number})" if isinstance(uuid, str) else ""))
        file.skipped[str(kind)[:40]] += 1
        return None
    node = _Node(number, value, uuid, "pass")
    file.nodes[uuid] = node
    if kind in MESSAGE_TYPES:
        message = value.get("message")
        if not isinstance(message, dict):
            return Invalid(where, f'a {kind} record needs a "message" object')
        checked: list[str] = []  # a response's blocks are read again when its lines are merged
        found = anthropic.message_items(kind, message.get("content"), where,
                                        file.warnings if kind == "user" else checked)
        if isinstance(found, Invalid):
            return found
        node.kind = kind
        if kind == "user":
            node.items = _decorate(found, value)
    elif kind == "system" and value.get("subtype") == "compact_boundary":
        node.kind = "compaction"
    else:
        file.skipped[str(kind)[:40] + (f"/{value['subtype']}" if isinstance(value.get("subtype"), str) else "")] += 1
    return None


def _decorate(items: list[ImportedMessage], record: dict[str, Any]) -> list[ImportedMessage]:
    moment = timestamp(record.get("timestamp"))
    for item in items:
        item.timestamp = moment
        item.extra["uuid"] = record["uuid"]
        item.extra.update({ours: True for theirs, ours in USER_FLAGS.items() if record.get(theirs) is True})
    tools = [item for item in items if item.role == "tool"]
    if tools and "toolUseResult" in record:  # the tool's structured output, beside its result block
        tools[0].extra["tool_use_result"] = record["toolUseResult"]
    return items


# ---- chains -------------------------------------------------------------------------------------


def _conversations(file: _File) -> Iterator[Conversation | Invalid]:
    roots = _link(file)
    if file.skipped:
        kinds = ", ".join(f"{kind} {count}" for kind, count in file.skipped.most_common())
        file.warnings.insert(0, f"skipped {sum(file.skipped.values())} lines that hold no messages ({kinds})")
    trees = [root for root in roots if root.uuid in file.holding]
    looped = [node for node in file.nodes.values() if node.kind != "pass" and node.uuid not in file.holding]
    if looped and not trees:  # every message record no root leads to: their parentUuid links loop
        yield Invalid(f"line {looped[0].number}", f"the records on {_lines(looped)} form a loop: each follows "
                      'another by "parentUuid", and none starts the conversation')
        return
    if looped:
        file.warnings.append(f"{_lines(looped)}: {len(looped)} records whose \"parentUuid\" links go round in a "
                             "loop, never reaching the start of a conversation; left out")
    mains = [root for root in trees if root.value.get("isSidechain") is not True]
    tasks: dict[str, list[tuple[str, dict[str, Any], str]]] = {}
    made: list[Conversation] = []
    for index, root in enumerate(mains):
        key = "main" if index == 0 else f"main-{index + 1}"
        family = _chain(root, key, file)
        made += family
        for node in _tree(root):
            for block in _blocks(node) if node.kind == "assistant" else ():
                prompt = (block.get("input") or {}).get("prompt") if isinstance(block.get("input"), dict) else None
                if block.get("type") == "tool_use" and block.get("name") in TASK_TOOLS and isinstance(prompt, str):
                    tasks.setdefault(prompt.strip(), []).append((block.get("id"), block["input"], key))
    main = made[0] if made else None
    if main is not None:
        main.warnings[:0] = file.warnings
        if file.summaries:
            main.attributes["summaries"] = file.summaries
    for root in trees:
        if root in mains:  # by identity (eq=False)
            continue
        family = _chain(root, f"subagent line {root.number}", file)
        first = family[0]
        prompt = _first_text(first)
        matches = tasks.get((prompt or "").strip()) or []
        if matches:
            call_id, arguments, parent = matches.pop(0)
            first.relation, first.parent_key, first.parent_tool_call = "subagent", parent, call_id
            if isinstance(arguments.get("description"), str) and arguments["description"].strip():
                first.title = arguments["description"].strip()
            if isinstance(arguments.get("subagent_type"), str):
                first.attributes["subagent_type"] = arguments["subagent_type"]
        elif main is not None:
            first.relation, first.parent_key = "subagent", main.key
            first.warnings.append(f"line {root.number}: no Task call in the file has this subagent's prompt; "
                                  "linked to the session, not to a call")
        else:
            first.warnings.append(f"line {root.number}: a subagent transcript without its main conversation")
        if main is None:  # a subagent's own file (2.x): a session of its own
            first.warnings[:0] = file.warnings
            if file.summaries:
                first.attributes["summaries"] = file.summaries
            file.warnings, file.summaries = [], []
        made += family
    yield from made


def _link(file: _File) -> list[_Node]:
    roots = []
    for node in file.nodes.values():
        parent_id = node.value.get("parentUuid")
        if parent_id is None and isinstance(node.value.get("logicalParentUuid"), str):
            parent_id = node.value["logicalParentUuid"]  # a compaction boundary names what it followed
        parent = file.nodes.get(parent_id) if isinstance(parent_id, str) else None
        if parent is None and isinstance(parent_id, str) and node.kind != "pass":
            file.warnings.append(f"line {node.number}: follows record {parent_id[:36]}, which is not in the file; "
                                 "its chain starts here")
        if parent is None:
            roots.append(node)
        else:
            parent.children.append(node)
    for root in roots:
        for node in reversed(_tree(root)):  # each record after those that follow it
            if node.kind != "pass" or any(child.uuid in file.holding for child in node.children):
                file.holding.add(node.uuid)
    return roots


def _lines(nodes: list[_Node], shown: int = 10) -> str:
    numbers = sorted(node.number for node in nodes)
    more = f" and {len(numbers) - shown} more" if len(numbers) > shown else ""
    return f"line{'s' * (len(numbers) > 1)} {', '.join(str(number) for number in numbers[:shown])}{more}"


def _tree(root: _Node) -> list[_Node]:
    """Every record under `root` (itself included), in chain order: each before what follows it."""
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        found.append(node)
        stack += reversed(node.children)
    return found


def _latest_leaf(nodes: list[_Node]) -> _Node:
    """The end of the conversation: of the records with nothing after them, the latest."""
    below: set[str] = set()  # records with a message somewhere after them
    for node in reversed(nodes):
        if any(child.kind != "pass" or child.uuid in below for child in node.children):
            below.add(node.uuid)
    leaves = [node for node in nodes if node.kind != "pass" and node.uuid not in below]
    return max(leaves, key=lambda node: (str(node.value.get("timestamp") or ""), node.number))


def _chain(root: _Node, key: str, file: _File) -> list[Conversation]:
    """The conversation from `root` to its latest record, then a fork for each record off that path,
    and off each fork's path, to any depth (worked through a stack: each made before its forks)."""
    family: list[Conversation] = []
    stack: list[tuple[_Node, str, tuple[str, str, int] | None]] = [(root, key, None)]
    while stack:
        start, name, parent = stack.pop()
        nodes = _tree(start)
        kept, node, by_id = set(), _latest_leaf(nodes), {n.uuid: n for n in nodes}
        while node is not None:
            kept.add(node.uuid)
            parent_id = node.value.get("parentUuid") or node.value.get("logicalParentUuid")
            node = by_id.get(parent_id) if node is not start else None
        _siblings(nodes, kept)
        path = [node for node in nodes if node.uuid in kept]
        warnings: list[str] = []
        items, ends = _items(path, warnings)
        conversation = _conversation(name, path, items, file)
        conversation.warnings += warnings
        title, offset = conversation.title, 0  # a fork's forks are titled after the conversation, not the fork
        if parent is not None:
            conversation.parent_key, title, offset = parent
            conversation.branch_at, conversation.title = offset, f"{title} (fork at line {start.number})"
        family.append(conversation)
        stack += reversed([(child, f"{key} fork line {child.number}", (name, title, offset + ends[node.uuid]))
                           for node in path for child in node.children
                           if child.uuid not in kept and child.uuid in file.holding])
    return family


def _siblings(nodes: list[_Node], kept: set[str]) -> None:
    """Records off the path that belong with it: the rest of a response, results of its calls."""
    on_path = [node for node in nodes if node.uuid in kept and node.kind == "assistant"]
    ids = {node.value["message"].get("id") for node in on_path}
    calls = {block.get("id") for node in on_path for block in _blocks(node)}
    for node in nodes:
        if node.uuid in kept or node.kind == "pass":
            continue
        if node.kind == "assistant" and node.value["message"].get("id") in ids:
            kept.add(node.uuid)
            calls.update(block.get("id") for block in _blocks(node))
        elif node.kind == "user" and node.items and all(item.role == "tool" and item.tool_call_id in calls
                                                         for item in node.items):
            kept.add(node.uuid)


def _blocks(node: _Node) -> list[dict[str, Any]]:
    content = node.value["message"].get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, dict):
        return [content]
    return [block if isinstance(block, dict) else {"type": "text", "text": block} for block in content or []]


# ---- messages -----------------------------------------------------------------------------------


def _items(path: list[_Node], warnings: list[str]) -> tuple[list[Any], dict[str, int]]:
    """The path's messages (a response's lines merged by message.id) and the item count after each record."""
    items: list[Any] = []
    groups: dict[str, list[_Node]] = {}
    ends: dict[str, int] = {}
    for node in path:
        if node.kind == "user":
            items += node.items
        elif node.kind == "assistant":
            message_id = node.value["message"].get("id")
            group_key = message_id if isinstance(message_id, str) else node.uuid
            if group_key not in groups:
                items.append(group_key)
            groups.setdefault(group_key, []).append(node)
        elif node.kind == "compaction":
            meta = node.value.get("compactMetadata") if isinstance(node.value.get("compactMetadata"), dict) else {}
            items.append(Compaction(before_tokens=_count(meta.get("preTokens")),
                                    after_tokens=_count(meta.get("postTokens")),
                                    trigger=meta.get("trigger") if isinstance(meta.get("trigger"), str) else None,
                                    timestamp=timestamp(node.value.get("timestamp")), source="claude-code"))
        ends[node.uuid] = len(items)
    merged = {key: _response(lines, warnings) for key, lines in groups.items()}
    return [merged[item] if isinstance(item, str) else item for item in items], ends


def _response(lines: list[_Node], warnings: list[str]) -> ImportedMessage:
    first, last = lines[0], lines[-1]
    blocks = [block for node in lines for block in _blocks(node)]
    found = anthropic.message_items("assistant", blocks, f"line {first.number}", warnings)
    message = found[-1]  # each line's blocks were checked as they were read
    stop = next((node.value["message"].get("stop_reason") for node in reversed(lines)
                 if node.value["message"].get("stop_reason") is not None), None)
    sent = last.value["message"]
    message.call = anthropic.model_call({"model": sent.get("model"), "usage": sent.get("usage"), "stop_reason": stop})
    message.timestamp = timestamp(first.value.get("timestamp"))
    message.extra["uuid"] = first.uuid if len(lines) == 1 else [node.uuid for node in lines]
    message.extra.update({key: sent[key] for key in ("id", "model") if isinstance(sent.get(key), str)})
    if isinstance(last.value.get("requestId"), str):
        message.extra["request_id"] = last.value["requestId"]
    if isinstance(stop, str):
        message.extra["stop_reason"] = stop
    if sent.get("model") == "<synthetic>":  # written by Claude Code itself, not a model
        message.extra["synthetic"] = True
    if last.value.get("isApiErrorMessage") is True:
        message.extra["api_error"] = True
    return message


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _conversation(key: str, path: list[_Node], items: list[Any], file: _File) -> Conversation:
    records = [node.value for node in path if node.kind != "pass"]
    first = records[0] if records else {}
    attributes = {ours: first[theirs] for theirs, ours in ATTRIBUTES.items() if isinstance(first.get(theirs), str)}
    models = [node.value["message"].get("model") for node in path if node.kind == "assistant"]
    model = next((name for name in models if isinstance(name, str) and name != "<synthetic>"), None)
    uuids = {node.uuid for node in path}
    titled = [s for s in file.summaries if isinstance(s.get("summary"), str)]
    summary = next((s["summary"] for s in titled if s.get("leafUuid") in uuids), None)
    if summary is None and first.get("isSidechain") is not True:
        summary = next((s["summary"] for s in titled), None)
    return Conversation(key=key, title=summary or _title(items) or "Claude Code session", items=items,
                        source_id=attributes.get("session_id"), model=model, attributes=attributes,
                        created_at=timestamp(first.get("timestamp")), position=f"line {path[0].number}")


def _title(items: list[Any]) -> str | None:
    for item in items:
        if isinstance(item, ImportedMessage) and item.role == "user" and isinstance(item.content, str):
            command = COMMAND.search(item.content)
            if command:  # "/orchestrator create TODO app by Next.js", not the tags around it
                args = ARGS.search(item.content)
                line = f"{command.group(1)} {args.group(1) if args else ''}"
                return anthropic.first_text([ImportedMessage("user", line)])
            if item.content.strip() and not item.extra.get("is_meta"):
                return anthropic.first_text([item])
    return None


def _first_text(conversation: Conversation) -> str | None:
    for item in conversation.messages:
        if item.role == "user" and isinstance(item.content, str) and item.content.strip():
            return item.content
    return None


FORMAT = Format(NAME, "Claude Code session JSONL", sniff, read, extensions=(".jsonl",))
