"""The tool registry every caller shares, built from an explicit list of tool functions."""

from __future__ import annotations

from typing import Any

from engine.tools.brakes import check_reasoning, set_reasoning_budget
from engine.tools.context import fold_fragment, fragment_context, restore_fragment, summarize_fragment
from engine.tools.memory import (
    memory_delete, memory_insert, memory_link, memory_merge, memory_restore, memory_search, memory_update,
)
from engine.tools.registry import Tool, ToolContext, ToolOutcome, ToolRegistry, ToolResult
from engine.tools.search import get_search_detail, search_context
from engine.tools.tasks import add_task, complete_task, list_tasks, update_task
from engine.tools.types import REFUSE_BOOLEANS, HiddenFromModel

SCULPTOR_TOOLS = (
    fragment_context,
    fold_fragment,
    summarize_fragment,
    restore_fragment,
    search_context,
    get_search_detail,
)

BRAKE_TOOLS = (check_reasoning, set_reasoning_budget)
TASK_TOOLS = (add_task, update_task, complete_task, list_tasks)
MEMORY_TOOLS = (memory_insert, memory_update, memory_delete, memory_restore, memory_search, memory_link, memory_merge)

registry = ToolRegistry(SCULPTOR_TOOLS + BRAKE_TOOLS + TASK_TOOLS + MEMORY_TOOLS)

# Tools that change nothing a model is sent: they answer from the state. (A search leaves an event
# holding its hits, for get_search_detail, but the context renders the same.) Every other tool's
# change can be undone: restore_fragment, memory_restore, a task's history. MCP clients read this
# as `readOnlyHint`, and may run such a tool without asking.
READ_ONLY_TOOLS = (search_context, get_search_detail, check_reasoning, list_tasks, memory_search)

TOOL_PROFILES: dict[str, tuple[str, ...]] = {
    "none": (),
    "sculptor": tuple(tool.__name__ for tool in SCULPTOR_TOOLS),
    "brakes": tuple(tool.__name__ for tool in BRAKE_TOOLS),
    "tasks": tuple(tool.__name__ for tool in TASK_TOOLS),
    "memory": tuple(tool.__name__ for tool in MEMORY_TOOLS),
    "all": tuple(registry.names),
}


def tool_schemas(profile: str = "all") -> list[dict[str, Any]]:
    """The OpenAI-format tool list for a profile: "none", "sculptor", "brakes", "tasks", "memory" or "all"."""
    if profile not in TOOL_PROFILES:
        raise ValueError(f"unknown tool profile {profile!r}; use one of {', '.join(TOOL_PROFILES)}")
    return registry.schemas(TOOL_PROFILES[profile])


__all__ = [
    "BRAKE_TOOLS",
    "HiddenFromModel",
    "MEMORY_TOOLS",
    "READ_ONLY_TOOLS",
    "REFUSE_BOOLEANS",
    "SCULPTOR_TOOLS",
    "TASK_TOOLS",
    "TOOL_PROFILES",
    "Tool",
    "ToolContext",
    "ToolOutcome",
    "ToolRegistry",
    "ToolResult",
    "registry",
    "tool_schemas",
]
