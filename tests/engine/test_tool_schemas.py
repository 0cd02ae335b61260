"""Tool schemas are derived from the functions and pinned, so a change is always deliberate.

To accept an intended change: `UPDATE_SNAPSHOTS=1 ./workbench test tests/engine/test_tool_schemas.py`.
The pipeline itself (titles, docstring sections, nested models, hidden parameters) is
tested on tools made for it in test_schema_pipeline.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine import tool_schemas
from engine.errors import ToolDefinitionError
from engine.tools import TOOL_PROFILES, ToolContext, ToolRegistry, registry
from engine.tools.registry import ToolResult, make_tool

SNAPSHOT = Path(__file__).parent / "snapshots" / "tool_schemas.json"


def test_schemas_match_the_snapshot():
    current = json.dumps(tool_schemas(), indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(current, encoding="utf-8")
    assert current == SNAPSHOT.read_text(encoding="utf-8")


SCULPTOR = {
    "fragment_context": {"required": ["start_marker", "end_marker"], "num_fragments": (5, 1, 20), "role": "user"},
    "fold_fragment": {"required": ["fragment_id"]},
    "summarize_fragment": {"required": ["fragment_id", "focus"]},
    "restore_fragment": {"required": ["fragment_id"]},
    "search_context": {"required": ["query"], "max_results": (10, 1, 50), "context_size": (200, 50, 1000), "role": "user"},
    "get_search_detail": {"required": ["search_id"], "extended_context": (500, 100, 2000)},
}


@pytest.mark.parametrize("name", SCULPTOR)
def test_sculptor_names_defaults_and_ranges(name):
    schema = registry.get(name).schema()
    assert schema["type"] == "function" and schema["function"]["name"] == name
    parameters = schema["function"]["parameters"]
    assert parameters["type"] == "object" and parameters["additionalProperties"] is False
    expected = SCULPTOR[name]
    assert parameters["required"] == expected["required"]
    for key, value in expected.items():
        if key == "required":
            continue
        spec = parameters["properties"][key]
        if isinstance(value, tuple):
            assert (spec["default"], spec["minimum"], spec["maximum"]) == value
            assert spec["type"] == "integer"
        else:
            assert spec["default"] == value
            assert {"user", "assistant", "all"} <= set(spec["enum"])


@pytest.mark.parametrize("name", registry.names)
def test_every_tool_and_parameter_is_described_for_the_model(name):
    function = registry.get(name).schema()["function"]
    assert len(function["description"]) > 40
    for parameter, spec in function["parameters"]["properties"].items():
        assert len(spec.get("description", "")) > 15, parameter


def test_search_context_says_results_come_most_recent_first():
    assert "most recent match first" in registry.get("search_context").description


MEMORY = ["memory_insert", "memory_update", "memory_delete", "memory_restore", "memory_search", "memory_link",
          "memory_merge"]


def test_profiles():
    assert tool_schemas("none") == []
    assert [s["function"]["name"] for s in tool_schemas("sculptor")] == list(SCULPTOR)
    assert [s["function"]["name"] for s in tool_schemas("brakes")] == ["check_reasoning", "set_reasoning_budget"]
    assert [s["function"]["name"] for s in tool_schemas("tasks")] == ["add_task", "update_task", "complete_task", "list_tasks"]
    assert [s["function"]["name"] for s in tool_schemas("all")] == [*SCULPTOR, "check_reasoning", "set_reasoning_budget",
                                                                    "add_task", "update_task", "complete_task", "list_tasks",
                                                                    *MEMORY]
    assert [s["function"]["name"] for s in tool_schemas("memory")] == MEMORY
    assert set(TOOL_PROFILES) == {"none", "sculptor", "brakes", "tasks", "memory", "all"}
    with pytest.raises(ValueError, match="unknown tool profile"):
        tool_schemas("everything")


def test_definition_mistakes_raise_at_registration():
    def no_doc(ctx: ToolContext, x: int) -> ToolResult:
        return ToolResult.ok({})

    def undescribed(ctx: ToolContext, x: int) -> ToolResult:
        """Does things.

        Args:
            y: not x.
        """
        return ToolResult.ok({})

    def no_ctx(x: int) -> ToolResult:
        """Does things.

        Args:
            x: a number for the thing.
        """
        return ToolResult.ok({})

    def untyped_ctx(ctx, x: int) -> ToolResult:
        """The context is recognised by its type, so an untyped one is a mistake.

        Args:
            x: a number for the thing.
        """
        return ToolResult.ok({})

    for function, message in (
        (no_doc, "docstring"),
        (undescribed, "not described"),
        (no_ctx, "typed ToolContext"),
        (untyped_ctx, "parameter ctx needs a type annotation"),
    ):
        with pytest.raises(ToolDefinitionError, match=message):
            make_tool(function)

    def fold_fragment(ctx: ToolContext, fragment_id: str) -> ToolResult:
        """A clash with the real tool's name.

        Args:
            fragment_id: the id of some fragment.
        """
        return ToolResult.ok({})

    with pytest.raises(ToolDefinitionError, match="two tools are named 'fold_fragment'"):
        ToolRegistry([registry.get("fold_fragment").function, fold_fragment])
