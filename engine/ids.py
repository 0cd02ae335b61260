"""Short ids that a model can copy: `f` + 5 hex for fragments, `s` + 5 hex for search hits.

Ids are derived from the state they are made in (how many events came before, and where
the fragment or hit lies), never from a clock or a random source, so replaying a log makes
the same ids. Five hex digits collide often enough in a long session to matter, so a taken
id is re-derived with a counter until it is free; that too is deterministic.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Container

from pydantic import Field


RecordId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
"""An id as an event names it: letters, digits, `_` and `-`, so an id read from a file (a trace
someone edited) can never carry markup into a page or a terminal."""


def derive_id(prefix: str, seed: str, taken: Container[str]) -> str:
    """`prefix` + 5 hex digits from `seed`, the first such id not in `taken`."""
    attempt = 0
    while True:
        digest = hashlib.sha1(f"{seed}#{attempt}".encode("utf-8", "surrogatepass")).hexdigest()
        for offset in range(0, 35, 5):
            candidate = prefix + digest[offset : offset + 5]
            if candidate not in taken:
                return candidate
        attempt += 1


class IdAllocator:
    """Hands out ids for several new objects at once, none equal to each other or to `taken`."""

    def __init__(self, prefix: str, taken: Container[str], seed: str) -> None:
        self._prefix = prefix
        self._taken = taken
        self._seed = seed
        self._issued: set[str] = set()

    def __contains__(self, candidate: object) -> bool:
        return candidate in self._issued or candidate in self._taken

    def next(self, detail: str) -> str:
        new_id = derive_id(self._prefix, f"{self._seed}|{detail}", self)
        self._issued.add(new_id)
        return new_id
