"""Structured-output checks: the output is JSON, valid under a JSON Schema, or a pydantic model.

Each says "could not parse" (``invalid JSON at line 1 col 5: ...``) differently from "parsed but
wrong" (``$.priority: 'P9' is not one of [...]``): the first is usually a prompt or stop-token
problem, the second a model that misunderstood the task, and a reviewer needs to tell them apart.
Schemas are loaded and checked, validators built and models imported once, in ``build``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, Field, ValidationError, model_validator

from promptcheck.checks.base import (
    BuildContext,
    Check,
    CheckContext,
    CheckResult,
    NotImportedCheck,
    register_check,
)
from promptcheck.checks.params import PASSED, CheckParams, clip, json_path
from promptcheck.checks.schema_refs import unresolvable_ref
from promptcheck.config import CHECK_TIMEOUT_S
from promptcheck.errors import ConfigError, PluginImportError
from promptcheck.files import ProjectFiles

if TYPE_CHECKING:
    from referencing import Registry, Resource

# jsonschema and referencing are imported where a json_schema check is built or applied: a tenth
# of a second of every run whose suites have none.

_FENCE_LINE = re.compile(r"^[ \t]*```(.*)$", re.MULTILINE)
_FENCED_DOC = "Take the JSON from the first ```json (or bare ```) fenced block, when there is one."


def unfence(output: str) -> tuple[str, str]:
    """The body of the first fenced block tagged ``json`` or untagged, else the whole output.

    Fences are whole lines: an opening line ```` ```json ```` (or ```` ``` ````), a closing line
    starting with ```` ``` ````. Blocks in other languages are skipped. The second value words
    where the JSON came from, for reasons.
    """
    if "```" not in output:
        return output, ""
    fences = list(_FENCE_LINE.finditer(output))
    for opening, closing in zip(fences[::2], fences[1::2], strict=False):
        if opening[1].strip().lower() in ("", "json"):
            return output[opening.end() + 1 : closing.start()], " in the fenced block"
    return output, ""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def parse_json(text: str, where: str = "") -> tuple[Any, str | None]:
    """``(value, None)`` when ``text`` (stripped) is JSON, else ``(None, why not)``.

    NaN and Infinity are refused: Python's json accepts them, the programs that read outputs don't.
    """
    stripped = text.strip()
    if not stripped:
        return None, f"empty output{where}; expected JSON"
    try:
        return _DECODER.decode(stripped), None
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON{where} at line {exc.lineno} col {exc.colno}: {exc.msg}"
    except ValueError as exc:
        return None, f"invalid JSON{where}: {exc}"
    except RecursionError:
        return None, f"invalid JSON{where}: nested too deeply to parse"


class JsonParams(CheckParams):
    """``json``: nothing to say, or where to find the JSON."""

    fenced: bool = Field(False, description=_FENCED_DOC)


@dataclass(slots=True)
class JsonCheck:
    """The output parses as JSON."""

    name: str
    fenced: bool

    def evaluate(self, output: str, context: CheckContext) -> CheckResult:
        text, where = unfence(output) if self.fenced else (output, "")
        _, error = parse_json(text, where)
        return PASSED if error is None else CheckResult.failed(error)


@register_check("json", JsonParams, shorthand={"type": "null"})
def build_json(params: JsonParams, context: BuildContext) -> JsonCheck:
    """The output is one JSON value (any type), with nothing else around it but whitespace.

    Use ``json_schema`` or ``pydantic`` to say what the value must look like.
    """
    return JsonCheck("json", params.fenced)


#: A mapping of only these keys is parameters missing ``schema``, not an inline schema.
_OPTION_KEYS = frozenset({"fenced", "check_formats"})


class JsonSchemaParams(CheckParams):
    """``json_schema: schemas/x.json`` (a path) or ``json_schema: {type: object, ...}`` (inline)."""

    schema_: dict[str, Any] | str = Field(
        alias="schema",
        description="An inline JSON Schema, or the path of a .json/.yaml schema file relative to "
        "the suite's directory.",
    )
    fenced: bool = Field(False, description=_FENCED_DOC)
    check_formats: bool = Field(
        False, description="Also check 'format' keywords (email, date-time, ...); off by default."
    )

    @model_validator(mode="before")
    @classmethod
    def _expand_schema_short_form(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"schema": data}
        if isinstance(data, Mapping) and "schema" not in data and not set(data) <= _OPTION_KEYS:
            if set(data) & _OPTION_KEYS:
                # options beside unknown keys: a misspelt 'schema', not an inline schema that
                # would silently accept every output
                unknown = sorted(str(key) for key in set(data) - _OPTION_KEYS)
                raise ValueError(
                    f"unknown key {unknown[0]!r} next to {sorted(set(data) & _OPTION_KEYS)[0]!r}; "
                    "the schema goes under 'schema:' when options are given"
                )
            return {"schema": dict(data)}  # the inline schema itself
        return data


