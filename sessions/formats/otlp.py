"""OpenTelemetry traces: OTLP JSON export bodies, and the Python SDK's span JSON.

`otlp` reads `{"resourceSpans": [...]}`: one export body, a JSON array of them, or JSON lines
of them (what a collector's file exporter writes). `otel-spans` reads what the SDK's
`ConsoleSpanExporter` / `span.to_json()` writes: `{"spans": [...]}`, a list of spans, JSON
lines, or span objects one after another. Both become the same spans and share the rebuild.

Each trace (`traceId`) is one session (`otlp_rebuild` says how its spans become one
conversation); the attributes of each convention are read in `otlp_attributes` and
`otlp_messages`. A span that is not an object or has no ids is a bad record, named by its
JSON pointer (`/3/resourceSpans/0/scopeSpans/0/spans/2`), or by its line in JSON lines.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from sessions.formats.conversation import Format, Invalid, Parsed, Sniff, match, near, no
from sessions.formats.jsonio import check_nesting
from sessions.formats.otlp_attributes import hex_id, key_values, nanos
from sessions.formats.otlp_rebuild import Span, rebuild
from sessions.formats.source import Sample, Source

SCOPE_KEYS = ("scopeSpans", "scope_spans", "instrumentationLibrarySpans")


# ---- detection --------------------------------------------------------------------------------


def _first(sample: Sample) -> Any:
    if sample.shape == "array":
        return sample.value[0] if sample.value else None
    if sample.shape == "lines":
        return sample.value[0][1]
    return sample.value if sample.shape == "object" else None


def _get(value: Any, *keys: str) -> Any:
    return next((value[key] for key in keys if isinstance(value, dict) and key in value), None)


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _has_spans(body: Any) -> bool:
    for resource in _list(_get(body, "resourceSpans", "resource_spans")):
        for scope in _list(_get(resource, *SCOPE_KEYS)):
            if isinstance(_get(scope, "spans"), list):
                return True
    return False


def sniff_otlp(sample: Sample) -> Sniff:
    first = _first(sample)
    if not isinstance(_get(first, "resourceSpans", "resource_spans"), list):
        return no('no "resourceSpans" (an OTLP JSON export is {"resourceSpans": [...]})')
    bodies = sample.value if sample.shape == "array" else [v for _, v in sample.value] if sample.shape == "lines" else [first]
    if any(_has_spans(body) for body in bodies):
        return match("an OTLP JSON trace export")
    return near(80, 'an OTLP export with "resourceSpans", but no "scopeSpans" holding "spans"')


def is_sdk_span(value: Any) -> bool:
    context = value.get("context") if isinstance(value, dict) else None
    return isinstance(context, dict) and "trace_id" in context and "span_id" in context


def sniff_sdk(sample: Sample) -> Sniff:
    first = _first(sample)
    spans = first.get("spans") if isinstance(first, dict) and isinstance(first.get("spans"), list) else None
    candidate = spans[0] if spans else first
    if is_sdk_span(candidate) or (isinstance(first, dict) and spans is None and is_sdk_span(first)):
        return match("OpenTelemetry SDK span JSON")
    if spans is not None and not spans:
        return near(40, 'an object with "spans", but the list is empty')
    if isinstance(candidate, dict) and "name" in candidate and ("attributes" in candidate or "trace_id" in candidate):
        return near(60, 'spans with a "name", but no "context" holding "trace_id" and "span_id"')
    return no('no spans with "context": {"trace_id", "span_id"} (the SDK\'s span.to_json())')


# ---- reading spans ----------------------------------------------------------------------------


def _documents(source: Source, stream: bool = True) -> Iterator[tuple[str, Any]]:
    """(where, value) for each JSON document in the file; an Invalid for a line that is not JSON.
    `stream` reads a top-level array an element at a time (ijson, which cannot hold the SDK's
    128-bit integer ids; those files are parsed whole)."""
    shape = source.sample.shape
    if shape == "lines":
        for number, value in source.lines():
            if isinstance(value, Exception):
                yield f"line {number}", Invalid(f"line {number}", str(value).split(": ", 2)[-1])
            else:
                yield f"line {number} ", value
        return
    if shape == "array" and stream:
        for index, value in source.items():
            yield f"/{index}", value
        return
    text = source.text()
    decoder, at, found = json.JSONDecoder(), 0, []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            break
        line = text.count("\n", 0, at) + 1
        try:
            value, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise source.error(f"line {exc.lineno}, column {exc.colno}", f"not valid JSON: {exc.msg}") from None
        except RecursionError:
            raise source.error(f"line {line}", "JSON nested too deeply; the workbench refuses it") from None
        check_nesting(source, value, f"line {line}")
        found.append((line, value))
    if len(found) == 1 and isinstance(found[0][1], list):  # an array, parsed whole
        yield from ((f"/{index}", value) for index, value in enumerate(found[0][1]))
        return
    for line, value in found:
        yield ("" if len(found) == 1 else f"line {line} "), value


def otlp_spans(body: Any, where: str) -> Iterator[Span | Invalid]:
    resources = _get(body, "resourceSpans", "resource_spans")
    if not isinstance(resources, list):
        yield Invalid(where.strip() or "/", 'not an OTLP export body: it has no "resourceSpans" list')
        return
    for r, resource in enumerate(resources):
        if not isinstance(resource, dict):
            yield Invalid(f"{where}/resourceSpans/{r}", "a resource's spans must be an object")
            continue
        described = key_values(_get(_get(resource, "resource"), "attributes"))
        for s, scope in enumerate(_list(_get(resource, *SCOPE_KEYS))):
            named = _get(_get(scope, "scope", "instrumentationLibrary"), "name")
            for k, span in enumerate(_list(_get(scope, "spans"))):
                position = f"{where}/resourceSpans/{r}/scopeSpans/{s}/spans/{k}"
                if not isinstance(span, dict):
                    yield Invalid(position, "a span must be an object")
                    continue
                trace = hex_id(_get(span, "traceId", "trace_id"), 16)
                span_id = hex_id(_get(span, "spanId", "span_id"), 8)
                if not trace or not span_id:
                    yield Invalid(position, 'a span needs a "traceId" and a "spanId"')
                    continue
                events = [{"name": str(e.get("name") or ""), "time": nanos(_get(e, "timeUnixNano", "time_unix_nano")),
                           "attributes": key_values(e.get("attributes")), "body": e.get("body")}
                          for e in _list(span.get("events")) if isinstance(e, dict)]
                if span.get("events") is not None and not isinstance(span.get("events"), list):
                    yield Invalid(position, f'"events" must be a list, not {type(span["events"]).__name__}')
                    continue
                yield Span(trace, span_id, hex_id(_get(span, "parentSpanId", "parent_span_id"), 8),
                           str(span.get("name") or ""), nanos(_get(span, "startTimeUnixNano", "start_time_unix_nano")),
                           nanos(_get(span, "endTimeUnixNano", "end_time_unix_nano")), key_values(span.get("attributes")),
                           events, span.get("status") if isinstance(span.get("status"), dict) else {}, described, position,
                           scope=named if isinstance(named, str) else "")


def sdk_spans(value: Any, where: str) -> Iterator[Span | Invalid]:
    spans = value.get("spans") if isinstance(value, dict) and isinstance(value.get("spans"), list) else None
    items = [(f"{where}/spans/{i}", span) for i, span in enumerate(spans)] if spans is not None else [(where.strip() or "/", value)]
    for position, span in items:
        if not is_sdk_span(span):
            yield Invalid(position, 'a span needs "context": {"trace_id": ..., "span_id": ...}')
            continue
        context, parent = span["context"], span.get("parent")
        trace, span_id = hex_id(context.get("trace_id"), 16), hex_id(context.get("span_id"), 8)
        if not trace or not span_id:
            yield Invalid(position, "the span's trace_id or span_id is empty")
            continue
        parent_id = hex_id(parent.get("span_id"), 8) if isinstance(parent, dict) else hex_id(span.get("parent_id"), 8)
        resource = span.get("resource") if isinstance(span.get("resource"), dict) else {}
        events = [{"name": str(e.get("name") or ""), "time": nanos(e.get("timestamp")),
                   "attributes": key_values(e.get("attributes") or {})} for e in _list(span.get("events")) if isinstance(e, dict)]
        yield Span(trace, span_id, parent_id, str(span.get("name") or ""), nanos(span.get("start_time")),
                   nanos(span.get("end_time")), key_values(span.get("attributes") or {}), events,
                   span.get("status") if isinstance(span.get("status"), dict) else {},
                   key_values(resource.get("attributes", resource)), position)


def read_otlp(source: Source) -> Parsed:
    return _read(source, otlp_spans, stream=True)


def read_sdk(source: Source) -> Parsed:
    return _read(source, sdk_spans, stream=False)


def _read(source: Source, spans_of, stream: bool) -> Parsed:
    traces: dict[str, list[Span]] = {}
    count = 0
    for where, value in _documents(source, stream):
        if isinstance(value, Invalid):
            yield value
            continue
        for span in spans_of(value, where):
            if isinstance(span, Invalid):
                yield span
            else:
                span.order, count = count, count + 1
                traces.setdefault(span.trace, []).append(span)
    ordered = sorted(traces.values(), key=lambda spans: min((s.start or 0, s.order) for s in spans))
    for spans in ordered:
        yield rebuild(spans)


FORMAT = Format("otlp", "OTLP JSON traces", sniff_otlp, read_otlp, extensions=(".json", ".jsonl"))
SDK_SPANS_FORMAT = Format("otel-spans", "OpenTelemetry SDK span JSON", sniff_sdk, read_sdk, extensions=(".json", ".jsonl"))
