"""Following live across machines, in Chromium: the workbench served on a PostgreSQL database,
and another process with its own connection (as an MCP server on another machine would be)
folding a fragment there. The Context page shows it with no click, through the store's
LISTEN/NOTIFY change token, and redraws only the card it touched (tests/e2e/test_live_following.py
does the same on DuckDB); Replay then says who wrote it, and where."""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import sys
import urllib.parse

from playwright.sync_api import expect

from sessions import SessionStore
from tests.conftest import ROOT
from tests.e2e.conftest import WATCH, pick_session
from tests.ui.conftest import fragmented_session

TIMEOUT = 30_000
# the other process: its own store and connection; the address comes in its environment, not its argv
FOLD = """
import os, sys
from sessions import SessionStore
store = SessionStore(os.environ["WORKBENCH_DB"], lock_timeout=30)
result = store.open_session(sys.argv[1]).call_tool("fold_fragment", {"fragment_id": sys.argv[2]}, from_model=True)
store.close()
print(result.get("fragment_id") or result)
"""


def _fold_elsewhere(url: str, session_id: str, fragment_id: str) -> None:
    done = subprocess.run([sys.executable, "-c", FOLD, session_id, fragment_id], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "WORKBENCH_DB": url})
    assert done.returncode == 0 and done.stdout.strip() == fragment_id, (done.stdout, done.stderr)


def _window_tokens(url: str, session_id: str) -> int:
    store = SessionStore(url, lock_timeout=30)
    try:
        stats = store.open_session(session_id).window_stats(None)
        return stats["rendered_tokens"] + stats["tool_schema_tokens"]
    finally:
        store.close()


def _in_window(page):
    return (page.locator('[data-testid="stMetric"]').filter(has_text="In the window")
            .locator('[data-testid="stMetricValue"]'))


def _idle(page) -> None:
    page.wait_for_timeout(300)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=TIMEOUT)
    expect(page.locator('[data-stale="true"]')).to_have_count(0, timeout=TIMEOUT)


def test_the_context_page_follows_a_fold_another_connection_made_on_postgresql(pg_server, browser, shots):
    url = pg_server["db"]
    title = "followed on a shared server"
    session_id, ids = fragmented_session(url, 2, 3, title=title)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    pick_session(page, pg_server["url"], title, "Context")
    expect(page.locator(".st-key-message-m2")).to_be_visible(timeout=TIMEOUT)
    _idle(page)
    before = _window_tokens(url, session_id)
    expect(_in_window(page)).to_have_text(f"{before:,}", timeout=TIMEOUT)
    page.evaluate(WATCH, ".st-key-message-m1")

    target = ids[1][0]
    _fold_elsewhere(url, session_id, target)
    expect(page.locator(f".st-key-m2-{target}-0-restore")).to_be_visible(timeout=TIMEOUT)  # no click
    expect(page.locator(".st-key-message-m2").get_by_text(f"[folded fragment {target}")).to_be_visible()
    after = _window_tokens(url, session_id)
    assert after < before
    expect(_in_window(page)).to_have_text(f"{after:,}", timeout=TIMEOUT)  # the token bar moved with it
    _idle(page)
    assert page.evaluate("window.cardChanges") == []  # m1's card was not rerun, nor marked stale
    shots(page, "live-context-postgresql-after-a-fold-elsewhere")
    password = urllib.parse.unquote(urllib.parse.urlsplit(url).password or "")
    assert password and password not in page.content()  # the sidebar names the server, never its password

    page.get_by_role("link", name="Replay").click()
    step = page.locator(".st-key-replay-step [data-testid='stText']").first
    expect(step).to_contain_text("fragment_folded", timeout=TIMEOUT)
    expect(step).to_contain_text(f"by model · {getpass.getuser()}@{socket.gethostname()}")
    page.close()
