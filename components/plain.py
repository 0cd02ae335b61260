"""Text from a conversation or a file, made safe for the widgets that read Markdown.

Streamlit renders captions, errors, toasts and widget labels as Markdown, with its own
extensions: `$...$` is LaTeX, `:red[...]` colours text, `:smile:` is an emoji. A title or
an error naming one comes from a file, so every character that could start a link, an
image, emphasis, code, a formula, HTML or a directive is escaped: what shows is the text,
never a link, an image, a formula or a colour. Plain punctuation (`.`, `:`, `(`, `-`) stays
as it is, so messages read normally.
"""

from __future__ import annotations

import re

_ALWAYS = re.compile(r"[\\`*_\[\]<>#|~$&]")
_DIRECTIVE = re.compile(r":(?=[A-Za-z0-9_/+-]+[:\[])")  # :smile: and :red[...] and :material/x:


def plain(text: object) -> str:
    """`text` with every character Markdown (or Streamlit's extensions) could act on escaped."""
    return _DIRECTIVE.sub(r"\\:", _ALWAYS.sub(lambda match: "\\" + match.group(), str(text)))
