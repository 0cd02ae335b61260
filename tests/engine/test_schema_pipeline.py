"""The schema pipeline on shapes Sculptor's tools do not use, and the mistakes it refuses.

Each tool here is registered for real; its schema is checked against its docstring and
its signature, and a registry then validates calls against it, as a model's would be.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from engine.errors import ToolDefinitionError
from engine.state import ContextState
from engine.tools import HiddenFromModel, ToolContext, ToolRegistry, ToolResult
from engine.tools.registry import Tool, make_tool
from engine.tools.types import FragmentCount


def label_fragment(
    context: ToolContext,
    fragment_id: str,
    title: str,
    color: Literal["red", "green", "blue"] = "red",
    tags: list[str] | None = None,
) -> ToolResult:
    """Give a fragment a label a person can read in the fragment table.

    The label is shown beside the fragment's id
    and in the context map.

    Args:
        fragment_id: ID of the fragment to label, such as "f1a2b3".
        title: The label itself, such as "Budget discussion".
        color: Colour of the label: "red", "green" or "blue".
        tags (list[str], optional): Words to file the fragment under,
            for example budget or travel.

    Returns:
        The fragment's id and its new label.

    Raises:
        ToolInputError: the fragment does not exist.

    Example:
        label_fragment(fragment_id="f1a2b3", title="Budget")
    """
    return ToolResult.ok({"fragment_id": fragment_id, "title": title, "color": color, "tags": tags})


class ScoreFilter(BaseModel):
    """Which hits to keep."""

    min_score: float = Field(0.0, ge=0, description="Lowest relevance score a hit may have.")
    roles: list[Literal["user", "assistant"]] = Field(["user"], description="Roles whose hits are kept.")


class Window(BaseModel):
    """A range of messages."""

    first: int = Field(description="Index of the first message, from 0.")
    last: int = Field(description="Index of the last message, included.")


class Order(enum.Enum):
    """How hits are ordered."""

    BEST_FIRST = "best"
    NEWEST_FIRST = "newest"


def rank_hits(
    query: str,
    c: ToolContext,
    window: Window,
    keep: ScoreFilter | None = None,
    limit: FragmentCount = 5,
    order: Order = Order.BEST_FIRST,
    exact_only: Annotated[bool, HiddenFromModel] = False,
) -> ToolResult:
    """Rank the hits for a query within a window of messages.

    Args:
        query: Words to rank by, such as "budget".
        c: The context, passed in by the registry (never a model's to send).
        window: The messages to rank within.
        keep: Optional: which hits to keep; all of them when left out.
        limit: Most hits to return, from 1 to 20.
        order: "best" for the best hits first, "newest" for the most recent first.
        exact_only: For the UI: rank only exact matches.
    """
    assert isinstance(c, ToolContext)
    data = {"query": query, "window": window.model_dump(), "keep": keep.model_dump() if keep else None}
    return ToolResult.ok(data | {"limit": limit, "order": order.value, "exact_only": exact_only})


REGISTRY = ToolRegistry([label_fragment, rank_hits])


def _call(name: str, arguments: Any) -> dict[str, Any]:
    return REGISTRY.call(name, arguments, ToolContext.for_state(ContextState())).result


def _error(name: str, arguments: Any) -> str:
    return _call(name, arguments)["error"]


def _titles(schema: Any, inside_properties: bool = False) -> list[Any]:
    """Every `title` key that is not a property's name."""
    if isinstance(schema, list):
        return [title for item in schema for title in _titles(item)]
    if not isinstance(schema, dict):
        return []
    found = [] if inside_properties or "title" not in schema else [schema["title"]]
    for key, value in schema.items():
        found += _titles(value, inside_properties=key == "properties" and not inside_properties)
    return found


@pytest.mark.parametrize("tool", [REGISTRY.get(name) for name in REGISTRY.names], ids=REGISTRY.names)
def test_every_required_name_is_a_described_property_and_no_title_is_generated(tool: Tool):
    parameters = tool.parameters
    assert parameters["type"] == "object" and parameters["additionalProperties"] is False
    assert set(parameters["required"]) <= set(parameters["properties"])
    for spec in parameters["properties"].values():
        assert len(spec["description"]) > 15
    for definition in parameters.get("$defs", {}).values():
        for spec in definition.get("properties", {}).values():
            assert len(spec["description"]) > 15
    assert _titles(parameters) == []


def test_a_parameter_named_title_keeps_its_schema():
    parameters = REGISTRY.get("label_fragment").parameters
    assert parameters["required"] == ["fragment_id", "title"]
    assert parameters["properties"]["title"] == {
        "type": "string",
        "description": 'The label itself, such as "Budget discussion".',
    }


def test_returns_raises_and_example_sections_stay_out_of_descriptions():
    tool = REGISTRY.get("label_fragment")
    assert tool.description == (
        "Give a fragment a label a person can read in the fragment table.\n\n"
        "The label is shown beside the fragment's id and in the context map."
    )
    assert tool.parameters["properties"] == {
        "fragment_id": {"type": "string", "description": 'ID of the fragment to label, such as "f1a2b3".'},
        "title": {"type": "string", "description": 'The label itself, such as "Budget discussion".'},
        "color": {
            "type": "string",
            "enum": ["red", "green", "blue"],
            "default": "red",
            "description": 'Colour of the label: "red", "green" or "blue".',
        },
        "tags": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Words to file the fragment under, for example budget or travel.",
        },
    }
    assert tool.example_arguments() == '{"fragment_id": "f1a2b3", "title": "Budget discussion"}'


