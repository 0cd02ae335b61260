"""Text from a conversation or a file, made safe for the widgets that read Markdown.

Streamlit renders captions, errors, toasts and widget labels as Markdown, with its own
extensions: `$...$` is LaTeX, `:red[...]` colours text, `:smile:` is an emoji. A title or
an error naming one comes from a file, so every character that could start a link, an
image, emphasis, code, a formula, HTML or a directive is escaped: what shows is the text,
never a link, an image, a formula or a colour. Plain punctuation (`.`, `:`, `(`, `-`) stays
as it is, so messages read normally.

Streamlit reads GitHub-flavoured Markdown, which also links bare URLs (`http://…`, `https://…`,
`www.…`) and e-mail addresses (`me@example.com`, `mailto:…`), and it finds them in the text
after backslash escapes are undone (remark-gfm's autolink transform), so escaping cannot stop
it. An invisible word joiner (U+2060) inside each (between a scheme and `://`, after `www`,
after `@`) keeps them text that reads the same, as components/reasoning_timeline.py does.
"""

from __future__ import annotations

import re

WORD_JOINER = "\u2060"
_ALWAYS = re.compile(r"[\\`*_\[\]<>#|~$&]")
_DIRECTIVE = re.compile(r":(?=[A-Za-z0-9_/+-]+[:\[])")  # :smile: and :red[...] and :material/x:
_AUTOLINK = re.compile(r"(?i)(?<=[a-z])(?=://)|(?<=www)(?=\.)|(?<=@)(?=[-\w])")


def plain(text: object) -> str:
    """`text` with every character Markdown (or Streamlit's extensions) could act on escaped,
    and a word joiner inside every URL or address GitHub-flavoured Markdown would link."""
    joined = _AUTOLINK.sub(WORD_JOINER, str(text))  # first: an escaped ":" later would hide "://"
    return _DIRECTIVE.sub(r"\\:", _ALWAYS.sub(lambda match: "\\" + match.group(), joined))


def shown_value(value: object) -> str:
    """A past value as a table cell: "(none)" for nothing, a list joined by commas."""
    if value is None:
        return "(none)"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "(none)"
    return str(value)
