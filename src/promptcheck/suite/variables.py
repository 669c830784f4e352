"""Expand a case's variables into the combinations its prompt is rendered with.

A variable is a list of values, one value, the rows of a data file, or values drawn by a
hypothesis strategy. Lists combine as a cartesian product; ``rows`` give explicit combinations.
Strategy draws are seeded from the suite seed, the case and the variable name, so the same suite
always produces the same prompts (for a given hypothesis version). Strategies draw only text that
UTF-8 can encode, and every value, whatever its source, is refused when it holds a lone surrogate:
such text would reach a prompt, a model and the store, and fail in each.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from promptcheck.errors import ConfigError
from promptcheck.files import ProjectFiles, invalid_text, refuse_invalid_text
from promptcheck.suite.tables import dataset_records, parquet_records

#: Strategies a suite may name; their keyword arguments are passed through.
STRATEGY_NAMES = (
    "text",
    "integers",
    "floats",
    "booleans",
    "sampled_from",
    "from_regex",
    "emails",
    "characters",
    "dates",
    "lists",
)
_STRATEGY_KEYS = {"strategy", "count"}
_MAX_DRAW_ATTEMPTS = 20
#: Most combinations one case may expand to: a product of lists grows fast, and each one is a
#: rendered prompt held in memory.
MAX_COMBINATIONS = 100_000


def expand(
    variables: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]] | None,
    *,
    base_dir: Path,
    seed_text: str,
    files: ProjectFiles | None = None,
) -> list[dict[str, Any]]:
    """All combinations, in a stable order: rows (or one empty row) x product of variables.

    Data files are read as ``files`` allows (by default: under ``base_dir``)."""
    files = files if files is not None else ProjectFiles(root=base_dir)
    names = list(variables)
    value_lists: list[list[Any]] = []
    for name in names:
        try:
            values = values_of(
                name, variables[name], base_dir=base_dir, seed_text=seed_text, files=files
            )
        except ConfigError as exc:
            raise ConfigError(exc.message, key=(name, *exc.key), hint=exc.hint) from None
        bad = invalid_text(values)
        if bad is not None:
            raise ConfigError(
                f"variable {name!r} has a value with text that is not valid Unicode "
                f"({bad}, a lone surrogate)",
                key=(name,),
                hint="surrogates pair with nothing in UTF-8; give the variable other values",
            )
        value_lists.append(values)
    base_rows: list[dict[str, Any]] = [dict(row) for row in rows] if rows else [{}]
    total = len(base_rows)
    for value_list in value_lists:
        total *= len(value_list)
    if total > MAX_COMBINATIONS:
        raise ConfigError(
            f"the variables give {total} combinations, more than {MAX_COMBINATIONS}",
            hint="lists are combined as a product; use 'rows' for explicit combinations",
        )
    combinations = []
    for row in base_rows:
        for chosen in itertools.product(*value_lists):
            combination = dict(row)
            combination.update(zip(names, chosen, strict=True))
            combinations.append(combination)
    return combinations


def values_of(
    name: str, spec: Any, *, base_dir: Path, seed_text: str, files: ProjectFiles | None = None
) -> list[Any]:
    """The values of one variable; ConfigError keys are relative to the variable's entry."""
    if isinstance(spec, list):
        if not spec:
            raise ConfigError("an empty list of values gives no combinations", key=())
        return spec
    if isinstance(spec, dict):
        sources = [key for key in ("file", "dataset", "strategy") if key in spec]
        if len(sources) > 1:
            raise ConfigError(
                "a variable takes its values from one of 'file', 'dataset' or 'strategy', "
                f"not both {' and '.join(repr(key) for key in sources[:2])}"
            )
        if "file" in spec or "dataset" in spec:
            files = files or ProjectFiles(root=base_dir)
            return _file_values(spec, base_dir, files, f"{seed_text}:{name}")
        if "strategy" in spec:
            return _strategy_values(spec, f"{seed_text}:{name}")
        raise ConfigError(
            "a variable given as a mapping needs 'file' (values from a data file), 'dataset' "
            "(a saved Hugging Face dataset) or 'strategy' (values drawn by hypothesis)",
            hint="for a literal mapping value, put it in a list: [ {...} ]",
        )
    return [spec]


def _file_values(
    spec: Mapping[str, Any], base_dir: Path, files: ProjectFiles, seed_text: str
) -> list[Any]:
    """Values from a data file (``file``) or a saved dataset (``dataset``, with ``split``):
    every record, or its ``field``; the first ``limit``, or ``sample`` of them drawn (seeded)."""
    source = "dataset" if "dataset" in spec else "file"
    allowed = {source, "field", "limit", "sample"} | ({"split"} if source == "dataset" else set())
    unknown = set(spec) - allowed
    if unknown:
        raise ConfigError(f"unknown key {sorted(unknown)[0]!r}", key=(sorted(unknown)[0],))
    if not isinstance(spec[source], str):
        raise ConfigError(f"'{source}' must be a path", key=(source,))
    path = base_dir / spec[source]
    field = spec.get("field")
    if field is not None and not isinstance(field, str):
        raise ConfigError("'field' must be the name of a field", key=("field",))
    for count in ("limit", "sample"):
        value = spec.get(count)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ConfigError(f"'{count}' must be a positive integer", key=(count,))
    if "limit" in spec and "sample" in spec:
        raise ConfigError("'limit' takes the first records, 'sample' draws some: not both")
    split = spec.get("split")
    if split is not None and not isinstance(split, str):
        raise ConfigError("'split' must be the name of a split", key=("split",))
    if source == "dataset":
        records = dataset_records(path, split, files)
    elif path.suffix.lower() == ".parquet":
        # only `limit` may stop the read early: `sample` draws from every row
        first = None if spec.get("sample") else spec.get("limit")
        records = parquet_records(path, files, field=field, first=first)
    else:
        records = read_records(path, files)
    values = []
    for number, record in enumerate(records, start=1):
        if field is None:
            values.append(record)
            continue
        if not isinstance(record, dict) or field not in record:
            raise ConfigError(
                f"record {number} of {path} has no field {field!r}",
                key=("field",),
                hint="every record must have the field named by 'field'",
            )
        values.append(record[field])
    if not values:
        raise ConfigError(f"{path} holds no records", key=(source,))
    if spec.get("sample"):
        return _sampled(values, int(spec["sample"]), seed_text)
    limit = spec.get("limit")
    return values[:limit] if limit else values