def test_literal_and_optional_list_parameters_validate_calls():
    assert _call("label_fragment", {"fragment_id": "f1", "title": "Budget"}) == {
        "fragment_id": "f1", "title": "Budget", "color": "red", "tags": None,
    }
    as_json = '{"fragment_id": "f1", "title": "B", "color": "blue", "tags": ["x"]}'
    assert _call("label_fragment", as_json)["tags"] == ["x"]
    assert "missing required parameter 'title' (string)" in _error("label_fragment", {"fragment_id": "f1"})
    error = _error("label_fragment", {"fragment_id": "f1", "title": "B", "color": "purple"})
    assert "parameter 'color': Input should be 'red', 'green' or 'blue'" in error
    assert 'Example of valid arguments: {"fragment_id": "f1a2b3", "title": "Budget discussion"}' in error
    error = _error("label_fragment", {"fragment_id": "f1", "title": "B", "tags": "x"})
    assert "parameter 'tags': Input should be a valid list" in error


def test_nested_models_are_referenced_and_keep_their_descriptions():
    parameters = REGISTRY.get("rank_hits").parameters
    assert parameters["required"] == ["query", "window"]
    assert list(parameters["properties"]) == ["query", "window", "keep", "limit", "order"]  # no c, no exact_only
    assert parameters["properties"]["window"] == {
        "$ref": "#/$defs/Window",
        "description": "The messages to rank within.",
    }
    assert parameters["properties"]["keep"] == {
        "$ref": "#/$defs/ScoreFilter",
        "description": "Optional: which hits to keep; all of them when left out.",
    }
    assert parameters["properties"]["limit"] == {
        "type": "integer", "minimum": 1, "maximum": 20, "default": 5,
        "description": "Most hits to return, from 1 to 20.",
    }
    assert parameters["$defs"]["ScoreFilter"] == {
        "type": "object",
        "description": "Which hits to keep.",
        "properties": {
            "min_score": {
                "type": "number", "minimum": 0, "default": 0.0,
                "description": "Lowest relevance score a hit may have.",
            },
            "roles": {
                "type": "array",
                "items": {"type": "string", "enum": ["user", "assistant"]},
                "default": ["user"],
                "description": "Roles whose hits are kept.",
            },
        },
    }
    assert parameters["$defs"]["Window"]["required"] == ["first", "last"]
    assert parameters["properties"]["order"]["default"] == "best"
    assert parameters["$defs"]["Order"] == {
        "type": "string", "enum": ["best", "newest"], "description": "How hits are ordered.",
    }


def test_a_context_parameter_not_named_ctx_is_passed_in_and_nested_arguments_validate():
    window = {"first": 0, "last": 3}
    arguments = {"query": "budget", "window": window, "keep": {"min_score": 1.5}, "limit": "3"}
    result = _call("rank_hits", arguments)
    assert result == {
        "query": "budget", "window": window, "limit": 3, "order": "best", "exact_only": False,
        "keep": {"min_score": 1.5, "roles": ["user"]},
    }
    assert _call("rank_hits", arguments | {"order": "newest"})["order"] == "newest"
    for wrong, expected in (
        ({"keep": {"min_score": -1}}, "parameter 'keep.min_score': Input should be greater than or equal to 0"),
        ({"window": {"first": 0}}, "missing required parameter 'window.last'"),
        ({"limit": True}, "parameter 'limit': expected a number, not true/false"),
        ({"order": "oldest"}, "parameter 'order': Input should be 'best' or 'newest'"),
        ({"c": 1}, "unexpected parameter 'c'; this tool takes only: query, window, keep, limit, order"),
    ):
        assert expected in _error("rank_hits", arguments | wrong)


