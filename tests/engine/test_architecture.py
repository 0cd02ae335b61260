"""The layering the design promises, checked on the source itself.

pages -> components -> engine <- sessions; pages may call sessions (through the service);
engine/llm.py is the only door to litellm; no cycles between the project's modules; and
no module grows past about 400 lines.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

import engine
import sessions

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "sessions", "components", "pages")
FORBIDDEN_IN_ENGINE = {"streamlit", "duckdb", "pyvis", "sessions", "components", "pages", "pyarrow"}


def _sources() -> dict[str, Path]:
    """Module name -> file, for every module of the project (app.py included)."""
    found = {"app": ROOT / "app.py"}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported_modules(path: Path) -> set[str]:
    """Every module named by an import anywhere in the file, lazy ones inside functions too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _tops(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _imported_modules(path)}


def _offenders(package: str, forbidden: set[str]) -> dict[str, list[str]]:
    return {
        name: sorted(_tops(path) & forbidden)
        for name, path in _sources().items()
        if (name == package or name.startswith(package + ".")) and _tops(path) & forbidden
    }


def test_engine_imports_no_ui_storage_or_outer_layer():
    assert _offenders("engine", FORBIDDEN_IN_ENGINE) == {}


def test_only_engine_llm_may_import_litellm():
    importers = {name for name, path in _sources().items() if "litellm" in _tops(path)}
    assert importers <= {"engine.llm"}


def test_sessions_import_no_ui():
    assert _offenders("sessions", {"streamlit", "components", "pages", "pyvis"}) == {}


def test_components_take_values_and_never_open_the_store_or_a_model():
    assert _offenders("components", {"sessions", "duckdb", "litellm", "pages"}) == {}


def test_no_cycles_between_the_projects_modules():
    sources = _sources()
    graph = nx.DiGraph()
    for name, path in sources.items():
        graph.add_node(name)
        for imported in _imported_modules(path):
            while imported and imported not in sources:  # "engine.events.Event" -> "engine.events"
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(imported + "."):
                graph.add_edge(name, imported)
    cycles = [cycle for cycle in nx.simple_cycles(graph) if not _is_package_reexport(cycle)]
    assert cycles == []


def _is_package_reexport(cycle: list[str]) -> bool:
    """A package's __init__ re-exporting from its own modules, which import siblings through
    the package, is not a cycle between layers."""
    roots = {name.split(".")[0] for name in cycle}
    return len(roots) == 1 and any("." not in name for name in cycle) and len(cycle) == 2


def test_the_agent_loop_depends_on_the_session_one_way():
    sources = _sources()
    for name, path in sources.items():
        if name.startswith("sessions.") and name not in ("sessions.agent", "sessions.cli", "sessions.service"):
            assert not any(imported.startswith("sessions.agent") for imported in _imported_modules(path)), name
    assert any(imported.startswith("sessions.session") for imported in _imported_modules(sources["sessions.agent"]))


def test_importing_sessions_does_not_import_litellm():
    probe = "import sys, sessions, sessions.service, sessions.cli; print('litellm' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_public_surface_of_engine_is_pinned():
    assert sorted(engine.__all__) == sorted(
        [
            "DEFAULT_ENCODING", "EVENT_ADAPTER", "EVENT_KINDS", "SUBSYSTEMS", "ContextState", "Event", "Fragment",
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


def test_modules_stay_small_in_every_package():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in _sources().items()}
    assert len(sizes) > 30
    assert {name: lines for name, lines in sizes.items() if lines > 400} == {}


def test_the_app_and_its_pages_do_not_load_litellm_until_a_model_is_called():
    probe = ("import sys, sessions.service, components.token_bar, components.chat_view, engine.windows; "
             "from engine.windows import model_windows; model_windows(); print('litellm' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_every_test_file_has_a_name_of_its_own():
    """tests/ has no __init__ files, so pytest imports each test module by its file name: two of
    one name in two folders stop the whole run at collection ("import file mismatch")."""
    names: dict[str, list[str]] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        names.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in names.items() if len(paths) > 1} == {}
