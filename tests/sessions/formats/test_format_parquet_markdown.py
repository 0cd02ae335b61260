"""Parquet and Markdown exports: the tables DuckDB and pyarrow read back with the right values,
a transcript that says what was folded and summarized and never carries HTML from the
conversation, atomic writes, and the one dispatch (`sessions.exporting`)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from html.parser import HTMLParser

import duckdb
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import WorkbenchError
from engine.render import render
from sessions.exporting import EXPORTS, export_bytes, export_session
from sessions.formats import EXPORT_FORMAT_NAMES
from sessions.formats.markdown_export import code_span, fenced, markdown_document, prose
from sessions.formats.parquet_export import EVENTS_SCHEMA, MESSAGES_SCHEMA, message_status, read_metadata

from tests.conftest import long_text

import markdown_it  # a real CommonMark renderer, as a reader's would be (installed by requirements.txt)

HOSTILE = "hello </details><script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3))"


@pytest.fixture
def busy(store, write):
    """An imported session with an image part, reasoning, a tool call and its result, a folded
    fragment, a summarized one, and a message that tries to inject HTML."""
    messages = [
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": [{"type": "text", "text": long_text(12)},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
        {"role": "assistant", "content": None, "reasoning_content": "I should search </details><script>x</script>",
         "tool_calls": [{"id": "call_1", "type": "function",
                         "function": {"name": "lookup", "arguments": '{"query": "committee ```", "n": 2}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"hits": ["day 1", "<b>day 2</b>"]}'},
        {"role": "user", "content": HOSTILE},
        {"role": "assistant", "content": "Use `a < b` here:\n```python\nif a < b:\n    print('<ok>')\n```\nDone."},
    ]
    session = store.import_session(write("busy.json", messages))
    pieces = session.call_tool("fragment_context", {"start_marker": "Paragraph 2.", "end_marker": "End of notes.",
                                                    "num_fragments": 4})["fragments"]
    session.call_tool("fold_fragment", {"fragment_id": pieces[0]["fragment_id"]})
    session.call_tool("summarize_fragment", {"fragment_id": pieces[1]["fragment_id"], "focus": "budget"})
    return session, [piece["fragment_id"] for piece in pieces]


def test_every_export_format_is_in_the_one_list():
    assert tuple(EXPORTS) == EXPORT_FORMAT_NAMES == ("jsonl", "otlp", "parquet", "markdown")
    with pytest.raises(WorkbenchError, match="unknown export format 'csv'; the formats are jsonl, otlp"):
        export_session(None, "csv", "x")


# ---- parquet -----------------------------------------------------------------------------


def test_parquet_tables_read_back_in_duckdb_and_pyarrow(busy, tmp_path):
    session, fragments = busy
    folder = tmp_path / "made" / "here"  # made when missing
    line = export_session(session, "parquet", folder)
    assert line == (f"wrote {session.last_seq} events to {folder / 'events.parquet'} and "
                    f"6 messages to {folder / 'messages.parquet'}")
    assert sorted(p.name for p in folder.iterdir()) == ["events.parquet", "messages.parquet"]  # no temporaries

    events = duckdb.sql(f"select session_id, seq, ts, kind, payload from '{folder}/events.parquet' order by seq").fetchall()
    stored = session.records()
    assert [(row[0], row[1], row[3]) for row in events] == [(session.id, r.seq, r.kind) for r in stored]
    assert [json.loads(row[4]) for row in events] == [r.payload() for r in stored]
    assert [row[2].replace(tzinfo=None) for row in events] == [r.ts for r in stored]
    assert duckdb.sql(f"select count(*) from '{folder}/events.parquet' where kind = 'fragment_folded'").fetchall() == [(1,)]

    table = pq.read_table(folder / "messages.parquet")
    assert table.schema.remove_metadata() == MESSAGES_SCHEMA
    assert pq.read_schema(folder / "events.parquet").remove_metadata() == EVENTS_SCHEMA
    rows = table.to_pylist()
    sent = render(session.state())
    assert [row["message_id"] for row in rows] == ["m1", "m2", "m3", "m4", "m5", "m6"]
    assert [row["position"] for row in rows] == [0, 1, 2, 3, 4, 5]
    assert [row["role"] for row in rows] == ["system", "user", "assistant", "tool", "user", "assistant"]
    user = rows[1]
    assert user["content"] == long_text(12)
    assert user["rendered"] == sent[1]["content"][0]["text"]  # what the model is sent, beside its image part
    assert f"[folded fragment {fragments[0]}" in user["rendered"] and f"[summary of fragment {fragments[1]}" in user["rendered"]
    assert user["status"] == "partly folded and summarized" and user["fragments"] == 5
    assert user["rendered_tokens"] < user["tokens"]
    assert json.loads(user["attachments"])[0]["type"] == "image_url" and user["attachment_count"] == 1
    assert rows[0]["status"] == "visible" and rows[0]["rendered"] == rows[0]["content"] == "Be exact."
    assert rows[0]["tokens"] == rows[0]["rendered_tokens"] > 0 and rows[0]["attachments"] is None
    call = rows[2]
    assert call["content"] is None and call["reasoning"].startswith("I should search") and call["reasoning_tokens"] > 0
    assert json.loads(call["tool_calls"])[0]["function"]["name"] == "lookup"
    assert rows[3]["tool_call_id"] == "call_1" and rows[3]["tool_calls"] is None
    by_seq = {r.seq: r for r in stored}
    assert all(by_seq[row["added_seq"]].kind == "message_added" for row in rows)
    assert [row["ts"].replace(tzinfo=None) for row in rows] == [by_seq[row["added_seq"]].ts for row in rows]

    # the same values through DuckDB's SQL
    assert duckdb.sql(f"select message_id, status, tokens > rendered_tokens from '{folder}/messages.parquet' "
                      "where role = 'user' order by position").fetchall() == [
        ("m2", "partly folded and summarized", True), ("m5", "visible", False)]
    assert duckdb.sql(f"select json_extract_string(tool_calls, '$[0].id') from '{folder}/messages.parquet' "
                      "where tool_calls is not null").fetchall() == [("call_1",)]
    assert read_metadata(folder / "messages.parquet")["title"] == session.title


def test_message_status_names_every_mix(store):
    session = store.create_session("statuses")
    session.add_message("user", long_text(6))
    pieces = session.call_tool("fragment_context", {"start_marker": "Paragraph 1.", "end_marker": "End of notes.",
                                                    "num_fragments": 2})["fragments"]
    ids = [piece["fragment_id"] for piece in pieces]
    assert message_status(session.state().messages[0]) == "visible"
    session.call_tool("fold_fragment", {"fragment_id": ids[0]})
    assert message_status(session.state().messages[0]) == "partly folded"
    session.call_tool("summarize_fragment", {"fragment_id": ids[1], "focus": "budget"})
    assert message_status(session.state().messages[0]) == "folded and summarized"
    session.call_tool("fold_fragment", {"fragment_id": ids[1]})
    assert message_status(session.state().messages[0]) == "folded"


def test_an_empty_session_writes_empty_tables_with_the_schema(store, tmp_path):
    session = store.create_session("empty")
    export_session(session, "parquet", tmp_path)
    assert pq.read_table(tmp_path / "messages.parquet").num_rows == 0
    assert duckdb.sql(f"select count(*) from '{tmp_path}/events.parquet'").fetchall() == [(0,)]
    assert pq.read_schema(tmp_path / "messages.parquet").remove_metadata() == MESSAGES_SCHEMA


def test_parquet_refuses_a_file_and_a_failed_write_leaves_the_old_files(busy, tmp_path, monkeypatch):
    session, _ = busy
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(WorkbenchError, match="it is a file; give a folder"):
        export_session(session, "parquet", blocker)
    export_session(session, "parquet", tmp_path / "out")
    before = (tmp_path / "out" / "events.parquet").read_bytes()
    session.add_message("user", "one more")
    calls = []

    def failing(table, where, **options):  # the second file fails: neither real name changes
        calls.append(where)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_write(table, where, **options)

    real_write = pq.write_table
    monkeypatch.setattr(pq, "write_table", failing)
    with pytest.raises(WorkbenchError, match="cannot write Parquet into .*No space left on device"):
        export_session(session, "parquet", tmp_path / "out")
    assert (tmp_path / "out" / "events.parquet").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["events.parquet", "messages.parquet"]


# ---- markdown ----------------------------------------------------------------------------


class Tags(HTMLParser):
    """Every tag and attribute in rendered HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]


