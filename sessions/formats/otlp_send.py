"""Sending an OTLP/JSON document to a collector over OTLP/HTTP (protobuf), and showing its URL.

- The endpoint is the collector's base URL or its traces URL: a path that does not end in
  `/v1/traces` gets it appended (`http://localhost:4318`, Langfuse's `.../api/public/otel`).
  A user name or password in it is refused (keys go in headers); one that does not parse
  (a bad port, `http://[::1`) is refused without repeating it, since it may hold a key.
- Headers come from `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`, URL-encoded), then
  `OTEL_EXPORTER_OTLP_TRACES_HEADERS` over it, then the caller's. A pair without `=`, a value
  that does not decode, a reserved header (Content-Length, Host, ...) is an error naming the
  header, never its value.
- The whole send has one deadline (`OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` or
  `OTEL_EXPORTER_OTLP_TIMEOUT`, in milliseconds; 10 s by default): a collector that answers
  slowly is cut off. At most 4 KB of its answer is read; an error's excerpt has every header
  value sent taken out of it. A 200 that rejected some spans (`partial_success`) says so.
- The request goes straight to the collector (`http.client`), not through HTTP(S)_PROXY:
  one deadline over the whole exchange needs the socket itself.
"""

from __future__ import annotations

import base64
import copy
import http.client
import json
import os
import re
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from engine import WorkbenchError

HEADERS_VARIABLES = ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS")  # the second wins
TIMEOUT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")  # the first wins
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
RESERVED = {"content-length", "content-type", "host", "transfer-encoding", "connection"}
MAX_ANSWER = 4096  # bytes of a collector's answer read
DEFAULT_TIMEOUT = 10.0
NOT_SHOWN = "it is not repeated here, in case it holds a key"


@dataclass(frozen=True)
class Delivery:
    """What the collector said: its HTTP status, and the spans it rejected in a partial success."""

    status: int
    rejected: int = 0
    message: str = ""

    def describe(self) -> str:
        if not self.rejected:
            return f"HTTP {self.status}" + (f"; the collector said: {self.message}" if self.message else "")
        note = f": {self.message}" if self.message else ""
        return f"HTTP {self.status}, but the collector rejected {self.rejected:,} span{'s' * (self.rejected != 1)}{note}"


# ---- the URL ----------------------------------------------------------------------------------


def shown_url(url: str) -> str:
    """A URL as it may be printed: scheme, host, port and path; never a user name, password, query
    or fragment, and nothing of a URL that does not parse."""
    try:
        parts = urllib.parse.urlsplit(str(url).strip())
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        return "(a URL that cannot be read)"
    if not parts.scheme:
        return "(not a URL)"
    host = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def traces_url(endpoint: str) -> str:
    """The URL to POST to: `endpoint` with `/v1/traces` appended unless its path ends with it."""
    text = str(endpoint).strip()
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError as exc:
        what = "its port is not a number from 0 to 65535" if "port" in str(exc).lower() else "its host cannot be read"
        raise WorkbenchError(f"the OTLP endpoint is not a valid URL: {what} ({NOT_SHOWN}). "
                             "An endpoint looks like http://127.0.0.1:4318; a key goes in OTEL_EXPORTER_OTLP_HEADERS"
                             ) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise WorkbenchError("an OTLP endpoint is an http(s) URL such as http://127.0.0.1:4318 "
                             f"(the one given has no http:// or https:// and host; {NOT_SHOWN})")
    if "@" in parts.netloc:
        raise WorkbenchError("the OTLP endpoint has a user name or password in it, which would be sent and shown "
                             "in plain text; give the collector's key as a header instead, in the environment: "
                             "OTEL_EXPORTER_OTLP_HEADERS='authorization=Basic%20...' (or Bearer)")
    if port == 0:
        raise WorkbenchError(f"the OTLP endpoint's port is 0, which no collector listens on ({NOT_SHOWN})")
    path = parts.path.rstrip("/")
    if not path.endswith("/v1/traces"):
        path += "/v1/traces"
    return urllib.parse.urlunsplit((parts.scheme.lower(), parts.netloc, path, parts.query, ""))


