"""Fixtures for the format tests: a store in memory, files the tests write, and the shared samples.

The real samples live outside the repository (`../shared/data/conversations/`, see its
README); a test that reads one is skipped, saying so, on a checkout without them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sessions import SessionStore

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT.parent / "shared" / "data" / "conversations"


@pytest.fixture
def store() -> SessionStore:
    return SessionStore(":memory:")


@pytest.fixture
def sample():
    """sample("chatgpt-export/chatlore/conversations.json") -> the path of a shared sample file."""

    def find(relative: str) -> Path:
        path = SAMPLES / relative
        if not path.is_file():
            pytest.skip(f"the shared sample {relative} is not on this machine (expected under {SAMPLES})")
        return path

    return find


@pytest.fixture
def write(tmp_path):
    """write("name.json", value) writes JSON (or text, or bytes) into a temporary folder; returns the path."""

    def put(name: str, value: Any) -> Path:
        path = tmp_path / name
        if isinstance(value, bytes):
            path.write_bytes(value)
        elif isinstance(value, str):
            path.write_text(value, encoding="utf-8")
        else:
            path.write_text(json.dumps(value), encoding="utf-8")
        return path

    return put


@pytest.fixture
def imported(store):
    """imported(path, **options) -> (report, sessions): import into `store`, open what it made, in order."""

    def run(path: Path, **options: Any):
        report = store.import_file(path, **options)
        return report, [store.open_session(session_id) for session_id in report.session_ids]

    return run
