"""What a case's checks require of an answer, in words a model (or a person) can follow.

The optimizer model is told what the checks want, and the format-reminder operator appends it to
the prompt. The words are derived from each check's parameters as the suite writes them (the
JSON Schema's required keys and allowed values, the option labels, the pattern, the length
bounds), validated by the check's own parameter model, so they say what the check tests rather
than what a prompt author hoped. A check without a wording here (a plugin's) is described by
its registered description.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from promptcheck.checks.base import CHECKS
from promptcheck.errors import PromptcheckError
from promptcheck.files import ProjectFiles
from promptcheck.suite.records import CompiledCheck

#: Length units as a bound names them: (one, several).
_UNITS = {
    "chars": ("character", "characters"),
    "words": ("word", "words"),
    "lines": ("non-empty line", "non-empty lines"),
    "items": ("list item", "list items (lines starting with - or a number)"),
}


def describe_requirements(
    expect: Sequence[Any],
    checks: Sequence[CompiledCheck],
    base_dir: Path,
    files: ProjectFiles,
) -> tuple[str, ...]:
    """One sentence per requirement of the ``expect`` list, in its order, without repeats."""
    sentences: list[str] = []
    compiled = {check.index: check for check in checks}
    for position, item in enumerate(expect):
        name, raw = _entry(item)
        if name is None:
            continue
        described = _describe(name, raw, compiled.get(position), base_dir, files)
        for sentence in described:
            if sentence not in sentences:
                sentences.append(sentence)
    return tuple(sentences)


def _entry(item: Any) -> tuple[str | None, Any]:
    if isinstance(item, str):
        return item, None
    if isinstance(item, Mapping) and len(item) == 1:
        name, raw = next(iter(item.items()))
        return str(name), raw
    return None, None


def _describe(
    name: str, raw: Any, compiled: CompiledCheck | None, base_dir: Path, files: ProjectFiles
) -> list[str]:
    try:
        check_type = CHECKS.get(name)
        params = check_type.params.model_validate({} if raw is None else raw)
    except (PromptcheckError, ValidationError):
        return []
    wording = _WORDINGS.get(name)
    if wording is not None:
        return wording(params, compiled, base_dir, files)
    if name.startswith(("max_", "min_")) and name[4:] in _UNITS:
        bound = "at most" if name.startswith("max_") else "at least"
        value = int(getattr(params, "value", 0))
        unit = _UNITS[name[4:]][0 if value == 1 else 1]
        return [f"The answer has {bound} {value} {unit}."]
    description = check_type.description.strip().rstrip(".")
    if not description:
        return []
    settings = _settings(params)
    return [f"{description}{f' ({settings})' if settings else ''}."]


def _settings(params: BaseModel) -> str:
    values = params.model_dump(exclude_defaults=True, by_alias=True)
    return ", ".join(f"{key}: {json.dumps(value, default=str)}" for key, value in values.items())


def _json(
    params: Any, compiled: CompiledCheck | None, base: Path, files: ProjectFiles
) -> list[str]:
    if params.fenced:
        return ["The answer is JSON inside one ```json code fence."]
    return ["The answer is JSON only, with nothing before or after it."]


def _json_schema(
    params: Any, compiled: CompiledCheck | None, base: Path, files: ProjectFiles
) -> list[str]:
    schema = params.schema_
    if isinstance(schema, str):
        try:
            schema = files.load_document(base / schema, "schema file")
        except PromptcheckError:
            return ["The answer is JSON valid under the case's JSON Schema."]
    return [*_json(params, compiled, base, files), *schema_sentences(schema)]


def _pydantic(
    params: Any, compiled: CompiledCheck | None, base: Path, files: ProjectFiles
) -> list[str]:
    model = getattr(compiled.check, "model", None) if compiled is not None else None
    sentences = _json(params, compiled, base, files)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [*sentences, *schema_sentences(model.model_json_schema())]
    return [*sentences, f"It validates as {params.model}."]


def schema_sentences(schema: Any) -> list[str]:
    """A JSON Schema's object shape in words: its keys, which are required, their values."""
    if not isinstance(schema, Mapping):
        return []
    sentences: list[str] = []
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    required = [str(key) for key in schema.get("required") or ()]
    if schema.get("type") == "object" or properties or required:
        keys = required or list(properties)
        shape = f"It is a JSON object with the keys {_listed(keys, quote=True)}"
        if schema.get("additionalProperties") is False:
            shape += " and no other keys"
        sentences.append(shape + ".")
    for key, spec in properties.items():
        if not isinstance(spec, Mapping):
            continue
        values = spec.get("enum")
        if values is None and isinstance(spec.get("const"), (str, int, float)):
            values = [spec["const"]]
        if isinstance(values, list) and values:
            sentences.append(f'"{key}" is one of {_listed([str(v) for v in values], "or")}.')
        elif spec.get("type") == "string" and spec.get("minLength"):
            sentences.append(f'"{key}" is a non-empty string.')
        elif isinstance(spec.get("type"), str) and spec["type"] != "string":
            sentences.append(f'"{key}" is a JSON {spec["type"]}.')
    return sentences


