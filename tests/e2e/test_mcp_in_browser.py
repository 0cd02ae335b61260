"""An MCP client sculpts a session while the workbench shows it: the official client starts
`python -m sessions mcp` as its own process over stdio (as a desktop client does), folds a
fragment, and the Context page open in Chromium shows the fold with no click."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

import anyio
from mcp import Client, StdioServerParameters
from playwright.sync_api import expect

from sessions import SessionStore
from tests.conftest import ROOT, long_text
from tests.e2e.conftest import pick_session

TIMEOUT = 30_000


def _seed(db, title: str) -> tuple[str, list[str]]:
    store = SessionStore(db, lock_timeout=30)
    session = store.create_session(title)
    session.add_message("user", f"Start.\n{long_text(4)}\nEnd.")
    cut = session.call_tool("fragment_context", {"start_marker": "Start.", "end_marker": "End.", "num_fragments": 3})
    store.close()
    return session.id, [piece["fragment_id"] for piece in cut["fragments"]]


def _fold_over_mcp(db, session_id: str, fragment_id: str) -> dict:
    server = StdioServerParameters(command=sys.executable, args=["-m", "sessions", "mcp", "--db", str(db)],
                                   env={"PYTHONPATH": str(ROOT), "HOME": os.environ.get("HOME", "/tmp")})

    async def run() -> dict:
        async with Client(server, read_timeout_seconds=60) as client:
            result = await client.call_tool("fold_fragment", {"session_id": session_id, "fragment_id": fragment_id})
            assert result.is_error is False, result.content[0].text
            return result.structured_content

    with ThreadPoolExecutor(1) as thread:  # playwright's sync API holds this thread's event loop
        return thread.submit(anyio.run, run).result()


def _window_tokens(db, session_id: str) -> int:
    store = SessionStore(db, lock_timeout=30)
    try:
        stats = store.open_session(session_id).window_stats(None)
        return stats["rendered_tokens"] + stats["tool_schema_tokens"]
    finally:
        store.close()


def test_a_fold_by_an_mcp_client_in_another_process_shows_on_the_open_context_page(server, browser, shots):
    title = "sculpted by an MCP client"
    session_id, fragments = _seed(server["db"], title)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    pick_session(page, server["url"], title, "Context")
    target = fragments[1]
    expect(page.locator(f".st-key-m1-{target}-1-hide")).to_be_visible(timeout=TIMEOUT)
    before = _window_tokens(server["db"], session_id)
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="In the window").first
    expect(metric.locator('[data-testid="stMetricValue"]')).to_have_text(f"{before:,}", timeout=TIMEOUT)

    assert _fold_over_mcp(server["db"], session_id, target)["fragment_id"] == target

    expect(page.locator(f".st-key-m1-{target}-1-restore")).to_be_visible(timeout=TIMEOUT)  # no click
    expect(page.get_by_text(f"[folded fragment {target}")).to_be_visible(timeout=TIMEOUT)
    after = _window_tokens(server["db"], session_id)
    assert after < before
    expect(metric.locator('[data-testid="stMetricValue"]')).to_have_text(f"{after:,}", timeout=TIMEOUT)
    shots(page, "mcp-fold-on-the-context-page")
    page.close()
