"""`python -m sessions copy --from SOURCE --to TARGET [SESSION ...]`: sessions from one store to another."""

from __future__ import annotations

import argparse
from typing import Any

from engine.errors import WorkbenchError
from sessions.copying import copy_sessions
from sessions.store import SessionStore
from sessions.terminal import print_safe

DESCRIPTION = ("Copy sessions exactly (the same ids, events, times and actors, so the same render and stats) "
               "from one store to another: a DuckDB file or a postgresql:// URL, either way. All the sessions "
               "named (every session, when none is) are copied in one transaction, or none is.")


def add_copy_command(command: Any) -> None:
    sub = command("copy", cmd_copy, DESCRIPTION)
    sub.add_argument("--from", dest="db", metavar="SOURCE", default=argparse.SUPPRESS,
                     help="the store to copy from (default: --db, else $WORKBENCH_DB, else the default file)")
    sub.add_argument("--to", required=True, metavar="TARGET",
                     help="the store to copy into: a DuckDB file (made if missing) or a postgresql:// URL")
    sub.add_argument("sessions", nargs="*", metavar="SESSION", help="session ids or unique prefixes (default: all)")


def cmd_copy(store: SessionStore, args: argparse.Namespace) -> int:
    if not args.to.strip():
        raise WorkbenchError("--to needs a store to copy into: a DuckDB file or a postgresql:// URL")
    target = SessionStore(args.to.strip())
    try:
        report = copy_sessions(store, target, args.sessions)
    finally:
        target.close()
    for row in report.sessions:
        print_safe(f"  {row['id']}  {row['events']:>8,} events  {row['title']}")
    print_safe(report.summary())
    return 0
