"""Following live: from another process's commit to the change on the Context page in Chromium,
and what an idle poll costs the server.

    ./workbench bench-follow                     # 10k and 1M tokens, 20 writes each
    ./workbench bench-follow --sizes 10k --writes 10 --no-record

Each session is built as bench/ui.py builds its own (bench/scale.py's `build`, kept under
`--cache`) and copied. The real app runs (`streamlit run app.py`, headless, offline), Chromium
opens the Context page as tests/e2e do, and a writer process (a `SessionStore` of its own,
closed after each write, as the CLI or an MCP server's call leaves it) folds a fragment shown on
the page, `--writes` times, one at a time. Per write: the time from the writer's commit (its
clock, taken as `call_tool` returns) to the moment the page's "In the window" number changes,
and to the moment the folded fragment's card offers Restore, both noted inside the page by a
MutationObserver (`performance.timeOrigin + performance.now()`: the same machine, the same
clock). The poll runs every `components.follow.LIVE_SECONDS`, so about half of that is waiting
for the next poll.

The idle poll: `Workbench.latest` as the poll fragment calls it, with nothing committed since
the last look, timed in this process on the same file, and whether it opened DuckDB (counted
by wrapping `duckdb.connect`); and, for comparison, the same call right after a commit by
another process (a read of the new events).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from browser_draw import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from results import record  # noqa: E402
from timing import cell, summary, timed  # noqa: E402
from ui_browser import app_server, offline_env, open_context, settle  # noqa: E402

import ui  # noqa: E402  (bench/ui.py: the built sessions, and their shape)

SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
WAIT_MS = 120_000
_HIDE = re.compile(r"st-key-(m\d+)-(f[0-9a-f]+)-(\d+)-hide")

# Armed before each write: when the bar's number changes, and when the fragment's Restore shows.
_ARM = """([label, restore]) => {
  const value = () => {
    const block = [...document.querySelectorAll('[data-testid="stMetric"]')].find(e => e.innerText.includes(label));
    const shown = block && block.querySelector('[data-testid="stMetricValue"]');
    return shown ? shown.innerText : null;
  };
  const now = () => performance.timeOrigin + performance.now();
  const bench = window.__follow = {before: value(), bar: null, card: null};
  const watch = new MutationObserver(() => {
    if (bench.bar === null && value() !== null && value() !== bench.before) bench.bar = now();
    if (bench.card === null && document.querySelector(restore)) bench.card = now();
    if (bench.bar !== null && bench.card !== null) watch.disconnect();
  });
  watch.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}"""
_SEEN = "() => window.__follow && window.__follow.bar !== null && window.__follow.card !== null"

# The other process: reads "session fragment" lines, folds each, prints the commit's time.
_WRITER = """
import sys, time, json
from sessions import SessionStore
db = sys.argv[1]
print("ready", flush=True)
for line in sys.stdin:
    session_id, fragment_id = line.split()
    store = SessionStore(db, lock_timeout=60)
    result = store.open_session(session_id).call_tool("fold_fragment", {"fragment_id": fragment_id})
    committed = time.time()
    store.close()
    print(json.dumps({"committed": committed, "error": result.get("error")}), flush=True)
