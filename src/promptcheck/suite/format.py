"""The suite format: pydantic models of the YAML, and their validation errors as file:line: key.

Loading happens in two steps. Pydantic validates the shape (types, unknown keys, ranges); then
:mod:`promptcheck.suite.loader` compiles the parts whose shape depends on a registry or on other
files (checks, backends, variables, templates). Both steps report errors against the YAML's lines.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from promptcheck.errors import SuiteError
from promptcheck.project import Identifier, ModelEntry
from promptcheck.registry import did_you_mean
from promptcheck.yamlsource import PathKey, SourceMap, dotted


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_Strict):
    """Settings every case inherits unless it overrides them."""

    samples: int = Field(20, strict=True, ge=1, le=100_000, description="Samples drawn per case.")
    temperature: float = Field(0.8, strict=True, ge=0.0, le=5.0)
    top_p: float = Field(1.0, strict=True, gt=0.0, le=1.0)
    max_tokens: int = Field(
        200, strict=True, ge=1, le=1_000_000, description="New tokens per sample."
    )
    stop: list[str] = Field(default_factory=list, description="Stop strings.")
    seed: int = Field(
        0, strict=True, description="Root of every sample's seed: same seed, same samples."
    )
    threshold: float = Field(
        0.95, strict=True, ge=0.0, le=1.0, description="Conformance rate a case must reach."
    )
    tolerance: float = Field(
        0.05,
        strict=True,
        ge=0.0,
        lt=1.0,
        description="A rate below threshold - tolerance must fail; between, either is fine.",
    )
    model: str | None = Field(None, description="Model used when --promptcheck-model is not given.")


class ChatMessage(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str


class TextFile(_Strict):
    """``{file: prompts/triage.j2}``: a template kept in its own file, relative to the suite."""

    file: str = Field(description="Path of the template file, relative to the suite's directory.")


class MessagesFile(_Strict):
    """``{file: prompts/chat.yaml}``: chat messages kept in a YAML or JSON file (a list of
    ``{role, content}``), relative to the suite; each content is a template."""

    file: str = Field(description="Path of a .yaml, .yml or .json list of {role, content}.")


#: A tool's name as both OpenAI and Anthropic accept it.
TOOL_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class ToolModel(_Strict):
    """A tool the model may call: its name, what it does, the JSON Schema of its arguments."""

    name: str = Field(pattern=TOOL_NAME_PATTERN, description="Letters, digits, _ and -.")
    description: str = Field("", description="What the tool does; the model reads it.")
    parameters: dict[str, Any] | str = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON Schema of the arguments (type: object), inline or a .json/.yaml "
        "file relative to the suite.",
    )


#: Keys of a ``response_format`` mapping besides the schema: a mapping of only these is the
#: long form missing ``schema``, not an inline schema.
_FORMAT_OPTIONS = frozenset({"name", "strict"})


class ResponseFormatModel(_Strict):
    """``response_format: {schema, name, strict}``; a bare mapping is the schema itself, a
    string the path of a schema file."""

    schema_: dict[str, Any] | str = Field(
        alias="schema",
        description="The JSON Schema of the answer, inline or a .json/.yaml file relative to "
        "the suite.",
    )
    name: str = Field("response", pattern=TOOL_NAME_PATTERN, description="The format's name.")
    strict: bool = Field(
        True, description="Constrained decoding where it is optional (OpenAI's strict mode)."
    )

    @model_validator(mode="before")
    @classmethod
    def _short_forms(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"schema": data}
        if isinstance(data, dict) and "schema" not in data and not set(data) <= _FORMAT_OPTIONS:
            return {"schema": data}
        return data


class CaseModel(_Strict):
    """One prompt with its variables and what every output must satisfy."""

    id: Identifier
    description: str = ""
    prompt: str | TextFile | None = Field(
        None, description="Prompt template (Jinja2), inline or {file: path}."
    )
    system: str | TextFile | None = Field(
        None, description="System message sent before the prompt, inline or {file: path}."
    )
    messages: list[ChatMessage] | MessagesFile | None = Field(
        None, description="Chat messages (templates), instead of prompt; or {file: path}."
    )
    vars: dict[str, Any] = Field(
        default_factory=dict,
        description="Variables: a list of values, one value, {file, field} or {strategy, ...}.",
    )
    rows: list[dict[str, Any]] | None = Field(
        None, description="Explicit combinations of variables, combined with vars."
    )
    expect: list[str | dict[str, Any]] = Field(
        min_length=1, description="Checks every output must pass."
    )
    tags: list[str] = Field(default_factory=list, description="Labels; 'critical' is special.")
    models: list[str] | None = Field(None, description="Run this case only on these models.")
    tools: list[ToolModel] | None = Field(
        None, description="Tools the model may call (openai, anthropic and scripted backends)."
    )
    tool_choice: str | None = Field(
        None,
        description="auto, none, required (some tool), or the name of a declared tool "
        "(that tool); default: the provider's.",
    )
    response_format: ResponseFormatModel | None = Field(
        None,
        description="A JSON Schema the answer must follow (structured outputs): a schema, a "
        "schema file's path, or {schema, name, strict}.",
    )
    samples: int | None = Field(None, strict=True, ge=1, le=100_000)
    temperature: float | None = Field(None, strict=True, ge=0.0, le=5.0)
    top_p: float | None = Field(None, strict=True, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, strict=True, ge=1, le=1_000_000)
    stop: list[str] | None = None
    threshold: float | None = Field(None, strict=True, ge=0.0, le=1.0)
    tolerance: float | None = Field(None, strict=True, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _one_prompt(self) -> CaseModel:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("a case needs exactly one of 'prompt' or 'messages'")
        if self.messages is not None and self.system is not None:
            raise ValueError("'system' goes with 'prompt'; with 'messages', add a system message")
        return self


class SuiteModel(_Strict):
    """A suite file."""

    suite: Identifier = Field(description="Suite id, shown in reports.")
    description: str = ""
    plugins: list[str] = Field(
        default_factory=list,
        description="Modules imported before the suite is checked (they may register checks).",
    )
    defaults: Defaults = Field(default_factory=Defaults)  # type: ignore[arg-type]
    models: dict[Identifier, ModelEntry] = Field(default_factory=dict)
    cases: list[CaseModel] = Field(min_length=1)


def validate_suite(data: Any, source: SourceMap) -> SuiteModel:
    """Validate raw YAML data; the first error becomes a SuiteError naming its line and key."""
    if not isinstance(data, dict):
        what = "empty" if data is None else f"{_yaml_type(data)}, not a mapping"
        raise SuiteError(
            f"the suite file is {what}; a suite is a mapping with 'suite' and 'cases'",
            path=source.path,
            line=source.line_of(()) or 1,
            hint="start the file with 'suite: my-suite' and a list of 'cases:'",
        )
    try:
        return SuiteModel.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, source, SuiteModel) from None


def validation_error(
    exc: ValidationError, source: SourceMap, model: type[BaseModel], prefix: PathKey = ()
) -> SuiteError:
    """Turn the first pydantic error into a SuiteError with line, key and a did-you-mean.

    An unknown key is reported before a missing one: a misspelt key causes both, and the
    did-you-mean is the useful half.
    """
    errors = exc.errors(include_url=False)
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    location = tuple(first["loc"])
    key = _yaml_key(first, prefix, source)
    message = str(first["msg"])
    hint = None
    if first["type"] == "extra_forbidden":
        message = f"unknown key {location[-1]!r}"
        known = _known_keys(model, location[:-1])
        hint = did_you_mean(str(location[-1]), known)
        if hint is None:
            hint = f"known keys: {', '.join(known)}" if known else None
    elif first["type"] == "missing":
        message = f"missing required key {location[-1]!r}"
    elif "input" in first and first["type"] not in ("value_error", "assertion_error"):
        message = f"{message} (got {_short(first['input'])})"
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    more = len({_yaml_key(error, prefix, source) for error in errors} - {key})
    if more:
        message += f" (and errors at {more} more place{'s' if more > 1 else ''})"
    return SuiteError(
        message,
        path=source.path,
        line=source.line_of(key),
        key=dotted(key) or None,
        hint=hint,
    )


def _yaml_key(error: Any, prefix: PathKey, source: SourceMap) -> PathKey:
    """The path in the YAML of a pydantic error location.

    Parts of the location that are not in the file are dropped: union members (``str``,
    ``dict[str,any]``), ``[key]`` and the fields a short form fills (``regex: "^A"`` has no
    ``pattern`` key); a missing key is kept, as it is what the message is about.
    """
    key = prefix
    parts = tuple(error["loc"])
    for position, part in enumerate(parts):
        candidate = (*key, part)
        if candidate in source.lines or (position == len(parts) - 1 and error["type"] == "missing"):
            key = candidate
    return key


def _yaml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _known_keys(model: type[BaseModel], location: tuple[str | int, ...]) -> list[str]:
    """Keys of the (nested) model at ``location``, by alias where a field has one."""
    current: type[BaseModel] | None = model
    for part in location:
        if current is None or isinstance(part, int):
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            # a dict of models (models.<name>) or a union tag: keep the same model
            continue
        current = _model_of(field.annotation)
    if current is None:
        return []
    return sorted(field.alias or name for name, field in current.model_fields.items())


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _model_of(argument)
        if found is not None:
            return found
    return None
