"""How a tool's docstring and signature become its arguments validator and its JSON schema.

The schema is pydantic's own, shaped while it is generated (`ToolJsonSchema`) rather than
rewritten afterwards, so a change of shape can never touch a parameter by accident (a
rewrite that dropped every key named "title" once dropped a parameter named title):

- no generated titles: a title repeats the name a model already reads beside it;
- `x: T | None = None` is written as a plain optional `T`, which models read more easily
  than `anyOf: [T, null]` (a call that leaves it out still gets None);
- nested models stay in `$defs` with `$ref`, as pydantic writes them; their fields keep
  their descriptions, and a recursive model stays expressible;
- a parameter marked `HiddenFromModel` is validated but left out (see engine/tools/types.py).

Docstrings are read by docstring-parser as Google style: the summary and the paragraphs
under it are the tool's description, `Args:` describe the parameters, and `Returns:`,
`Raises:` and `Example:` sections are allowed and stay out of both.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from docstring_parser import ParseError
from docstring_parser.google import GoogleParser
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonRef, JsonSchemaValue
from pydantic_core import core_schema

from engine.errors import ToolDefinitionError

_GOOGLE = GoogleParser()
_CLASS_SCHEMAS = {"model", "dataclass", "typed-dict", "enum"}  # core schemas pydantic titles by class name


class ToolJsonSchema(GenerateJsonSchema):
    """pydantic's JSON schema generator, shaped for tool parameters (see the module docstring)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False  # only generated titles; a Field(title=...) written by hand is kept

    def generate_inner(self, schema: Any) -> JsonSchemaValue:
        json_schema = super().generate_inner(schema)
        if schema["type"] in _CLASS_SCHEMAS and not _configured_title(schema):
            body = json_schema
            if "$ref" in json_schema:  # the class went into $defs; its title is there
                body = self.get_schema_from_definitions(JsonRef(json_schema["$ref"])) or json_schema
            body.pop("title", None)  # the class name, added by pydantic as the class's title
        return json_schema

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        json_schema = super().default_schema(schema)
        variants = json_schema.get("anyOf")
        if json_schema.get("default", ...) is None and variants and {"type": "null"} in variants:
            rest = [variant for variant in variants if variant != {"type": "null"}]
            if len(rest) == 1:
                del json_schema["anyOf"], json_schema["default"]
                json_schema.update(rest[0])
        return json_schema


def _configured_title(schema: Any) -> bool:
    cls = schema.get("cls")
    config = getattr(cls, "model_config", None) or getattr(cls, "__pydantic_config__", None) or {}
    return bool(config.get("title"))


def parameters_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The `parameters` object of an OpenAI function tool, for an arguments model."""
    schema = model.model_json_schema(schema_generator=ToolJsonSchema)
    schema.setdefault("required", [])
    schema["additionalProperties"] = False
    return schema


def read_docstring(function: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The tool's description and each parameter's, from a Google-style docstring."""
    name = function.__name__
    doc = inspect.getdoc(function)
    if not doc:
        raise ToolDefinitionError(f"tool {name} needs a docstring (the model reads it)")
    if _GOOGLE.titles_re.match(doc):  # checked first: the parser misreads a section on the first line
        raise ToolDefinitionError(f"tool {name}: its docstring needs a summary on its first line (the model reads it)")
    try:
        parsed = _GOOGLE.parse(doc)
    except ParseError as exc:
        raise ToolDefinitionError(f"tool {name}: its docstring is not Google style ({exc})") from None
    paragraphs = [" ".join(paragraph.split()) for paragraph in (parsed.description or "").split("\n\n")]
    descriptions = {
        param.arg_name: " ".join(line.strip() for line in (param.description or "").splitlines() if line.strip())
        for param in parsed.params
        if param.args[0] == "param"  # an Attributes: section is parsed as params too
    }
    return "\n\n".join(p for p in paragraphs if p), {key: text for key, text in descriptions.items() if text}
