"""The layering the design promises, checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

import engine
import sessions

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_ENGINE = {"streamlit", "duckdb", "pyvis"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_engine_imports_no_ui_or_storage_library():
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & FORBIDDEN_IN_ENGINE)
        for path in (ROOT / "engine").rglob("*.py")
        if _imports(path) & FORBIDDEN_IN_ENGINE
    }
    assert offenders == {}


def test_only_engine_llm_may_import_litellm():
    importers = {
        str(path.relative_to(ROOT))
        for folder in ("engine", "sessions", "components", "pages")
        for path in (ROOT / folder).rglob("*.py")
        if "litellm" in _imports(path)
    } | ({"app.py"} if "litellm" in _imports(ROOT / "app.py") else set())
    assert importers <= {"engine/llm.py"}


def test_sessions_do_not_import_streamlit():
    assert not any("streamlit" in _imports(path) for path in (ROOT / "sessions").rglob("*.py"))


def test_public_surface_of_engine_is_pinned():
    assert sorted(engine.__all__) == sorted(
        [
            "DEFAULT_ENCODING", "EVENT_ADAPTER", "EVENT_KINDS", "ContextState", "Event", "Fragment",
            "ImportFormatError", "Message", "MessageAdded", "MessageError", "ReplayError", "SessionNotFound",
            "StoreError", "TOOL_PROFILES", "ToolContext", "ToolDefinitionError", "ToolInputError",
            "ToolOutcome", "WorkbenchError", "apply", "event_from_record", "new_message", "registry",
            "render", "replay", "stats", "token_counter", "tool_schemas",
        ]
    )
    for name in engine.__all__:
        assert getattr(engine, name) is not None


def test_public_surface_of_sessions_is_pinned():
    assert sorted(sessions.__all__) == sorted(
        [
            "DB_ENV", "EventRecord", "ImportFormatError", "Session", "SessionNotFound", "SessionStore",
            "StoreError", "WorkbenchError", "default_db_path",
        ]
    )


def test_modules_stay_small():
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for folder in ("engine", "sessions")
        for path in (ROOT / folder).rglob("*.py")
    }
    assert {name: lines for name, lines in sizes.items() if lines > 400} == {}
