"""A newcomer's path through the workbench in a real browser, one screenshot per step."""

from __future__ import annotations

import json
import re

from playwright.sync_api import expect

from tests.e2e.conftest import pick_session, seed_session

TIMEOUT = 30_000


def metric(page, label: str) -> int:
    block = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    value = block.locator('[data-testid="stMetricValue"]').inner_text(timeout=TIMEOUT)
    return int(value.replace(",", ""))


def wait_idle(page):
    page.wait_for_timeout(300)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=TIMEOUT)


def test_load_demo_hide_search_replay_fork_export(server, browser, shots, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(server["url"])

    # an empty store: the Sessions page offers the demo
    expect(page.get_by_role("heading", name="Sessions")).to_be_visible(timeout=TIMEOUT)
    load = page.get_by_role("button", name="Load the demo sessions")
    expect(load).to_be_visible()
    shots(page, "01-empty-store")
    load.click()

    # the Context page of the first demo, then switch to the agent run in the sidebar
    expect(page.get_by_role("heading", name="Context")).to_be_visible(timeout=TIMEOUT)
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name=re.compile("agent run")).click()
    expect(page.get_by_text("Demo: agent run with large tool results").first).to_be_visible(timeout=TIMEOUT)
    wait_idle(page)
    before = metric(page, "In the window")
    assert before > 8_192
    shots(page, "02-context-over-the-window")

    # hide the big test log with one click: the bar shrinks
    page.locator(".st-key-message-m4").get_by_role("button", name="Hide").first.click()
    expect(page.get_by_text(re.compile(r"Hid f[0-9a-f]{5}"))).to_be_visible(timeout=TIMEOUT)
    after = metric(page, "In the window")
    assert after < before - 10_000 and metric(page, "Hidden by folds") > 10_000
    page.get_by_text("In the window").first.scroll_into_view_if_needed()
    shots(page, "03-after-hiding-the-log")

    # search for text inside the hidden log and open the hit
    search = page.get_by_label("Search the conversation (folded text included)")
    search.fill("test_exports_case_0731")
    search.press("Enter")
    expect(page.get_by_text(re.compile(r"matches for 'test_exports_case_0731'"))).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("in a folded fragment").first).to_be_visible()
    page.locator('[class*="st-key-hit-"]').first.get_by_role("button", name="Open", exact=True).click()
    expect(page.get_by_text(re.compile("Opened s[0-9a-f]{5}"))).to_be_visible(timeout=TIMEOUT)
    shots(page, "04-search-hit-opened")

    # replay: step back to before the fold
    page.get_by_role("link", name="Replay").click()
    expect(page.get_by_role("heading", name="Replay")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text(re.compile(r"^#11 · "))).to_be_visible(timeout=TIMEOUT)
    for step in (10, 9, 8):  # one click, one step: wait for each before the next
        page.get_by_role("button", name="Back").click()
        expect(page.get_by_text(re.compile(rf"^#{step} · "))).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text(re.compile(r"^#8 · .*message_added"))).to_be_visible(timeout=TIMEOUT)
    wait_idle(page)
    assert metric(page, "Hidden by folds") == 0
    shots(page, "05-replay-before-the-fold")

    # fork from this step: the new session opens on the Context page
    page.get_by_role("button", name="Fork from step 8").click()
    expect(page.get_by_role("heading", name="Context")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("(fork at 8)").first).to_be_visible(timeout=TIMEOUT)
    shots(page, "06-forked-session")

    # export the fork as a JSONL trace
    page.get_by_role("link", name="Export").click()
    button = page.get_by_role("button", name=re.compile("Download JSONL trace"))
    expect(button).to_be_visible(timeout=TIMEOUT)
    shots(page, "07-export")
    with page.expect_download() as download:
        button.click()
    path = tmp_path / "trace.jsonl"
    download.value.save_as(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "context-workbench-trace" and header["session"]["forked_at"] == 8
    assert len(lines) == 1 + 8

    offsite = [url for url in requests if not url.startswith(server["url"]) and not url.startswith(("data:", "blob:"))]
    assert offsite == [], offsite  # the page asks nothing of the internet
    page.close()


def test_model_text_is_never_rendered_as_html(server, browser, shots):
    seed_session(server["db"], "<b>title</b> with markup",
                 "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\"> [link](http://example.com)")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    pick_session(page, server["url"], "<b>title</b> with markup")
    expect(page.get_by_text("<script>document.title='pwned'</script>", exact=False).first).to_be_visible(timeout=TIMEOUT)
    assert page.title() != "pwned"
    assert page.locator("img[src='x']").count() == 0
    shots(page, "08-markup-shown-as-text")
    page.close()
