"""ChatGPT's data export: `conversations.json`, an array of conversations (or one of them).

Each conversation keeps its messages as a tree, `mapping` (node id -> {message, parent,
children}), because regenerating an answer or editing a prompt adds a sibling instead of
replacing it. The thread from `current_node` up through `parent` to the root is what the
person last saw: that is the session. Every other child of a node on a thread starts a
branch, imported as a fork of the session it leaves (`parent_key`, `branch_at` = the items
they share), following the newest child (latest `create_time`) down to a leaf; the other
children there are branches of that branch. The main session comes first, then its
branches, parents before children.

Content is polymorphic on `content_type`: `text` and `multimodal_text` keep `parts` (strings
are the text, other parts such as image pointers are attachments), `code` and
`execution_output` keep `text`, `thoughts` becomes the reasoning of the assistant reply
that follows it, `reasoning_recap` ("Thought for 12s") goes into that reply's extra, and any
other type gives its text where it has some and is kept as an attachment where it has none.
An assistant message whose `recipient` is not "all" is a call to that tool (its text the
arguments, its id `call_<node id>`), answered by the `tool` message that follows; every
message keeps its `recipient` in its extra. Messages
the app hid (`is_visually_hidden_from_conversation`, empty system prompts) are imported
folded; an empty one is imported too, and the builder warns that it is empty. What does not
fit (a `metadata` that is not an object, `attachments` that are not a list, nodes in a loop of
parent links) is kept or named in a warning that names the node. A conversation whose thread
shows nothing is refused with the reason: a loop no root leads to, a `current_node` that is
not in the mapping.

A top-level array is streamed record by record (`Source.items()`), so a 200 MB export
imports in bounded memory: one conversation and its branches at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from sessions.formats.chatgpt_messages import Thread, parse_message
from sessions.formats.conversation import Conversation, Format, Invalid, Parsed, Sniff, match, near, no, timestamp
from sessions.formats.source import Sample, Source

NAME = "chatgpt"
TOP_KEYS = {"title", "create_time", "mapping", "current_node", "conversation_id", "id"}  # read into fields


# ---- detection -------------------------------------------------------------------------------


def sniff(sample: Sample) -> Sniff:
    if sample.shape == "array":
        records = [value for value in sample.value or () if isinstance(value, dict)]
    elif sample.shape == "object" and isinstance(sample.value, dict):
        records = [sample.value]
    else:
        return no(f"not a JSON array or object ({sample.shape})")
    looks = [r for r in records if "mapping" in r or "conversation_id" in r or "current_node" in r
             or ("title" in r and ("create_time" in r or "update_time" in r))]
    if any(isinstance(r.get("mapping"), dict) and ("current_node" in r or "title" in r) for r in looks):
        return match("ChatGPT conversations (a message tree under \"mapping\")")
    if any("mapping" in r for r in looks):
        return near(85, 'a ChatGPT export record, but its "mapping" is not an object of message nodes')
    if looks:
        return near(80, 'a ChatGPT export record, but it has no "mapping" (the messages by node id)')
    return no('no record with "mapping" and "current_node" (a ChatGPT conversation)')


def read(source: Source) -> Parsed:
    stem = Path(source.name.rsplit(":", 1)[-1]).stem or "ChatGPT"
    if source.sample.shape == "array":
        for index, record in source.items():
            yield from _record(record, f"/{index}", f"record [{index}]", f"{stem} [{index}]")
    elif source.sample.shape == "object":
        yield from _record(source.document(), "", "the conversation", stem)
    else:
        raise source.error(None, "expected a ChatGPT export: an array of conversations or one conversation object")


# ---- one conversation: the tree, its threads --------------------------------------------------


@dataclass
class _Tree:
    nodes: dict[str, dict[str, Any]]
    children: dict[str, list[str]]
    roots: list[str]
    pointer: str  # "/3" for record [3], "" for a lone object
    looped: list[str]  # nodes no root leads to: in or under a loop of parent links

    def where(self, node: str) -> str:
        return _pointer(self.pointer, node)

    def message(self, node: str) -> dict[str, Any] | None:
        message = self.nodes[node].get("message")
        return message if isinstance(message, dict) else None

    def newest_child(self, node: str, taken: set[str]) -> str | None:
        free = [child for child in self.children.get(node, ()) if child not in taken]
        if not free:
            return None
        order = {child: index for index, child in enumerate(free)}
        return max(free, key=lambda child: (_number(self.message(child), "create_time"), order[child]))


def _record(record: Any, pointer: str, place: str, fallback: str) -> Iterator[Conversation | Invalid]:
    if not isinstance(record, dict):
        yield Invalid(place, f"a conversation must be an object, not {type(record).__name__}")
        return
    title = record.get("title").strip() if isinstance(record.get("title"), str) and record["title"].strip() else ""
    named = f'{place} "{title[:60]}"' if title else place
    mapping = record.get("mapping")
    if not isinstance(mapping, dict):
        what = "no \"mapping\"" if mapping is None else f'a "mapping" that is {type(mapping).__name__}, not an object'
        yield Invalid(named, f"the conversation has {what} (its messages by node id)")
        return
    tree = _tree(mapping, pointer)
    if isinstance(tree, Invalid):
        yield tree
        return
    warnings: list[str] = []
    if record.get("title") is not None and not title:
        warnings.append(f"the title {str(record['title'])[:40]!r} is not text; named by its place")
    made = _Threads(tree, record, title or fallback, place, warnings).conversations()
    if isinstance(made, Invalid):
        yield Invalid(named, made.reason) if made.position == place else made
        return
    yield from made


def _tree(mapping: dict[str, Any], pointer: str) -> _Tree | Invalid:
    nodes: dict[str, dict[str, Any]] = {}
    for node_id, node in mapping.items():
        if not isinstance(node, dict):
            return Invalid(_pointer(pointer, node_id), f"a node must be an object, not {type(node).__name__}")
        if node.get("message") is not None and not isinstance(node["message"], dict):
            return Invalid(_pointer(pointer, node_id) + "/message", "a message must be an object or null")
        nodes[node_id] = node
    children: dict[str, list[str]] = {}
    roots: list[str] = []
    for node_id, node in nodes.items():
        parent = node.get("parent")
        if isinstance(parent, str) and parent in nodes and parent != node_id:
            children.setdefault(parent, []).append(node_id)
        else:
            roots.append(node_id)
    for parent, kids in children.items():  # the order the parent lists them in, where it does
        listed = nodes[parent].get("children")
        order = {child: index for index, child in enumerate(listed)} if isinstance(listed, list) else {}
        kids.sort(key=lambda child: order.get(child, len(order)))
    reached, stack = set(roots), list(roots)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in reached:
                reached.add(child)
                stack.append(child)
    return _Tree(nodes, children, roots, pointer, [node for node in nodes if node not in reached])


@dataclass
class _Branch:
    conversation: Conversation
    path: list[str]
    snapshots: dict[str, tuple[int, Thread]]  # node -> (items so far, what was pending) after it


class _Threads:
    """The main thread and every branch of one conversation, as conversations."""

    def __init__(self, tree: _Tree, record: dict[str, Any], title: str, place: str, warnings: list[str]) -> None:
        self.tree, self.record, self.title, self.place, self.warnings = tree, record, title, place, warnings
        self.taken: set[str] = set()
        ids = [record.get(key) for key in ("conversation_id", "id")]
        self.source_id = next((str(value) for value in ids if isinstance(value, (str, int)) and str(value)), None)
        default = record.get("default_model_slug")
        self.model = default if isinstance(default, str) and default else None
        self.attributes = {key: value for key, value in record.items() if key not in TOP_KEYS and value is not None}

    def conversations(self) -> list[Conversation] | Invalid:
        path = self._main_path()
        if isinstance(path, Invalid):
            return path
        main = self._thread(path, Thread(), 0, self.place, self.title)
        if not main.conversation.messages:
            return Invalid(self.place, self._why_empty())
        main.conversation.warnings = self.warnings
        self.model = main.conversation.model = self.model or next(
            (m.call.model for m in main.conversation.messages if m.call is not None), None)
        queue: list[tuple[_Branch, str | None, str]] = [(main, None, root) for root in self.tree.roots
                                                       if root not in self.taken]
        if queue:
            self.warnings.append(f"{len(queue)} message tree(s) not linked to the conversation's root; "
                                 "imported as branches from its start")
        queue += self._forks_of(main)
        made, titles = [main], {}
        while queue:
            branch = self._branch(*queue.pop(0), titles)
            made.append(branch)
            queue += self._forks_of(branch)
        if self.tree.looped:
            verb = "is" if len(self.tree.looped) == 1 else "are"
            self.warnings.append(f"{_nodes(self.tree.looped)} {verb} in or under a loop of parent links, "
                                 "which no root leads to; left out")
        return [branch.conversation for branch in made]

    def _why_empty(self) -> str:
        """Why the thread shown holds no message: a current_node not in the tree, messages out of reach."""
        current = self.record.get("current_node")
        missing = f"current_node {_shown(current)} is not in the mapping" if current is not None and not (
            isinstance(current, str) and current in self.tree.nodes) else ""
        looped = [node for node in self.tree.looped if self.tree.message(node)]
        if looped:
            return ("the conversation has no messages outside a loop of parent links: "
                    f"{missing + ', and its' if missing else 'its'} messages are at {_nodes(looped)}, "
                    "which no root leads to")
        return f"the conversation has no messages ({missing})" if missing else "the conversation has no messages"

    def _main_path(self) -> list[str] | Invalid:
        current = self.record.get("current_node")
        if not (isinstance(current, str) and current in self.tree.nodes):
            if not self.tree.roots:
                return Invalid(self.place, "the parent links of every node form a loop: it has no root "
                                           f"({_nodes(list(self.tree.nodes))})")
            if current is not None:
                self.warnings.append(f"current_node {_shown(current)} is not in the mapping; "
                                     "took the newest thread")
            return self._descend(self.tree.roots[0])
        path, seen = [], set()
        while current is not None:
            if current in seen:
                loop = [_shown(node) for node in path[path.index(current):] + [current]]
                shown = " -> ".join(loop[:8]) + (" -> ..." if len(loop) > 8 else "")
                return Invalid(self.tree.where(current), f"the parent links form a loop: {shown}")
            seen.add(current)
            path.append(current)
            parent = self.tree.nodes[current].get("parent")
            current = parent if isinstance(parent, str) and parent in self.tree.nodes else None
        path.reverse()
        self.taken.update(path)
        after = self.tree.newest_child(path[-1], self.taken)
        if after is not None and not any(self.tree.message(node) for node in path):
            path += self._descend(after)  # current_node names the empty root: take the newest thread under it
        return path

    def _descend(self, start: str) -> list[str]:
        """`start` and its newest descendants down to a leaf (none already taken)."""
        path: list[str] = []
        node: str | None = start
        while node is not None:
            path.append(node)
            self.taken.add(node)
            node = self.tree.newest_child(node, self.taken)
        return path

    def _forks_of(self, branch: _Branch) -> list[tuple[_Branch, str | None, str]]:
        return [(branch, node, child) for node in branch.path for child in self.tree.children.get(node, ())
                if child not in self.taken]

    def _branch(self, parent: _Branch, at: str | None, start: str, titles: dict[str, int]) -> _Branch:
        count, pending = parent.snapshots[at] if at is not None else (0, Thread())
        where = f"branch at message {count + 1}"
        titles[where] = titles.get(where, 0) + 1
        if titles[where] > 1:
            where = f"branch {titles[where]} at message {count + 1}"
        branch = self._thread(self._descend(start), pending.copy(), count, self.tree.where(start),
                              f"{self.title} ({where})")
        branch.conversation.parent_key, branch.conversation.branch_at = parent.conversation.key, count
        branch.conversation.attributes["branch_node"] = start
        if not branch.conversation.items:
            self.warnings.append(f"the branch at {self.tree.where(start)} holds no messages")
        return branch

    def _thread(self, path: list[str], thread: Thread, before: int, key: str, title: str) -> _Branch:
        items: list[Any] = []
        snapshots: dict[str, tuple[int, Thread]] = {}
        for node in path:
            message = self.tree.message(node)
            if message is not None:
                answers = [self.tree.message(child) for child in self.tree.children.get(node, ())]
                thread.add(parse_message(node, message, self.tree.where(node), answers, self.warnings), items)
            if node in self.tree.children:
                snapshots[node] = (before + len(items), thread.copy())
        thread.flush(items)
        conversation = Conversation(key=key, title=title, items=items, source_id=self.source_id, model=self.model,
                                    created_at=timestamp(self.record.get("create_time")),
                                    attributes=dict(self.attributes), position=key)
        return _Branch(conversation, path, snapshots)


def _pointer(pointer: str, node: str) -> str:
    return f"{pointer}/mapping/{str(node).replace('~', '~0').replace('/', '~1')}"


def _shown(value: Any) -> str:
    return repr(value[:40]) if isinstance(value, str) else repr(value)[:40]


def _nodes(names: list[str]) -> str:
    shown = ", ".join(_shown(name) for name in names[:5])
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return f"node{'s' if len(names) > 1 else ''} {shown}{more}"


def _number(message: dict[str, Any] | None, key: str) -> float:
    value = message.get(key) if message else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else float("-inf")


FORMAT = Format(NAME, "ChatGPT export", sniff, read, extensions=(".json", ".zip"))
