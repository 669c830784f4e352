"""Tool-call checks: the model called the right tool, the right number of times, with arguments
its program can use (``tool_call``), or called none (``no_tool_call``).

A program that lets a model call tools parses the calls, not the text, so these checks read the
calls (:attr:`CheckContext.tool_calls`). Arguments are validated against the JSON Schema the case
declared for the tool (what the provider was told), or a stricter one the check gives (what the
program really accepts), with the ``json_schema`` check's schema loading and error wording: a
call whose arguments are not JSON reads differently from one whose arguments are wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import regex
from pydantic import Field, field_validator

from promptcheck.backends.base import ToolCall
from promptcheck.backends.tool_calls import render_call
from promptcheck.checks.base import BuildContext, CheckContext, CheckResult, register_check
from promptcheck.checks.params import PASSED, CheckParams, clip, quoted
from promptcheck.checks.structured import JsonSchemaCheck, JsonSchemaParams, build_json_schema
from promptcheck.config import CHECK_TIMEOUT_S
from promptcheck.errors import ConfigError
from promptcheck.registry import did_you_mean

_TOOL_NAME = {"type": "string", "description": "The tool's name."}


class ToolCallParams(CheckParams):
    """``tool_call``: which tool, how many calls, and what the arguments must be."""

    short_field = "name"

    name: str | None = Field(
        None, description="The tool that must be called; default: any tool the case declares."
    )
    count: int | None = Field(
        None,
        ge=1,
        description="Exactly this many calls (of `name`, or in all); default: at least one.",
    )
    only: bool = Field(False, description="No call to any other tool than `name`.")
    schema_: dict[str, Any] | str | None = Field(
        None,
        alias="schema",
        description="A JSON Schema the arguments must satisfy instead of the tool's declared "
        "one (inline, or a .json/.yaml file relative to the suite): what the program accepts.",
    )
    arguments: dict[str, str] = Field(
        default_factory=dict,
        description="Regular expressions argument values must match in full, by argument name "
        "(a.b for a nested one); strings are matched as they are, other values as JSON.",
    )

    @field_validator("arguments")
    @classmethod
    def _patterns_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for path, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"arguments.{path}: invalid regex: {exc}") from None
        return value


@dataclass(slots=True)
class ToolCallCheck:
    """The output calls the tool ``tool`` (any tool when None) with valid arguments. Its
    schemas and argument patterns can run long on hostile arguments: the runner calls it off
    the event loop (``blocking``), and patterns run in the ``regex`` package with a timeout."""

    blocking = True
    name: str
    tool: str | None
    count: int | None
    only: bool
    declared: tuple[str, ...]
    validators: Mapping[str, Any]
    #: A stricter schema given in the check; it replaces every declared one.
    strict_validator: Any = None
    patterns: tuple[tuple[str, Any], ...] = ()

    def evaluate(self, output: str, context: CheckContext) -> CheckResult:
        calls = context.tool_calls
        if not calls:
            return CheckResult.failed(f"no tool call; the output is text: {quoted(output)}")
        relevant = [c for c in calls if self.tool is None or c.name == self.tool]
        if not relevant:
            made = ", ".join(sorted({c.name for c in calls}))
            return CheckResult.failed(clip(f"no call to {self.tool}; called {made}", 200))
        if self.count is not None and len(relevant) != self.count:
            what = f"to {self.tool}" if self.tool is not None else "in all"
            return CheckResult.failed(
                f"{len(relevant)} call{'s' if len(relevant) != 1 else ''} {what}, "
                f"expected {self.count}"
            )
        if self.only:
            other = next((c for c in calls if c.name != self.tool), None)
            if other is not None:
                return CheckResult.failed(f"also called {clip(render_call(other), 120)}")
        for call in relevant:
            problem = self._problem(call)
            if problem is not None:
                return CheckResult.failed(clip(f"{call.name}: {problem}", 200))
        return PASSED

    def _problem(self, call: ToolCall) -> str | None:
        """What is wrong with one call, or None."""
        if self.declared and self.tool is None and call.name not in self.declared:
            return f"not a declared tool (declared: {', '.join(self.declared)})"
        if call.arguments_error is not None:
            return f"arguments are not JSON ({call.arguments_error}): {quoted(call.raw_arguments)}"
        validator = self.strict_validator or self.validators.get(call.name)
        if validator is not None:
            from jsonschema.exceptions import best_match

            try:
                found = best_match(validator.iter_errors(call.arguments))
            except Exception as exc:  # an unresolvable $ref, a pathological value
                return f"the schema could not be applied: {type(exc).__name__}: {exc}"
            if found is not None:
                return f"{found.json_path}: {found.message}"
        for path, pattern in self.patterns:
            present, value = _argument(call.arguments, path)
            if not present:
                return f"argument {path} is missing"
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            try:
                matched = pattern.fullmatch(text, timeout=CHECK_TIMEOUT_S)
            except TimeoutError:
                return f"argument {path}: the pattern took longer than {CHECK_TIMEOUT_S:g} s"
            if matched is None:
                return f"argument {path} = {quoted(text)} does not match {pattern.pattern!r}"
        return None


def _argument(arguments: Any, path: str) -> tuple[bool, Any]:
    """The value at ``a.b`` in the arguments, and whether there is one."""
    value = arguments
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _validator(schema: Mapping[str, Any] | str, context: BuildContext) -> Any:
    """A compiled validator of a schema, through the ``json_schema`` check's build (its file
    loading, metaschema check and local $ref resolution)."""
    check = build_json_schema(JsonSchemaParams.model_validate({"schema": schema}), context)
    assert isinstance(check, JsonSchemaCheck)
    return check.validator


@register_check("tool_call", ToolCallParams, shorthand=_TOOL_NAME)
def build_tool_call(params: ToolCallParams, context: BuildContext) -> ToolCallCheck:
    """The output calls a tool (``name``: this one), ``count`` times if given, with arguments
    valid under the tool's declared JSON Schema (or the stricter ``schema``) and matching the
    ``arguments`` patterns.

    A case's tools are declared under its ``tools:``; the check reads the calls, not the text.
    """
    declared = {tool.name: tool for tool in context.tools}
    if params.name is not None and declared and params.name not in declared:
        raise ConfigError(
            f"the case declares no tool {params.name!r}",
            key=("name",),
            hint=did_you_mean(params.name, sorted(declared))
            or f"declared tools: {', '.join(sorted(declared))}",
        )
    if params.only and params.name is None:
        raise ConfigError("`only` needs the tool's `name`", key=("only",))
    strict = None
    if params.schema_ is not None:
        strict = _validator(params.schema_, context)
    validators = {
        name: _validator(dict(tool.parameters), context) for name, tool in declared.items()
    }
    return ToolCallCheck(
        name="tool_call",
        tool=params.name,
        count=params.count,
        only=params.only,
        declared=tuple(declared),
        validators=validators,
        strict_validator=strict,
        patterns=tuple(
            (path, regex.compile(p, regex.VERSION0)) for path, p in params.arguments.items()
        ),
    )


class NoToolCallParams(CheckParams):
    """``no_tool_call``: no call at all, or none to one tool."""

    short_field = "name"

    name: str | None = Field(None, description="The tool that must not be called; default: any.")


@dataclass(slots=True)
class NoToolCallCheck:
    """The output calls no tool (``tool`` None) or does not call ``tool``."""

    name: str
    tool: str | None

    def evaluate(self, output: str, context: CheckContext) -> CheckResult:
        for call in context.tool_calls:
            if self.tool is None or call.name == self.tool:
                return CheckResult.failed(f"called {clip(render_call(call), 150)}")
        return PASSED


@register_check("no_tool_call", NoToolCallParams, shorthand=_TOOL_NAME)
def build_no_tool_call(params: NoToolCallParams, context: BuildContext) -> NoToolCallCheck:
    """The output calls no tool (``name``: does not call that tool): the model answered in text
    where it should, or kept away from a tool it must not use."""
    declared = [tool.name for tool in context.tools]
    if params.name is not None and declared and params.name not in declared:
        raise ConfigError(
            f"the case declares no tool {params.name!r}",
            key=("name",),
            hint=did_you_mean(params.name, declared) or f"declared tools: {', '.join(declared)}",
        )
    return NoToolCallCheck("no_tool_call", params.name)
