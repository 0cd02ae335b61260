"""One registry for every tool, whoever calls it: a person in the UI, a model, the CLI.

A tool is a typed function with one parameter typed `ToolContext` (recognised by its type,
whatever its name; the registry passes it in) and a docstring with a summary and a
Google-style `Args:` section. From that the registry derives a pydantic validator and the
OpenAI-format schema (engine/tools/schema.py), so the schema can never drift from the
code. Mistakes in a tool's definition raise `ToolDefinitionError` at import; mistakes in
a call become an error result the caller (often a model) can read and act on.

`ToolRegistry.call` never raises: it returns a `ToolOutcome` holding the result dict, the
events to append, and the state those events lead to. A failed call yields one
`tool_failed` event and the state unchanged.
"""

from __future__ import annotations

import difflib
import inspect
import json
import re
import reprlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, ValidationError, create_model

from engine.errors import ReplayError, ToolDefinitionError, ToolInputError
from engine.events import Event, ToolFailed
from engine.fold import replay
from engine.state import ContextState
from engine.summarize import ExtractiveSummarizer, Summarizer
from engine.text import one_line
from engine.tokens import DEFAULT_ENCODING, TokenCounter, token_counter
from engine.tools.schema import parameters_schema, read_docstring
from engine.tools.types import is_hidden_from_model

_LOGGED_ARGUMENT_CHARS = 10_000


@dataclass
class ToolContext:
    """What a tool may read: the state it acts on, the tokenizer, the summarizer, and whether a
    model is calling (a model may not send the parameters it is never shown)."""

    state: ContextState
    counter: TokenCounter
    summarizer: Summarizer
    from_model: bool = False

    @classmethod
    def for_state(
        cls, state: ContextState, encoding: str = DEFAULT_ENCODING, summarizer: Summarizer | None = None,
        from_model: bool = False,
    ) -> "ToolContext":
        counter = token_counter(encoding)
        return cls(state, counter, summarizer or ExtractiveSummarizer(counter), from_model)


@dataclass
class ToolResult:
    data: dict[str, Any]
    events: list[Event] = field(default_factory=list)

    @classmethod
    def ok(cls, data: dict[str, Any], events: Iterable[Event] = ()) -> "ToolResult":
        return cls(data, list(events))


@dataclass
class ToolOutcome:
    result: dict[str, Any]
    events: list[Event]
    state: ContextState

    @property
    def failed(self) -> bool:
        return "error" in self.result


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    function: Callable[..., ToolResult]
    arguments_model: type[BaseModel]
    parameters: dict[str, Any]
    context_parameter: str  # the parameter typed ToolContext; the registry passes it by name

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    def example_arguments(self) -> str:
        """Valid arguments for the required parameters, from the examples in their descriptions."""
        example: dict[str, Any] = {}
        for name in self.parameters.get("required", []):
            spec = self.parameters["properties"][name]
            quoted = re.search(r'(?:such as|e\.g\.|like) "([^"]+)"', spec.get("description", ""))
            listed = re.search(r'(?:such as|e\.g\.|like) (\[[^\]]*\])', spec.get("description", ""))
            if "enum" in spec:
                example[name] = spec["enum"][0]
            elif spec.get("type") == "integer":
                example[name] = spec.get("minimum", 1)
            elif spec.get("type") == "array":
                example[name] = _listed(listed.group(1)) if listed else ["..."]
            else:
                example[name] = quoted.group(1) if quoted else "..."
        return json.dumps(example, ensure_ascii=False)


