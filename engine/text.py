"""Small text helpers shared by tools, rendering and the CLI."""

from __future__ import annotations

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")
_SURROGATE = re.compile("[\ud800-\udfff]")


def one_line(text: str | None, limit: int = 80) -> str:
    """`text` with whitespace collapsed to single spaces, cut to `limit` characters with '…'."""
    flat = _WHITESPACE.sub(" ", text or "").strip()
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)].rstrip() + "…"


def printable(text: str) -> str:
    """`text` safe to print or send as UTF-8: lone surrogates become U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def safe_cut(text: str, position: int) -> int:
    """Move a cut forward so it does not split a surrogate pair or detach combining marks."""
    while 0 < position < len(text):
        char = text[position]
        if unicodedata.combining(char) or "\udc00" <= char <= "\udfff" or char == "\u200d":
            position += 1
            continue
        break
    return position


_SENTENCE_END = re.compile(r"[.!?:;…。！？][\"'”’)\]]*$")


def is_hard_wrapped(text: str) -> bool:
    """True for prose broken into lines at a fixed width (lines end mid-sentence).

    In such text a line break is not a boundary worth cutting at; in logs, code or
    key-value lines it is the best one.
    """
    lines = [line.rstrip() for line in text.split("\n") if line.strip()]
    if len(lines) < 3:
        return False
    body = lines[:-1]  # the last line of a paragraph is usually short
    open_ended = sum(1 for line in body if not _SENTENCE_END.search(line))
    lengths = sorted(len(line) for line in body)
    width = lengths[(len(lengths) * 3) // 4]  # a high percentile: a few overlong joined lines do not count
    near_width = sum(1 for length in lengths if 0.6 * width <= length)
    return width > 40 and open_ended >= 0.5 * len(body) and near_width >= 0.7 * len(body)
