"""Who wrote an event: a person, a model, a policy, a brake, an import or a program.

Every event a store keeps records its actor beside its time. The kind says what acted; the
name says which (the model's id, the brake's detector, the file an import read, `workbench`
or `cli` for a person); on a shared store (PostgreSQL) the store adds the user name and host
of the process that wrote it, so a team can tell its people and machines apart. Events written
before actors were recorded have none: they show as "unknown".

An actor is a label, not a credential: it is what the writing process says of itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Callable

KINDS = ("person", "model", "policy", "brake", "import", "program")
_FIELD_CHARS = 200  # a name, user or host longer than this is cut (labels, not data)


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str
    name: str | None = None
    user: str | None = None
    host: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown actor kind {self.kind!r}; an actor is one of {', '.join(KINDS)}")
        for field in ("name", "user", "host"):
            value = getattr(self, field)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"an actor's {field} is text, not {type(value).__name__}")

    @classmethod
    def person(cls, name: str | None = None) -> "Actor":
        return cls("person", name)

    @classmethod
    def model(cls, name: str | None = None) -> "Actor":
        return cls("model", name)

    @classmethod
    def program(cls, name: str | None = None) -> "Actor":
        return cls("program", name)

    def on(self, user: str | None, host: str | None) -> "Actor":
        """The same actor, as written by `user` on `host` (a shared store's stamp)."""
        return replace(self, user=_cut(user), host=_cut(host))

    def label(self) -> str:
        """One line for a table: `model (gpt-4o) · ana@build-3`."""
        text = self.kind if not self.name else f"{self.kind} ({self.name})"
        where = "@".join(part for part in (self.user, self.host) if part)
        return f"{text} · {where}" if where else text

    def to_dict(self) -> dict[str, str]:
        return {field: getattr(self, field) for field in ("kind", "name", "user", "host")
                if getattr(self, field) is not None}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls, value: Any) -> "Actor":
        if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
            raise ValueError(f"an actor is an object with a kind, not {str(value)[:80]!r}")
        unknown = set(value) - {"kind", "name", "user", "host"}
        if unknown:
            raise ValueError(f"an actor has kind, name, user and host, not {sorted(unknown)}")
        return cls(value["kind"], *(_cut(value.get(field)) for field in ("name", "user", "host")))

    @classmethod
    def from_json(cls, text: str | None) -> "Actor | None":
        """The actor a store kept (None for an event written before actors were recorded)."""
        if text is None:
            return None
        return cls.from_dict(json.loads(text))


def actor_label(actor: Actor | None) -> str:
    return actor.label() if actor is not None else "unknown"


def _cut(value: Any) -> Any:
    return value[:_FIELD_CHARS] if isinstance(value, str) else value


ActorOf = Callable[[Any], Actor]  # an event -> who wrote it (one unit of work may have two: a model and its brake)


def acting(actor: Actor) -> ActorOf:
    """Who wrote each event of a unit of work by `actor`: `actor`, but a brake's own event
    (`brake_applied`, which lands with the message it concerns) is the brake's."""
    def actor_of(event: Any) -> Actor:
        if getattr(event, "kind", None) == "brake_applied":
            return Actor("brake", getattr(event, "detector", None))
        return actor
    return actor_of


__all__ = ["KINDS", "Actor", "ActorOf", "acting", "actor_label"]
