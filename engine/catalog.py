"""Every event kind the log can hold, gathered from the subsystems in one explicit list.

A subsystem module declares its events with their fold rules (`engine.subsystem`); this
list is the only place that names the subsystems. The discriminated union that reads
events back, the list of kinds and the fold table are all derived from it, so a new
subsystem is one line here and nothing else is kept by hand.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter, ValidationError

from engine.brakes.events import BRAKES
from engine.context_rules import CONTEXT, MODEL
from engine.errors import ReplayError
from engine.events import Event
from engine.imports import IMPORTS
from engine.memory import MEMORY
from engine.subsystem import Handler, Subsystem
from engine.tasks import TASKS

SUBSYSTEMS: tuple[Subsystem, ...] = (CONTEXT, MODEL, IMPORTS, BRAKES, TASKS, MEMORY)

EVENT_CLASSES: tuple[type[Event], ...] = tuple(cls for system in SUBSYSTEMS for cls in system.handlers)
HANDLERS: dict[type[Event], Handler] = {cls: rule for system in SUBSYSTEMS for cls, rule in system.handlers.items()}
EVENT_KINDS: tuple[str, ...] = tuple(cls.model_fields["kind"].default for cls in EVENT_CLASSES)

if len(set(EVENT_KINDS)) != len(EVENT_KINDS):  # a developer's mistake: fail at import
    raise RuntimeError(f"two event classes share a kind: {sorted(k for k in EVENT_KINDS if EVENT_KINDS.count(k) > 1)}")

AnyEvent = Annotated[Union[EVENT_CLASSES], Field(discriminator="kind")]  # type: ignore[valid-type]
EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyEvent)


def event_from_record(kind: str, payload: dict[str, Any]) -> Event:
    """Rebuild an event from its stored `kind` and `payload`; raise ReplayError if invalid."""
    if kind not in EVENT_KINDS:
        raise ReplayError(
            f"unknown event kind {str(kind)[:60]!r}; known kinds: {', '.join(EVENT_KINDS)} "
            "(a trace written by a newer version of the workbench?)"
        )
    if not isinstance(payload, dict):
        raise ReplayError(f"event {kind!r} has a payload that is not an object")
    try:
        return EVENT_ADAPTER.validate_python({**payload, "kind": kind})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        raise ReplayError(f"event {kind!r} is malformed at {where}: {first['msg']}") from None