def _options(
    params: Any, compiled: CompiledCheck | None, base: Path, files: ProjectFiles
) -> list[str]:
    labels = list(params.labels)
    return [
        f"The answer gives exactly {len(labels)} options labeled {_listed(labels)}, each on its "
        f"own line starting with its label (for example {labels[0]}) ...), and no other option."
    ]


def _regex(
    params: Any, compiled: CompiledCheck | None, base: Path, files: ProjectFiles
) -> list[str]:
    where = {
        "fullmatch": "The whole answer matches",
        "match": "The answer starts with a match for",
        "search": "The answer contains a match for",
    }[params.mode]
    return [f"{where} the regular expression {params.pattern}."]


def _text(verb: str) -> Callable[[Any, CompiledCheck | None, Path, ProjectFiles], list[str]]:
    def wording(
        params: Any, compiled: CompiledCheck | None, base: Path, files: ProjectFiles
    ) -> list[str]:
        case = "" if params.case_sensitive else " (in any case)"
        return [f"The answer {verb} {json.dumps(params.value)}{case}."]

    return wording


def _contains(wanted: bool) -> Callable[[Any, CompiledCheck | None, Path, ProjectFiles], list[str]]:
    def wording(
        params: Any, compiled: CompiledCheck | None, base: Path, files: ProjectFiles
    ) -> list[str]:
        values = [json.dumps(value) for value in params.values()]
        if wanted:
            return [f"The answer contains {_listed(values)}."]
        return [f"The answer never contains {_listed(values, 'or')}."]

    return wording


def _python(
    params: Any, compiled: CompiledCheck | None, base: Path, files: ProjectFiles
) -> list[str]:
    """The function's own docstring says what it wants (``email_is_normalized``: "The CRM
    deduplicates contacts on the email, so it must arrive lowercase and trimmed.")."""
    function = getattr(compiled.check, "function", None) if compiled is not None else None
    doc = (getattr(function, "__doc__", None) or "").strip().split("\n\n")[0]
    if doc:
        return [" ".join(doc.split())]
    return [f"The project's check {params.function} accepts the answer."]


def _judge(
    params: Any, compiled: CompiledCheck | None, base: Path, files: ProjectFiles
) -> list[str]:
    rubric = str(params.rubric).strip().rstrip(".")
    return [f"A reviewer checks that {rubric[:1].lower()}{rubric[1:]}."]


def _self_critique(
    params: Any, compiled: CompiledCheck | None, base: Path, files: ProjectFiles
) -> list[str]:
    question = str(params.question).strip()
    answer = "yes" if params.pass_on == "YES" else "no"
    return [f'The answer to "{question}" is {answer}.']


_WORDINGS: dict[str, Callable[[Any, CompiledCheck | None, Path, ProjectFiles], list[str]]] = {
    "json": _json,
    "json_schema": _json_schema,
    "pydantic": _pydantic,
    "options": _options,
    "regex": _regex,
    "equals": _text("is exactly"),
    "starts_with": _text("starts with"),
    "ends_with": _text("ends with"),
    "contains": _contains(wanted=True),
    "not_contains": _contains(wanted=False),
    "python": _python,
    "judge": _judge,
    "self_critique": _self_critique,
}


def _listed(items: Iterable[str], conjunction: str = "and", *, quote: bool = False) -> str:
    shown = [f'"{item}"' if quote else item for item in items]
    if len(shown) <= 1:
        return "".join(shown)
    return f"{', '.join(shown[:-1])} {conjunction} {shown[-1]}"