"""


def _visible_hide(page) -> tuple[str, str, str] | None:
    """(message id, fragment id, position) of the first Hide button on the page shown."""
    classes = page.evaluate("""() => [...document.querySelectorAll('[class*="-hide"]')].map(e => e.className)""")
    for names in classes:
        found = _HIDE.search(names)
        if found:
            return found.group(1), found.group(2), found.group(3)
    return None


def follow_writes(db: Path, title: str, session_id: str, writes: int, folder: Path) -> dict:
    """Open Context in Chromium and time `writes` folds made by another process."""
    from playwright.sync_api import sync_playwright

    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(db)], cwd=ROOT, env=offline_env(db),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    to_bar, to_card = [], []
    try:
        assert writer.stdout.readline().strip() == "ready"
        with app_server(db, folder / "streamlit.log") as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                opened = open_context(page, url, title)
                for _ in range(writes):
                    target = _visible_hide(page)
                    if target is None:
                        break
                    message_id, fragment_id, position = target
                    page.evaluate(_ARM, ["In the window", f".st-key-{message_id}-{fragment_id}-{position}-restore"])
                    writer.stdin.write(f"{session_id} {fragment_id}\n")
                    writer.stdin.flush()
                    answer = json.loads(writer.stdout.readline())
                    if answer["error"]:
                        raise RuntimeError(answer["error"])
                    page.wait_for_function(_SEEN, timeout=WAIT_MS, polling="raf")
                    seen = page.evaluate("() => window.__follow")
                    to_bar.append(seen["bar"] / 1000 - answer["committed"])
                    to_card.append(seen["card"] / 1000 - answer["committed"])
                    settle(page)
            finally:
                browser.close()
    finally:
        writer.stdin.close()
        writer.wait(timeout=60)
    return {**opened, "to_bar": summary(to_bar), "to_card": summary(to_card)}


def idle_poll(db: Path, session_id: str, polls: int = 200) -> dict:
    """`Workbench.latest` with nothing new (and once after another process's commit)."""
    import sessions.database as database
    from sessions.service import Workbench

    service = Workbench(db)
    session = service.session(session_id)
    _, token = service.latest(session_id, None)
    service.store.close()
    opened = []
    real = database.duckdb.connect
    database.duckdb.connect = lambda *a, **k: opened.append(a) or real(*a, **k)
    try:
        idle = [timed(service.latest, session_id, token)[1] for _ in range(polls)]
        idle_opens = len(opened)
        fragment = next(f.id for f in session.state().fragments() if f.status == "visible")
        subprocess.run([sys.executable, "-m", "sessions", "--db", str(db), "tool", session_id, "fold_fragment",
                        "--args", json.dumps({"fragment_id": fragment})], cwd=ROOT, env=offline_env(db),
                       check=True, capture_output=True)
        (_, _), moved = timed(service.latest, session_id, token)
    finally:
        database.duckdb.connect = real
        service.store.close()
    return {"idle": summary(idle), "idle_opens": idle_opens, "polls": polls, "after_commit_ms": moved * 1000,
            "after_commit_opens": len(opened) - idle_opens}


def measure(name: str, tokens: int, corpus, cache: Path, writes: int) -> dict:
    source = ui.built(cache, tokens, corpus)
    with tempfile.TemporaryDirectory(prefix="workbench-bench-follow-") as folder:
        db = Path(folder) / "follow.duckdb"
        shutil.copyfile(source, db)
        shape = ui._shape(db)
        from sessions import SessionStore

        store = SessionStore(db)
        session_id = store.list_sessions()[0]["id"]
        store.close()
        print(f"{name}: {shape['messages']:,} messages, {shape['events']:,} events; Chromium ...",
              file=sys.stderr, flush=True)
        browser = follow_writes(db, shape["title"], session_id, writes, Path(folder))
        poll = idle_poll(db, session_id)
    return {"size": name, "tokens": tokens, **shape, **browser, **poll}


def table(results: list[dict]) -> str:
    """A fixed-width table, a column per size, as the other benchmarks print theirs."""
    rows = [("", [r["size"] for r in results]),
            ("events in the session", [f"{r['events']:,}" for r in results]),
            ("commit elsewhere -> bar changed (ms)", [cell(r["to_bar"], 0) for r in results]),
            ("commit elsewhere -> card folded (ms)", [cell(r["to_card"], 0) for r in results]),
            ("idle poll, nothing new (ms)", [cell(r["idle"], 3) for r in results]),
            ("DuckDB opened by idle polls", [f"{r['idle_opens']} in {r['polls']}" for r in results]),
            ("poll after a commit elsewhere (ms)",
             [f"{r['after_commit_ms']:.1f} ({r['after_commit_opens']} connects tried)" for r in results])]
    first = max(len(name) for name, _ in rows)
    widths = [max(len(cells[i]) for _, cells in rows) for i in range(len(results))]
    return "\n".join((f"{name:<{first}}  " + "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths))).rstrip()
                     for name, cells in rows)


NOTES = ("{writes} writes per size, each a fold by another process (a SessionStore closed after each write); the "
         "page polls every 0.5 s, so about 250 ms of each latency is the wait for the next poll. Load average "
         "{load:.1f} on {cores} cores when it started.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10k,1M", help=f"comma-separated: {', '.join(SIZES)}")
    parser.add_argument("--writes", type=int, default=20, help="folds by another process per size (default 20)")
    parser.add_argument("--cache", type=Path, default=ui.DEFAULT_CACHE, help="built sessions (as bench/ui.py)")
    parser.add_argument("--data", type=Path, help="folder of .txt essays (as bench/scale.py)")
    parser.add_argument("--synthetic", action="store_true", help="generated prose instead of essays")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--no-record", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args()
    names = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in names if s not in SIZES]
    if unknown:
        parser.error(f"unknown size {unknown[0]!r}; use {', '.join(SIZES)}")
    corpus = ui.scale.essays(args.data, args.synthetic)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    results = [measure(name, SIZES[name], corpus, args.cache, args.writes) for name in names]
    text = table(results)
    print(json.dumps(results, indent=2, default=str) if args.json else "\n" + text)
    print(f"({time.perf_counter() - started:.0f} s in all)", file=sys.stderr)
    if not args.no_record:
        record("follow", "Following live: another process's commit to the Context page in Chromium", text,
               notes=NOTES.format(writes=args.writes, load=load, cores=os.cpu_count()))


if __name__ == "__main__":
    main()