def load_schema_file(path: Path, files: ProjectFiles) -> Any:
    """The document in a .json, .yaml or .yml file, read as the project allows (inside the
    project, a regular file, bounded, hardened YAML), with errors worded for the suite author."""
    try:
        return files.load_document(path, "schema file")
    except ConfigError as exc:
        missing = "does not exist" in exc.message
        hint = "a schema path is relative to the directory of the suite file" if missing else None
        raise ConfigError(exc.message, key=("schema",), hint=hint) from None


def _local_registry(directory: Path, files: ProjectFiles) -> Registry[Any]:
    """A $ref registry that reads relative references (``defs.json#/x``) from ``directory``.

    Nothing is fetched over the network, and no file outside the project is read: a reference
    that cannot be resolved is a collection error (:func:`unresolvable_ref`).
    """

    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    @functools.cache
    def retrieve(uri: str) -> Resource[Any]:
        parts = urlsplit(uri)
        if parts.scheme or parts.netloc:
            raise ValueError(f"refusing to fetch {uri}: only local schema files can be referenced")
        path = directory / unquote(parts.path)
        return Resource.from_contents(
            load_schema_file(path, files), default_specification=DRAFT202012
        )

    return Registry(retrieve=retrieve)  # type: ignore[call-arg]


def _validator_class(schema: dict[str, Any] | bool) -> Any:
    """The validator class for the schema's ``$schema``: 2020-12 when absent, None when unknown."""
    from jsonschema import Draft202012Validator
    from jsonschema.validators import validator_for

    if isinstance(schema, bool) or "$schema" not in schema:
        return Draft202012Validator
    if not isinstance(schema["$schema"], str):
        return None
    return validator_for(schema, default=None)


@functools.cache
def _bounded_patterns(validator_class: Any) -> Any:
    """``validator_class`` with ``pattern`` and ``patternProperties`` matched by the ``regex``
    package under :data:`~promptcheck.config.CHECK_TIMEOUT_S` (jsonschema uses ``re``, whose
    backtracking cannot be stopped): a pattern that runs out of time is an error of the value."""
    import regex
    from jsonschema import ValidationError
    from jsonschema.validators import extend

    def search(pattern: str, text: str) -> bool:
        try:
            return regex.search(pattern, text, timeout=CHECK_TIMEOUT_S) is not None
        except TimeoutError:
            raise ValidationError(
                f"pattern {pattern!r} took longer than {CHECK_TIMEOUT_S:g} s on {text[:40]!r}"
            ) from None

    def pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
        if validator.is_type(instance, "string") and not search(pattern, instance):
            yield ValidationError(f"{instance!r} does not match {pattern!r}")

    def pattern_properties(
        validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Any
    ) -> Iterator[Any]:
        if not validator.is_type(instance, "object"):
            return
        for expression, subschema in patterns.items():
            for key, value in instance.items():
                if search(expression, key):
                    yield from validator.descend(value, subschema, path=key, schema_path=expression)

    return extend(validator_class, {"pattern": pattern, "patternProperties": pattern_properties})


#: Outputs up to this long have their results remembered (see JsonSchemaCheck.memo).
_MEMO_OUTPUT_CHARS = 4096
_MEMO_ENTRIES = 2048


@dataclass(slots=True)
class JsonSchemaCheck:
    """The output parses as JSON and the value is valid under a compiled schema.

    The schema's ``pattern`` and ``patternProperties`` are matched with the ``regex`` package
    under a timeout, and the whole check runs off the event loop (``blocking``), time-limited.

    jsonschema costs tens of microseconds per value, and samples of a case repeat themselves often
    (a conforming model says the same small object many times), so results of short outputs are
    remembered: the verdict is a pure function of the output text.
    """

    blocking = True
    name: str
    validator: Any
    fenced: bool
    memo: dict[str, CheckResult] = field(default_factory=dict)

    def evaluate(self, output: str, context: CheckContext) -> CheckResult:
        result = self.memo.get(output)
        if result is None:
            result = self.judge(output)
            if len(output) <= _MEMO_OUTPUT_CHARS:
                if len(self.memo) >= _MEMO_ENTRIES:
                    self.memo.clear()
                self.memo[output] = result
        return result

    def judge(self, output: str) -> CheckResult:
        text, where = unfence(output) if self.fenced else (output, "")
        value, error = parse_json(text, where)
        if error is not None:
            return CheckResult.failed(error)
        from jsonschema.exceptions import best_match
        from referencing.exceptions import Unresolvable

        try:
            found = best_match(self.validator.iter_errors(value))
        except Unresolvable as exc:
            ref = getattr(exc, "ref", None) or str(exc)
            return CheckResult.unscored(clip(f"the schema's $ref {ref!r} cannot be resolved", 200))
        except Exception as exc:  # a pathological value, a bug in a format checker
            return CheckResult.unscored(
                clip(f"the schema could not be applied: {type(exc).__name__}: {exc}", 200)
            )
        if found is None:
            return PASSED
        return CheckResult.failed(clip(f"{found.json_path}: {found.message}", 200))


