"""Langfuse trace exports: a trace with its observations, one session per trace.

Accepted shapes: `{"trace": {...}, "observations": [...]}` (an export of one trace); a
list of those; a trace object holding its observations (what `GET /api/public/traces/{id}`
returns); `{"data": [...]}` of such traces or of observations (the list endpoints); and a
bare list of observations, grouped by `traceId`. Langfuse's public API gives `input`,
`output` and `metadata` as JSON text; they are parsed here, and `metadata.attributes`
holds the OpenTelemetry attributes (`gen_ai.*`, Vercel's `ai.*`) of traces sent by OTel.

Observations link by `parentObservationId` and are taken in `startTime` order. A
generation that wraps other generations (Vercel's `ai.streamText` around each
`ai.streamText.doStream`, an app's own span around both) only repeats them, so the
conversation is rebuilt from the innermost generations: each one's input repeats the
messages so far, so only the messages not yet seen are added (`langfuse_messages.signature`
tells copies apart), and its output is the reply, with a `ModelCall` (model, usage,
latency) and its cost in the message's extra. A tool span (Vercel's `ai.toolCall`, a
`gen_ai.tool.*` span, an observation of type TOOL) is the result of its call. Other
spans, and the wrapping generations, are listed in the session's attributes with the
trace's user, session, tags and scores.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sessions.formats.conversation import (
    Conversation, Format, ImportedMessage, Invalid, ModelCall, Parsed, Sniff, match, near, no, timestamp,
)
from sessions.formats.langfuse_messages import (
    as_text, content_text, costs, finish_reason, first_text, input_messages, loads, number, output_messages, signature,
    tool_calls, usage,
)
from sessions.formats.openai_chat import tool_definitions
from sessions.formats.source import Sample, Source

NAME = "langfuse"
OBSERVATION_TYPES = {"GENERATION", "SPAN", "EVENT", "AGENT", "TOOL", "CHAIN", "RETRIEVER", "EVALUATOR",
                     "EMBEDDING", "GUARDRAIL"}
TRACE_KEYS = ("id", "userId", "sessionId", "tags", "release", "version", "environment", "public", "latency",
              "totalCost", "input", "output", "metadata", "htmlPath")
SCORE_KEYS = ("name", "value", "stringValue", "dataType", "source", "comment", "timestamp", "observationId")
TITLE_LENGTH = 100


def is_observation(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("type"), str) and value["type"] in OBSERVATION_TYPES and (
        "traceId" in value or "parentObservationId" in value or "startTime" in value)


def _is_export(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("trace"), dict) and "observations" in value


def _is_trace(value: Any) -> bool:
    return isinstance(value, dict) and "id" in value and "observations" in value and (
        "timestamp" in value or "projectId" in value)


def sniff(sample: Sample) -> Sniff:
    value = sample.value
    if sample.shape == "object" and isinstance(value, dict):
        if _is_export(value):
            return match('a Langfuse trace export ("trace" and "observations")')
        if "trace" in value and isinstance(value["trace"], dict):
            return near(70, 'a Langfuse export, but it has no "observations" beside "trace"')
        if _is_trace(value):
            return match("a Langfuse trace with its observations")
        data = value.get("data")
        if isinstance(data, list) and data and (is_observation(data[0]) or _is_trace(data[0]) or _is_export(data[0])):
            return match('a Langfuse API list ("data") of traces or observations')
        if isinstance(data, list) and data and isinstance(data[0], dict) and "projectId" in data[0]:
            return near(60, 'a Langfuse API list, but its items are neither observations nor traces with observations')
        return no('an object without "trace" and "observations"')
    if sample.shape == "array" and isinstance(value, list) and value:
        first = value[0]
        if _is_export(first) or _is_trace(first):
            return match("a list of Langfuse traces with their observations")
        if is_observation(first):
            return match("a list of Langfuse observations")
        return no("array items are not Langfuse traces or observations")
    return no(f"not a JSON object or array ({sample.shape})")


def read(source: Source) -> Parsed:
    document = source.document()
    for position, trace, observations in _traces(document):
        if isinstance(observations, Invalid):
            yield observations
            continue
        yield from _Trace(trace, position).read(observations, source.stem)


def _traces(document: Any):
    """(position, trace or None, [(pointer, observation)] or Invalid) for each trace in the file."""
    if isinstance(document, dict) and isinstance(document.get("data"), list) and not _is_trace(document):
        yield from _listed(document["data"], "/data")
    elif isinstance(document, list):
        yield from _listed(document, "")
    elif _is_export(document) or _is_trace(document):
        yield _unit(document, "")
    else:
        yield "/", None, Invalid("/", 'expected {"trace": ..., "observations": [...]}, a trace with its observations, '
                                      "or a list of observations")


def _listed(items: list[Any], prefix: str):
    loose: dict[str, list[tuple[str, Any]]] = {}
    for index, item in enumerate(items):
        pointer = f"{prefix}/{index}"
        if _is_export(item) or _is_trace(item):
            yield _unit(item, pointer)
        elif is_observation(item) or (isinstance(item, dict) and "parentObservationId" in item):
            loose.setdefault(str(item.get("traceId", "")), []).append((pointer, item))
        else:
            yield pointer, None, Invalid(pointer, "neither a Langfuse trace with observations nor an observation")
    for trace_id, observations in loose.items():
        yield observations[0][0], ({"id": trace_id} if trace_id else None), observations


def _unit(item: dict[str, Any], pointer: str):
    trace = item["trace"] if _is_export(item) else item
    listed = item.get("observations")
    where = f"{pointer}/observations"
    if not isinstance(listed, list):
        return pointer or "/", trace, Invalid(where, '"observations" must be a list of observations')
    if listed and all(isinstance(entry, str) for entry in listed):
        return pointer or "/", trace, Invalid(where, "the trace lists its observations by id only; export it with "
                                                     "their bodies (GET /api/public/traces/{id} gives them whole)")
    return pointer or "/", trace, [(f"{where}/{index}", entry) for index, entry in enumerate(listed)]


class _Observation:
    def __init__(self, pointer: str, index: int, raw: dict[str, Any]) -> None:
        self.pointer, self.index, self.raw = pointer, index, raw
        self.id = _identifier(raw.get("id"))
        self.type = raw.get("type")
        self.name = raw.get("name") if isinstance(raw.get("name"), str) else ""
        self.parent = _identifier(raw.get("parentObservationId"))
        self.start = timestamp(raw.get("startTime"))
        self.end = timestamp(raw.get("endTime"))
        metadata = loads(raw.get("metadata"))
        self.metadata = metadata if isinstance(metadata, dict) else {}
        attributes = loads(self.metadata.get("attributes"))
        self.attributes = attributes if isinstance(attributes, dict) else {}

    @property
    def label(self) -> str:
        return f"{self.pointer} ({self.name or self.type})"

    def summary(self, *fields: str) -> dict[str, Any]:
        kept = {key: self.raw.get(key) for key in ("id", "type", "name", "parentObservationId", "startTime", "endTime")}
        kept.update({key: loads(self.raw.get(key)) for key in fields if self.raw.get(key) is not None})
        return kept


class _Trace:
    """One trace's conversation, built observation by observation."""

    def __init__(self, trace: dict[str, Any] | None, position: str) -> None:
        self.trace = trace or {}
        self.position = position
        self.items: list[ImportedMessage] = []
        self.seen: list[tuple] = []  # each message's signature, in order
        self.calls: dict[str, str] = {}  # call id -> tool name, for every call made so far
        self.answered: set[str] = set()
        self.tools: list[dict[str, Any]] = []
        self.model: str | None = None
        self.others: list[dict[str, Any]] = []
        self.warnings: list[str] = []

    def read(self, listed: list[tuple[str, Any]], stem: str) -> Parsed:
        observations = []
        for index, (pointer, raw) in enumerate(listed):
            if isinstance(raw, dict):
                observations.append(_Observation(pointer, index, raw))
            else:
                yield Invalid(pointer, f"an observation must be an object, not {type(raw).__name__}")
        observations.sort(key=lambda item: (item.start is None, item.start or datetime.min, item.index))
        inner = {id(observation) for observation in _innermost_generations(observations)}
        for observation in observations:
            if id(observation) in inner:
                problem = self._generation(observation)
                if problem:
                    yield problem
            elif _is_tool(observation):
                self._tool(observation)
            else:
                self.others.append(observation.summary(*(() if observation.type == "GENERATION" else
                                                         ("input", "output", "level", "statusMessage"))))
        if not self.items:
            self._from_trace_fields()
        if not self.items:
            yield Invalid(self.position, "the trace holds no generations with messages, "
                                         "and no input or output of its own")
            return
        yield Conversation(
            key=str(self.trace.get("id") or self.position), title=self._title(stem), items=self.items,
            source_id=str(self.trace["id"]) if self.trace.get("id") else None, model=self.model,
            created_at=timestamp(self.trace.get("timestamp")) or (observations[0].start if observations else None),
            tools=self.tools, attributes=self._attributes(observations), warnings=self.warnings, position=self.position,
        )

    # ---- generations ----------------------------------------------------------------------

    def _generation(self, observation: _Observation) -> Invalid | None:
        raw, where = observation.raw, observation.label
        given = input_messages(raw.get("input"), f"{observation.pointer}/input", self.warnings)
        replies = output_messages(raw.get("output"), f"{observation.pointer}/output", self.warnings)
        for found in (given, replies):
            if isinstance(found, Invalid):
                return found
        self._add_tools(observation)
        for message in self._new(given, where):
            message.timestamp = observation.start
            self._append(message)
        self._add_attribute_calls(observation, replies)
        if not replies:
            status = raw.get("statusMessage")
            why = f" ({status})" if isinstance(status, str) else ""
            self.warnings.append(f"{where}: the generation has no output{why}")
            return None
        reply = next((message for message in replies if message.role == "assistant"), replies[0])
        reply.call = self._call(observation)
        reply.extra.update(costs(raw))
        reply.extra["observation_id"] = observation.id
        for message in replies:
            message.timestamp = observation.end or observation.start
            self._append(message)
        return None

    def _new(self, given: list[ImportedMessage], where: str) -> list[ImportedMessage]:
        """The messages of an input not seen before: each known one is matched in order, so a
        history repeated in full adds nothing and one that dropped messages adds only what is new."""
        new, at, out_of_order = [], 0, False
        for message in given:
            mark = signature(message)
            try:
                at = self.seen.index(mark, at) + 1
                out_of_order = out_of_order or bool(new)
            except ValueError:
                new.append(message)
        if out_of_order:
            self.warnings.append(f"{where}: its input puts {len(new)} new messages among ones seen before; "
                                 "they were added after the messages so far")
        return new

    def _append(self, message: ImportedMessage) -> None:
        for call in message.tool_calls or []:
            if isinstance(call, dict) and call.get("id"):
                self.calls[str(call["id"])] = str((call.get("function") or {}).get("name"))
        if message.role == "tool" and message.tool_call_id:
            self.answered.add(message.tool_call_id)
        self.items.append(message)
        self.seen.append(signature(message))

    def _add_attribute_calls(self, observation: _Observation, replies: list[ImportedMessage]) -> None:
        """Vercel's tool calls when the output shows only the reply's text (Langfuse keeps one of them)."""
        calls = tool_calls(observation.attributes.get("ai.response.toolCalls"))
        if not calls or any(message.tool_calls for message in replies):
            return
        reply = next((message for message in replies if message.role == "assistant"), None)
        if reply is None:
            replies.append(ImportedMessage("assistant", None, tool_calls=calls,
                                           position=f"{observation.pointer}/output"))
        else:
            reply.tool_calls = calls

    def _call(self, observation: _Observation) -> ModelCall:
        raw, attributes = observation.raw, observation.attributes
        model = first_text(raw.get("model"), attributes.get("gen_ai.request.model"), attributes.get("ai.model.id"),
                            attributes.get("gen_ai.response.model"))
        self.model = self.model or model
        latency = number(raw.get("latency"))
        if latency is None and observation.start and observation.end:
            latency = (observation.end - observation.start).total_seconds() * 1000
        return ModelCall(model or "unknown", usage(raw, attributes), finish_reason=finish_reason(raw, attributes),
                         latency_ms=float(latency or 0.0))

    def _add_tools(self, observation: _Observation) -> None:
        if self.tools:
            return
        listed = loads(observation.metadata.get("tools") or observation.attributes.get("ai.prompt.tools"))
        given = loads(observation.raw.get("input"))
        if not isinstance(listed, list) and isinstance(given, dict):
            listed = given.get("tools")
        if isinstance(listed, list):
            tools = [loads(tool) for tool in listed]  # Vercel's are JSON text, with "inputSchema"
            self.tools = tool_definitions([{**tool, "parameters": tool["inputSchema"]}
                                           if isinstance(tool, dict) and "inputSchema" in tool else tool
                                           for tool in tools])

    # ---- tool spans -----------------------------------------------------------------------

    def _tool(self, observation: _Observation) -> None:
        attributes, raw = observation.attributes, observation.raw
        name = first_text(attributes.get("ai.toolCall.name"), attributes.get("gen_ai.tool.name"),
                          observation.name) or "tool"
        call_id = first_text(attributes.get("ai.toolCall.id"), attributes.get("gen_ai.tool.call.id"))
        arguments = _first_value(attributes, "ai.toolCall.args", "ai.toolCall.input", "gen_ai.tool.call.arguments")
        result = _first_value(attributes, "ai.toolCall.result", "ai.toolCall.output", "gen_ai.tool.call.result")
        arguments = loads(raw.get("input")) if arguments is None else arguments
        result = loads(raw.get("output")) if result is None else result
        if call_id is None:  # the oldest unanswered call to this tool, if there is one
            call_id = next((known for known, tool in self.calls.items()
                            if tool == name and known not in self.answered), None)
        if call_id in self.answered:
            return
        if call_id is None or call_id not in self.calls:
            call_id = call_id or f"langfuse_{observation.id}"
            call = {"id": call_id, "type": "function",
                    "function": {"name": name, "arguments": as_text(arguments or {})}}
            self._append(ImportedMessage("assistant", None, tool_calls=[call], timestamp=observation.start,
                                         extra={"observation_id": observation.id, "from_tool_span": True},
                                         position=observation.pointer))
        self._append(ImportedMessage("tool", as_text(result) if result is not None else None, tool_call_id=call_id,
                                     name=name, timestamp=observation.end or observation.start,
                                     extra={"observation_id": observation.id}, position=observation.pointer))

    # ---- the trace ------------------------------------------------------------------------

    def _from_trace_fields(self) -> None:
        for field, read_as in (("input", input_messages), ("output", output_messages)):
            found = read_as(self.trace.get(field), f"{self.position.rstrip('/')}/trace/{field}", self.warnings)
            for message in found if isinstance(found, list) else []:
                message.timestamp = timestamp(self.trace.get("timestamp"))
                self._append(message)

    def _title(self, stem: str) -> str:
        name = self.trace.get("name")
        if isinstance(name, str) and name.strip():
            return name.strip()
        for message in self.items:
            text = content_text(message.content) if message.role == "user" else None
            if text and text.strip():
                line = text.strip().splitlines()[0]
                return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1] + "…"
        return stem

    def _attributes(self, observations: list[_Observation]) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            key: loads(self.trace[key]) for key in TRACE_KEYS if self.trace.get(key) not in (None, "", [])}
        if "id" in attributes:
            attributes["trace_id"] = attributes.pop("id")
        scores = self.trace.get("scores")
        if isinstance(scores, list) and scores:
            attributes["scores"] = [{key: score.get(key) for key in SCORE_KEYS if score.get(key) is not None}
                                    for score in scores if isinstance(score, dict)]
        attributes["observations"] = dict(Counter(str(observation.type) for observation in observations))
        if self.others:
            attributes["other_observations"] = self.others
        costs = [number(observation.raw.get("totalCost")) for observation in observations]
        if any(costs) and "totalCost" not in attributes:
            attributes["total_cost"] = sum(cost for cost in costs if cost)
        return attributes


def _innermost_generations(observations: list[_Observation]) -> list[_Observation]:
    """Generations that wrap no other generation (the calls themselves)."""
    by_id = {observation.id: observation for observation in observations if observation.id is not None}
    generations = [observation for observation in observations if observation.type == "GENERATION"]
    wrappers: set[Any] = set()
    for generation in generations:
        parent, visited = by_id.get(generation.parent), set()
        while parent is not None and parent.id not in visited:
            visited.add(parent.id)
            if parent.type == "GENERATION":
                wrappers.add(parent.id)
            parent = by_id.get(parent.parent)
    inner = [generation for generation in generations if generation.id not in wrappers]
    return inner or generations  # a loop of parents wraps everything: take them all


def _identifier(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


def _is_tool(observation: _Observation) -> bool:
    attributes = observation.attributes
    return (observation.type == "TOOL" or observation.name == "ai.toolCall"
            or "ai.toolCall.name" in attributes or "gen_ai.tool.name" in attributes)


def _first_value(attributes: dict[str, Any], *keys: str) -> Any:
    return next((loads(attributes[key]) for key in keys if attributes.get(key) is not None), None)


FORMAT = Format(NAME, "Langfuse trace export", sniff, read, extensions=(".json",))
