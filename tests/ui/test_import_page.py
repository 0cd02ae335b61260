"""The Sessions page's import: any file, the report it leaves on the page, skip-invalid, the tree."""

from __future__ import annotations

import gzip
import json

from components.plain import plain
from sessions import SessionStore

from tests.ui.test_pages import _click, _metric

CHAT = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "<think>be kind</think>hi"}]


def _upload(at, name, data):
    at.file_uploader(key="import_file-0").upload(name, data, "application/octet-stream").run()
    return _click(at, "import_button")


def test_an_import_leaves_its_report_on_the_page(app, db):
    records = [{"title": f"talk {n}", "messages": CHAT} for n in range(3)]
    at = _upload(app("pages/sessions.py"), "talks.json.gz", gzip.compress(json.dumps(records).encode()))
    assert at.title[0].value == "Sessions" and not at.error
    assert [_metric(at, label) for label in ("Sessions made", "Messages", "Reasoning parts")] == ["3", "6", "3"]
    assert any("OpenAI chat messages" in md.value for md in at.markdown)
    assert {row["title"] for row in SessionStore(db, linger=0).list_sessions()} == {"talk 0", "talk 1", "talk 2"}
    at.button(key="report_open_0").click().run()
    assert at.title[0].value == "Context"


def test_bad_records_refuse_the_file_unless_skip_invalid_is_ticked(app, db):
    records = [{"title": "good", "messages": CHAT}, {"title": "bad", "messages": [{"role": "robot", "content": "x"}]}]
    data = json.dumps(records).encode()
    at = _upload(app("pages/sessions.py"), "mixed.json", data)
    assert any("1 bad record" in e.value and plain("record [1] messages [0]") in e.value for e in at.error)
    assert SessionStore(db, linger=0).list_sessions() == []
    at = app("pages/sessions.py")
    at.checkbox(key="import_skip_invalid").check().run()
    at = _upload(at, "mixed.json", data)
    assert _metric(at, "Sessions made") == "1"
    assert any("record [1] messages [0]" in code.value for code in at.code)  # the skipped list


def test_a_named_format_is_used_instead_of_detection(app, db):
    at = app("pages/sessions.py")
    at.selectbox(key="import_format").select("jsonl").run()
    at = _upload(at, "chat.json", json.dumps(CHAT).encode())
    assert any("an event needs" in e.value for e in at.error)


def test_forks_show_under_the_session_they_came_from(app, db):
    store = SessionStore(db, linger=0)
    parent = store.create_session("parent")
    parent.add_message("user", "one")
    store.create_session("unrelated")
    parent.fork(at=1, title="the fork")
    store.close()
    at = app("pages/sessions.py")
    titles = list(at.dataframe[0].value["title"])
    assert titles.index("└─ the fork") == titles.index("parent") + 1
    origin = list(at.dataframe[0].value["origin"])[titles.index("└─ the fork")]
    assert origin == "fork of “parent” at event 1"


def test_replay_offers_the_compaction_points_of_an_import(app, db):
    from engine.imports import ContextCompacted
    from sessions.formats import openai_chat
    from sessions.formats.building import Builder
    from sessions.formats.conversation import Compaction, Conversation, ImportedMessage
    from sessions.formats.report import FileReport

    from components.app_state import SELECTED

    store = SessionStore(db, linger=0)
    items = [ImportedMessage("user", "old question " * 50), ImportedMessage("assistant", "old answer " * 50),
             Compaction(before_tokens=150_000, after_tokens=9_000, trigger="auto", source="claude-code"),
             ImportedMessage("user", "where were we")]
    builder = Builder("cc.jsonl", openai_chat.FORMAT, FileReport("cc.jsonl"))
    store.events.create_many(builder.build([Conversation("k", "compacted", items)]))
    session = store.open_session(store.list_sessions()[0]["id"])
    store.close()
    seq = next(r.seq for r in session.records() if isinstance(r.event, ContextCompacted))
    at = app()
    at.session_state[SELECTED] = session.id
    at.switch_page("pages/replay.py").run()
    at.button(key=f"compaction-{seq}").click().run()
    assert at.slider[0].value == seq
    assert any("context compacted by claude-code (auto): 150,000 tokens before, 9,000 after" in t.value for t in at.text)


def test_text_from_a_file_is_shown_as_text_not_markdown(app, db):
    name = "![pixel](http:example.invalid) $x$ :red[alarm].json"
    at = _upload(app("pages/sessions.py"), name, json.dumps([{"role": "robot", "content": "x"}]).encode())
    [error] = at.error
    assert error.value.startswith(plain(name) + " (OpenAI chat messages): 1 bad record")
    assert "![pixel](" not in error.value and "$x$" not in error.value and ":red[" not in error.value


def test_plain_escapes_every_character_markdown_could_use():
    import markdown_it

    hostile = "![i](http://e/p.png) [l](javascript:x) <script>s</script> *b* `c` $m$ :red[r] :smile: # h"
    html = markdown_it.MarkdownIt("commonmark", {"html": True}).render(plain(hostile))
    assert "<img" not in html and "<a" not in html and "<script" not in html and "<em>" not in html
    assert "<code>" not in html and "<h1>" not in html
    assert plain(hostile).replace("\\", "").replace("\u2060", "") == hostile  # a word joiner keeps a URL unlinked


def test_an_imported_regeneration_shows_as_a_fork_under_its_conversation(app, db):
    def node(node_id, parent, children, role, text, when):
        return {"id": node_id, "parent": parent, "children": children,
                "message": {"id": node_id, "author": {"role": role}, "create_time": when,
                            "content": {"content_type": "text", "parts": [text]}}}

    mapping = {"root": {"id": "root", "parent": None, "children": ["u"], "message": None},
               "u": node("u", "root", ["a1", "a2"], "user", "Name a river", 1), "a1": node("a1", "u", [], "assistant", "Danube", 2),
               "a2": node("a2", "u", [], "assistant", "Rhine", 3)}
    export = [{"title": "Rivers", "mapping": mapping, "current_node": "a2", "id": "c1"},
              {"title": "Other", "mapping": {"r": {"id": "r", "parent": None, "children": ["x"], "message": None},
                                             "x": node("x", "r", [], "user", "hello", 4)}, "current_node": "x", "id": "c2"}]
    at = _upload(app("pages/sessions.py"), "conversations.json", json.dumps(export).encode())
    table = at.dataframe[0].value
    titles, origins = list(table["title"]), list(table["origin"])
    fork = titles.index("└─ Rivers (branch at message 2)")
    assert titles[fork - 1] == "Rivers" and origins[fork].startswith("fork of “Rivers” at event")
