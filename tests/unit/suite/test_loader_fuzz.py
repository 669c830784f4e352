"""Fuzzing the suite loader: whatever a file holds, only promptcheck's own errors come out.

Three generators: YAML-ish text (tokens of YAML syntax mixed with arbitrary text), arbitrary
JSON-like data dumped as YAML, and mutations of a valid suite (keys dropped, values of the wrong
type, random strings as check parameters). Imports that a fuzzed suite asks for (``plugins``,
``python`` and ``pydantic`` checks) are refused, so no random module is ever imported.
"""

from __future__ import annotations

import copy
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import promptcheck.importing
import promptcheck.suite.loader
from promptcheck.backends.base import BACKENDS
from promptcheck.errors import PluginImportError, PromptcheckError, SuiteError
from promptcheck.project import ProjectConfig
from promptcheck.suite.loader import load_suite

#: Examples per test; raise it for a longer campaign: PROMPTCHECK_FUZZ_EXAMPLES=5000 pytest ...
FUZZ = settings(
    max_examples=int(os.environ.get("PROMPTCHECK_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.nested_given],
    database=None,
)


def _refuse_import(name: str) -> Any:
    raise PluginImportError(f"cannot import module {name!r}: imports are off while fuzzing")


@pytest.fixture(scope="module", autouse=True)
def _sandboxed_loader() -> Iterator[None]:
    """No imports from fuzzed suites; the scripted backend alone while local.py is missing."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(promptcheck.importing, "import_module", _refuse_import)
        if importlib.util.find_spec("promptcheck.backends.local") is None:
            patch.setattr(BACKENDS, "_builtin_modules", ("promptcheck.backends.scripted",))
        yield


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("fuzz")
    (directory / "data").mkdir()
    (directory / "data" / "t.jsonl").write_text('{"text": "a"}\n{"text": "b"}\n', encoding="utf-8")
    (directory / "schema.json").write_text('{"type": "object"}', encoding="utf-8")
    return directory / "suite.yaml"


def load_bytes(path: Path, raw: bytes) -> None:
    """Load ``raw`` as a suite: it loads, or a PromptcheckError with a file comes out."""
    path.write_bytes(raw)
    try:
        load_suite(path, ProjectConfig(base_dir=path.parent))
    except SuiteError as exc:
        assert exc.path == path
        exc.render()
    except PromptcheckError:
        pass


def load_text(path: Path, text: str) -> None:
    load_bytes(path, text.encode("utf-8", "surrogatepass"))


YAML_TOKENS = [
    "suite: s\n",
    "cases:\n",
    "  - id: a\n",
    "    prompt: p {{ x }}\n",
    "    expect: [json]\n",
    "    vars: {x: [1, 2]}\n",
    "defaults:\n  samples: 3\n",
    "- ",
    ": ",
    "? ",
    "---\n",
    "...\n",
    "&a ",
    "*a ",
    "<<: *a\n",
    "!!str ",
    "!!python/name:os.system ",
    "!custom ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "'",
    '"',
    "|\n",
    ">-\n",
    "#",
    "\t",
    "\n",
    "  ",
    "%YAML 1.2\n",
    "\x00",
    "\ufeff",
    "2024-02-30",
    "0x_",
    "yes",
    "~",
    "{{",
    "}}",
    "{%",
]

#: Mostly printable text: control characters are refused before anything else is looked at.
printable = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=8)
yaml_ish = st.lists(st.sampled_from(YAML_TOKENS) | printable, max_size=40).map("".join)

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=25,
)


@FUZZ
@given(text=yaml_ish)
def test_yaml_ish_text(suite_file: Path, text: str) -> None:
    load_text(suite_file, text)


@FUZZ
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes(suite_file: Path, raw: bytes) -> None:
    load_bytes(suite_file, raw)


@FUZZ
@given(data=json_like)
def test_json_like_data(suite_file: Path, data: Any) -> None:
    load_text(suite_file, yaml.safe_dump(data, allow_unicode=True))


@FUZZ
@given(cases=json_like, defaults=json_like)
def test_json_like_data_in_a_suite(suite_file: Path, cases: Any, defaults: Any) -> None:
    data = {"suite": "s", "defaults": defaults, "cases": cases}
    load_text(suite_file, yaml.safe_dump(data, allow_unicode=True))


VALID: dict[str, Any] = {
    "suite": "fuzz",
    "defaults": {"samples": 5, "temperature": 0.5, "seed": 3, "threshold": 0.9},
    "models": {"fake": {"backend": "scripted", "rules": [{"match": "^p", "outputs": ["{}"]}]}},
    "cases": [
        {
            "id": "one",
            "prompt": "Say {{ x }} and {{ t }}.",
            "vars": {"x": [1, 2], "t": {"file": "data/t.jsonl", "field": "text"}},
            "expect": [
                "json",
                {"regex": {"pattern": "^a", "mode": "match"}},
                {"json_schema": {"type": "object", "required": ["a"]}},
                {"options": ["A", "B"]},
                {"max_words": 10},
                {"contains": ["a", "b"]},
            ],
        },
        {
            "id": "two",
            "system": "Be brief about {{ n }}.",
            "prompt": "Go.",
            "vars": {"n": {"strategy": "integers", "min_value": 0, "max_value": 9, "count": 2}},
            "rows": [{"k": 1}],
            "tags": ["critical"],
            "expect": [{"equals": "x"}, {"json_schema": "schema.json"}],
        },
        {
            "id": "three",
            "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
            "expect": [{"python": "pc_fuzz:check"}, {"pydantic": {"model": "pc_fuzz:M"}}],
        },
    ],
}


def test_the_valid_suite_loads(suite_file: Path) -> None:
    suite_file.write_text(yaml.safe_dump(VALID), encoding="utf-8")
    with pytest.raises(SuiteError, match="cannot import module 'pc_fuzz'"):
        load_suite(suite_file, ProjectConfig(base_dir=suite_file.parent))
    without_imports = copy.deepcopy(VALID)
    del without_imports["cases"][2]
    suite_file.write_text(yaml.safe_dump(without_imports), encoding="utf-8")
    suite = load_suite(suite_file, ProjectConfig(base_dir=suite_file.parent))
    assert [case.id for case in suite.cases] == ["one", "two"]


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside ``value``, the root excluded."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, child in items:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


ALL_PATHS = sorted(paths(VALID), key=repr)
CHECK_PATHS = [
    path for path in ALL_PATHS if len(path) >= 4 and path[2] == "expect" and path[0] == "cases"
]

replacement = json_like | st.sampled_from(
    ["", "(", "[a-", "*", "{{ x }", "../x.json", "schema.json", "data/t.jsonl", -1, 0, 1e309]
)


def parent_of(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


@FUZZ
@given(data=st.data())
def test_mutations_of_a_valid_suite(suite_file: Path, data: st.DataObject) -> None:
    suite = copy.deepcopy(VALID)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(sorted(paths(suite), key=repr)), label="path")
        parent = parent_of(suite, path)
        if data.draw(st.booleans(), label="drop"):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(replacement, label="value")
    load_text(suite_file, yaml.safe_dump(suite, allow_unicode=True))


regex_ish = st.text("()[]{}*+?.^$|\\ab-:09,", max_size=10)
flags = st.lists(st.sampled_from(["ignorecase", "multiline", "dotall", "verbose"]), max_size=3)
schemas = st.recursive(
    st.booleans() | st.sampled_from(["object", "string", "strin", 3, None]) | regex_ish,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "properties",
                    "required",
                    "pattern",
                    "enum",
                    "items",
                    "$ref",
                    "$schema",
                    "minimum",
                    "format",
                    "additionalProperties",
                    "$defs",
                    "a",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)
texts = st.text(max_size=12) | st.lists(st.text(max_size=5), max_size=3)
lengths = st.integers(-3, 10**12) | st.sampled_from([True, 1.5, "3", None])

#: Per check: the parameter keys it knows, and what values they are fuzzed with.
CHECK_PARAMETERS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "json": {"fenced": st.booleans() | json_like},
    "json_schema": {
        "schema": schemas | st.sampled_from(["schema.json", "nope.json", "data/t.jsonl", ""]),
        "fenced": st.booleans(),
        "check_formats": st.booleans() | json_like,
    },
    "regex": {
        "pattern": regex_ish,
        "mode": st.sampled_from(["search", "match", "fullmatch", "full"]),
        "flags": flags,
    },
    "options": {"labels": st.lists(st.text(max_size=3), max_size=4)},
    "equals": {"value": texts, "case_sensitive": st.booleans(), "strip": json_like},
    "contains": {"value": texts, "case_sensitive": st.booleans()},
    "not_contains": {"value": texts, "case_sensitive": st.booleans()},
    "starts_with": {"value": texts},
    "ends_with": {"value": texts},
    "max_chars": {"value": lengths},
    "min_words": {"value": lengths},
    "max_lines": {"value": lengths},
    "max_items": {"value": lengths},
    "python": {"function": st.text(max_size=12), "args": json_like},
    "pydantic": {"model": st.text(max_size=12), "fenced": st.booleans()},
}


@st.composite
def check_items(draw: st.DrawFn) -> Any:
    """One ``expect`` item: a bare name, a short form, or a mapping of (mostly known) keys."""
    name = draw(st.sampled_from(sorted(CHECK_PARAMETERS)))
    known = CHECK_PARAMETERS[name]
    form = draw(st.sampled_from(["bare", "short", "long", "junk"]))
    if form == "bare":
        return name
    if form == "short":
        return {name: draw(st.one_of(*known.values()))}
    if form == "junk":
        return {name: draw(json_like)}
    keys = draw(st.lists(st.sampled_from([*known, "extra"]), unique=True, max_size=4))
    first = next(iter(known))  # the required parameter, where there is one: mostly there
    if first not in keys and draw(st.integers(0, 4)) < 4:
        keys.insert(0, first)
    return {name: {key: draw(known.get(key, json_like)) for key in keys}}


@FUZZ
@given(items=st.lists(check_items(), min_size=1, max_size=3))
def test_random_check_parameters(suite_file: Path, items: list[Any]) -> None:
    suite = copy.deepcopy(VALID)
    del suite["cases"][2]
    suite["cases"][0]["expect"] = items
    load_text(suite_file, yaml.safe_dump(suite, allow_unicode=True))


@FUZZ
@given(template=st.text(max_size=40) | yaml_ish)
def test_random_templates(suite_file: Path, template: str) -> None:
    suite = copy.deepcopy(VALID)
    del suite["cases"][2]
    suite["cases"][0]["prompt"] = template
    load_text(suite_file, yaml.safe_dump(suite, allow_unicode=True))