def _tags(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    return parser


def test_the_transcript_reads_as_the_conversation(busy, tmp_path):
    session, fragments = busy
    line = export_session(session, "markdown", tmp_path / "chat.md")
    assert line == f"wrote a Markdown transcript of 6 messages to {tmp_path / 'chat.md'}"
    text = (tmp_path / "chat.md").read_text(encoding="utf-8")
    assert text.startswith("# busy\n") and f"- Session: `{session.id}`" in text
    assert "- Origin: imported from busy\\.json" in text
    headings = re.findall(r"^## (\d+) · (.+)$", text, flags=re.M)
    assert headings == [("1", "System"), ("2", "User"), ("3", "Assistant"), ("4", "Tool result"), ("5", "User"),
                        ("6", "Assistant")]
    assert f"> \\[folded fragment {fragments[0]}\\:" in text  # the marker the model sees, as a quote
    assert f"> \\[summary of fragment {fragments[1]}" in text and "focus \\\"budget\\\"" in text
    assert text.count("<details><summary>Reasoning</summary>") == 1 and text.count("</details>\n") == 1
    assert "**Tool call** `lookup` · call `call_1`" in text
    assert '\n````json\n{\n  "query": "committee ```",\n  "n": 2\n}\n````' in text
    assert '```json\n{\n  "hits": [\n    "day 1",\n    "<b>day 2</b>"\n  ]\n}\n```' in text  # a result, pretty
    assert "*Attachment: image\\_url*" in text
    assert "```python\nif a < b:\n    print('<ok>')\n```" in text and "Use `a < b` here:" in text  # code stays code


def test_no_html_from_the_conversation_survives_a_real_renderer(busy):
    session, _ = busy
    text = markdown_document(session.info(), session.state())
    html = markdown_it.MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(text)
    found = _tags(html)
    assert "script" not in found.tags and "img" not in found.tags and "b" not in found.tags and "a" not in found.tags
    assert found.tags.count("details") == 1 and found.tags.count("summary") == 1
    assert set(found.attributes) <= {"class"}  # only the code blocks' language-*
    assert "&lt;/details&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<code class="language-python">if a &lt; b:' in html


ATTACKS = [
    "</details><script>alert(1)</script>",
    "- item\n\n  ```\n<script>alert(1)</script>\n```",  # a fence inside a list ends with the list
    " ~~~\nx\n~~~\n<script>alert(1)</script>\n~~~",  # an indented fence the text then closes
    "| a | `x|<b>y</b>` |\n|---|---|---|\n| c | d |",  # a table row splits a code span at its pipes
    "a `b\nc` <script>x</script> `d`",  # a code span across lines pairs the backticks differently
    "```\nunclosed <script>",
    "\\`<b>x</b>`",  # a backslash before a backtick
]


@pytest.mark.parametrize("text", ATTACKS)
def test_known_attacks_render_without_html(text):
    allowed = markdown_it.MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    refused = markdown_it.MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    for escaped in (prose(text), "\n".join("> " + line for line in prose(text, fences=False).split("\n"))):
        html = allowed.render(escaped)
        assert html == refused.render(escaped)
        assert not {"script", "b"} & set(_tags(html).tags)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["`", "``", "```", "~~~", "<b>", "</details>", "<script>", "<", "&", "\\", "\n",
                                 "\n\n", " ", "   ", "    ", "\t", "|", "- ", "> ", "[", "](", "x", "*", "|---|",
                                 "\r"]), max_size=30).map("".join))
