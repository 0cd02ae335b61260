"""Who wrote each event travels with it: into a JSONL trace and an OTLP trace and back in, and
into Parquet as a column; a trace without actors imports as the import's."""

from __future__ import annotations

import json

import duckdb

from engine.actors import Actor
from sessions.exporting import export_session


def _acted(store):
    session = store.create_session("acted")
    session.add_message("user", "The storm is expected by evening.")
    session.actor = Actor.person("workbench")
    fragment = session.state().messages[0].fragments[0].id
    session.call_tool("fold_fragment", {"fragment_id": fragment})
    session.call_tool("restore_fragment", {"fragment_id": fragment}, from_model=True)
    return session


def _actors(session) -> list[Actor | None]:
    return [record.actor for record in session.records()]


def test_a_jsonl_trace_and_an_otlp_trace_bring_the_actors_back(backend_store, tmp_path):
    session = _acted(backend_store)
    written = _actors(session)
    assert [actor.kind for actor in written] == ["program", "person", "model"]
    for name, path in (("jsonl", tmp_path / "trace.jsonl"), ("otlp", tmp_path / "trace.otlp.json")):
        export_session(session, name, path)
        imported = backend_store.import_session(path)
        assert _actors(imported) == written, name


def test_parquet_has_an_actor_column(backend_store, tmp_path):
    session = _acted(backend_store)
    export_session(session, "parquet", tmp_path / "out")
    [events_file] = [p for p in (tmp_path / "out").iterdir() if "event" in p.name]
    rows = duckdb.sql(f"SELECT seq, actor FROM read_parquet('{events_file}') ORDER BY seq").fetchall()
    assert [Actor.from_json(actor).kind for _, actor in rows] == ["program", "person", "model"]


def test_a_trace_without_actors_imports_as_the_imports(store, tmp_path):
    session = store.create_session("old")
    session.add_message("user", "from a trace written before actors")
    path = session.export(tmp_path / "old.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:
        line.pop("actor", None)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    [actor] = _actors(store.import_session(path))
    assert actor.kind == "import" and "old.jsonl" in actor.name


def test_a_malformed_actor_in_a_trace_is_named_and_refused(store, tmp_path):
    session = store.create_session("bad")
    session.add_message("user", "hello")
    path = session.export(tmp_path / "bad.jsonl")
    lines = path.read_text().splitlines()
    event = json.loads(lines[1])
    event["actor"] = {"kind": "alien"}
    path.write_text(lines[0] + "\n" + json.dumps(event) + "\n")
    try:
        store.import_session(path)
    except Exception as exc:  # the import's error names the line and the actor
        assert "actor" in str(exc) and "alien" in str(exc)
    else:
        raise AssertionError("a trace with an unknown actor kind was imported")
