"""components/plain.py against GitHub-flavoured Markdown's bare links, as Streamlit reads them.

Streamlit's Markdown (remark-gfm) turns bare URLs and addresses into links after it has undone
backslash escapes: its transform runs the two patterns below over each text node. They are
copied from mdast-util-gfm-autolink-literal, as shipped in Streamlit 1.67's frontend bundle
(static/js/StreamlitMarkdown.*.js). So a test renders `plain(text)` with CommonMark (which
undoes the escapes as GFM does), takes the text, and looks for what GFM would link there.
"""

from __future__ import annotations

import html
import re

import markdown_it
import pytest

from components.plain import WORD_JOINER, plain

GFM_URL = re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.IGNORECASE)
GFM_EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)")


def _text_nodes(markdown: str) -> str:
    """What a CommonMark reader leaves as text (escapes undone), the tags dropped."""
    rendered = markdown_it.MarkdownIt("commonmark", {"html": True}).render(markdown)
    assert "<a" not in rendered and "<img" not in rendered
    return html.unescape(re.sub(r"<[^>]+>", " ", rendered))


def _gfm_links(markdown: str) -> list[str]:
    text = _text_nodes(markdown)
    return [m.group() for m in GFM_URL.finditer(text)] + [m.group() for m in GFM_EMAIL.finditer(text)]


@pytest.mark.parametrize("text", [
    "see http://evil.example/x now",
    "https://evil.example/login?next=/home",
    "HTTP://EVIL.EXAMPLE",
    "go to www.evil.example today",
    "(www.evil.example)",
    "write to mailto:me@evil.example",
    "me@evil.example",
    "<http://evil.example/x>",
    "<me@evil.example>",
    "http://a.example/b:c:d",  # a ":" that plain() escapes as a directive start
    "_www.evil.example",  # "_" is punctuation to GFM, so what follows it may link
])
def test_a_bare_url_or_address_stays_text(text):
    assert GFM_URL.search(text) or GFM_EMAIL.search(text), f"GFM would link something in the raw {text!r}"
    shown = plain(text)
    assert _gfm_links(shown) == []
    assert shown.replace(WORD_JOINER, "").replace("\\", "") == text  # reads the same, invisibly joined


def test_text_without_urls_is_unchanged_but_for_markdown_escapes():
    assert plain("Ada booked Hall B at 14:00 (Tuesday).") == "Ada booked Hall B at 14:00 (Tuesday)."
    assert WORD_JOINER not in plain("a wwwx.example, www-org, http:/x, mail@ home")


def test_the_markdown_escapes_still_hold_with_links_inside():
    hostile = "![i](http://e/p.png) [l](javascript:x) <script>s</script> *b* `c` $m$ :red[r] :smile: # h"
    shown = plain(hostile)
    assert _gfm_links(shown) == []
    rendered = markdown_it.MarkdownIt("commonmark", {"html": True}).render(shown)
    assert "<script" not in rendered and "<em>" not in rendered and "<code>" not in rendered and "<h1>" not in rendered
