"""Small text helpers shared by tools, rendering and the CLI."""

from __future__ import annotations

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")
_SURROGATE = re.compile("[\ud800-\udfff]")


def normalize_text(text: str) -> str:
    """`text` as the store will give it back: a surrogate pair written as two code points
    (as code decoding UTF-16 can make) becomes the one character it encodes.

    Stored JSON cannot tell "\\ud83d\\ude00" from the character it spells, so a pair kept
    apart would be 2 characters live and 1 after reopening, and every offset past it would
    drift. Applied once where text enters (messages, tool arguments, titles, imports), it
    makes the live state and the replayed state equal. Lone surrogates stay as they are
    (canonical JSON keeps them as escapes); everything else is untouched.
    """
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def normalize_value(value):
    """`normalize_text` applied to every string inside JSON-like data (dict keys included).

    Data nested past Python's recursion limit raises ValueError ("nested too deeply")."""
    try:
        return _normalize_value(value)
    except RecursionError:
        raise ValueError("nested too deeply to store (past Python's recursion limit)") from None


def normalized_arguments(value):
    """Arguments with their text normalized; nested past the limit, left as they are for the
    tool registry to refuse with its own message."""
    try:
        return normalize_value(value)
    except ValueError:
        return value


def _normalize_value(value):
    if isinstance(value, str):
        return normalize_text(value)
    if isinstance(value, dict):
        return {_normalize_value(key): _normalize_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalize_value(item) for item in value]
    return value


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
