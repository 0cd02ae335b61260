"""When a process cannot be sure which code it runs, it uses no snapshots at all: a source file it
cannot read (a dangling editor lock link), no engine source (an install of bytecode only), or a
source file changed after the process started (it may have imported the code from before)."""

from __future__ import annotations

from pathlib import Path

from sessions import snapshots


def test_a_source_file_that_cannot_be_read_turns_snapshots_off_instead_of_failing_the_import(monkeypatch, tmp_path):
    dangling = tmp_path / ".#state.py"
    dangling.symlink_to(tmp_path / "me@host.123")  # what Emacs leaves beside a file being edited
    real = snapshots._source_files()
    monkeypatch.setattr(snapshots, "_source_files", lambda: [*real, dangling])
    assert snapshots._digest_or_none() == (None, {})


def test_no_engine_source_means_no_snapshots(monkeypatch):
    outside = [path for path in snapshots._source_files() if Path(snapshots.engine.__file__).resolve().parent
               not in path.parents]
    monkeypatch.setattr(snapshots, "_source_files", lambda: outside)
    assert outside and snapshots._digest_or_none() == (None, {})


def test_source_changed_after_the_process_started_means_no_snapshots(monkeypatch):
    digest, stats = snapshots._digest_or_none()
    assert digest is not None and stats  # this checkout: nothing changed since the tests started
    monkeypatch.setattr(snapshots, "_process_started_ns", lambda: 0)
    assert snapshots._digest_or_none() == (None, {})


def test_without_a_digest_a_snapshot_is_neither_read_nor_written(monkeypatch):
    monkeypatch.setattr(snapshots, "_DIGEST", None)
    assert snapshots.engine_digest() is None and not snapshots.source_unchanged()
