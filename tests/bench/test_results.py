"""bench/RESULTS.md is written by the scripts: each run replaces its own section and no other."""

from __future__ import annotations

import pytest

from tests.conftest import bench_module

results = bench_module("results")


def test_a_run_adds_its_section_and_a_rerun_replaces_only_it(tmp_path, monkeypatch):
    path = tmp_path / "RESULTS.md"
    monkeypatch.setattr("sys.argv", ["bench/pi_llm.py", "--updates", "4"])
    results.record("pi-llm-policy-both", "PI-LLM", "table one\n", path=path)
    monkeypatch.setattr("sys.argv", ["bench/needlebench.py"])
    results.record("needlebench-policy-chain", "NeedleBench", "table two", notes="a note", path=path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Benchmark results") and "./workbench bench-pi-llm --model" in text
    assert "- command: `./workbench bench-pi-llm --updates 4`" in text and "a note" in text
    assert "```\ntable one\n```" in text and "```\ntable two\n```" in text
    monkeypatch.setattr("sys.argv", ["bench/pi_llm.py"])
    results.record("pi-llm-policy-both", "PI-LLM", "table three", path=path)
    again = path.read_text(encoding="utf-8")
    assert "table one" not in again and "table three" in again and "table two" in again
    assert again.index("table three") < again.index("table two")  # it stays where it was
    assert again.count("<!-- section:pi-llm-policy-both -->") == 1
    assert not (tmp_path / "RESULTS.md.tmp").exists()


def test_the_heading_is_renewed_and_the_sections_kept(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# an old heading\n\n<!-- section:x -->\nkept\n<!-- /section:x -->\n", encoding="utf-8")
    results.record("y", "Y", "new", path=path)
    text = path.read_text(encoding="utf-8")
    assert "an old heading" not in text and text.startswith(results.HEADING)
    assert "<!-- section:x -->\nkept\n<!-- /section:x -->" in text and "<!-- section:y -->" in text


def test_section_names_are_checked_and_made_from_free_text():
    assert results.slug("pi-llm", "openai/gpt-4.1", "task") == "pi-llm-openai-gpt-4-1-task"
    with pytest.raises(ValueError, match="lower-case"):
        results.record("Bad Name", "t", "x")