@register_check(
    "json_schema",
    JsonSchemaParams,
    shorthand={
        "anyOf": [
            {"type": "string", "description": "Path of a .json/.yaml schema file."},
            {"type": "object", "description": "An inline JSON Schema."},
        ]
    },
)
def build_json_schema(params: JsonSchemaParams, context: BuildContext) -> JsonSchemaCheck:
    """The output is JSON that is valid under a JSON Schema (draft 2020-12 unless ``$schema`` says).

    The schema is given inline or as a path to a .json/.yaml file; relative ``$ref`` to other local
    files are resolved from the schema's directory.
    """
    if isinstance(params.schema_, str):
        path = Path(params.schema_)
        if not path.is_absolute():
            path = context.base_dir / path
        schema = load_schema_file(path, context.project_files())
        where, directory = f"schema file {path}", path.parent
    else:
        schema, where, directory = params.schema_, "inline schema", context.base_dir
    if not isinstance(schema, (dict, bool)):
        raise ConfigError(
            f"{where} is a {type(schema).__name__}, not a JSON Schema object", key=("schema",)
        )
    validator_class = _validator_class(schema)
    if validator_class is None:
        declared = schema.get("$schema") if isinstance(schema, dict) else None
        raise ConfigError(
            f"{where} has an unknown $schema {declared!r}",
            key=("schema",),
            hint="use https://json-schema.org/draft/2020-12/schema, or leave $schema out",
        )
    try:
        problem = _schema_problem(validator_class, json.dumps(schema, sort_keys=True))
    except (TypeError, ValueError):  # YAML-only values (dates): check without the cache
        problem = _schema_problem.__wrapped__(validator_class, schema)
    if problem is not None:
        raise ConfigError(
            clip(f"{where} is not a valid JSON Schema: {problem}", 300), key=("schema",)
        )
    registry = _local_registry(directory, context.project_files())
    unresolved = unresolvable_ref(schema, registry)
    if unresolved is not None:
        raise ConfigError(
            clip(f"{where}: {unresolved}", 300),
            key=("schema",),
            hint="references must point inside the schema or to schema files in the project",
        )
    validator = _bounded_patterns(validator_class)(
        schema,
        registry=registry,
        format_checker=validator_class.FORMAT_CHECKER if params.check_formats else None,
    )
    return JsonSchemaCheck("json_schema", validator, params.fenced)


@functools.lru_cache(maxsize=256)
def _schema_problem(validator_class: Any, schema: Any) -> str | None:
    """Why a schema (given as canonical JSON text) is invalid, or None. Cached, since many cases
    share one schema file and checking a schema against its metaschema costs milliseconds."""
    from jsonschema.exceptions import SchemaError

    try:
        validator_class.check_schema(json.loads(schema) if isinstance(schema, str) else schema)
    except SchemaError as exc:
        return f"{exc.json_path}: {exc.message}"
    except RecursionError:  # a schema file's JSON is not bounded in depth as YAML is
        return "it is nested too deeply to be checked (or applied)"
    return None


class PydanticParams(CheckParams):
    """``pydantic: package.module:Model``."""

    short_field = "model"

    model: str = Field(description="Import path of a pydantic BaseModel: 'package.module:Class'.")
    fenced: bool = Field(False, description=_FENCED_DOC)


@dataclass(slots=True)
class PydanticCheck:
    """The output is JSON that validates as an instance of a pydantic model. The model's
    validators are the project's code and may run long: off the loop, time-limited."""

    blocking = True
    name: str
    model: type[BaseModel]
    fenced: bool

    def evaluate(self, output: str, context: CheckContext) -> CheckResult:
        text, where = unfence(output) if self.fenced else (output, "")
        if not text.strip():
            return CheckResult.failed(f"empty output{where}; expected JSON")
        try:
            self.model.model_validate_json(text)
        except ValidationError as exc:
            return CheckResult.failed(_pydantic_reason(exc, where))
        except Exception as exc:  # a validator in the user's model that raised something else
            return CheckResult.unscored(
                clip(f"{self.model.__name__} raised {type(exc).__name__}: {exc}", 200)
            )
        return PASSED


def _pydantic_reason(exc: ValidationError, where: str) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    if not errors:
        return clip(str(exc), 200)
    first = errors[0]
    if first["type"] == "json_invalid":
        return clip(f"invalid JSON{where}: {first.get('ctx', {}).get('error', first['msg'])}", 200)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return clip(f"{json_path(first['loc'])}: {first['msg']}", 200 - len(more)) + more


@register_check("pydantic", PydanticParams, shorthand={"type": "string"})
def build_pydantic(params: PydanticParams, context: BuildContext) -> Check:
    """The output is JSON that validates as the given pydantic model (``package.module:Class``).

    The model is what the calling program parses outputs with, so the check is that program's own
    acceptance test.
    """
    try:
        model = context.code.import_object(params.model)
    except PluginImportError as exc:
        raise ConfigError(
            exc.args[0],
            key=("model",),
            hint=exc.hint
            or "the module must be importable from the project root; write the path as "
            "'package.module:Class'",
        ) from None
    if model is None:  # validate imports nothing a suite names
        return NotImportedCheck("pydantic", params.model)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise ConfigError(
            f"{params.model} is {model!r}, not a pydantic BaseModel subclass",
            key=("model",),
        )
    return PydanticCheck("pydantic", model, params.fenced)