def _sampled(values: list[Any], count: int, seed_text: str) -> list[Any]:
    """``count`` of the values drawn without replacement, in their order in the file: the same
    draw on every run (seeded by the suite seed, suite, case and variable), another per seed."""
    if count >= len(values):
        return values
    seed = int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:8], "big")
    chosen = sorted(random.Random(seed).sample(range(len(values)), count))
    return [values[index] for index in chosen]


def read_records(path: Path, files: ProjectFiles | None = None) -> list[Any]:
    """Records of a .jsonl, .json, .csv, .yaml or .yml file, with errors naming the line; the
    file is read as ``files`` allows (inside the project, a regular file, bounded)."""
    files = files if files is not None else ProjectFiles(root=path.parent)
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".json", ".csv", ".yaml", ".yml"):
        raise ConfigError(
            f"unsupported data file type {suffix!r}",
            key=("file",),
            hint="use .jsonl, .json, .csv, .yaml or .yml",
        )
    try:
        if suffix in (".json", ".yaml", ".yml"):
            data = files.load_document(path, "data file")
        else:
            text = files.read_text(path, "data file")
    except ConfigError as exc:
        missing = "does not exist" in exc.message
        hint = "paths are relative to the suite file" if missing else exc.hint
        raise ConfigError(exc.message, key=("file",), hint=hint) from None
    if suffix == ".jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, RecursionError) as exc:
                raise ConfigError(f"{path}:{number}: invalid JSON: {exc}", key=("file",)) from None
            try:
                refuse_invalid_text(record, f"{path}:{number}")
            except ConfigError as exc:
                raise ConfigError(exc.message, key=("file",), hint=exc.hint) from None
            records.append(record)
        return records
    if suffix == ".csv":
        try:
            return list(csv.DictReader(text.splitlines()))
        except csv.Error as exc:
            raise ConfigError(f"{path}: cannot parse CSV: {exc}", key=("file",)) from None
    if not isinstance(data, list):
        raise ConfigError(f"{path} must hold a list of records", key=("file",))
    return data


def _strategy_values(spec: Mapping[str, Any], seed_text: str) -> list[Any]:
    name = spec["strategy"]
    if not isinstance(name, str) or name not in STRATEGY_NAMES:
        from promptcheck.registry import did_you_mean

        raise ConfigError(
            f"unknown strategy {name!r}",
            key=("strategy",),
            hint=did_you_mean(str(name), STRATEGY_NAMES) or f"known: {', '.join(STRATEGY_NAMES)}",
        )
    count = spec.get("count", 5)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10_000:
        raise ConfigError("'count' must be an integer from 1 to 10000", key=("count",))
    kwargs = {key: value for key, value in spec.items() if key not in _STRATEGY_KEYS}
    strategy = _build_strategy(name, kwargs)
    return draw(strategy, count, seed_text)


def _build_strategy(name: str, kwargs: dict[str, Any]) -> Any:
    try:
        from hypothesis import strategies
    except ImportError:
        # An extra: hypothesis's pytest plugin imports all of it at the end of every pytest run
        # (0.1-0.4 s), a cost a run without strategy variables should not pay.
        raise ConfigError(
            f"strategy {name!r} needs the hypothesis package",
            hint="pip install 'promptcheck[strategies]', or list the values instead",
        ) from None

    factory: Callable[..., Any] = getattr(strategies, name)
    if name == "characters":  # text every prompt, model and store can take: no lone surrogates
        kwargs.setdefault("codec", "utf-8")
    if name in ("text", "from_regex"):
        kwargs.setdefault("alphabet", strategies.characters(codec="utf-8"))
    if name == "sampled_from":
        elements = kwargs.pop("elements", None)
        if not isinstance(elements, list) or not elements:
            raise ConfigError("sampled_from needs 'elements': a non-empty list", key=("elements",))
        kwargs = {"elements": elements, **kwargs}
    if name == "lists":
        raise ConfigError("'lists' needs an element strategy; use a file or rows instead")
    try:
        strategy = factory(**kwargs)
        strategy.validate()
    except Exception as exc:  # hypothesis raises InvalidArgument, TypeError, re.error ...
        raise ConfigError(f"invalid arguments for strategy {name!r}: {exc}") from None
    return strategy


def draw(strategy: Any, count: int, seed_text: str) -> list[Any]:
    """Draw ``count`` distinct values deterministically (fewer if the strategy has fewer)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    values: list[Any] = []
    seen: set[str] = set()
    seed = int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:8], "big")

    @hypothesis_seed(seed)
    @settings(
        database=None,
        max_examples=count * _MAX_DRAW_ATTEMPTS,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(strategy)
    def collect(value: Any) -> None:
        key = json.dumps(value, sort_keys=True, default=str)
        if key not in seen and len(values) < count:
            seen.add(key)
            values.append(value)

    try:
        collect()
    except Exception as exc:
        raise ConfigError(f"could not draw values: {type(exc).__name__}: {exc}") from None
    return values
