"""Parameter types for tools: integer ranges, and a marker that hides a parameter from models.

A range is an `Annotated` alias, so a type checker sees a plain `int` while pydantic sees
the bounds (the schema's `minimum` and `maximum`) and a validator that refuses true/false,
which Python would otherwise accept as 1 and 0. A string of digits is still accepted:
models sometimes quote their numbers. A new range is one line:

    PageSize = Annotated[int, Field(ge=1, le=100), REFUSE_BOOLEANS]

The bounds must come before `REFUSE_BOOLEANS`: pydantic writes `minimum`/`maximum` only for
bounds on the integer itself; behind a validator they would come out as `ge`/`le`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticOmit, core_schema


def _reject_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    return value


REFUSE_BOOLEANS = BeforeValidator(_reject_bool)
"""Metadata for an integer parameter: true and false are refused, not read as 1 and 0."""

FragmentCount = Annotated[int, Field(ge=1, le=20), REFUSE_BOOLEANS]
ResultCount = Annotated[int, Field(ge=1, le=50), REFUSE_BOOLEANS]
SnippetChars = Annotated[int, Field(ge=50, le=1000), REFUSE_BOOLEANS]
DetailChars = Annotated[int, Field(ge=100, le=2000), REFUSE_BOOLEANS]


class HiddenFromModel:
    """Marks a parameter models are never shown: `option: Annotated[bool, HiddenFromModel] = False`.

    The parameter is validated and accepted in every call (a person's UI sends it), but it
    stays out of the tool's schema, properties and required alike, so pinned schemas do not
    change. It needs a default, since a model cannot send what it cannot see; the registry
    checks that when the tool is registered.
    """

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        raise PydanticOmit  # pydantic leaves an omitted field out of properties and required


def is_hidden_from_model(hint: Any) -> bool:
    """Whether a type hint (resolved with include_extras=True) carries the HiddenFromModel marker."""
    metadata = getattr(hint, "__metadata__", ())
    return any(item is HiddenFromModel or isinstance(item, HiddenFromModel) for item in metadata)


ThinkingTokens = Annotated[int, Field(ge=16, le=10_000_000), REFUSE_BOOLEANS]