def _listed(text: str) -> list[Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return ["..."]
    return value if isinstance(value, list) else ["..."]


def _is_context(hint: Any, context_type: type) -> bool:
    return isinstance(hint, type) and issubclass(hint, context_type)


def make_tool(function: Callable[..., Any], context_type: type = ToolContext) -> Tool:
    """Derive a Tool from a function; raise ToolDefinitionError if it is not well formed.

    `context_type` is what the one parameter the caller passes in is typed: `ToolContext` for
    the registry's tools; a tool that acts on something other than a session's state (the MCP
    server's `create_session`, which acts on the store) names its own, and gets its schema and
    validation from the same code."""
    name = function.__name__
    description, descriptions = read_docstring(function)
    try:
        hints = get_type_hints(function, include_extras=True)
    except Exception as exc:
        raise ToolDefinitionError(f"tool {name}: cannot resolve its type hints ({exc})") from None
    parameters = list(inspect.signature(function).parameters.values())
    for parameter in parameters:
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            raise ToolDefinitionError(
                f"tool {name}: parameter {parameter} cannot be passed by name; a tool takes named parameters only"
            )
        if parameter.name not in hints:
            raise ToolDefinitionError(f"tool {name}: parameter {parameter.name} needs a type annotation")
        if parameter.name.startswith("model_"):  # pydantic keeps that namespace for its own attributes
            raise ToolDefinitionError(
                f"tool {name}: a parameter may not be named {parameter.name} (names starting with model_ "
                "belong to pydantic); choose another name"
            )
    contexts = [parameter.name for parameter in parameters if _is_context(hints[parameter.name], context_type)]
    if len(contexts) != 1:
        found = f"it has {len(contexts)}: {', '.join(contexts)}" if contexts else "it has none"
        kind = context_type.__name__
        raise ToolDefinitionError(
            f"tool {name} must take one parameter typed {kind}, such as `ctx: {kind}` ({found})"
        )
    fields: dict[str, Any] = {}
    for parameter in parameters:
        if parameter.name == contexts[0]:
            continue
        if parameter.name not in descriptions:
            raise ToolDefinitionError(f"tool {name}: parameter {parameter.name} is not described under Args:")
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        if default is ... and is_hidden_from_model(hints[parameter.name]):
            raise ToolDefinitionError(
                f"tool {name}: parameter {parameter.name} is hidden from models, so it needs a default"
            )
        fields[parameter.name] = (hints[parameter.name], Field(default, description=descriptions[parameter.name]))
    extra = set(descriptions) - set(fields) - {contexts[0]}
    if extra:
        raise ToolDefinitionError(f"tool {name}: Args: describes unknown parameters {sorted(extra)}")
    try:
        model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
        schema = parameters_schema(model)
    except PydanticUserError as exc:  # a type pydantic cannot validate or describe
        raise ToolDefinitionError(f"tool {name}: pydantic cannot build its parameters ({exc})") from None
    return Tool(name, description, function, model, schema, contexts[0])


def _short(name: Any) -> str:
    return one_line(str(name), 60) or "(no tool name)"


def _loggable(arguments: Any) -> Any:
    """The arguments as given, JSON-safe and bounded in size, for the tool_failed event."""
    if isinstance(arguments, str):
        return arguments[:_LOGGED_ARGUMENT_CHARS]
    try:
        dumped = json.dumps(arguments, default=repr)
    except Exception:  # cycles, absurd nesting: keep a bounded description instead
        return reprlib.repr(arguments)[:_LOGGED_ARGUMENT_CHARS]
    return json.loads(dumped) if len(dumped) <= _LOGGED_ARGUMENT_CHARS else dumped[:_LOGGED_ARGUMENT_CHARS]


def _describe_validation_error(tool: Tool, error: ValidationError) -> str:
    properties = tool.parameters["properties"]
    problems = []
    for item in error.errors():
        parameter = one_line(".".join(str(part) for part in item["loc"]), 60) or "arguments"
        if item["type"] == "missing":
            kind = properties.get(parameter, {}).get("type", "value")
            problems.append(f"missing required parameter '{parameter}' ({kind})")
        elif item["type"] == "extra_forbidden":
            problems.append(
                f"unexpected parameter '{parameter}'; this tool takes only: {', '.join(properties)}"
            )
        else:
            given = json.dumps(item.get("input"), default=repr)
            given = given if len(given) <= 80 else given[:77] + "..."
            message = item["msg"].removeprefix("Value error, ")
            problems.append(f"parameter '{parameter}': {message} (got {given})")
    return "; ".join(problems) + f". Example of valid arguments: {tool.example_arguments()}"


class ToolRegistry:
    """The tools by name, their schemas, and the one way to call them."""

    def __init__(self, functions: Iterable[Callable[..., ToolResult]] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for function in functions:
            self.register(function)

    def register(self, function: Callable[..., ToolResult]) -> Tool:
        tool = make_tool(function)
        if tool.name in self._tools:
            raise ToolDefinitionError(f"two tools are named {tool.name!r}; tool names must be unique")
        self._tools[tool.name] = tool
        return tool

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def get(self, name: str) -> Tool:
        tool = self._tools.get(name) if isinstance(name, str) else None
        if tool is None:
            given = str(name)[:200]
            close = [known for known in self._tools if given and (given in known or known in given)]
            close = close or difflib.get_close_matches(given, self._tools, n=1, cutoff=0.5)
            suggestion = f" Did you mean {close[0]!r}?" if close else ""
            raise ToolInputError(f"unknown tool {one_line(repr(name), 60)}.{suggestion} Available tools: {', '.join(self._tools)}")
        return tool

    def schemas(self, names: Iterable[str] | None = None) -> list[dict[str, Any]]:
        chosen = self._tools if names is None else [n for n in names]
        return [self.get(name).schema() for name in chosen]

    def call(self, name: str, arguments: Any, context: ToolContext) -> ToolOutcome:
        """Validate and run one tool call. Never raises; failures come back as results."""
        try:
            tool = self.get(name)
            parsed = parse_arguments(tool, arguments, context.from_model)
            result = tool.function(**{tool.context_parameter: context}, **parsed)
            state = replay(result.events, context.state)
            return ToolOutcome(result.data, result.events, state)
        except ToolInputError as exc:
            return self._failure(context, name, arguments, f"{_short(name)}: {exc}", "ToolInputError")
        except ReplayError as exc:
            return self._failure(context, name, arguments, f"{_short(name)}: internal error, events did not apply: {exc}", "ReplayError")
        except Exception as exc:  # a bug in a tool must not lose the session: log it as an event
            message = f"{_short(name)}: internal error {type(exc).__name__}: {exc}. The context is unchanged."
            return self._failure(context, name, arguments, message, type(exc).__name__)

    @staticmethod
    def _failure(context: ToolContext, name: Any, arguments: Any, message: str, error_type: str) -> ToolOutcome:
        event = ToolFailed(tool=str(name)[:200], arguments=_loggable(arguments), error=message, error_type=error_type)
        return ToolOutcome({"error": message}, [event], replay([event], context.state))


def parse_arguments(tool: Tool, arguments: Any, from_model: bool = False) -> dict[str, Any]:
    """The call's arguments (a dict, or JSON text) checked against the tool's model; raise
    ToolInputError with what was wrong and an example of valid arguments."""
    if arguments is None or arguments == "":
        arguments = {}
    if isinstance(arguments, (str, bytes)):
        try:
            arguments = json.loads(arguments)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            raise ToolInputError(
                f"arguments are not valid JSON ({exc}). Send one JSON object, for example "
                f"{tool.example_arguments()}"
            ) from None
    if not isinstance(arguments, dict):
        raise ToolInputError(
            f"arguments must be a JSON object, not {type(arguments).__name__}; for example "
            f"{tool.example_arguments()}"
        )
    hidden = set(tool.arguments_model.model_fields) - set(tool.parameters["properties"])
    if from_model and hidden & set(arguments):  # as if it did not exist: the model was never shown it
        unexpected = sorted(hidden & set(arguments))[0]
        raise ToolInputError(f"unexpected parameter '{unexpected}'; this tool takes only: "
                             f"{', '.join(tool.parameters['properties'])}. Example of valid arguments: "
                             f"{tool.example_arguments()}")
    try:
        validated = tool.arguments_model.model_validate(arguments)
    except ValidationError as exc:
        raise ToolInputError(_describe_validation_error(tool, exc)) from None
    return {key: getattr(validated, key) for key in tool.arguments_model.model_fields}
