"""The store tests' backends: each test that takes `backend_target` (or `backend_store`) runs
once on a DuckDB file and once on a PostgreSQL database of the throwaway server (`pg_url`)."""

from __future__ import annotations

import pytest

from sessions import SessionStore

BACKENDS = ["duckdb", "postgresql"]


@pytest.fixture(params=BACKENDS)
def backend_target(request, tmp_path) -> str:
    """A fresh store's address: a DuckDB file path, or a postgresql:// URL of a new database."""
    if request.param == "duckdb":
        return str(tmp_path / "workbench.duckdb")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def backend_store(backend_target):
    store = SessionStore(backend_target, linger=0)
    yield store
    store.close()
