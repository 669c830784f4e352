"""The suite format: pydantic models of the YAML, and the raw models' validation errors as file:line.

Loading happens in two steps. Pydantic validates the shape (types, unknown keys, ranges); then
:mod:`promptcheck.suite` compiles the parts whose shape depends on a registry or on other files
(checks, backends, variables, templates). Both steps report errors against the YAML's lines.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from promptcheck.errors import SuiteError
from promptcheck.registry import did_you_mean
from promptcheck.yamlsource import PathKey, SourceMap, dotted

Identifier = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:+-]*$",
        max_length=200,
        description="Letters, digits and _ . : + -, starting with a letter or digit.",
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_Strict):
    """Settings every case inherits unless it overrides them."""

    samples: int = Field(20, ge=1, le=100_000, description="Samples drawn per case.")
    temperature: float = Field(0.8, ge=0.0, le=5.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(200, ge=1, le=1_000_000, description="New tokens per sample.")
    stop: list[str] = Field(default_factory=list, description="Stop strings.")
    seed: int = Field(0, description="Root of every sample's seed: same seed, same samples.")
    threshold: float = Field(
        0.95, ge=0.0, le=1.0, description="Conformance rate a case must reach."
    )
    tolerance: float = Field(
        0.05,
        ge=0.0,
        lt=1.0,
        description="A rate below threshold - tolerance must fail; between, either is fine.",
    )
    model: str | None = Field(None, description="Model used when --promptcheck-model is not given.")


class ModelEntry(BaseModel):
    """A model: the backend name and that backend's parameters."""

    model_config = ConfigDict(extra="allow", frozen=True)

    backend: str = Field(description="Backend name: local, openai, scripted, or a plugin's.")


class ChatMessage(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str


class CaseModel(_Strict):
    """One prompt with its variables and what every output must satisfy."""

    id: Identifier
    description: str = ""
    prompt: str | None = Field(None, description="Prompt template (Jinja2).")
    system: str | None = Field(None, description="System message sent before the prompt.")
    messages: list[ChatMessage] | None = Field(
        None, description="Chat messages (templates), instead of prompt."
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
    samples: int | None = Field(None, ge=1, le=100_000)
    temperature: float | None = Field(None, ge=0.0, le=5.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1, le=1_000_000)
    stop: list[str] | None = None
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    tolerance: float | None = Field(None, ge=0.0, lt=1.0)

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
        raise SuiteError(
            "a suite file must be a mapping with 'suite' and 'cases'",
            path=source.path,
            line=1,
            hint="start the file with 'suite: my-suite' and a list of 'cases:'",
        )
    try:
        return SuiteModel.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, source, SuiteModel) from None


def validation_error(
    exc: ValidationError, source: SourceMap, model: type[BaseModel], prefix: PathKey = ()
) -> SuiteError:
    """Turn the first pydantic error into a SuiteError with line, key and a did-you-mean."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    location = tuple(part for part in first["loc"] if not _is_union_tag(part))
    key = (*prefix, *location)
    message = str(first["msg"])
    hint = None
    if first["type"] == "extra_forbidden":
        message = f"unknown key {location[-1]!r}"
        hint = did_you_mean(str(location[-1]), _known_keys(model, location[:-1]))
        if hint is None:
            known = _known_keys(model, location[:-1])
            hint = f"known keys: {', '.join(known)}" if known else None
    elif first["type"] == "missing":
        message = f"missing required key {location[-1]!r}"
    elif "input" in first and first["type"] not in ("value_error", "assertion_error"):
        message = f"{message} (got {_short(first['input'])})"
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    more = len(errors) - 1
    if more:
        message += f" (and {more} more error{'s' if more > 1 else ''})"
    return SuiteError(
        message,
        path=source.path,
        line=source.line_of(key),
        key=dotted(key) or None,
        hint=hint,
    )


def _is_union_tag(part: str | int) -> bool:
    return isinstance(part, str) and ("[" in part or part in ("str", "int", "dict[str,any]"))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _known_keys(model: type[BaseModel], location: tuple[str | int, ...]) -> list[str]:
    """Field names of the (nested) model at ``location``, for did-you-mean hints."""
    current: type[BaseModel] | None = model
    for part in location:
        if current is None or isinstance(part, int):
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            # a dict of models (models.<name>): the part is a user key, keep the same model
            continue
        current = _model_of(field.annotation)
    return sorted(current.model_fields) if current is not None else []


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _model_of(argument)
        if found is not None:
            return found
    return None
