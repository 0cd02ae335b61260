"""The task DAG and the memory graph on the command line: `tasks` prints the board as a model
reads it (list_tasks), `memory` prints core memory and the memories, or searches them. Both
read the state (now, or just after event SEQ with --at) and change nothing; the tools that
change them are called with `tool`, as a person in the UI or a model would."""

from __future__ import annotations

import argparse
from typing import Any

from engine import WorkbenchError
from engine.memory import CORE_MEMORY_TOKENS, MEMORY_TYPES, core_memory, memory_graph, memory_record
from engine.text import one_line
from engine.tools import registry
from engine.tools.registry import ToolContext
from sessions.store import SessionStore
from sessions.terminal import as_json, open_session, print_safe

_CONTENT_PREVIEW = 90


def add_graph_commands(command: Any) -> None:
    sub = command("tasks", cmd_tasks, "Print a session's task DAG: progress, the tree of tasks with their statuses, "
                  "what is ready, what is blocked and by what, and the critical path.")
    sub.add_argument("session", help="session id (or a unique prefix)")
    sub.add_argument("--at", type=int, help="as it was just after event SEQ")
    sub.add_argument("--json", action="store_true", help="print JSON (list_tasks's result) instead of lines")
    sub = command("memory", cmd_memory, "Print a session's core memory and its memories, or search them (BM25).")
    sub.add_argument("session", help="session id (or a unique prefix)")
    sub.add_argument("--at", type=int, help="as it was just after event SEQ")
    sub.add_argument("--type", choices=MEMORY_TYPES, help="only memories of this type")
    sub.add_argument("--search", metavar="QUERY", help="rank the memories by these words instead of listing them")
    sub.add_argument("--all", action="store_true", help="also list deleted and merged memories")
    sub.add_argument("--json", action="store_true", help="print JSON instead of lines")


def _state(store: SessionStore, args: argparse.Namespace) -> Any:
    session = open_session(store, args.session)
    if args.at is not None and not 0 <= args.at <= session.last_seq:
        raise WorkbenchError(f"--at {args.at} is outside the session, which has events 1 to {session.last_seq}")
    return session, session.state(args.at)


def _read(name: str, arguments: dict[str, Any], state: Any, encoding: str) -> dict[str, Any]:
    result = registry.call(name, arguments, ToolContext.for_state(state, encoding)).result
    if "error" in result:
        raise WorkbenchError(result["error"])
    return result


def cmd_tasks(store: SessionStore, args: argparse.Namespace) -> int:
    session, state = _state(store, args)
    result = _read("list_tasks", {}, state, session.encoding)
    if args.json:
        print(as_json(result))
        return 0
    print_safe(result["summary"])
    if result["tasks"]:
        print_safe(result["tasks"])
        print_safe(f"ready: {', '.join(result['ready']) or '(none)'}")
        for task_id, waits in result["blocked"].items():
            print_safe(f"blocked: {task_id} waits for {', '.join(waits)}")
        if result["critical_path"]:
            print_safe(f"critical path: {' -> '.join(result['critical_path'])}")
    return 0


def cmd_memory(store: SessionStore, args: argparse.Namespace) -> int:
    session, state = _state(store, args)
    if args.search is not None and args.all:
        raise WorkbenchError("--search finds live memories only; leave out --all (or list everything with --all alone)")
    if args.search is not None:
        arguments = {"query": args.search, **({"memory_type": args.type} if args.type else {})}
        result = _read("memory_search", arguments, state, session.encoding)
        if args.json:
            print(as_json(result))
            return 0
        print_safe(f"{result['total']} memories match {args.search!r}")
        for hit in result["hits"]:
            print_safe(f"{hit['score']:>7.3f}  {hit['memory_id']:<6}  {hit['memory_type']:<8}  "
                       f"{one_line(hit['content'], _CONTENT_PREVIEW)}")
        return 0
    graph = memory_graph(state)
    shown = [m for m in graph.memories if (args.all or m.live) and (args.type is None or m.memory_type == args.type)]
    core = core_memory(state)
    if args.json:
        print(as_json({"core_memory": core, "memories": [memory_record(m) for m in shown]}))
        return 0
    tokens = ToolContext.for_state(state, session.encoding).counter.count(core)
    print_safe(f"core memory ({tokens} of {CORE_MEMORY_TOKENS} tokens):" if core else "core memory: (empty)")
    if core:
        print_safe("  " + core.replace("\n", "\n  "))
    others = [m for m in graph.live() if m.memory_type != "core"]  # counted as the pages count them
    gone = len(graph.memories) - len(graph.live())
    print_safe(f"{len(others)} {'memory' if len(others) == 1 else 'memories'}"
               + (" + core memory" if core else "") + (f", {gone} deleted or merged" if gone else ""))
    for memory in shown:
        if memory.memory_type == "core":
            continue
        status = "" if memory.live else f" [{memory.status}{' into ' + memory.merged_into if memory.merged_into else ''}]"
        about = f"  ({', '.join(memory.entities)})" if memory.entities else ""
        print_safe(f"{memory.id}  {memory.memory_type:<8}  {one_line(memory.content, _CONTENT_PREVIEW)}{about}{status}")
    return 0
