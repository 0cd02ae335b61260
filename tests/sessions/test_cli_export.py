"""`python -m sessions export`, run as a user would: every format, a collector to send to, and
one clear line for each mistake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sessions import SessionStore

from tests.conftest import ROOT, long_text

def run(*args, db):
    env = {key: value for key, value in os.environ.items() if key != "WORKBENCH_DB"}
    return subprocess.run([sys.executable, "-m", "sessions", f"--db={db}", *args], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=120)


@pytest.fixture
def seeded(tmp_path):
    """A database holding one session with a folded fragment and a model's tool call."""
    db = tmp_path / "export.duckdb"
    store = SessionStore(db, linger=0)
    session = store.create_session("export me")
    session.add_message("user", long_text(8))
    pieces = session.call_tool("fragment_context", {"start_marker": "Paragraph 1.", "end_marker": "End of notes.",
                                                    "num_fragments": 3})["fragments"]
    session.call_tool("fold_fragment", {"fragment_id": pieces[0]["fragment_id"]})
    session.run_model_tool_calls([{"id": "c1", "type": "function",
                                   "function": {"name": "search_context", "arguments": '{"query": "committee"}'}}])
    store.close()
    return db, session.id, session.last_seq


def test_every_format_writes_what_it_says(seeded, tmp_path):
    db, session_id, events = seeded
    trace = tmp_path / "t.jsonl"
    result = run("export", session_id[:6], "-o", str(trace), db=db)  # the old command line still works
    assert result.returncode == 0 and result.stdout.strip() == f"wrote {events} events to {trace}"
    assert len(trace.read_text().splitlines()) == events + 1
    back = run("import", str(trace), "--title", "back", db=db)
    assert back.returncode == 0, back.stderr

    folder = tmp_path / "tables"
    result = run("export", session_id, "--format", "parquet", "--output", str(folder), db=db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (f"wrote {events} events to {folder / 'events.parquet'} and "
                                     f"3 messages to {folder / 'messages.parquet'}")
    assert duckdb.sql(f"select max(seq), count(*) from '{folder}/events.parquet'").fetchall() == [(events, events)]
    assert duckdb.sql(f"select role, status from '{folder}/messages.parquet' order by position").fetchall() == [
        ("user", "partly folded"), ("assistant", "visible"), ("tool", "visible")]

    transcript = tmp_path / "t.md"
    result = run("export", session_id, "--format", "markdown", "-o", str(transcript), db=db)
    assert result.stdout.strip() == f"wrote a Markdown transcript of 3 messages to {transcript}"
    text = transcript.read_text(encoding="utf-8")
    assert text.startswith("# export me\n") and "> \\[folded fragment f" in text and "**Tool call** `search_context`" in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--format", "markdown"], "error: export needs -o PATH (a file to write), or --otlp-endpoint URL"),
        (["--format", "parquet"], "error: export needs -o PATH (a folder to write)"),
        (["--format", "markdown", "-o", "x.md", "--otlp-endpoint", "http://localhost:4318"],
         "error: --otlp-endpoint sends an OTLP trace; use it with --format otlp, not markdown"),
        (["--format", "parquet", "-o", "FILE"], "it is a file; give a folder"),
        (["--format", "markdown", "-o", "/nonexistent-folder/x.md"], "the folder /nonexistent-folder does not exist"),
        (["--format", "markdown", "-o", "FILE/x.md"], "cannot export to FILE/x.md: FILE is a file, not a folder"),
        (["--format", "otlp", "-o", "FILE/sub/x.json"], "FILE is a file, not a folder"),
        (["--otlp-endpoint", "http://token:s3cr3tvalue/"], "the OTLP endpoint is not a valid URL: its port is not"),
        (["--otlp-endpoint", "http://[::1"], "the OTLP endpoint is not a valid URL: its host cannot be read"),
        (["--otlp-endpoint", "http://me:s3cr3tvalue@127.0.0.1:9"], "give the collector's key as a header instead"),
    ],
)
def test_mistakes_are_one_line(seeded, tmp_path, args, expected):
    db, session_id, _ = seeded
    (tmp_path / "file").write_text("x")
    args = [a.replace("FILE", str(tmp_path / "file")) for a in args]
    result = run("export", session_id, *args, db=db)
    expected = expected.replace("FILE", str(tmp_path / "file"))
    assert result.returncode == 1 and result.stderr.startswith("error: ") and expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "s3cr3tvalue" not in result.stderr and (tmp_path / "file").read_text() == "x"


