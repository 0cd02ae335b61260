"""Small modules: token counting offline, short ids, text helpers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from engine.ids import IdAllocator, derive_id
from engine.text import is_hard_wrapped, one_line, printable, safe_cut
from engine.tokens import KNOWN_ENCODINGS, TokenCounter, bundled_tokenizer_dir, token_counter

from tests.conftest import PROSE, ROOT


def test_tokenizer_files_come_from_litellms_bundled_folder_without_network():
    folder = bundled_tokenizer_dir()
    assert folder is not None and (folder / "fb374d419588a4632f3f557e76b4b70aebbca790").is_file()
    script = (
        "import socket\n"
        "def refuse(*a, **k): raise SystemExit('network used')\n"
        "socket.getaddrinfo = refuse; socket.create_connection = refuse\n"
        "from engine.tokens import token_counter\n"
        "print(token_counter('o200k_base').count('hello world'), token_counter('cl100k_base').count('hello world'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TIKTOKEN_CACHE_DIR"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2", "2"]


def test_counts_are_exact_and_cached():
    counter = TokenCounter()
    assert counter.count(PROSE) == len(counter.encode(PROSE))
    assert counter.count("") == 0 and counter.count(None) == 0
    assert PROSE in counter._cache
    assert token_counter() is token_counter("o200k_base")


def test_special_token_text_is_counted_as_text():
    assert token_counter().count("<|endoftext|>") > 1


def test_unknown_encoding_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown encoding 'gpt2'"):
        TokenCounter("gpt2")
    assert "o200k_base" in KNOWN_ENCODINGS


def test_ids_are_deterministic_and_avoid_taken_ones():
    first = derive_id("f", "seed", set())
    assert first == derive_id("f", "seed", set()) and len(first) == 6
    second = derive_id("f", "seed", {first})
    assert second != first and second == derive_id("f", "seed", {first})
    allocator = IdAllocator("s", {first}, seed="x")
    issued = {allocator.next("same detail") for _ in range(50)}
    assert len(issued) == 50 and first not in issued


def test_ids_stay_unique_when_five_hex_digits_collide_often():
    taken: set[str] = set()
    for n in range(20_000):
        taken.add(derive_id("f", f"seed {n}", taken))
    assert len(taken) == 20_000


def test_text_helpers():
    assert one_line("a\n\n b\tc", 80) == "a b c"
    assert one_line("x" * 100, 10) == "x" * 9 + "…"
    assert printable("a\ud800b") == "a\ufffdb"
    assert safe_cut("e\u0301x", 1) == 2
    assert safe_cut("😀x", 1) == 1  # a real astral character is one code point
    assert safe_cut("\ud83d\ude00x", 1) == 2  # a surrogate pair is not split
    assert is_hard_wrapped(
        "This is a long line of prose that wraps at seventy columns or\n"
        "so, and it continues on the next line without any punctuation at\n"
        "the end of each line, as books and old emails often do for some\n"
        "reason."
    )
    assert not is_hard_wrapped("alpha: 1\nbeta: 2\ngamma: 3\ndelta: 4")
