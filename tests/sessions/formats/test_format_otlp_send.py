"""Sending an OTLP trace to a collector: a real HTTP server on 127.0.0.1 that decodes what we send,
answers as told (refusals, partial successes, a body that dribbles in, no answer at all), and
every mistake in an endpoint or a header said without repeating what may be a key."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
)

from engine import WorkbenchError
from engine.events import LLMCalled
from sessions.formats.otlp_export import Delivery, environment_headers, otlp_document, send_otlp, shown_url, traces_url


@pytest.fixture
def document(store):
    session = store.create_session("send me")
    session.add_message("user", "What is 2 + 2?")
    session.add_message("assistant", "4", before=[LLMCalled(model="openai/gpt-4o", usage={"prompt_tokens": 9,
                                                             "completion_tokens": 1}, latency_ms=12.0,
                                                             finish_reason="stop")])
    return otlp_document(session.info(), session.records())


@pytest.fixture
def collector(monkeypatch):
    """An OTLP/HTTP collector: keeps each request (path, headers, the decoded protobuf) and answers
    with `collector.answer`: status, body, content type, and `drip` seconds between its bytes."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                 "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_TIMEOUT",
                 "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    received = []
    answer = {"status": 200, "body": b"", "type": "application/x-protobuf", "drip": 0.0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            data = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                             "request": ExportTraceServiceRequest.FromString(data)})
            body = answer["body"](self.headers) if callable(answer["body"]) else answer["body"]
            self.send_response(answer["status"])
            self.send_header("Content-Type", answer["type"])
            self.send_header("Content-Length", str(len(body) if not answer["drip"] else 100_000))
            self.end_headers()
            if not answer["drip"]:
                self.wfile.write(body)
                return
            for _ in range(100_000):
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(answer["drip"])

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    server.received, server.answer = received, answer
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def test_send_posts_protobuf_with_the_environment_headers(document, collector, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s%3Dcr%2Cet, x-team = context")
    assert send_otlp(collector.url, document, headers={"X-Team": "workbench"}) == Delivery(200)
    [got] = collector.received
    assert got["path"] == "/v1/traces"
    assert got["headers"]["content-type"] == "application/x-protobuf"
    assert got["headers"]["x-api-key"] == "s=cr,et" and got["headers"]["x-team"] == "workbench"  # given headers win
    spans = got["request"].resource_spans[0].scope_spans[0].spans
    assert [s.name for s in spans] == ["invoke_agent context-workbench", "chat gpt-4o"]
    assert spans[1].attributes[0].key == "gen_ai.operation.name" and spans[1].attributes[0].value.string_value == "chat"
    assert spans[0].span_id.hex() == document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"]


@pytest.mark.parametrize(("path", "sent_to"), [
    ("", "/v1/traces"), ("/", "/v1/traces"), ("/v1/traces", "/v1/traces"), ("/v1/traces/", "/v1/traces"),
    ("/api/public/otel", "/api/public/otel/v1/traces"),  # Langfuse's base URL
    ("/api/public/otel/v1/traces", "/api/public/otel/v1/traces"), ("/custom/traces", "/custom/traces/v1/traces"),
])
def test_a_path_without_v1_traces_gets_it(document, collector, path, sent_to):
    send_otlp(collector.url + path, document)
    assert collector.received[-1]["path"] == sent_to


def test_a_query_is_sent_but_never_shown(document, collector):
    url = traces_url(collector.url + "/api/public/otel?project=KEY123")
    assert url == collector.url + "/api/public/otel/v1/traces?project=KEY123"
    send_otlp(url, document)
    assert collector.received[-1]["path"] == "/api/public/otel/v1/traces?project=KEY123"
    assert shown_url(url) == collector.url + "/api/public/otel/v1/traces"


@pytest.mark.parametrize("status", [401, 500])
def test_a_refusal_is_a_clear_error_without_any_header_value(document, collector, monkeypatch, status):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20TOPSECRET9,x-key=plainkey77")
    collector.answer.update(status=status, type="text/plain", body=lambda headers: (
        f"invalid credentials: {headers['Authorization']} (token TOPSECRET9, key plainkey77) \x1b[31m".encode()))
    with pytest.raises(WorkbenchError) as caught:
        send_otlp(collector.url, document)
    message = str(caught.value)
    assert f"{collector.url}/v1/traces" in message and f"HTTP {status}" in message
    assert "invalid credentials: [header value] (token [header value], key [header value])" in message
    assert "TOPSECRET" not in message and "plainkey77" not in message and "\x1b" not in message


def test_a_body_that_dribbles_in_is_cut_off_at_the_deadline(document, collector, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1500")  # milliseconds, as the SDK reads it
    collector.answer.update(status=500, drip=0.3)
    started = time.monotonic()
    with pytest.raises(WorkbenchError, match="HTTP 500"):
        send_otlp(collector.url, document)
    assert time.monotonic() - started < 4
    collector.answer.update(status=200)  # a success whose answer never ends is still a success
    started = time.monotonic()
    assert send_otlp(collector.url, document, timeout=1).status == 200
    assert time.monotonic() - started < 3


def test_a_collector_that_never_answers_times_out(document, monkeypatch):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "800")
    started = time.monotonic()
    try:
        with pytest.raises(WorkbenchError, match=r"did not answer within 0.8 s"):
            send_otlp(f"http://127.0.0.1:{listener.getsockname()[1]}", document)
    finally:
        listener.close()
    assert time.monotonic() - started < 3
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "soon")
    with pytest.raises(WorkbenchError, match="a number of milliseconds"):
        send_otlp("http://127.0.0.1:9", document)


