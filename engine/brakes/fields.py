"""Reading a field of what a backend sent, whatever shape it came in (a dict, or litellm's objects)."""

from __future__ import annotations

from typing import Mapping


def field_of(value: object, name: str) -> object:
    """`value[name]` for a mapping, `value.name` otherwise; None when absent."""
    if isinstance(value, Mapping):
        return value.get(name)
    try:
        return getattr(value, name, None)
    except Exception:  # a property that raises is as good as absent
        return None
