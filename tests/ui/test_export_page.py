"""The Export page under AppTest: a format picker, each format's download, and sending the OTLP
trace to a collector with headers that come from the environment and are never shown."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sessions import SessionStore

from tests.conftest import long_text


def _seed(db):
    store = SessionStore(db, linger=0)
    session = store.create_session("page export")
    session.add_message("user", long_text(6))
    session.add_message("assistant", "noted")
    store.close()
    return session.id


def _open(app, db):
    session_id = _seed(db)
    at = app()
    at.session_state["selected_session_id"] = session_id  # as the sidebar picker would set it
    at.switch_page("pages/export.py").run()
    assert not at.exception, at.exception
    return at, session_id


def _download(at):
    buttons = at.get("download_button")
    assert len(buttons) == 1
    return buttons[0].proto


def test_each_format_offers_its_download(app, db):
    at, session_id = _open(app, db)
    assert at.radio(key="export_format").options == ["JSONL trace", "OTLP JSON", "Parquet tables",
                                                     "Markdown transcript"]
    button = _download(at)
    assert button.label == "Download JSONL trace (2 events)" and button.help == f"Saves page-export-{session_id}.jsonl"
    expected = {
        "parquet": ("Download Parquet tables (2 events, 2 messages)", "-parquet.zip", "events.parquet"),
        "markdown": ("Download Markdown transcript (2 messages)", ".md", "cannot inject HTML"),
        "otlp": ("Download OTLP JSON (2 events)", ".otlp.json", "GenAI semantic conventions"),
    }
    for name, (label, suffix, described) in expected.items():
        at.radio(key="export_format").set_value(name).run()
        assert not at.exception, at.exception
        button = _download(at)
        assert button.label == label and button.help == f"Saves page-export-{session_id}{suffix}"
        assert any(described in block.value for block in at.markdown)


def test_sending_needs_an_endpoint_and_says_when_none_is_given(app, db, monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_HEADERS", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", raising=False)
    at, _ = _open(app, db)
    assert any(caption.value.startswith("No headers") for caption in at.caption)
    at.button(key="send_otlp").click().run()
    assert any("Enter the collector's endpoint URL first" in error.value for error in at.error)
    at.text_input(key="otlp_endpoint").input("ftp://example.com").run()
    at.button(key="send_otlp").click().run()
    assert any("an OTLP endpoint is an http(s) URL" in error.value for error in at.error)


class Collector(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Collector.received.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_send_to_a_collector_with_hidden_headers(app, db, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20sekrit")
    Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        at, _ = _open(app, db)
        assert any("1 header from the app's environment" in caption.value for caption in at.caption)
        url = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
        at.text_input(key="otlp_endpoint").input(url).run()
        at.button(key="send_otlp").click().run()
        assert not at.exception, at.exception
        assert [s.value for s in at.success] == [f"sent the OTLP trace of 2 events to {url} (HTTP 200)."]
        assert len(Collector.received) == 1 and Collector.received[0]["headers"]["authorization"] == "Bearer sekrit"
        shown = [e.value for kind in ("markdown", "caption", "success", "error", "text") for e in at.get(kind)]
        assert not any("sekrit" in str(value) for value in shown)
    finally:
        server.shutdown()
        server.server_close()