def test_a_parameter_hidden_from_models_is_still_validated_and_accepted():
    tool = REGISTRY.get("rank_hits")
    assert "exact_only" not in str(tool.schema())
    assert "exact_only" in tool.arguments_model.model_fields
    window = {"first": 0, "last": 1}
    assert _call("rank_hits", {"query": "x", "window": window, "exact_only": True})["exact_only"] is True
    error = _error("rank_hits", {"query": "x", "window": window, "exact_only": "maybe"})
    assert "parameter 'exact_only': Input should be a valid boolean" in error


def _no_docstring(ctx: ToolContext, x: int) -> ToolResult:
    return ToolResult.ok({})


def _no_context(x: int) -> ToolResult:
    """Does things.

    Args:
        x: a number for the thing.
    """
    return ToolResult.ok({})


def _two_contexts(ctx: ToolContext, other: ToolContext) -> ToolResult:
    """Does things."""
    return ToolResult.ok({})


def _untyped(ctx: ToolContext, x) -> ToolResult:
    """Does things.

    Args:
        x: a number for the thing.
    """
    return ToolResult.ok({})


def _undescribed(ctx: ToolContext, x: int, y: int) -> ToolResult:
    """Does things.

    Args:
        x: a number for the thing.
    """
    return ToolResult.ok({})


def _described_but_missing(ctx: ToolContext, x: int) -> ToolResult:
    """Does things.

    Args:
        x: a number for the thing.
        z: a parameter that went away.
    """
    return ToolResult.ok({})


def _hidden_without_default(ctx: ToolContext, x: Annotated[int, HiddenFromModel]) -> ToolResult:
    """Does things.

    Args:
        x: a number no model can see.
    """
    return ToolResult.ok({})


def _star_args(ctx: ToolContext, *names: str) -> ToolResult:
    """Does things.

    Args:
        names: the names of things.
    """
    return ToolResult.ok({})


def _no_summary(ctx: ToolContext, x: int) -> ToolResult:
    """
    Args:
        x: a number for the thing.
    """
    return ToolResult.ok({})


def _not_google_style(ctx: ToolContext, x: int) -> ToolResult:
    """Does things.

    Args:
        x is a number without a colon
    """
    return ToolResult.ok({})


def _unresolvable(ctx: ToolContext, x: NoSuchType) -> ToolResult:  # noqa: F821
    """Does things.

    Args:
        x: a value of a type that does not exist.
    """
    return ToolResult.ok({})


MISTAKES = [
    (_no_docstring, "needs a docstring"),
    (_no_context, r"must take one parameter typed ToolContext, such as `ctx: ToolContext` \(it has none\)"),
    (_two_contexts, "must take one parameter typed ToolContext.*it has 2: ctx, other"),
    (_untyped, "parameter x needs a type annotation"),
    (_undescribed, "parameter y is not described under Args:"),
    (_described_but_missing, r"Args: describes unknown parameters \['z'\]"),
    (_hidden_without_default, "parameter x is hidden from models, so it needs a default"),
    (_star_args, "cannot be passed by name"),
    (_no_summary, "needs a summary"),
    (_not_google_style, "not Google style"),
    (_unresolvable, "cannot resolve its type hints"),
]


@pytest.mark.parametrize(("function", "message"), MISTAKES, ids=[f.__name__ for f, _ in MISTAKES])
def test_definition_mistakes_raise_at_registration(function, message):
    with pytest.raises(ToolDefinitionError, match=message):
        make_tool(function)


def test_a_parameter_in_pydantics_namespace_is_refused_at_registration():
    def configure(ctx: ToolContext, model_config: str) -> ToolResult:
        """Configure something.

        Args:
            model_config: A name pydantic keeps for itself.
        """
        return ToolResult.ok({})

    with pytest.raises(ToolDefinitionError, match="may not be named model_config"):
        make_tool(configure)