def test_an_unknown_format_is_a_usage_error(seeded):
    db, session_id, _ = seeded
    result = run("export", session_id, "--format", "csv", "-o", "x", db=db)
    assert result.returncode == 2 and "invalid choice: 'csv'" in result.stderr


class Collector(BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Collector.received.append({"path": self.path, "headers": dict(self.headers),
                                   "request": ExportTraceServiceRequest.FromString(body)})
        self.send_response(Collector.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def collector():
    Collector.received, Collector.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", Collector.received
    server.shutdown()
    server.server_close()


def test_otlp_written_and_sent_with_headers_from_the_environment(seeded, tmp_path, collector, monkeypatch):
    db, session_id, events = seeded
    url, received = collector
    out = tmp_path / "trace.otlp.json"
    result = run("export", session_id, "--format", "otlp", "-o", str(out), db=db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote the OTLP trace of {events} events to {out}"
    assert "resourceSpans" in json.loads(out.read_text())

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20sekrit,x-team=ctx")
    result = run("export", session_id, "--otlp-endpoint", url, db=db)  # sending alone needs no -o
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"sent the OTLP trace of {events} events to {url} (HTTP 200)"
    assert "sekrit" not in result.stdout + result.stderr
    assert len(received) == 1 and received[0]["path"] == "/v1/traces"
    [resource] = received[0]["request"].resource_spans
    spans = resource.scope_spans[0].spans
    assert [span.name for span in spans] == ["invoke_agent context-workbench", "messages without a reply",
                                             "execute_tool search_context"]
    assert resource.scope_spans[0].scope.name == "context_workbench.otlp_export"
    assert {span.trace_id.hex() for span in spans} == {json.loads(out.read_text())["resourceSpans"][0]["scopeSpans"][0][
        "spans"][0]["traceId"]}
    events = [event.name for event in spans[0].events]
    assert events == ["context_workbench.context_fragmented", "context_workbench.fragment_folded",
                      "context_workbench.context_searched"]  # the model's search, run by the tool call
    headers = {key.lower(): value for key, value in received[0]["headers"].items()}
    assert headers["authorization"] == "Bearer sekrit" and headers["x-team"] == "ctx"


def test_a_failed_send_with_a_file_leaves_no_file_and_says_so(seeded, tmp_path, collector, monkeypatch):
    db, session_id, events = seeded
    url, received = collector
    Collector.status = 503
    out = tmp_path / "trace.otlp.json"
    result = run("export", session_id, "--format", "otlp", "-o", str(out), "--otlp-endpoint", url, db=db)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"error: sending failed, so nothing was written to {out}: the OTLP collector at "
                                    f"{url} refused the traces: HTTP 503")
    assert not out.exists() and len(received) == 1
    Collector.status = 200
    result = run("export", session_id, "--format", "otlp", "-o", str(out), "--otlp-endpoint", url, db=db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (f"sent the OTLP trace of {events} events to {url} (HTTP 200); "
                                     f"wrote the OTLP trace of {events} events to {out}")
    assert out.exists()


def test_an_unreachable_collector_is_one_line(seeded):
    db, session_id, _ = seeded
    result = run("export", session_id, "--format", "otlp", "--otlp-endpoint", "http://127.0.0.1:9/v1/traces", db=db)
    assert result.returncode == 1 and result.stderr.startswith("error: ") and "127.0.0.1:9" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
