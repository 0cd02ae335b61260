"""Token counting with tiktoken, offline and cached.

tiktoken downloads its BPE files on first use; offline that fails. litellm (a dependency)
ships the same files, so before tiktoken loads we point `TIKTOKEN_CACHE_DIR` at litellm's
bundled folder, found without importing litellm (which takes two seconds). A folder the
user set stays as it is.

Counts are cached by text: a fragment's text never changes, so a long session is counted
once and its stats cost nothing afterwards. Text is encoded with `encode_ordinary`, so a
message that contains `<|endoftext|>` is counted as text rather than rejected.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

DEFAULT_ENCODING = "o200k_base"
KNOWN_ENCODINGS = ("o200k_base", "cl100k_base", "p50k_base")
_CACHE_ENTRIES = 200_000


def bundled_tokenizer_dir() -> Path | None:
    """litellm's folder of tiktoken files, or None when litellm is not installed."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "litellm_core_utils" / "tokenizers"
    return folder if folder.is_dir() else None


def ensure_offline_tokenizer_files() -> None:
    """Point tiktoken at the bundled BPE files unless the user chose a folder already."""
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        return
    folder = bundled_tokenizer_dir()
    if folder is not None:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)


class TokenCounter:
    """Counts tokens of one encoding, remembering the counts of recent texts."""

    def __init__(self, encoding_name: str = DEFAULT_ENCODING) -> None:
        if encoding_name not in KNOWN_ENCODINGS:
            raise ValueError(
                f"unknown encoding {encoding_name!r}; use one of {', '.join(KNOWN_ENCODINGS)}"
            )
        ensure_offline_tokenizer_files()
        import tiktoken

        try:
            self._encoding = tiktoken.get_encoding(encoding_name)
        except Exception as exc:  # tiktoken raises requests' errors when it tries to download
            raise RuntimeError(
                f"cannot load the {encoding_name} tokenizer offline ({type(exc).__name__}). "
                "Install litellm (it bundles the files) or set TIKTOKEN_CACHE_DIR to a folder "
                "that holds them."
            ) from None
        self.name = encoding_name
        self._cache: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def count(self, text: str | None) -> int:
        if not text:
            return 0
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        tokens = len(self._encoding.encode_ordinary(text))
        with self._lock:
            self._cache[text] = tokens
            if len(self._cache) > _CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return tokens

    def encode(self, text: str) -> list[int]:
        return self._encoding.encode_ordinary(text)

    def decode(self, tokens: list[int]) -> str:
        return self._encoding.decode(tokens)


def token_counter(encoding_name: str = DEFAULT_ENCODING) -> TokenCounter:
    """The shared counter for an encoding (loaded once per process)."""
    return _shared_counter(encoding_name)


@lru_cache(maxsize=None)
def _shared_counter(encoding_name: str) -> TokenCounter:
    return TokenCounter(encoding_name)
