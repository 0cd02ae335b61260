"""The Export page under AppTest: a format picker, each format's download (its bytes made as the
button would), sending the OTLP trace to a collector with headers that come from the environment
and are never shown, and a title or an error that is shown as text, never as Markdown."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from components.plain import plain
from sessions import SessionStore
from sessions.exporting import export_bytes

from tests.conftest import long_text

TITLE = "page export"
MARKDOWN_TITLE = "![pix](http://evil.example/p.png) **bold** [click](https://evil.example) <b>x</b>"


def _seed(db, title=TITLE):
    store = SessionStore(db, linger=0)
    session = store.create_session(title)
    session.add_message("user", long_text(6))
    session.add_message("assistant", "noted")
    store.close()
    return session.id


def _open(app, db, title=TITLE):
    session_id = _seed(db, title)
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


def test_each_download_is_the_export_it_names(db):
    session_id = _seed(db)
    store = SessionStore(db, linger=0)
    try:
        session = store.open_session(session_id)
        data, name, mime = export_bytes(session, "jsonl")  # what the page's download button calls
        assert name == f"page-export-{session_id}.jsonl" and mime == "application/jsonl"
        assert [json.loads(line).get("kind") for line in data.decode().splitlines()[1:]] == ["message_added"] * 2
        data, name, _ = export_bytes(session, "otlp")
        spans = json.loads(data)["resourceSpans"][0]["scopeSpans"][0]["spans"]
        assert [span["name"] for span in spans] == ["invoke_agent context-workbench", "messages without a reply"]
        data, name, mime = export_bytes(session, "parquet")
        assert mime == "application/zip"
        assert sorted(zipfile.ZipFile(io.BytesIO(data)).namelist()) == ["events.parquet", "messages.parquet"]
        assert all(zipfile.ZipFile(io.BytesIO(data)).read(n)[:4] == b"PAR1" for n in ("events.parquet", "messages.parquet"))
        data, name, mime = export_bytes(session, "markdown")
        assert data.decode().startswith("# page export\n") and "noted" in data.decode() and mime == "text/markdown"
    finally:
        store.close()


def test_the_title_is_plain_text(app, db):
    at, _ = _open(app, db, MARKDOWN_TITLE)
    assert plain(MARKDOWN_TITLE) in [caption.value for caption in at.caption]  # escaped: no image, link or HTML
    assert not any(MARKDOWN_TITLE in block.value for block in [*at.markdown, *at.caption])


def test_sending_needs_an_endpoint_and_says_when_none_is_given(app, db, monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_HEADERS", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", raising=False)
    at, _ = _open(app, db)
    assert any(caption.value.startswith("No headers") for caption in at.caption)
    at.button(key="send_otlp").click().run()
    assert any("Enter the collector's endpoint URL first" in error.value for error in at.error)
    at.text_input(key="otlp_endpoint").input("ftp://example.com").run()
    at.button(key="send_otlp").click().run()
    [error] = [e.value for e in at.error]
    assert error.startswith("The trace was not sent: an OTLP endpoint is an http(s) URL")


@pytest.mark.parametrize(("endpoint", "headers", "expected"), [
    ("http://token:s3cr3tvalue/", "", "its port is not a number"),
    ("http://[::1", "", "its host cannot be read"),
    ("http://me:s3cr3tvalue@127.0.0.1:9/", "", "give the collector's key as a header instead"),
    ("http://127.0.0.1:9/", "x-key=%FFs3cr3tvalue", "the value of the header 'x-key' does not decode"),
    ("http://127.0.0.1:9/", "s3cr3tvalue", "entry 1 is not a key=value pair"),
])
def test_a_bad_endpoint_or_header_is_a_plain_error_that_repeats_no_key(app, db, monkeypatch, endpoint, headers,
                                                                        expected):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", headers)
    at, _ = _open(app, db)
    at.text_input(key="otlp_endpoint").input(endpoint).run()
    at.button(key="send_otlp").click().run()
    assert not at.exception, at.exception
    assert any(e.value.startswith("The trace was not sent: ") and plain(expected) in e.value for e in at.error)
    shown = [e.value for kind in ("markdown", "caption", "success", "error", "text", "code") for e in at.get(kind)]
    assert not any("s3cr3tvalue" in str(value) for value in shown)


class Collector(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Collector.received.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                                   "request": ExportTraceServiceRequest.FromString(body)})
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
        assert [s.value for s in at.success] == [plain(f"sent the OTLP trace of 2 events to {url} (HTTP 200).")]
        assert len(Collector.received) == 1 and Collector.received[0]["headers"]["authorization"] == "Bearer sekrit"
        spans = Collector.received[0]["request"].resource_spans[0].scope_spans[0].spans
        assert [span.name for span in spans] == ["invoke_agent context-workbench", "messages without a reply"]
        assert spans[1].parent_span_id == spans[0].span_id and spans[0].attributes[0].value.string_value == "invoke_agent"
        shown = [e.value for kind in ("markdown", "caption", "success", "error", "text", "code") for e in at.get(kind)]
        assert not any("sekrit" in str(value) for value in shown)
    finally:
        server.shutdown()
        server.server_close()
