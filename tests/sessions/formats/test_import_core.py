"""The import machinery every format shares: opening, detection, whole-or-nothing, reports.
(Building sessions from what was read: test_import_building.py.)"""

from __future__ import annotations

import gzip
import json
import zipfile

import pytest

from engine import ImportFormatError
from sessions.formats import detect, format_named
from sessions.formats.source import open_sources

CHAT = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi there"}]


# ---- opening and detection ----------------------------------------------------------------


def test_a_gzip_file_is_read_as_what_it_holds_and_named_without_gz(write, imported):
    path = write("chat.json.gz", gzip.compress(json.dumps(CHAT).encode()))
    report, [session] = imported(path)
    assert report.files[0].format == "openai" and session.title == "chat"
    assert [m.text for m in session.state().messages] == ["hello", "hi there"]


def test_a_damaged_gzip_file_is_called_one(write, store):
    data = gzip.compress(json.dumps(CHAT * 2000).encode())
    path = write("cut.json.gz", data[: len(data) // 2])
    with pytest.raises(ImportFormatError, match="a gzip file, but it is damaged or cut short"):
        store.import_file(path)
    assert store.list_sessions() == []


def test_a_zip_reads_conversations_json_and_ignores_the_rest_of_an_export(write, tmp_path, imported):
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("chat.html", "<html></html>")
        archive.writestr("user.json", json.dumps({"id": "user-1"}))
        archive.writestr("conversations.json", json.dumps([{"messages": CHAT, "title": "From the zip"}]))
    report, [session] = imported(path)
    assert session.title == "From the zip" and report.files[0].file == "export.zip:conversations.json"


def test_a_zip_of_several_files_imports_those_that_match_and_says_which_it_left_out(tmp_path, imported):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.json", json.dumps(CHAT))
        archive.writestr("notes/b.jsonl", "\n".join(json.dumps(m) for m in CHAT))
        archive.writestr("readme.json", json.dumps({"hello": "world"}))
    report, sessions = imported(path)
    assert sorted(s.title for s in sessions) == ["a", "b"]
    assert any("left out of the archive: many.zip:readme.json: matches no format" in w for w in report.files[0].warnings)


def test_a_zip_with_nothing_to_read_says_what_it_holds(tmp_path, store):
    path = tmp_path / "pics.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.png", b"\x89PNG")
    with pytest.raises(ImportFormatError, match=r"a zip file with no JSON, JSON lines or YAML inside \(it holds a.png\)"):
        store.import_file(path)


def test_a_file_that_matches_nothing_lists_the_formats_tried_closest_first(write, store):
    path = write("odd.json", {"messages": "nope"})
    with pytest.raises(ImportFormatError) as error:
        store.import_file(path)
    text = str(error.value)
    assert text.startswith("odd.json: matches no format the workbench reads.\nClosest first:\n"
                           '  - OpenAI chat messages (openai): "messages" is not a list of chat messages')
    assert "Also tried:" in text and "--format NAME" in text


def test_detection_never_looks_at_the_name(write):
    as_text = write("looks-like.txt", json.dumps(CHAT))
    as_trace = write("trace.jsonl", json.dumps(CHAT))
    assert detect(open_sources(as_text)[0]).name == detect(open_sources(as_trace)[0]).name == "openai"


def test_an_unknown_format_name_lists_the_names(store, write):
    with pytest.raises(ImportFormatError, match="unknown format 'nope'; the formats are .*openai"):
        store.import_file(write("x.json", CHAT), format_name="nope")


def test_a_forced_format_that_does_not_fit_says_what_is_wrong(store, write):
    path = write("events.jsonl", "\n".join(json.dumps(m) for m in CHAT))
    with pytest.raises(ImportFormatError, match="line 1: an event needs"):
        store.import_file(path, format_name=format_named("jsonl").name)


@pytest.mark.parametrize(("data", "expected"), [
    (b"\xff\xfe[\x00]\x00", "UTF-16 text; save it as UTF-8"),
    (b'[{"role": "user", "content": "caf\xe9"}]', "line 1: not UTF-8 text"),
    (b"   \n\n", "the file is empty"),
])
def test_text_that_is_not_utf8_or_empty_is_refused_with_the_reason(write, store, data, expected):
    with pytest.raises(ImportFormatError, match=expected):
        store.import_file(write("bad.json", data))


def test_a_bad_json_line_is_named_by_its_line(write, store):
    path = write("lines.jsonl", json.dumps(CHAT[0]) + "\n" + json.dumps(CHAT[1]) + "\n{oops\n")
    with pytest.raises(ImportFormatError, match=r"1 bad record:\n  - line 3: not valid JSON"):
        store.import_file(path)


# ---- many conversations: whole or nothing ---------------------------------------------------


def _records(count, bad=()):
    return [{"title": f"c{n}", "messages": CHAT} if n not in bad else {"title": f"c{n}", "messages": [{"role": "robot", "content": "beep"}]}
            for n in range(count)]


def test_one_bad_record_refuses_the_file_and_every_bad_record_is_named(write, store):
    store.create_session("already here")
    path = write("many.json", _records(30, bad={3, 17}))
    with pytest.raises(ImportFormatError) as error:
        store.import_file(path)
    text = str(error.value)
    assert "2 bad records" in text and "record [3] messages [0]" in text and "record [17] messages [0]" in text
    assert "--skip-invalid" in text
    assert [row["title"] for row in store.list_sessions()] == ["already here"]


def test_skip_invalid_imports_the_rest_and_lists_what_it_skipped(write, imported):
    report, sessions = imported(write("many.json", _records(30, bad={3, 17})), skip_invalid=True)
    assert len(sessions) == 28 and "c3" not in {s.title for s in sessions}
    assert [line.split(":")[0] for line in report.files[0].skipped] == ["record [3] messages [0]", "record [17] messages [0]"]
    assert "skipped (2):" in "\n".join(report.lines())


def test_a_long_list_of_bad_records_is_shortened_with_a_count(write, store):
    with pytest.raises(ImportFormatError, match=r"and 5 more"):
        store.import_file(write("bad.json", _records(25, bad=set(range(25)))))


def test_progress_is_reported_up_to_the_whole_file(write, imported):
    messages = [{"role": "user", "content": "x" * 1000}] * 6000  # about 6 MB
    seen = []
    imported(write("big.json", messages), progress=lambda done, total: seen.append((done, total)))
    size = seen[-1][1]
    assert size > 6_000_000 and seen[-1] == (size, size) and all(total == size for _, total in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)  # detection's read is not counted
    assert len(seen) == size // (1 << 20) + 1  # a report a mebibyte, and one at the end


def test_nesting_past_the_limit_inside_a_streamed_record_is_refused_with_where(write, store):
    deep = {"role": "user", "content": "x", "meta": json.loads("[" * 300 + "]" * 300)}
    long = {"messages": [{"role": "user", "content": "y" * 500}]}
    records = [long] * 2500 + [{"messages": [deep]}] + [long] * 10  # past the 1 MiB the sample reads
    path = write("deep.json", records)
    with pytest.raises(ImportFormatError, match=r"record \[2500\], at /messages/0/meta/0/0/0/…/0/0 \(200 levels\): "
                                                r"JSON nested deeper than 200 levels"):
        store.import_file(path)
    small = write("small-deep.json", [{"messages": CHAT}, {"messages": [deep]}])
    with pytest.raises(ImportFormatError, match=r"small-deep.json: at /1/messages/0/meta/0/0/…/0/0 \(200 levels\)"):
        store.import_file(small)
    assert store.list_sessions() == []


# ---- large first values, and what the review found ---------------------------------------------


def test_a_first_message_larger_than_the_sample_is_still_recognised(write, imported):
    messages = [{"role": "user", "content": "w" * (3 << 20)}, {"role": "assistant", "content": "ok"}]
    report, [session] = imported(write("huge-first.json", messages))
    assert report.files[0].format == "openai" and len(session.state().messages[0].text) == 3 << 20


def test_json_lines_whose_first_line_is_larger_than_the_sample_are_read_as_lines(write, imported):
    lines = [{"role": "user", "content": "w" * (2 << 20)}, {"role": "assistant", "content": "ok"}]
    report, [session] = imported(write("long-line.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n"))
    assert [m.role for m in session.state().messages] == ["user", "assistant"]


def test_deep_nesting_inside_a_large_file_is_refused_from_the_sample(write, store):
    path = write("deep-big.json", '[{"role": "user", "content": "x", "meta": ' + "[" * 100_000 + "]" * 100_000
                 + "}, " + ", ".join([json.dumps({"role": "user", "content": "y" * 100})] * 20_000) + "]")
    with pytest.raises(ImportFormatError, match=r"deep-big.json: at /0/meta/0/0/0/0/…/0/0 \(200 levels\)"):
        store.import_file(path)


def test_every_bad_message_of_a_conversation_is_named(write, store):
    messages = [{"role": "user", "content": "ok"}, {"role": "robot", "content": "a"}, {"role": "user", "content": 7},
                {"role": "tool", "content": "r", "tool_call_id": 5}]
    with pytest.raises(ImportFormatError) as error:
        store.import_file(write("three.json", messages))
    assert "3 bad records" in str(error.value)
    assert all(f"message [{n}]" in str(error.value) for n in (1, 2, 3))


def test_skip_invalid_with_nothing_good_is_an_error_not_an_empty_success(write, store):
    with pytest.raises(ImportFormatError, match="Every record was bad, so nothing is left to import"):
        store.import_file(write("bad.json", _records(3, bad={0, 1, 2})), skip_invalid=True)
    assert store.list_sessions() == []


def test_anthropic_blocks_in_what_looks_like_an_openai_list_are_refused_with_the_format_to_use(write, store):
    messages = [{"role": "user", "content": [{"type": "text", "text": "w" * (2 << 20)}]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}]
    with pytest.raises(ImportFormatError, match="'tool_use' is an Anthropic block.*--format anthropic"):
        store.import_file(write("late-blocks.json", messages))


def test_a_title_given_for_an_import_names_its_first_session_only(write, imported):
    _, sessions = imported(write("many.json", _records(3)), title="Mine")
    assert [s.title for s in sessions] == ["Mine", "c1", "c2"]


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_a_damaged_member_refuses_the_whole_archive(tmp_path, store, skip_invalid):
    path = tmp_path / "mixed.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("good.json", json.dumps(CHAT))
        archive.writestr("cut.json", json.dumps(CHAT)[:-5])
    with pytest.raises(ImportFormatError) as error:
        store.import_file(path, skip_invalid=skip_invalid)
    assert str(error.value).startswith("mixed.zip:cut.json: line 1, column 73: not valid JSON")
    assert "refuses the whole archive mixed.zip: nothing was imported" in str(error.value)
    assert store.list_sessions() == []


def test_a_member_damaged_where_detection_reads_it_is_skipped_when_asked(tmp_path, store):
    path = tmp_path / "mixed.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("good.json", json.dumps(CHAT))
        archive.writestr("utf16.json", b"\xff\xfe[\x00]\x00")
    with pytest.raises(ImportFormatError, match=r"utf16.json: the file is UTF-16 text(.|\n)*import the rest with --skip-invalid"):
        store.import_file(path)
    report = store.import_file(path, skip_invalid=True)
    assert [s["title"] for s in report.files[0].sessions] == ["good"]
    assert any("left out of the archive: mixed.zip:utf16.json: the file is UTF-16" in w for w in report.files[0].warnings)


def test_progress_runs_on_across_the_members_of_an_archive(tmp_path, store):
    path = tmp_path / "two.zip"
    big = json.dumps([{"role": "user", "content": "x" * 1000}] * 3000)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.json", big)
        archive.writestr("b.json", big)
    seen = []
    store.import_file(path, progress=lambda done, total: seen.append(done))
    reading = [done for done in seen if done > 0]
    assert max(reading) == 2 * len(big) and reading[-1] == 2 * len(big)


def test_a_trace_may_start_with_blank_lines(store, tmp_path):
    session = store.create_session("traced")
    session.add_message("user", "hi")
    path = session.export(tmp_path / "t.jsonl")
    path.write_text("\n\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    assert store.import_session(path).events() == session.events()


def test_a_pipe_is_refused_instead_of_read_forever(tmp_path, store):
    import os

    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(ImportFormatError, match="not a regular file"):
        store.import_file(fifo)


def test_exports_are_written_with_the_usual_file_mode(store, tmp_path):
    import os
    import stat

    session = store.create_session("shared")
    session.add_message("user", "hi")
    mask = os.umask(0o022)
    try:
        mode = stat.S_IMODE(session.export(tmp_path / "t.jsonl").stat().st_mode)
    finally:
        os.umask(mask)
    assert mode == 0o644


def test_odd_tool_definitions_and_reasoning_are_reported_not_dropped_silently(write, imported):
    record = {"messages": [{"role": "user", "content": "hi"},
                           {"role": "assistant", "content": "ok", "reasoning_content": {"steps": 3}}],
              "tools": ["not a tool", {"type": "function", "function": {"name": "real", "parameters": {}}}]}
    report, [session] = imported(write("odd.json", record))
    warnings = report.files[0].warnings
    assert any("tool definition [0] has no function name; left out" in w for w in warnings)
    assert any("messages [1]: its reasoning is not text" in w for w in warnings)
    assert session.state().messages[1].extra["reasoning_content"] == {"steps": 3}
    report, _ = imported(write("odd2.json", {**record, "tools": "oops"}))
    assert any("the tool definitions are a str, not a list" in w for w in report.files[0].warnings)


def test_a_role_that_is_not_text_says_so(write, store):
    with pytest.raises(ImportFormatError, match=r'message \[0\]: "role" must be text such as "user", not null'):
        store.import_file(write("null-role.json", [{"role": None, "content": "a"}]), format_name="openai")