# ---- headers and time ------------------------------------------------------------------------------


def environment_headers() -> dict[str, str]:
    """OTEL_EXPORTER_OTLP_HEADERS (then ..._TRACES_HEADERS) as a dict: `k=v` pairs split on commas,
    keys and values URL-decoded. A mistake is an error naming the header, never showing its value."""
    found: dict[str, str] = {}
    for variable in HEADERS_VARIABLES:
        for number, pair in enumerate(os.environ.get(variable, "").split(","), start=1):
            if not pair.strip():
                continue
            name, equals, value = pair.partition("=")
            if not equals or not name.strip():
                raise WorkbenchError(f"{variable}: entry {number} is not a key=value pair (headers are "
                                     "key=value pairs separated by commas; the entry is not shown)")
            try:
                name = urllib.parse.unquote(name.strip(), errors="strict")
                found[name] = urllib.parse.unquote(value.strip(), errors="strict")
            except UnicodeDecodeError:
                raise WorkbenchError(f"{variable}: the value of {_header(name)} does not decode: a % escape in it "
                                     "is not UTF-8 (the value is not shown)") from None
    return found


def _header(name: str) -> str:
    """A header named for an error: its name when it is one, never anything else of it."""
    name = name.strip()
    return f"the header {name[:40]!r}" if HEADER_NAME.fullmatch(name) else "a header whose name is not one word"


def checked_headers(given: dict[str, str] | None = None) -> dict[str, str]:
    """The headers to send: the environment's, `given` over them; each one checked."""
    merged: dict[str, tuple[str, str]] = {}
    for name, value in [*environment_headers().items(), *(given or {}).items()]:
        merged[str(name).strip().lower()] = (str(name).strip(), str(value))
    sent = {}
    for name, value in merged.values():
        if not HEADER_NAME.fullmatch(name) or any(ch in value for ch in "\r\n\0"):
            named = f"the OTLP header {name[:40]!r}" if HEADER_NAME.fullmatch(name) else "an OTLP header"
            raise WorkbenchError(f"{named} cannot be sent: a header name is a single word and its value one line "
                                 "(check OTEL_EXPORTER_OTLP_HEADERS; the value is not shown)")
        if name.lower() in RESERVED:
            raise WorkbenchError(f"the OTLP header {name!r} is set by the workbench itself; take it out of "
                                 "OTEL_EXPORTER_OTLP_HEADERS")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise WorkbenchError(f"the OTLP header {name!r} cannot be sent: its value has characters an HTTP header "
                                 "cannot carry (the value is not shown)") from None
        sent[name] = value
    return sent


def timeout_seconds() -> float:
    """The send's deadline: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT or OTEL_EXPORTER_OTLP_TIMEOUT (ms), else 10 s."""
    for variable in TIMEOUT_VARIABLES:
        text = os.environ.get(variable, "").strip()
        if not text:
            continue
        try:
            millis = float(text)
        except ValueError:
            raise WorkbenchError(f"{variable} is a number of milliseconds, such as 10000, not {text[:20]!r}") from None
        if not 0 < millis < 3_600_000:
            raise WorkbenchError(f"{variable} must be more than 0 and under an hour (in milliseconds), not {text[:20]}")
        return millis / 1000
    return DEFAULT_TIMEOUT


# ---- sending ------------------------------------------------------------------------------------


