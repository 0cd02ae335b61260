"""Bringing a ChatGPT export into the workbench in a real browser: upload the zip, read the
report, see the regenerated answer as a fork under its conversation, and take the session out
again as Markdown."""

from __future__ import annotations

import json
import zipfile

from playwright.sync_api import expect

from tests.e2e.test_newcomer_path import TIMEOUT, metric, wait_idle


def _node(node_id, parent, children, role, text, when):
    message = {"id": node_id, "author": {"role": role}, "create_time": when,
               "content": {"content_type": "text", "parts": [text]}, "metadata": {}}
    return {"id": node_id, "parent": parent, "children": children, "message": message}


def _export(path):
    mapping = {
        "root": {"id": "root", "parent": None, "children": ["u1"], "message": None},
        "u1": _node("u1", "root", ["a1", "a2"], "user", "Name a <b>bold</b> river", 1_700_000_000),
        "a1": _node("a1", "u1", [], "assistant", "The Danube (first try)", 1_700_000_010),
        "a2": _node("a2", "u1", [], "assistant", "The Rhine", 1_700_000_020),
    }
    conversation = {"title": "Rivers", "create_time": 1_700_000_000, "mapping": mapping, "current_node": "a2",
                    "conversation_id": "conv-1", "default_model_slug": "gpt-4o"}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("conversations.json", json.dumps([conversation]))
        archive.writestr("chat.html", "<html>not read</html>")
    return path


def test_upload_a_chatgpt_zip_read_the_report_and_export_markdown(server, browser, shots, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(server["url"])
    expect(page.get_by_role("heading", name="Sessions")).to_be_visible(timeout=TIMEOUT)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(_export(tmp_path / "export.zip")))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Last import")).to_be_visible(timeout=TIMEOUT)
    wait_idle(page)
    assert metric(page, "Sessions made") == 2 and metric(page, "Messages") == 3
    expect(page.get_by_text("ChatGPT export").first).to_be_visible()
    table = page.locator('[data-testid="stDataFrame"]').first
    expect(table).to_be_visible()
    page.get_by_role("heading", name="Last import").scroll_into_view_if_needed()
    shots(page, "20-import-report")

    page.get_by_role("button", name="Open in Context").click()
    expect(page.get_by_role("heading", name="Context")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("The Rhine").first).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("Name a <b>bold</b> river").first).to_be_visible()  # shown as text, never as HTML
    assert page.locator("b", has_text="bold").count() == 0

    page.get_by_role("link", name="Export").click()
    expect(page.get_by_role("heading", name="Export")).to_be_visible(timeout=TIMEOUT)
    page.get_by_text("Markdown", exact=False).first.click()
    wait_idle(page)
    shots(page, "21-export-markdown")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").first.click()
    text = (tmp_path / "out.md")
    download.value.save_as(text)
    markdown = text.read_text(encoding="utf-8")
    assert "The Rhine" in markdown and "&lt;b&gt;bold&lt;/b&gt;" in markdown and "<b>" not in markdown
