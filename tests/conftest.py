"""Shared fixtures. Everything here runs offline against real components (DuckDB, PostgreSQL, tiktoken)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine import ContextState, apply, new_message  # noqa: E402
from sessions import SessionStore  # noqa: E402

PROSE = (
    "The harbour town woke early. Fishing boats left before dawn, and the market opened at six.\n"
    "Merchants argued about the price of salt. A storm was expected by evening.\n\n"
    "The lighthouse keeper wrote in his log: wind from the north-east, rising.\n"
    "He checked the lamp twice and trimmed the wick. The oil supply would last a week.\n\n"
    "By noon the sky had turned grey. Children were called home from the beach.\n"
    "The mayor decided to close the harbour until the storm passed; the decision was final.\n"
)


def bench_module(name: str):
    """A benchmark script of bench/ as a module (bench/ is no package: its scripts import each other
    by name, so the folder goes on the path)."""
    if name in sys.modules:
        return sys.modules[name]
    bench = ROOT / "bench"
    if str(bench) not in sys.path:
        sys.path.insert(0, str(bench))
    spec = importlib.util.spec_from_file_location(name, bench / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def long_text(paragraphs: int = 40) -> str:
    """Distinct, deterministic prose with numbered paragraphs (markers: 'Paragraph 1.' ...)."""
    parts = []
    for n in range(1, paragraphs + 1):
        parts.append(
            f"Paragraph {n}. The committee met on day {n} to review item {n * 7}. "
            f"Members discussed budget line {n * 13} and agreed on action {n}.\n"
            f"Notes for paragraph {n}: keep the figures, drop the anecdotes.\n"
        )
    return "\n".join(parts) + "\nEnd of notes."


@pytest.fixture
def store() -> SessionStore:
    return SessionStore(":memory:")


@pytest.fixture
def file_store(tmp_path: Path) -> SessionStore:
    store = SessionStore(tmp_path / "workbench.duckdb", linger=0)
    yield store
    store.close()


@pytest.fixture
def session(store: SessionStore):
    return store.create_session("test")


def state_with(*messages: tuple[str, str]) -> ContextState:
    state = ContextState()
    for role, content in messages:
        state = apply(state, new_message(state, role, content))
    return state


# --- PostgreSQL: one throwaway server per test session (tests/pg_cluster.py), a database per test ---


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory):
    """A PostgreSQL server of Debian's programs in a temporary folder, on 127.0.0.1 and a free port;
    stopped at the end of the session, whatever the tests did."""
    from tests.pg_cluster import PostgresCluster

    with PostgresCluster.start(tmp_path_factory.mktemp("pg")) as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster, request) -> str:
    """The admin URL of a fresh, empty database for this test (dropped afterwards, with FORCE)."""
    name = pg_database_name(request.node.nodeid)
    url = pg_cluster.create_database(name)
    yield url
    pg_cluster.drop_database(name)


def pg_database_name(test_id: str) -> str:
    """A database name from a test id: lower-case letters, digits and _, unique by a hash of the id."""
    stem = re.sub(r"[^a-z0-9]+", "_", test_id.rsplit("/", 1)[-1].lower()).strip("_")
    return f"t_{stem[:48]}_{hashlib.sha1(test_id.encode()).hexdigest()[:8]}"