@pytest.mark.parametrize("kind", ["application/x-protobuf", "application/json"])
def test_a_partial_success_is_reported(document, collector, kind):
    if kind == "application/json":
        body = b'{"partialSuccess": {"rejectedSpans": "2", "errorMessage": "spans too old"}}'
    else:
        body = ExportTraceServiceResponse(partial_success=ExportTracePartialSuccess(
            rejected_spans=2, error_message="spans too old")).SerializeToString()
    collector.answer.update(body=body, type=kind)
    delivery = send_otlp(collector.url, document)
    assert (delivery.status, delivery.rejected) == (200, 2)
    assert delivery.describe() == "HTTP 200, but the collector rejected 2 spans: spans too old"


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("OTEL_EXPORTER_OTLP_HEADERS", "x-key=line1%0D%0Ainjected-SECRET", "the OTLP header 'x-key' cannot be sent"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "x-key=%FFSECRET", "the value of the header 'x-key' does not decode"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "x-ok=1,SECRETTOKEN", "entry 2 is not a key=value pair"),
    ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "Content-Length=5", "'Content-Length' is set by the workbench itself"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "host=SECRET.example", "'host' is set by the workbench itself"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "transfer-encoding=chunked", "'transfer-encoding' is set by the workbench"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "x-key=%E2%9C%93SECRET", "'x-key' cannot be sent: its value has characters"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "x key=SECRET", "an OTLP header cannot be sent"),
])
def test_a_header_that_cannot_be_sent_is_named_without_its_value(document, collector, monkeypatch, variable, value,
                                                                  expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(WorkbenchError) as caught:
        send_otlp(collector.url, document)
    assert expected in str(caught.value) and "SECRET" not in str(caught.value)
    assert collector.received == []


def test_the_traces_headers_win_over_the_general_ones(document, collector, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-key=general,x-other=kept")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-key=for%20traces")
    assert environment_headers() == {"x-key": "for traces", "x-other": "kept"}
    send_otlp(collector.url, document)
    assert collector.received[-1]["headers"]["x-key"] == "for traces"


@pytest.mark.parametrize(("endpoint", "expected"), [
    ("http://token:s3cr3tvalue/", "its port is not a number"),
    ("http://[::1", "its host cannot be read"),
    ("http://127.0.0.1:99999", "its port is not a number"),
    ("http://127.0.0.1:0/v1/traces", "port is 0"),
    ("collector:4318", "an OTLP endpoint is an http(s) URL"),
    ("ftp://collector.example.com?k=s3cr3tvalue", "an OTLP endpoint is an http(s) URL"),
    ("http:///v1/traces", "an OTLP endpoint is an http(s) URL"),
    ("http://bob:s3cr3tvalue@collector.example.com:4318", "OTEL_EXPORTER_OTLP_HEADERS='authorization=Basic"),
])
def test_a_bad_endpoint_is_refused_without_repeating_it(document, endpoint, expected):
    with pytest.raises(WorkbenchError) as caught:
        send_otlp(endpoint, document)
    message = str(caught.value)
    assert expected in message and "s3cr3tvalue" not in message and endpoint not in message
    for shown in (shown_url(endpoint), shown_url(endpoint + "?k=s3cr3tvalue")):
        assert "s3cr3tvalue" not in shown


def test_an_unreachable_collector_is_a_clear_error(document, collector):
    port = collector.server_address[1]
    collector.shutdown()
    collector.server_close()
    with pytest.raises(WorkbenchError, match=f"cannot send traces to the OTLP collector at http://127.0.0.1:{port}/v1/traces"):
        send_otlp(f"http://127.0.0.1:{port}", document, timeout=2)
