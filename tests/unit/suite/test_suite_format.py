"""The suite models, and their validation errors as file:line: key with a did-you-mean."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from promptcheck.checks.structured import JsonSchemaParams
from promptcheck.checks.text import RegexParams
from promptcheck.errors import SuiteError
from promptcheck.suite.format import (
    CaseModel,
    Defaults,
    SuiteModel,
    validate_suite,
    validation_error,
)
from promptcheck.yamlsource import SourceMap, load_yaml

PATH = Path("suite.yaml")

CASE = """\
  - id: greet
    prompt: Say hi.
    expect: [json]
"""


def validate(text: str) -> SuiteModel:
    data, source = load_yaml(textwrap.dedent(text), PATH)
    return validate_suite(data, source)


def refused(text: str) -> SuiteError:
    with pytest.raises(SuiteError) as raised:
        validate(text)
    assert raised.value.path == PATH
    return raised.value


def test_a_minimal_suite_gets_the_defaults() -> None:
    suite = validate("suite: demo\ncases:\n" + CASE)
    assert suite.suite == "demo"
    assert suite.defaults == Defaults.model_validate({})
    assert (suite.defaults.samples, suite.defaults.threshold, suite.defaults.seed) == (20, 0.95, 0)
    assert suite.models == {}
    case = suite.cases[0]
    assert (case.id, case.prompt, case.expect) == ("greet", "Say hi.", ["json"])
    assert case.samples is None and case.threshold is None


class TestShape:
    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("", "the suite file is empty"),
            ("- a\n- b\n", "the suite file is a list, not a mapping"),
            ("just text\n", "the suite file is a string, not a mapping"),
            ("42\n", "the suite file is a number, not a mapping"),
            ("2024-01-01\n", "the suite file is a date, not a mapping"),
        ],
    )
    def test_a_file_that_is_not_a_mapping(self, text: str, message: str) -> None:
        error = refused(text)
        assert message in error.message
        assert (error.line, error.key) == (1, None)

    def test_the_line_of_a_non_mapping_is_where_it_starts(self) -> None:
        assert refused("# comment\n\n- a\n").line == 3

    def test_missing_keys_point_at_the_mapping_that_lacks_them(self) -> None:
        error = refused("# a suite\nsuite: demo\n")
        assert (error.line, error.key) == (2, "cases")
        assert error.message == "missing required key 'cases'"

    def test_a_missing_key_in_a_case(self) -> None:
        error = refused("suite: demo\ncases:\n  - id: greet\n    prompt: Say hi.\n")
        assert (error.line, error.key) == (3, "cases[0].expect")

    def test_empty_lists_are_refused(self) -> None:
        error = refused("suite: demo\ncases: []\n")
        assert (error.line, error.key) == (2, "cases")
        assert "at least 1 item" in error.message


class TestUnknownKeys:
    @pytest.mark.parametrize(
        ("text", "line", "key", "hint"),
        [
            ("suite: demo\ndescripton: x\ncases:\n" + CASE, 2, "descripton", "'description'"),
            (
                "suite: demo\ndefaults: {temprature: 1}\ncases:\n" + CASE,
                2,
                "defaults.temprature",
                "'temperature'",
            ),
            ("suite: demo\ncases:\n" + CASE + "    tag: [x]\n", 6, "cases[0].tag", "'tags'"),
            (
                "suite: demo\ncases:\n  - id: a\n    messages:\n      - {role: user, contnt: hi}\n"
                "    expect: [json]\n",
                5,
                "cases[0].messages[0].contnt",
                "'content'",
            ),
        ],
    )
    def test_did_you_mean(self, text: str, line: int, key: str, hint: str) -> None:
        error = refused(text)
        assert (error.line, error.key) == (line, key)
        assert error.message.startswith(f"unknown key {key.rsplit('.', 1)[-1]!r}")
        assert error.hint == f"did you mean {hint}?"

    def test_known_keys_are_listed_when_nothing_is_close(self) -> None:
        error = refused("suite: demo\nwhatever: 1\ncases:\n" + CASE)
        assert error.hint is not None
        assert error.hint.startswith("known keys: cases, defaults, description, models")

    def test_a_misspelt_required_key_is_reported_as_unknown_not_missing(self) -> None:
        error = refused("sute: demo\ncases:\n" + CASE)
        assert (error.line, error.key) == (1, "sute")
        assert error.hint == "did you mean 'suite'?"
        assert "(and errors at 1 more place)" in error.message


class TestTypes:
    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("ten", "valid integer (got 'ten')"),
            ("yes", "valid integer (got True)"),
            ("2.5", "valid integer (got 2.5)"),
            ("'20'", "valid integer (got '20')"),
            ("0", "greater than or equal to 1"),
        ],
    )
    def test_samples_is_a_positive_integer(self, value: str, message: str) -> None:
        error = refused(f"suite: demo\ndefaults:\n  samples: {value}\ncases:\n" + CASE)
        assert (error.line, error.key) == (3, "defaults.samples")
        assert message in error.message

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("threshold", "1.5", "less than or equal to 1"),
            ("threshold", "'0.9'", "valid number"),
            ("temperature", "-1", "greater than or equal to 0"),
            ("top_p", "0", "greater than 0"),
            ("tolerance", "1", "less than 1"),
            ("max_tokens", "true", "valid integer"),
        ],
    )
    def test_case_overrides_are_checked_like_defaults(
        self, field: str, value: str, message: str
    ) -> None:
        error = refused(f"suite: demo\ncases:\n{CASE}    {field}: {value}\n")
        assert (error.line, error.key) == (6, f"cases[0].{field}")
        assert message in error.message

    def test_integers_are_accepted_for_numbers(self) -> None:
        suite = validate(f"suite: demo\ndefaults: {{threshold: 1, temperature: 0}}\ncases:\n{CASE}")
        assert suite.defaults.threshold == 1.0
        assert isinstance(suite.defaults.threshold, float)

    def test_a_union_member_is_not_part_of_the_key(self) -> None:
        error = refused("suite: demo\ncases:\n  - id: a\n    prompt: p\n    expect: [json, 5]\n")
        assert (error.line, error.key) == (5, "cases[0].expect[1]")
        assert error.message == "Input should be a valid string (got 5)"

    def test_errors_at_other_places_are_counted(self) -> None:
        error = refused(
            "suite: demo\ndefaults: {samples: x, seed: y}\ncases:\n  - id: a\n"
            "    prompt: p\n    expect: [json]\n    threshold: 7\n"
        )
        assert error.key == "defaults.samples"
        assert error.message.endswith("(and errors at 2 more places)")


class TestIdentifiers:
    @pytest.mark.parametrize("name", ["greet the user", "-greet", "", "über", "a/b"])
    def test_bad_case_ids(self, name: str) -> None:
        error = refused(
            f"suite: demo\ncases:\n  - id: '{name}'\n    prompt: p\n    expect: [json]\n"
        )
        assert (error.line, error.key) == (3, "cases[0].id")
        assert "should match pattern" in error.message

    @pytest.mark.parametrize("name", ["greet", "v1.2", "a_b-c:d+e", "0"])
    def test_good_case_ids(self, name: str) -> None:
        assert validate(
            f"suite: demo\ncases:\n  - id: '{name}'\n    prompt: p\n    expect: [json]\n"
        )

    def test_a_bad_model_name_points_at_the_name(self) -> None:
        error = refused("suite: demo\nmodels:\n  my model: {backend: scripted}\ncases:\n" + CASE)
        assert (error.line, error.key) == (3, "models.my model")


class TestPromptOrMessages:
    def test_both(self) -> None:
        error = refused(
            "suite: demo\ncases:\n  - id: a\n    prompt: p\n"
            "    messages: [{role: user, content: c}]\n    expect: [json]\n"
        )
        assert (error.line, error.key) == (3, "cases[0]")
        assert error.message == "a case needs exactly one of 'prompt' or 'messages'"

    def test_neither(self) -> None:
        error = refused("suite: demo\ncases:\n  - id: a\n    expect: [json]\n")
        assert error.message == "a case needs exactly one of 'prompt' or 'messages'"

    def test_system_goes_with_prompt_only(self) -> None:
        error = refused(
            "suite: demo\ncases:\n  - id: a\n    system: s\n"
            "    messages: [{role: user, content: c}]\n    expect: [json]\n"
        )
        assert "'system' goes with 'prompt'" in error.message

    def test_a_bad_role(self) -> None:
        error = refused(
            "suite: demo\ncases:\n  - id: a\n    messages:\n      - role: bot\n"
            "        content: c\n    expect: [json]\n"
        )
        assert (error.line, error.key) == (5, "cases[0].messages[0].role")
        assert "'system', 'user' or 'assistant' (got 'bot')" in error.message

    def test_messages_and_system_prompt_are_models(self) -> None:
        case = CaseModel.model_validate(
            {
                "id": "a",
                "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
                "expect": ["json"],
            }
        )
        assert case.messages is not None
        assert [m.role for m in case.messages] == ["system", "user"]


def check_error(name: str, raw: Any, text: str, params: type[BaseModel]) -> SuiteError:
    """The error a check's parameters give, as the loader reports it (key prefixed)."""
    _, source = load_yaml(textwrap.dedent(text), PATH)
    with pytest.raises(ValidationError) as raised:
        params.model_validate(raw)
    return validation_error(raised.value, source, params, ("cases", 0, "expect", 0, name))


