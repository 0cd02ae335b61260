"""A session as one OpenTelemetry trace: OTLP/JSON, written to a file or sent to a collector.

The trace follows the GenAI semantic conventions (open-telemetry/semantic-conventions-genai):

- a root span `invoke_agent {service}` for the session (`gen_ai.conversation.id` = its id);
- a `chat {model}` span (kind CLIENT) for each model call, an `llm_called` event and the
  assistant message after it: provider, request model, finish reasons, usage (cache reads,
  and cache writes under both `cache_creation` and `cache_write`, which viewers read),
  `gen_ai.input.messages` (the conversation before the reply, as parts: text, reasoning,
  tool_call, tool_call_response), `gen_ai.output.messages` (the reply) and the tool
  definitions the model was offered, all as JSON text;
- an `execute_tool {name}` span for each tool result, with the call's id, arguments and result;
- messages no model call answered (an import's, a question still open) in the next chat
  span's input, or in a last span `messages without a reply` when none follows.

Context edits have no convention: each event other than a message or a model call (folds,
summaries, restores, fragmenting, policies, compactions, searches, settings) is a span event
`context_workbench.{kind}` on the root span, with `context_workbench.seq`, the event's fields
under `context_workbench.*` and `context_workbench.token_delta`, the change in rendered
tokens it made (the log folded in order, `engine.render.stats` before and after). A summary
or a compaction also sets `gen_ai.conversation.compacted` and puts a `compaction` part in the
inputs of the model calls after it; our own annotations carry `context_workbench.*` keys so
that importing the trace back skips them. Ids are derived from the session id and each
event's seq, so the same session always gives the same document. Settings never hold keys;
anything named like a secret is redacted all the same.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterable

from engine import WorkbenchError
from engine.records import EventRecord
from sessions.formats.otlp_trace import TraceBuilder, shown_url
from sessions.formats.workbench_trace import atomic_output

HEADERS_VARIABLES = ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS")  # the second wins
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def otlp_document(info: dict[str, Any], records: Iterable[EventRecord], *,
                  service_name: str = "context-workbench") -> dict[str, Any]:
    """The session (`session.info()`, `session.records()`) as one OTLP/JSON export body."""
    export = TraceBuilder(info, service_name)
    for record in records:
        export.add(record)
    return export.document()


def write_otlp(path: str | Path, info: dict[str, Any], records: Iterable[EventRecord]) -> Path:
    """Write the OTLP/JSON document to `path` atomically (one line of JSON, so also JSON lines)."""
    document = otlp_document(info, records)
    with atomic_output(Path(path)) as out:
        out.write(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n")
    return Path(path).expanduser()


def send_otlp(endpoint: str, document: dict[str, Any], headers: dict[str, str] | None = None,
              timeout: float = 10) -> int:
    """POST the document to an OTLP/HTTP collector as protobuf; returns the HTTP status.

    `endpoint` is the collector's base URL (`/v1/traces` is added when it has no path) or the
    full traces URL. Headers come from OTEL_EXPORTER_OTLP_HEADERS (`k=v,k2=v2`, URL-encoded; and
    OTEL_EXPORTER_OTLP_TRACES_HEADERS over it), with `headers` over them. Their values are never
    shown in an error."""
    url = traces_url(endpoint)
    body = protobuf_request(document).SerializeToString()
    merged: dict[str, tuple[str, str]] = {}
    for name, value in [*environment_headers().items(), *(headers or {}).items()]:
        merged[str(name).strip().lower()] = (str(name).strip(), str(value))
    sent = {name: value for name, value in merged.values() if name.lower() != "content-type"}
    for name, value in sent.items():
        if not HEADER_NAME.fullmatch(name) or any(ch in value for ch in "\r\n\0"):
            raise WorkbenchError(f"the OTLP header {name[:40]!r} cannot be sent: a header name is a single word "
                                 "and its value one line (check OTEL_EXPORTER_OTLP_HEADERS)")
    sent["Content-Type"] = "application/x-protobuf"
    request = urllib.request.Request(url, data=body, headers=sent, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        excerpt = _excerpt(exc.read() if exc.fp is not None else b"")
        raise WorkbenchError(f"the OTLP collector at {shown_url(url)} refused the traces: HTTP {exc.code} "
                             f"{exc.reason}" + (f": {excerpt}" if excerpt else "")) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise WorkbenchError(f"cannot send traces to the OTLP collector at {shown_url(url)}: {reason}") from None


def traces_url(endpoint: str) -> str:
    parts = urllib.parse.urlsplit(str(endpoint).strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WorkbenchError(f"an OTLP endpoint is an http(s) URL such as http://127.0.0.1:4318, "
                             f"not {shown_url(str(endpoint))!r}")
    path = parts.path if parts.path not in ("", "/") else "/v1/traces"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def environment_headers() -> dict[str, str]:
    """OTEL_EXPORTER_OTLP_HEADERS (then ..._TRACES_HEADERS) as a dict: `k=v` pairs split on commas,
    keys and values URL-decoded."""
    found = {}
    for variable in HEADERS_VARIABLES:
        for pair in os.environ.get(variable, "").split(","):
            name, equals, value = pair.partition("=")
            if equals and name.strip():
                found[urllib.parse.unquote(name.strip())] = urllib.parse.unquote(value.strip())
    return found


def protobuf_request(document: dict[str, Any]):
    """The document as an `ExportTraceServiceRequest` (its hex ids as the base64 protobuf JSON wants)."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    converted = copy.deepcopy(document)
    for resource in converted.get("resourceSpans", []):
        for scope in resource.get("scopeSpans", []):
            for span in scope.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = base64.b64encode(bytes.fromhex(span[key])).decode("ascii")
    try:
        return json_format.ParseDict(converted, ExportTraceServiceRequest())
    except json_format.ParseError as exc:
        raise WorkbenchError(f"the trace is not a valid OTLP export: {exc}") from None


def _excerpt(body: bytes) -> str:
    text = "".join(ch if ch.isprintable() else " " for ch in body.decode("utf-8", errors="replace"))
    return re.sub(r"\s+", " ", text).strip()[:200]
