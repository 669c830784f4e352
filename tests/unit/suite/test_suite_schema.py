"""The suite JSON Schema: generated from the models, shipped in the package, true to the loader."""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml

from promptcheck.suite.schema import shipped_schema, suite_schema

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def project_schema() -> Iterator[dict[str, object]]:
    import plugins.checks  # noqa: F401  (registers item_count, as [tool.promptcheck] plugins does)

    yield suite_schema()
    # the registration stays; the package goes, or it would shadow the `plugins/` of the projects
    # that later integration tests write and run in this process
    for name in [n for n in sys.modules if n == "plugins" or n.startswith("plugins.")]:
        del sys.modules[name]


def test_shipped_schema_is_up_to_date() -> None:
    """Regenerate: promptcheck schema --builtin --out src/promptcheck/schema/suite.schema.json"""
    generated = suite_schema()
    shipped = shipped_schema()
    generated_checks = _check_names(generated)
    # a project plugin imported by another test may have added checks, and an integration test
    # backends (registered on import, in this process); the shipped file has the builtins only
    assert _check_names(shipped) <= generated_checks
    assert _backend_names(shipped) <= _backend_names(generated)
    builtins_only = _without_plugin_checks(generated, _check_names(shipped))
    assert _without_plugin_backends(builtins_only, _backend_names(shipped)) == shipped


@pytest.mark.parametrize("suite", sorted((ROOT / "suites").glob("*.yaml")), ids=lambda p: p.name)
def test_example_suites_validate_against_the_schema(
    suite: Path, project_schema: dict[str, object]
) -> None:
    data = yaml.safe_load(suite.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(project_schema).validate(data)


def test_schema_rejects_unknown_check_and_key(project_schema: dict[str, object]) -> None:
    validator = jsonschema.Draft202012Validator(project_schema)
    good = {"suite": "s", "cases": [{"id": "c", "prompt": "p", "expect": ["json"]}]}
    assert not list(validator.iter_errors(good))
    unknown_check = copy.deepcopy(good)
    unknown_check["cases"][0]["expect"] = [{"regx": "a"}]  # type: ignore[index]
    assert list(validator.iter_errors(unknown_check))
    unknown_key = copy.deepcopy(good)
    unknown_key["cases"][0]["promt"] = "p"  # type: ignore[index]
    assert list(validator.iter_errors(unknown_key))


def test_schema_knows_the_short_forms(project_schema: dict[str, object]) -> None:
    validator = jsonschema.Draft202012Validator(project_schema)
    suite = {
        "suite": "s",
        "cases": [
            {
                "id": "c",
                "prompt": "p {{ x }}",
                "vars": {"x": {"strategy": "integers", "min_value": 1, "count": 3}},
                "expect": [{"regex": "^A"}, {"max_words": 10}, {"options": ["A", "B"]}, "json"],
            }
        ],
    }
    assert not list(validator.iter_errors(suite))


def _check_names(schema: dict[str, object]) -> set[str]:
    items = schema["$defs"]["CaseModel"]["properties"]["expect"]["items"]["anyOf"]  # type: ignore[index]
    names = set(items[0]["enum"])
    for shape in items[1:]:
        names |= set(shape["properties"])
    return names


def _backend_shapes(schema: dict[str, object]) -> list[dict[str, object]]:
    models = schema["properties"]["models"]  # type: ignore[index]
    return models["additionalProperties"]["anyOf"]  # type: ignore[no-any-return]


def _backend_names(schema: dict[str, object]) -> set[str]:
    return {shape["properties"]["backend"]["const"] for shape in _backend_shapes(schema)}  # type: ignore[index]


def _without_plugin_backends(schema: dict[str, object], keep: set[str]) -> dict[str, object]:
    schema = copy.deepcopy(schema)
    shapes = _backend_shapes(schema)
    shapes[:] = [s for s in shapes if s["properties"]["backend"]["const"] in keep]  # type: ignore[index]
    return schema


def _without_plugin_checks(schema: dict[str, object], keep: set[str]) -> dict[str, object]:
    schema = copy.deepcopy(schema)
    items = schema["$defs"]["CaseModel"]["properties"]["expect"]["items"]["anyOf"]  # type: ignore[index]
    items[0]["enum"] = [name for name in items[0]["enum"] if name in keep]
    items[1:] = [shape for shape in items[1:] if set(shape["properties"]) <= keep]
    return schema
