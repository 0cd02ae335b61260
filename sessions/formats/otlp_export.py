"""A session as one OpenTelemetry trace: OTLP/JSON, written to a file or sent to a collector.

The trace follows the GenAI semantic conventions (open-telemetry/semantic-conventions-genai):

- a root span `invoke_agent {service}` for the session (`gen_ai.conversation.id` = its id);
- a `chat {model}` span (kind CLIENT) for each model call, an `llm_called` event and the
  assistant message after it: provider (`gen_ai.provider.name`), the model as the provider
  names it (`gen_ai.request.model`, without litellm's prefix), finish reasons (ours kept
  under `context_workbench.finish_reason` where the conventions have another word), usage
  (cache reads, and cache writes under both `cache_creation` and `cache_write`, which
  viewers read), `gen_ai.input.messages` (the conversation the model saw, as parts: text
  with fold markers and summaries in place, reasoning, tool_call, tool_call_response),
  `gen_ai.output.messages` (the reply) and the tool definitions it was offered, as JSON;
- a failed model call (`llm_failed`) is a chat span with an ERROR status and `error.type`;
- an `execute_tool {name}` span for each tool result whose call is in the log, with the
  call's id, arguments and result (`error.type` when the tool reported an error);
- messages no model call answered (an import's, a question still open) in the next chat
  span's input, or in a span `messages without a reply` after the last model span.

Context edits have no convention: each event other than a message or a model call (folds,
summaries, restores, fragmenting, policies, compactions, searches, settings) is a span event
`context_workbench.{kind}` on the root span, with `context_workbench.seq`, `.ts`, the event's
fields as JSON under `context_workbench.payload`, and `context_workbench.token_delta`, the
change in rendered tokens it made (the log folded in order, `engine.render.stats` before and
after). A summary or a compaction also sets `gen_ai.conversation.compacted` and puts a
`compaction` part (the summary, or what the compaction did) in the inputs of the calls after
it. Each message carries a `context_workbench.message` object (its seq, time, ids and its
original text where the model saw another), so importing the trace back replays the log
event by event; other readers skip our `context_workbench.*` keys. Ids are derived from the
session id and each event's seq, so the same session always gives the same document.
Settings never hold keys; fields named like secrets are redacted all the same, and URLs
lose their user name, password and query (`otlp_encode.redacted`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from engine.records import EventRecord
from sessions.formats.otlp_send import (  # noqa: F401 (the sending half, re-exported)
    Delivery, environment_headers, protobuf_request, send_otlp, shown_url, traces_url,
)
from sessions.formats.otlp_trace import TraceBuilder
from sessions.formats.workbench_trace import atomic_output


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


__all__ = ["Delivery", "environment_headers", "otlp_document", "protobuf_request", "send_otlp", "shown_url",
           "traces_url", "write_otlp"]