def test_prose_never_renders_as_html(text):
    """Escaped text renders the same whether the renderer allows raw HTML or not: none is left."""
    allowed = markdown_it.MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    refused = markdown_it.MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    for escaped in (prose(text), "\n".join("> " + line for line in prose(text, fences=False).split("\n"))):
        assert allowed.render(escaped) == refused.render(escaped)


def test_prose_without_a_renderer_keeps_code_and_escapes_the_rest():
    assert prose("a <b> & [x](y) \\ `c < d` `e") == "a &lt;b&gt; &amp; \\[x](y) \\\\ `c < d` \\`e"
    assert prose("```js onclick=x\n<b>\n") == "```js\n<b>\n\n```"  # an open fence closes with the message
    assert prose(" ~~~\n<b>") == " \\~~~\n&lt;b&gt;"  # an indented fence that a list could end is not trusted
    assert prose("| `a|<b>` |") == "| \\`a|&lt;b&gt;\\` |"  # a table row could split this span
    assert code_span("a`b") == "``a`b``" and code_span("`x") == "`` `x ``"
    assert fenced("x\n````\ny").startswith("`````\n")


def test_markdown_write_is_atomic_and_names_a_missing_folder(busy, tmp_path):
    session, _ = busy
    with pytest.raises(WorkbenchError, match="the folder .*nowhere does not exist"):
        export_session(session, "markdown", tmp_path / "nowhere" / "x.md")
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "x.md"
    target.write_text("old")
    export_session(session, "markdown", target)
    assert target.read_text(encoding="utf-8").startswith("# busy")
    assert [p.name for p in target.parent.iterdir()] == ["x.md"]  # no temporary left beside it