def send_otlp(endpoint: str, document: dict[str, Any], headers: dict[str, str] | None = None,
              timeout: float | None = None) -> Delivery:
    """POST the document to an OTLP/HTTP collector as protobuf; what it answered.

    Raises WorkbenchError when the collector cannot be reached, refuses (any status but 2xx),
    or does not answer before the deadline; no message holds a header's value."""
    url = traces_url(endpoint)
    sent = checked_headers(headers)
    body = protobuf_request(document).SerializeToString()
    deadline = timeout if timeout is not None else timeout_seconds()
    status, reason, answer, kind, late = _post(url, body, {**sent, "Content-Type": "application/x-protobuf"}, deadline)
    where = shown_url(url)
    if late and status is None:
        raise WorkbenchError(f"the OTLP collector at {where} did not answer within {deadline:g} s "
                             "(OTEL_EXPORTER_OTLP_TIMEOUT sets the limit, in milliseconds)")
    if not 200 <= status < 300:
        excerpt = _excerpt(answer, sent.values())
        raise WorkbenchError(f"the OTLP collector at {where} refused the traces: HTTP {status} {reason}"
                             + (f": {excerpt}" if excerpt else ""))
    rejected, message = _partial_success(answer, kind)
    return Delivery(status, rejected, _excerpt(message.encode("utf-8", "replace"), sent.values()))


def _post(url: str, body: bytes, headers: dict[str, str], deadline: float):
    """(status, reason, answer, content type, cut off): the POST under one overall deadline, a
    timer shutting the socket when it passes, whatever the collector is doing."""
    parts = urllib.parse.urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=deadline,
                                                 context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=deadline)
    expired, held = threading.Event(), []  # held: the socket (the response keeps it after the connection lets go)

    def cut_off() -> None:
        expired.set()
        for sock in [*held, connection.sock]:
            if sock is None:
                continue
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(deadline, cut_off)
    timer.daemon = True
    started = time.monotonic()
    timer.start()
    status = reason = kind = None
    answer = b""
    try:
        connection.connect()
        held.append(connection.sock)
        if expired.is_set():
            cut_off()
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        status, reason = int(response.status), str(response.reason or "")
        kind = response.getheader("Content-Type", "")
        answer = response.read(MAX_ANSWER)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if isinstance(exc, TimeoutError):
            expired.set()
        if isinstance(exc, http.client.IncompleteRead):
            answer = exc.partial[:MAX_ANSWER]
        if not expired.is_set() and status is None:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__
            raise WorkbenchError(f"cannot send traces to the OTLP collector at {shown_url(url)}: {reason}") from None
    finally:
        timer.cancel()
        connection.close()
    late = expired.is_set() or time.monotonic() - started > deadline
    return status, reason, answer, kind, late


def _partial_success(answer: bytes, kind: str | None) -> tuple[int, str]:
    """(rejected spans, the collector's message) from a 2xx answer, protobuf or JSON; (0, "") if none."""
    if not answer:
        return 0, ""
    if "json" in (kind or "").lower():
        try:
            value = json.loads(answer.decode("utf-8"))
            partial = value.get("partialSuccess") or value.get("partial_success") or {}
            count = partial.get("rejectedSpans", partial.get("rejected_spans", 0))
            return int(count or 0), str(partial.get("errorMessage", partial.get("error_message", "")) or "")
        except (ValueError, AttributeError, TypeError, UnicodeDecodeError):
            return 0, ""
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    try:
        response = ExportTraceServiceResponse.FromString(answer)
    except DecodeError:
        return 0, ""
    return int(response.partial_success.rejected_spans), response.partial_success.error_message


def _excerpt(body: bytes, secrets: Any = ()) -> str:
    """A collector's answer as one short line of printable text, without any header value sent."""
    text = body.decode("utf-8", errors="replace")
    hidden = set()
    for value in secrets:
        hidden.add(value)
        hidden.update(piece for piece in re.split(r"[\s,;=:]+", value) if len(piece) >= 6)
    for value in sorted((v for v in hidden if len(v) >= 3), key=len, reverse=True):
        text = text.replace(value, "[header value]")
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return re.sub(r"\s+", " ", text).strip()[:200]


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
