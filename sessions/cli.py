"""`python -m sessions`: list, create, import, export, show, fork sessions and call tools.

A thin layer: each command calls the store or a session and prints; every
`WorkbenchError` becomes one line on stderr and exit status 1 (argparse's own usage
errors exit 2). The database is `--db PATH`, else `$WORKBENCH_DB`, else the default file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from engine import WorkbenchError
from engine.render import render, render_pieces, sent_core_memory
from engine.settings import sends_reasoning, settings_of, window_stats
from engine.tokens import token_counter
from engine.tools import TOOL_PROFILES
from sessions.progress import ProgressBar
from sessions.formats import IMPORT_FORMATS
from sessions.store import DB_ENV, SessionStore, default_db_path, shown_target
from sessions.terminal import as_json, open_session, print_safe, terminal_safe

_PREVIEW_CHARS = 1200
_LISTED_SESSIONS = 20


def cmd_list(store: SessionStore, args: argparse.Namespace) -> int:
    sessions = store.list_sessions()
    if args.json:
        print(as_json(sessions))
        return 0
    if not sessions:
        print_safe(f"No sessions in {store.path}. Create one with `python -m sessions new TITLE` or import a file.")
        return 0
    print_safe(f"{'ID':<12}  {'CREATED (UTC)':<16}  {'EVENTS':>6}  {'MSGS':>5}  TITLE")
    for row in sessions:
        subagent = row["forked_at"] == 0 and "subagent" in (row.get("imported_from") or "")
        origin = (f"  (subagent of {row['forked_from']})" if row["forked_from"] and subagent
                  else f"  (fork of {row['forked_from']} at {row['forked_at']})" if row["forked_from"]
                  else f"  (imported from {row['imported_from']})" if row.get("imported_from") else "")
        created = row["created_at"].strftime("%Y-%m-%d %H:%M")
        print_safe(f"{row['id']:<12}  {created:<16}  {row['events']:>6}  {row['messages']:>5}  {row['title']}{origin}")
    return 0


def cmd_new(store: SessionStore, args: argparse.Namespace) -> int:
    print(store.create_session(args.title).id)
    return 0


def cmd_add(store: SessionStore, args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    print(open_session(store, args.session).add_message(args.role, text))
    return 0


def cmd_import(store: SessionStore, args: argparse.Namespace) -> int:
    bar = ProgressBar(sys.stderr, args.file.name)
    try:
        report = store.import_file(args.file, title=args.title, format_name=args.format,
                                   skip_invalid=args.skip_invalid, progress=bar)
    finally:
        bar.finish()
    if args.json:
        print(as_json(report.as_dict()))
        return 0
    for line in report.lines():
        print_safe(line)
    made = [session for file in report.files for session in file.sessions]
    for session in made[:_LISTED_SESSIONS]:
        relation = f"  ({session['relation']})" if session["relation"] else ""
        print_safe(f"{session['id']}  {session['title']}{relation}")
    if len(made) > _LISTED_SESSIONS:
        print_safe(f"... and {len(made) - _LISTED_SESSIONS:,} more (python -m sessions list)")
    return 0


def cmd_export(store: SessionStore, args: argparse.Namespace) -> int:
    from sessions.exporting import export_session

    format_name = args.format or ("otlp" if args.otlp_endpoint else "jsonl")
    if args.otlp_endpoint and format_name != "otlp":
        raise WorkbenchError(f"--otlp-endpoint sends an OTLP trace; use it with --format otlp, not {format_name}")
    if args.output is None and not args.otlp_endpoint:
        raise WorkbenchError(f"export needs -o PATH ({'a folder' if format_name == 'parquet' else 'a file'} to write), "
                             "or --otlp-endpoint URL to send an OTLP trace to a collector")
    print_safe(export_session(open_session(store, args.session), format_name, args.output, otlp_endpoint=args.otlp_endpoint))
    return 0


def cmd_fork(store: SessionStore, args: argparse.Namespace) -> int:
    fork = open_session(store, args.session).fork(at=args.at, title=args.title)
    print_safe(f"{fork.id}  {fork.title}")
    return 0


def cmd_tool(store: SessionStore, args: argparse.Namespace) -> int:
    result = open_session(store, args.session).call_tool(args.name, args.args)
    if "error" in result:
        print(f"error: {terminal_safe(result['error'])}", file=sys.stderr)
        return 1
    print(terminal_safe(as_json(result)))
    return 0


def cmd_chat(store: SessionStore, args: argparse.Namespace) -> int:
    from engine.streaming import ReasoningDelta, TextDelta
    from sessions.agent import StepDone, Turn

    from sessions.cli_brakes import report_brakes

    session = open_session(store, args.session)
    before = session.last_seq
    turn = Turn(session, args.text, {"model": args.model, "tools": args.tools, "tool_choice": args.tool_choice,
                                     "api_base": args.api_base}).start()
    thinking = False
    try:
        for update in turn.updates():
            if isinstance(update, ReasoningDelta) and args.reasoning and not args.no_stream:
                if not thinking:
                    sys.stderr.write("[reasoning] ")
                    thinking = True
                sys.stderr.write(terminal_safe(update.text))
                sys.stderr.flush()
            elif isinstance(update, TextDelta) and not args.no_stream:
                if thinking:
                    sys.stderr.write("\n")
                    thinking = False
                sys.stdout.write(terminal_safe(update.text))
                sys.stdout.flush()
            elif isinstance(update, StepDone):
                call = update.call
                outcome = "error: " + call["result"]["error"] if "error" in call["result"] else "ok"
                print(terminal_safe(f"→ {call['name']}({call['arguments']}) {outcome}"), file=sys.stderr)
    except KeyboardInterrupt:  # Ctrl-C stops the turn the same way the Stop button does; what arrived is kept
        turn.stop("interrupted with Ctrl-C")
        turn.join()
    result = turn.outcome()
    report_brakes(session, before)
    if result.get("error"):
        print(f"error: {terminal_safe(result['error'])}", file=sys.stderr)
        return 1
    if args.no_stream and result.get("reply") is not None:
        print(terminal_safe(result["reply"]))
    elif not args.no_stream:
        print()
    if result.get("stopped"):
        print(f"stopped ({terminal_safe(result.get('stop_reason') or 'requested')}); the partial reply is kept", file=sys.stderr)
        return 130
    return 0


def cmd_check(store: SessionStore, args: argparse.Namespace) -> int:
    results = store.check()
    broken = [row for row in results if row["error"]]
    if args.json:
        print(terminal_safe(as_json(results)))
    else:
        for row in results:
            verdict = f"does not replay: {row['error']}" if row["error"] else "ok"
            print_safe(f"{row['id']}  {row['events']:>6} events  {row['title']}: {verdict}")
        print_safe(f"{len(results) - len(broken)} of {len(results)} sessions replay"
               + (f"; {len(broken)} do not (each opens at its last good event; fork it there to carry on)" if broken else ""))
    return 1 if broken else 0


def cmd_events(store: SessionStore, args: argparse.Namespace) -> int:
    for event in open_session(store, args.session).events():
        print(terminal_safe(json.dumps(event, ensure_ascii=False)))
    return 0


def _clip(text: str, full: bool) -> str:
    if full or len(text) <= _PREVIEW_CHARS:
        return text
    return text[:_PREVIEW_CHARS] + f"\n… ({len(text) - _PREVIEW_CHARS:,} more characters; --full shows all)"


def cmd_show(store: SessionStore, args: argparse.Namespace) -> int:
    session = open_session(store, args.session)
    state = session.state(args.at)
    settings = settings_of(state)
    stats = window_stats(state, settings, None, session.encoding)
    counter = token_counter(session.encoding)
    sent = sends_reasoning(settings)
    if args.json:
        reasoning = [{"message_id": m.id, "text": m.reasoning, "tokens": counter.count(m.reasoning), "sent": sent}
                     for m in state.messages if m.reasoning]
        document = {"messages": render(state, session.encoding, sent), "reasoning": reasoning,
                    "stopped": [m.id for m in state.messages if m.stopped], "stats": stats}
        if session.replay_error:
            document["replay_error"] = str(session.replay_error)
        print(terminal_safe(as_json(document)))
        return 0
    at = session.last_seq if args.at is None else args.at
    print_safe(f"Session {session.id} \"{session.title}\": event {at} of {session.last_seq}")
    if session.replay_error:
        print_safe(f"warning: this session's {session.replay_error}; shown up to event {session.last_seq}")
    if stats["core_memory_tokens"]:  # always first in what the model is sent
        print_safe(f"\n── core memory · system · {stats['core_memory_tokens']:,} tokens ──")
        print_safe(_clip(sent_core_memory(state, session.encoding), args.full))
    for message in state.messages:
        pieces = render_pieces(message, counter)
        original = sum(p.original_tokens for p in pieces)
        rendered = sum(p.rendered_tokens for p in pieces)
        detail = f"{original:,} tokens" + (f", {rendered:,} rendered" if rendered != original else "")
        if len(pieces) > 1:
            detail += f", {len(pieces)} fragments"
        if message.stopped:
            detail += ", stopped"
        print_safe(f"\n── {message.id} · {message.role} · {detail} ──")
        if message.reasoning:
            where = "sent back" if sent else "not sent back"
            tokens = counter.count(message.reasoning)
            if args.full:
                print_safe(f"┆ reasoning · {tokens:,} tokens · {where}")
                print_safe("\n".join("┆ " + line for line in message.reasoning.splitlines()))
            else:
                print_safe(f"┆ reasoning · {tokens:,} tokens · {where} (--full shows it)")
        if message.tool_call_id:
            print_safe(f"(result of call {message.tool_call_id})")
        for piece in pieces:
            if len(pieces) > 1 or piece.fragment.status != "visible":
                print_safe(f"┌ {piece.fragment.id} {piece.fragment.status} · {piece.original_tokens:,} tokens")
            print_safe(_clip(piece.text, args.full))
        for call in message.tool_calls or ():
            function = call.get("function", {})
            print_safe(f"→ call {call.get('id')}: {function.get('name')}({_clip(str(function.get('arguments', '')), args.full)})")
    print_safe("\n── Token breakdown ──")
    for key in ("total_tokens", "visible_tokens", "folded_tokens", "summarized_tokens", "marker_tokens",
                "tool_call_tokens", "overhead_tokens", "reasoning_tokens", "core_memory_tokens", "rendered_tokens",
                "tool_schema_tokens", "saved_tokens"):
        print_safe(f"{key.replace('_tokens', '').replace('_', ' '):<12} {stats[key]:>12,}")
    for role, numbers in stats["by_role"].items():
        print_safe(f"{role:<12} {numbers['rendered_tokens']:>12,} rendered of {numbers['total_tokens']:,} "
               f"in {numbers['messages']} message{'s' if numbers['messages'] != 1 else ''}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS,
                        help=f"DuckDB file or postgresql://USER@HOST:PORT/DATABASE URL (default: ${DB_ENV}, "
                        f"else {shown_target(default_db_path())})")
    parser = argparse.ArgumentParser(prog="python -m sessions", parents=[common],
                                     description="Context Workbench sessions: list, import, export, show, call tools, chat, brakes, "
                                     "tasks, memory, and an MCP server.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    sub = command("list", cmd_list, "List sessions, newest first.")
    sub.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sub = command("new", cmd_new, "Create an empty session and print its id.")
    sub.add_argument("title", help="the session's title")
    sub = command("add", cmd_add, "Append a message to a session and print its id.")
    sub.add_argument("session", help="session id (or a unique prefix)")
    sub.add_argument("role", choices=["system", "user", "assistant"], help="who speaks")
    sub.add_argument("text", help="the message text, or - to read it from standard input")
    sub = command("import", cmd_import, "Import saved conversations: the format is found from the content "
                  "(.gz and .zip read as they are); prints what was made.")
    sub.add_argument("file", type=Path, help="the file to import")
    sub.add_argument("--title", help="title for the new session (default: from the file)")
    sub.add_argument("--format", choices=[f.name for f in IMPORT_FORMATS], metavar="NAME",
                     help=f"read the file as this format: {', '.join(f.name for f in IMPORT_FORMATS)}")
    sub.add_argument("--skip-invalid", action="store_true",
                     help="import the good conversations of a file and list the bad ones (default: refuse the file)")
    sub.add_argument("--json", action="store_true", help="print the import report as JSON")
    from sessions.exporting import EXPORTS

    sub = command("export", cmd_export, "Export a session: a workbench trace (JSON lines), OTLP JSON (or sent to "
                  "a collector), Parquet tables or a Markdown transcript.")
    sub.add_argument("session", help="session id (or a unique prefix)")
    sub.add_argument("--format", choices=list(EXPORTS),
                     help="jsonl (the default: the workbench trace), otlp, parquet (-o names a folder) or markdown")
    sub.add_argument("-o", "--output", type=Path, metavar="PATH",
                     help="file to write (a folder for parquet); needed unless --otlp-endpoint alone sends the trace")
    sub.add_argument("--otlp-endpoint", metavar="URL",
                     help="send the OTLP trace to a collector over OTLP/HTTP, such as http://localhost:4318 "
                          "(/v1/traces is appended unless the path ends with it); sent before -o is written, so a "
                          "failed send writes nothing; headers (keys) from $OTEL_EXPORTER_OTLP_HEADERS, never the "
                          "URL; time limit $OTEL_EXPORTER_OTLP_TIMEOUT in ms (10 s)")
    sub = command("show", cmd_show, "Show the rendered context with fragment markers and token breakdown.")
    sub.add_argument("session", help="session id (or a unique prefix)")
    sub.add_argument("--at", type=int, help="show the context as it was just after event SEQ")
    sub.add_argument("--full", action="store_true", help="print long fragments in full")
    sub.add_argument("--json", action="store_true", help="print the rendered messages and stats as JSON")
    sub = command("fork", cmd_fork, "Copy a session's first events into a new session.")
    sub.add_argument("session", help="session id (or a unique prefix)")
    sub.add_argument("--at", type=int, help="number of events to keep (default: all)")
    sub.add_argument("--title", help="title of the fork")
    sub = command("tool", cmd_tool, "Call a context tool on a session, as a person would.")
    sub.add_argument("session", help="session id (or a unique prefix)")
    sub.add_argument("name", help="tool name, such as fold_fragment")
    sub.add_argument("--args", default="{}", help='arguments as a JSON object, such as \'{"fragment_id": "f1a2b3"}\'')
    sub = command("chat", cmd_chat, "Send a message and run one agent turn; prints the reply as it streams.")
    sub.add_argument("session", help="session id (or a unique prefix)")
    sub.add_argument("text", help="the message")
    sub.add_argument("--model", help="litellm model string (default: the session's, else the embedded model)")
    sub.add_argument("--api-base", help="base URL of an OpenAI-compatible server, with an openai/... model")
    sub.add_argument("--tools", choices=list(TOOL_PROFILES), help="tool profile (default: the session's)")
    sub.add_argument("--tool-choice", help="auto, required, none, or a tool's name (forced on the first step)")
    sub.add_argument("--no-stream", action="store_true", help="print the reply when it is complete")
    sub.add_argument("--reasoning", action="store_true", help="also print the model's reasoning (on stderr) as it streams")
    from sessions.cli_brakes import add_brake_commands

    add_brake_commands(command)
    from sessions.cli_graphs import add_graph_commands

    add_graph_commands(command)
    from sessions.cli_mcp import add_mcp_command

    add_mcp_command(command)
    from sessions.cli_copy import add_copy_command

    add_copy_command(command)
    sub = command("check", cmd_check, "Replay every session in the store and say which ones do not (exit 1 if any).")
    sub.add_argument("--json", action="store_true", help="print JSON instead of lines")
    sub = command("events", cmd_events, "Print a session's events as JSON lines.")
    sub.add_argument("session", help="session id (or a unique prefix)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    args = build_parser().parse_args(argv)
    try:
        store = SessionStore((getattr(args, "db", None) or "").strip() or None)  # None: $WORKBENCH_DB, else the default
        try:
            return args.handler(store, args)
        finally:
            store.close()
    except WorkbenchError as exc:
        print(f"error: {terminal_safe(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: still one line, unless the user asks for the traceback
        if os.environ.get("WORKBENCH_DEBUG"):
            raise
        print(f"error: unexpected {type(exc).__name__}: {terminal_safe(str(exc))} "
              "(set WORKBENCH_DEBUG=1 to see the traceback)", file=sys.stderr)
        return 1