# ---- downloads ---------------------------------------------------------------------------


def test_downloads_give_each_format_its_bytes(busy):
    session, _ = busy
    trace, name, mime = export_bytes(session, "jsonl")
    assert name == f"busy-{session.id}.jsonl" and mime == "application/jsonl"
    assert len(trace.decode().splitlines()) == session.last_seq + 1
    archive, name, mime = export_bytes(session, "parquet")
    assert name.endswith("-parquet.zip") and mime == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert sorted(opened.namelist()) == ["events.parquet", "messages.parquet"]
        assert pq.read_table(io.BytesIO(opened.read("messages.parquet"))).num_rows == 6
    text, name, mime = export_bytes(session, "markdown")
    assert name.endswith(".md") and mime == "text/markdown" and text.decode().startswith("# busy")
    trace, name, mime = export_bytes(session, "otlp")
    assert name.endswith(".otlp.json") and mime == "application/json" and "resourceSpans" in json.loads(trace)


def test_export_needs_a_path_unless_it_sends(busy):
    session, _ = busy
    with pytest.raises(WorkbenchError, match="a parquet export needs a folder to write to"):
        export_session(session, "parquet", None)
    with pytest.raises(WorkbenchError, match="--otlp-endpoint goes with --format otlp, not markdown"):
        export_session(session, "markdown", "x.md", otlp_endpoint="http://localhost:4318")


def test_core_memory_heads_the_transcript_and_stays_text(store):
    session = store.create_session("remembered")
    session.add_message("user", "Hi.")
    session.call_tool("memory_insert", {"memory_type": "core", "content": "User: Ada.\n<script>alert(1)</script>"})
    text = markdown_document(session.info(), session.state())
    assert "## Core memory\n\n> User: Ada.\n> &lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert text.index("## Core memory") < text.index("Hi.")
    html = markdown_it.MarkdownIt("commonmark", {"html": True}).render(text)
    assert "script" not in _tags(html).tags