CHECK_SUITE = "cases:\n  - expect:\n      - {check}\n"


class TestCheckParameters:
    def test_a_short_form_error_is_keyed_by_the_check(self) -> None:
        error = check_error("regex", 5, CHECK_SUITE.format(check="regex: 5"), RegexParams)
        assert (error.line, error.key) == (3, "cases[0].expect[0].regex")
        assert "valid string (got 5)" in error.message

    def test_a_long_form_error_is_keyed_by_the_parameter(self) -> None:
        text = "cases:\n  - expect:\n      - regex:\n          pattern: x\n          mode: full\n"
        error = check_error("regex", {"pattern": "x", "mode": "full"}, text, RegexParams)
        assert (error.line, error.key) == (5, "cases[0].expect[0].regex.mode")

    def test_did_you_mean_uses_the_name_a_suite_writes(self) -> None:
        text = (
            "cases:\n  - expect:\n      - json_schema:\n          schema: x.json\n"
            "          shema: y.json\n"
        )
        raw = {"schema": "x.json", "shema": "y.json"}
        error = check_error("json_schema", raw, text, JsonSchemaParams)
        assert error.key == "cases[0].expect[0].json_schema.shema"
        assert error.hint == "did you mean 'schema'?"


def test_validation_error_without_lines_names_the_file() -> None:
    with pytest.raises(ValidationError) as raised:
        SuiteModel.model_validate({"suite": "s", "cases": [{"id": "a", "expect": []}]})
    error = validation_error(raised.value, SourceMap(PATH), SuiteModel)
    assert (error.path, error.line) == (PATH, None)
    assert "at least 1 item" in error.message
