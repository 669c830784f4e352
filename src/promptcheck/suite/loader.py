"""Compile a validated suite into ready-to-run cases: checks built, prompts rendered, models found.

Everything that can be wrong with a suite is found here, at collection time, and reported as a
SuiteError with the file and line; nothing the suite says can fail later inside a test run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from promptcheck.backends.base import BACKENDS, Message, SamplingParams, Tool
from promptcheck.checks.base import CHECKS, BuildContext, Check, NotImportedCheck
from promptcheck.config import MAX_FILE_BYTES, MAX_SUITE_RENDER_SECONDS
from promptcheck.errors import ConfigError, PluginImportError, SuiteError
from promptcheck.files import (
    ProjectFiles,
    ReadLog,
    find_invalid_text,
    invalid_text,
    is_link_loop,
    read_regular,
)
from promptcheck.importing import CodePolicy
from promptcheck.project import ModelEntry, ProjectConfig
from promptcheck.registry import did_you_mean
from promptcheck.suite.endpoints import check_suite_model
from promptcheck.suite.format import (
    CaseModel,
    ChatMessage,
    MessagesFile,
    SuiteModel,
    TextFile,
    validate_suite,
    validation_error,
)
from promptcheck.suite.judges import check_variables, judge_models, pair_judges, render_criteria
from promptcheck.suite.records import CaseSpec, Combination, CompiledCheck, ModelConfig, SuiteSpec
from promptcheck.suite.tools import compile_answer_shape
from promptcheck.suite.variables import expand
from promptcheck.templating import RenderBudget, Template
from promptcheck.yamlsource import PathKey, SourceMap, dotted, key_near, load_yaml

SUITE_MARKER = re.compile(rb"^(suite|cases)\s*:", re.MULTILINE)


def is_suite_file(path: Path) -> bool:
    """A YAML file is a suite when it has a top-level ``suite:`` or ``cases:`` key.

    Data files (``vars: {file: ...}``) and other YAML next to suites are left alone.
    """
    if path.suffix not in (".yaml", ".yml"):
        return False
    try:  # a FIFO or a device named *.yaml is not read (it could block forever)
        return SUITE_MARKER.search(read_regular(path, MAX_FILE_BYTES, "suite")) is not None
    except ConfigError:
        return False


def suites_under(folder: Path) -> list[Path]:
    """The suites among the YAML files under ``folder``, sorted.

    A YAML name there that is a symbolic link loop is listed too: it cannot be read to tell
    whether it is a suite, so loading it reports the loop rather than leaving a suite out in
    silence. Linked folders are not entered, so a link to a folder above cannot loop the walk.
    """
    return sorted(p for p in folder.rglob("*.y*ml") if is_suite_file(p) or is_link_loop(p))


def load_suite(path: Path, project: ProjectConfig, *, execute: bool = True) -> SuiteSpec:
    """Read, validate and compile one suite file. Raises SuiteError naming file and line.

    The code a suite names is imported only when the project's policy allows it
    (:meth:`ProjectConfig.code_policy`); with ``execute`` False (``promptcheck validate``)
    nothing it names is imported at all.
    """
    code = project.code_policy(execute=execute)
    try:
        raw = read_regular(path, MAX_FILE_BYTES, "the file")
    except ConfigError as exc:
        raise SuiteError(f"cannot read suite: {exc.message}", path=path, hint=exc.hint) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        start = raw.rfind(b"\n", 0, exc.start) + 1
        column = len(raw[start : exc.start].decode("utf-8", "replace"))
        key = key_near(raw.decode("utf-8", "replace"), path, line, column)
        raise SuiteError(
            "the file is not valid UTF-8",
            path=path,
            line=line,
            key=dotted(key or ()) or None,
            hint="save it as UTF-8",
        ) from None
    data, source = load_yaml(text, path)
    _refuse_invalid_text(data, source)
    if isinstance(data, dict):
        _import_plugins(data.get("plugins"), source, code)
    model = validate_suite(data, source)
    base_dir = path.parent
    models = {
        name: resolve_model(name, entry, base_dir, source, ("models", name))
        for name, entry in model.models.items()
    }
    for name, entry in model.models.items():
        refused = check_suite_model(
            entry.backend, entry.model_extra or {}, project.trusted_endpoints
        )
        if refused is not None:
            raise _located(refused[1], source, ("models", name, refused[0]))
    seen: dict[str, int] = {}
    cases = []
    files = dataclasses.replace(project.project_files(), log=ReadLog())
    budget = RenderBudget(MAX_SUITE_RENDER_SECONDS)  # this suite's renders, all together
    for index, case in enumerate(model.cases):
        line = source.line_of(("cases", index)) or 1
        if case.id in seen:
            raise SuiteError(
                f"duplicate case id {case.id!r} (first used on line {seen[case.id]})",
                path=path,
                line=source.line_of(("cases", index, "id")),
                key=f"cases[{index}].id",
                hint="case ids must be unique within a suite",
            )
        seen[case.id] = line
        context = BuildContext(base_dir, code, files)
        building = (context, not execute and bool(model.plugins))
        defined = (models, project)
        cases.append(_compile_case(model, case, index, (line, source), building, defined, budget))
    return SuiteSpec(
        id=model.suite,
        path=path,
        sha256=suite_digest(raw, files.log, base_dir),
        description=model.description,
        cases=tuple(cases),
        models=models,
        default_model=model.defaults.model,
    )


def suite_digest(raw: bytes, read: ReadLog | None, base_dir: Path) -> str:
    """The SHA-256 of a suite's text and of every file it made promptcheck read (by its path
    relative to the suite, so that checkouts in other places agree); a suite that reads no
    file keeps the digest of its text alone."""
    digest = hashlib.sha256(raw)
    if read is None or not read.digests:
        return digest.hexdigest()
    folder = base_dir.resolve()
    for path, file_digest in sorted(
        (Path(os.path.relpath(path, folder)).as_posix(), file_digest)
        for path, file_digest in read.digests.items()
    ):
        digest.update(f"\0{path}\0{file_digest}".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def find_model(
    name: str, suite_models: Mapping[str, ModelConfig], project: ProjectConfig
) -> ModelConfig | None:
    """A model by name: the suite's own definition first, then ``[tool.promptcheck]``'s, then
    the built-in models (the shipped tiny Dollies, ``demo``)."""
    if name in suite_models:
        return suite_models[name]
    entry = project.entry(name)
    return None if entry is None else resolve_model(name, entry, project.base_dir)


def model_named(name: str, suite: SuiteSpec, project: ProjectConfig) -> ModelConfig:
    """A model by name as ``suite`` sees it (its own definitions shadow the project's); an
    unknown name is a ConfigError that says what is defined."""
    found = find_model(name, suite.models, project)
    if found is None:
        known = sorted({*project.known_models, *suite.models})
        raise ConfigError(
            f"unknown model {name!r}",
            hint=did_you_mean(name, known) or f"defined models: {', '.join(known) or 'none'}",
        )
    return found


def stored_suite_path(path: Path, root: Path) -> str:
    """A suite's path as stored: relative to the project root, so that runs made in other
    checkouts (a CI runner, a colleague's clone) name the same suite the same way."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def resolve_model(
    name: str,
    entry: ModelEntry,
    base_dir: Path,
    source: SourceMap | None = None,
    key: PathKey = (),
) -> ModelConfig:
    """Validate a model entry against its backend's parameters (without building the backend)."""
    params = dict(entry.model_extra or {})
    try:
        backend_type = BACKENDS.get(entry.backend)
    except ConfigError as exc:
        raise _located(exc, source, (*key, "backend")) from None
    try:
        validated = backend_type.params.model_validate(params)
    except ConfigError as exc:
        raise _located(exc, source, (*key, *exc.key)) from None
    except ValidationError as exc:
        if source is None:
            first = exc.errors(include_url=False)[0]
            raise ConfigError(
                f"model {name!r}: {'.'.join(map(str, first['loc']))}: {first['msg']}"
            ) from None
        raise validation_error(exc, source, backend_type.params, key) from None
    except Exception as exc:  # a plugin backend's validator with a bug
        raise _located(_crashed(exc, f"backend {entry.backend!r}"), source, key) from None
    return ModelConfig(name, entry.backend, validated, params, base_dir)


def _compile_case(
    suite: SuiteModel,
    case: CaseModel,
    index: int,
    where: tuple[int, SourceMap],
    building: tuple[BuildContext, bool],
    defined: tuple[Mapping[str, ModelConfig], ProjectConfig],
    budget: RenderBudget,
) -> CaseSpec:
    """``building`` is the checks' build context and whether checks unknown here may come from
    the suite's plugins, which were not imported (validate); ``budget`` is the time the suite's
    renders have left."""
    line, source = where
    base_dir = building[0].base_dir
    key: PathKey = ("cases", index)
    defaults = suite.defaults
    compiled = _templates(case, source, key, building[0].files)
    templates = compiled[0]
    declared = set(case.vars) | {name for row in case.rows or () for name in row}
    for template_key, template in templates.items():
        missing = sorted(template.variables - declared)
        if missing:
            raise SuiteError(
                f"undefined template variable {missing[0]!r}",
                path=source.path,
                line=source.line_of(template_key),
                key=dotted(template_key),
                hint="declare it under 'vars:' "
                f"(declared: {', '.join(sorted(declared)) or 'none'})",
            )
    try:
        combinations = expand(
            case.vars,
            case.rows,
            base_dir=base_dir,
            seed_text=f"{defaults.seed}:{suite.suite}:{case.id}",
            files=building[0].files,
        )
    except ConfigError as exc:
        raise _located(exc, source, (*key, "vars", *exc.key)) from None
    rendered = tuple(
        _render(index, variables, case, compiled, (source, key), budget)
        for index, variables in enumerate(combinations)
    )
    answer = compile_answer_shape(case, building[0], source, key)
    built = tuple(
        _build_check(position, item, building, source, (*key, "expect", position), answer.tools)
        for position, item in enumerate(case.expect)
    )
    suite_models, project = defined
    try:
        checks = pair_judges(built)
        judges = judge_models(
            checks,
            lambda name: find_model(name, suite_models, project),
            sorted({*suite_models, *project.known_models}),
        )
        check_variables(checks, declared)
        render_criteria(checks, combinations, budget)
    except ConfigError as exc:
        raise _located(exc, source, (*key, "expect", *exc.key)) from None
    _check_bar(case, defaults, source, key)
    stop = case.stop if case.stop is not None else defaults.stop
    sampling = SamplingParams(
        temperature=_pick(case.temperature, defaults.temperature),
        top_p=_pick(case.top_p, defaults.top_p),
        max_tokens=_pick(case.max_tokens, defaults.max_tokens),
        stop=tuple(stop),
        tools=answer.tools,
        tool_choice=answer.tool_choice,
        response_format=answer.response_format,
    )
    return CaseSpec(
        id=case.id,
        suite=suite.suite,
        path=source.path,
        line=line,
        description=case.description,
        combinations=rendered,
        checks=checks,
        sampling=sampling,
        samples=_pick(case.samples, defaults.samples),
        seed=defaults.seed,
        threshold=_pick(case.threshold, defaults.threshold),
        tolerance=_pick(case.tolerance, defaults.tolerance),
        tags=tuple(case.tags),
        models=tuple(case.models) if case.models is not None else None,
        judges=judges,
    )


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


def _check_bar(case: CaseModel, defaults: Any, source: SourceMap, key: PathKey) -> None:
    """A threshold within its tolerance of 0 makes every rate pass: refused, naming the key."""
    threshold = _pick(case.threshold, defaults.threshold)
    tolerance = _pick(case.tolerance, defaults.tolerance)
    if threshold - tolerance > 0.0:
        return
    # a key written in the file that set one of the two: the case's own, else the defaults'
    places: list[PathKey] = [
        (*key, "threshold"),
        (*key, "tolerance"),
        ("defaults", "threshold"),
        ("defaults", "tolerance"),
    ]
    written = [place for place in places if source.present(place) == place]
    where: PathKey = written[0] if written else key
    raise SuiteError(
        f"threshold {threshold:g} minus tolerance {tolerance:g} is {threshold - tolerance:g}: "
        "no rate would be clearly below the bar, so every model would pass, even one that "
        "never conforms",
        path=source.path,
        line=source.line_of(where),
        key=dotted(where),
        hint="raise the threshold or lower the tolerance so that threshold - tolerance > 0",
    )


def _templates(
    case: CaseModel, source: SourceMap, key: PathKey, files: ProjectFiles | None
) -> tuple[dict[PathKey, Template], tuple[str, ...] | None]:
    """The case's templates by the key they are reported at, and the roles of its chat messages
    (None without messages); templates kept in files are read as the project allows."""
    base_dir = source.path.parent
    files = files if files is not None else ProjectFiles(root=base_dir)
    sources: dict[PathKey, tuple[str, str]] = {}
    roles: tuple[str, ...] | None = None
    for name in ("prompt", "system"):
        value = getattr(case, name)
        if isinstance(value, TextFile):
            text = _read_template(files, base_dir, value.file, source, (*key, name, "file"))
            sources[(*key, name)] = (text, f"{value.file}: ")
        elif value is not None:
            sources[(*key, name)] = (value, "")
    messages = case.messages
    if isinstance(messages, MessagesFile):
        where = (*key, "messages", "file")
        loaded = _read_messages(files, base_dir, messages.file, source, where)
        roles = tuple(message.role for message in loaded)
        for position, message in enumerate(loaded):
            sources[(*key, "messages", position)] = (message.content, f"{messages.file}: ")
    elif messages is not None:
        roles = tuple(message.role for message in messages)
        for position, message in enumerate(messages):
            sources[(*key, "messages", position, "content")] = (message.content, "")
    templates = {}
    for template_key, (text, origin) in sources.items():
        try:
            templates[template_key] = Template(text)
        except ConfigError as exc:
            located = ConfigError(origin + exc.message, hint=exc.hint)
            raise _located(located, source, template_key) from None
    return templates, roles


def _read_template(
    files: ProjectFiles, base_dir: Path, name: str, source: SourceMap, key: PathKey
) -> str:
    try:
        text = files.read_text(base_dir / name, "template file")
    except ConfigError as exc:
        raise _located(exc, source, key) from None
    bad = invalid_text(text)
    if bad is not None:  # pragma: no cover - strict UTF-8 decoding cannot produce one
        raise _located(ConfigError(f"{name} holds {bad}"), source, key)
    return text


def _read_messages(
    files: ProjectFiles, base_dir: Path, name: str, source: SourceMap, key: PathKey
) -> list[ChatMessage]:
    try:
        data = files.load_document(base_dir / name, "messages file")
    except ConfigError as exc:
        raise _located(exc, source, key) from None
    if not isinstance(data, list) or not data:
        raise _located(
            ConfigError(f"{name} must hold a non-empty list of {{role, content}} messages"),
            source,
            key,
        )
    try:
        return [ChatMessage.model_validate(item) for item in data]
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise _located(
            ConfigError(f"{name}: a message's {where}: {first['msg']}"), source, key
        ) from None


def _render(
    index: int,
    variables: Mapping[str, Any],
    case: CaseModel,
    compiled: tuple[Mapping[PathKey, Template], tuple[str, ...] | None],
    where: tuple[SourceMap, PathKey],
    budget: RenderBudget,
) -> Combination:
    templates, roles = compiled
    source, key = where

    def render(template_key: PathKey) -> str:
        try:
            return templates[template_key].render(variables, budget)
        except ConfigError as exc:
            raise _located(exc, source, template_key) from None

    if roles is not None:
        message_keys = sorted(k for k in templates if k[len(key) : len(key) + 1] == ("messages",))
        messages = tuple(
            Message(role, render(message_key))
            for role, message_key in zip(roles, message_keys, strict=True)
        )
        return Combination(index, variables, None, messages)
    prompt = render((*key, "prompt"))
    if case.system is not None:
        system = Message("system", render((*key, "system")))
        return Combination(index, variables, None, (system, Message("user", prompt)))
    return Combination(index, variables, prompt, None)


def _build_check(
    position: int,
    item: str | dict[str, Any],
    building: tuple[BuildContext, bool],
    source: SourceMap,
    key: PathKey,
    tools: tuple[Tool, ...] = (),
) -> CompiledCheck:
    context, deferred = building
    if isinstance(item, str):
        name, raw = item, None
    elif len(item) == 1:
        name, raw = next(iter(item.items()))
    else:
        got = f"{len(item)} keys: {', '.join(map(str, item))}" if item else "an empty mapping"
        raise SuiteError(
            f"a check is a mapping with one key (the check's name); got {got}",
            path=source.path,
            line=source.line_of(key),
            key=dotted(key),
            hint="write each check as its own list item: '- regex: ...'",
        )
    try:
        check_type = CHECKS.get(name)
    except ConfigError as exc:
        if deferred:  # may be registered by the suite's plugins, which validate does not import
            unknown: Check = NotImportedCheck(name, f"check {name!r}")
            return CompiledCheck(position, name, unknown)
        raise _located(exc, source, key) from None
    params = {} if raw is None else raw
    try:
        validated = check_type.params.model_validate(params)
    except ValidationError as exc:
        raise validation_error(exc, source, check_type.params, (*key, name)) from None
    except ConfigError as exc:
        raise _located(exc, source, (*key, name, *exc.key)) from None
    except Exception as exc:  # a plugin check's validator with a bug
        raise _located(_crashed(exc, f"check {name!r}"), source, (*key, name)) from None
    try:
        check = check_type.build(validated, dataclasses.replace(context, tools=tools))
    except ConfigError as exc:
        raise _located(exc, source, (*key, name, *exc.key)) from None
    except Exception as exc:  # a plugin check's build with a bug
        raise _located(_crashed(exc, f"check {name!r}"), source, (*key, name)) from None
    return CompiledCheck(position, name, check)


def _crashed(exc: Exception, what: str) -> ConfigError:
    return ConfigError(
        f"{what} raised {type(exc).__name__} on these parameters: {exc}",
        hint="this is a bug in the plugin that defines it; the parameters may still be wrong",
    )


def _located(exc: ConfigError, source: SourceMap | None, key: PathKey) -> SuiteError:
    if source is None:
        return SuiteError(exc.message, key=dotted(key) or None, hint=exc.hint)
    key = source.present(key)
    return SuiteError(
        exc.message,
        path=source.path,
        line=source.line_of(key),
        key=dotted(key) or None,
        hint=exc.hint,
    )


def _refuse_invalid_text(data: Any, source: SourceMap) -> None:
    """A YAML escape such as ``"\\ud800"`` makes a string Python cannot encode: refused at its
    line, before it reaches a prompt, a model or the store."""
    found = find_invalid_text(data)
    if found is None:
        return
    key: PathKey = found.location[:-1] if found.in_name else found.location
    raise SuiteError(
        f"the text holds {found.escaped}, a lone surrogate, which is not valid Unicode",
        path=source.path,
        line=source.line_of(key),
        key=dotted(source.present(key)) or None,
        hint="\\u escapes must pair a high and a low surrogate; use the character",
    )


def _import_plugins(plugins: Any, source: SourceMap, code: CodePolicy) -> None:
    if not isinstance(plugins, list):
        return
    for position, module in enumerate(plugins):
        if not isinstance(module, str):
            continue
        try:
            code.import_module(module)
        except PluginImportError as exc:
            raise SuiteError(
                exc.args[0],
                path=source.path,
                line=source.line_of(("plugins", position)),
                key=f"plugins[{position}]",
                hint=exc.hint or "plugins are imported from the project root",
            ) from None
