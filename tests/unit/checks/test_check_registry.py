"""The built-in format checks as the suite loader and the suite JSON Schema see them."""

from __future__ import annotations

import jsonschema
import pytest

from promptcheck.checks import CHECKS, Check, CheckType
from promptcheck.errors import ConfigError

FORMAT_CHECKS = {
    "json",
    "json_schema",
    "pydantic",
    "regex",
    "options",
    "equals",
    "starts_with",
    "ends_with",
    "contains",
    "not_contains",
    "min_chars",
    "max_chars",
    "min_words",
    "max_words",
    "min_lines",
    "max_lines",
    "min_items",
    "max_items",
    "python",
}

#: One value of each check's short form; it must validate against the declared ``shorthand``.
SHORT_FORMS = {
    "json": None,
    "json_schema": {"type": "object"},
    "pydantic": "pc_fixture_models:Ticket",
    "regex": "^A",
    "options": ["A", "B"],
    "equals": "YES",
    "starts_with": "A)",
    "ends_with": ".",
    "contains": ["a", "b"],
    "not_contains": "secret",
    "min_chars": 1,
    "max_chars": 1,
    "min_words": 1,
    "max_words": 1,
    "min_lines": 1,
    "max_lines": 1,
    "min_items": 1,
    "max_items": 1,
    "python": "pc_fixture_functions:is_upper",
}


def test_all_format_checks_are_registered() -> None:
    assert set(CHECKS.names()) >= FORMAT_CHECKS


def test_unknown_check_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match="unknown check 'regx'") as info:
        CHECKS.get("regx")
    assert info.value.hint == "did you mean 'regex'?"


@pytest.mark.parametrize("name", sorted(FORMAT_CHECKS))
def test_described_with_a_short_form(name: str) -> None:
    check_type = CHECKS.get(name)
    assert isinstance(check_type, CheckType)
    assert check_type.name == name
    assert check_type.description.endswith(".")
    assert "\n\n" not in check_type.description
    assert check_type.shorthand is not None
    jsonschema.Draft202012Validator.check_schema(dict(check_type.shorthand))
    params_schema = check_type.params.model_json_schema()
    assert params_schema.get("additionalProperties") is False


@pytest.mark.parametrize("name", sorted(FORMAT_CHECKS))
def test_short_form_builds(name: str, make_check: object) -> None:
    check_type = CHECKS.get(name)
    assert check_type.shorthand is not None
    jsonschema.validate(SHORT_FORMS[name], dict(check_type.shorthand))
    check = make_check(name, SHORT_FORMS[name])  # type: ignore[operator]
    assert isinstance(check, Check)
    assert check.name == name
