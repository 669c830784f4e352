"""Compile what a case lets the model answer with: its tools, tool choice and response format.

Schemas may be inline or files next to the suite; they are loaded and checked against their
metaschema here, with the ``json_schema`` check's loader, so a broken tool schema is a
collection error naming its line rather than a 400 from the provider on every sample.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptcheck.backends.base import TOOL_CHOICE_KEYWORDS, ResponseFormat, Tool
from promptcheck.checks.base import BuildContext
from promptcheck.checks.structured import JsonSchemaParams, build_json_schema, load_schema_file
from promptcheck.errors import ConfigError, SuiteError
from promptcheck.registry import did_you_mean
from promptcheck.suite.format import CaseModel
from promptcheck.yamlsource import PathKey, SourceMap, dotted


@dataclass(frozen=True, slots=True)
class AnswerShape:
    """A case's tools, tool choice and response format, ready for its sampling parameters."""

    tools: tuple[Tool, ...] = ()
    tool_choice: str | None = None
    response_format: ResponseFormat | None = None


def compile_answer_shape(
    case: CaseModel, context: BuildContext, source: SourceMap, key: PathKey
) -> AnswerShape:
    """The case's ``tools``, ``tool_choice`` and ``response_format``, schemas loaded and checked
    (schema files read as the project allows, like a ``json_schema`` check's)."""
    tools: list[Tool] = []
    seen: set[str] = set()
    for index, tool in enumerate(case.tools or ()):
        where = (*key, "tools", index)
        if tool.name in seen:
            raise _error(f"duplicate tool name {tool.name!r}", source, (*where, "name"))
        seen.add(tool.name)
        schema = _schema(tool.parameters, context, source, (*where, "parameters"))
        if schema.get("type") != "object":
            raise _error(
                "a tool's parameters are a JSON Schema of type object",
                source,
                (*where, "parameters"),
                hint="write `type: object` with the arguments under `properties:`",
            )
        tools.append(Tool(tool.name, tool.description, schema))
    choice = case.tool_choice
    if choice is not None:
        if not tools:
            raise _error(
                "tool_choice needs tools", source, (*key, "tool_choice"), hint="declare tools:"
            )
        if choice not in TOOL_CHOICE_KEYWORDS and choice not in seen:
            known = [*TOOL_CHOICE_KEYWORDS, *sorted(seen)]
            raise _error(
                f"tool_choice {choice!r} is neither auto, none, required nor a declared tool",
                source,
                (*key, "tool_choice"),
                hint=did_you_mean(choice, known) or f"one of {', '.join(known)}",
            )
    answer = None
    if case.response_format is not None:
        given = case.response_format
        schema = _schema(given.schema_, context, source, (*key, "response_format"))
        answer = ResponseFormat(schema, given.name, given.strict)
    return AnswerShape(tuple(tools), choice, answer)


def _schema(
    given: Mapping[str, Any] | str, context: BuildContext, source: SourceMap, key: PathKey
) -> dict[str, Any]:
    """A schema given inline or as a file's path, loaded and checked against its metaschema."""
    try:
        if isinstance(given, str):
            path = Path(given)
            full = path if path.is_absolute() else context.base_dir / path
            loaded = load_schema_file(full, context.project_files())
        else:
            loaded = dict(given)
        if not isinstance(loaded, dict):
            raise ConfigError(f"the schema is a {type(loaded).__name__}, not a JSON Schema object")
        build_json_schema(JsonSchemaParams.model_validate({"schema": loaded}), context)
    except ConfigError as exc:
        raise _error(exc.message, source, key, hint=exc.hint) from None
    return loaded


def _error(message: str, source: SourceMap, key: PathKey, hint: str | None = None) -> SuiteError:
    key = source.present(key)
    return SuiteError(
        message, path=source.path, line=source.line_of(key), key=dotted(key) or None, hint=hint
    )
