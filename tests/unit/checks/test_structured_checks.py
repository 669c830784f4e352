"""json, json_schema and pydantic: parse failures and validation failures read differently."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promptcheck.checks import CheckContext, Status
from promptcheck.checks.structured import unfence
from promptcheck.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures"
MakeCheck = Callable[..., Any]

GOOD = '{"category": "bug", "priority": "P1"}'
FENCED = f"Here you go:\n```json\n{GOOD}\n```\nAnything else?"


class TestUnfence:
    def test_no_fence_gives_whole_output(self) -> None:
        assert unfence(GOOD) == (GOOD, "")

    def test_json_fence(self) -> None:
        assert unfence(FENCED)[0].strip() == GOOD

    @pytest.mark.parametrize("tag", ["", "JSON", " json "])
    def test_bare_and_any_case_tags(self, tag: str) -> None:
        assert unfence(f"```{tag}\n[1]\n```")[0] == "[1]\n"

    def test_other_language_blocks_are_skipped(self) -> None:
        output = "```python\nx = 1\n```\nand\n```json\n[2]\n```"
        assert unfence(output)[0] == "[2]\n"

    def test_unclosed_fence_is_no_block(self) -> None:
        assert unfence("```json\n[1]") == ("```json\n[1]", "")


class TestJson:
    @pytest.mark.parametrize("output", [GOOD, "  [1, 2]\n", "42", '"text"', "null"])
    def test_any_json_value_passes(
        self, make_check: MakeCheck, context: CheckContext, output: str
    ) -> None:
        assert make_check("json").evaluate(output, context).status is Status.PASS

    @pytest.mark.parametrize("raw", [None, {}, {"fenced": False}])
    def test_bare_forms(self, make_check: MakeCheck, raw: object) -> None:
        assert make_check("json", raw).fenced is False  # type: ignore[attr-defined]

    @pytest.mark.parametrize(
        ("output", "reason"),
        [
            ('{"a": }', "invalid JSON at line 1 col 7: Expecting value"),
            ('{"a": 1} trailing', "invalid JSON at line 1 col 10: Extra data"),
            ('{"a": 1,\n "b" 2}', "invalid JSON at line 2 col 6: Expecting ':' delimiter"),
            ("", "empty output; expected JSON"),
            ("  \n ", "empty output; expected JSON"),
            ("[NaN]", "invalid JSON: NaN is not valid JSON"),
            ("[" * 100_000, "invalid JSON: nested too deeply to parse"),
        ],
    )
    def test_not_json(
        self, make_check: MakeCheck, context: CheckContext, output: str, reason: str
    ) -> None:
        result = make_check("json").evaluate(output, context)
        assert (result.status, result.reason) == (Status.FAIL, reason)

    def test_fenced_takes_the_block(self, make_check: MakeCheck, context: CheckContext) -> None:
        assert make_check("json", {"fenced": True}).evaluate(FENCED, context).status is Status.PASS
        assert make_check("json").evaluate(FENCED, context).status is Status.FAIL

    def test_fenced_reason_says_where(self, make_check: MakeCheck, context: CheckContext) -> None:
        result = make_check("json", {"fenced": True}).evaluate("```json\n{,}\n```", context)
        assert result.reason.startswith("invalid JSON in the fenced block at line 1 col 2")

    def test_fenced_without_fence_uses_whole_output(
        self, make_check: MakeCheck, context: CheckContext
    ) -> None:
        assert make_check("json", {"fenced": True}).evaluate(GOOD, context).status is Status.PASS

    def test_unknown_param(self, make_check: MakeCheck) -> None:
        with pytest.raises(ValueError, match="fence"):
            make_check("json", {"fence": True})


class TestJsonSchema:
    @pytest.mark.parametrize(
        "raw",
        [
            "ticket.schema.json",
            "ticket.schema.yaml",
            {"schema": "ticket.schema.json"},
            str(FIXTURES / "ticket.schema.json"),
            {"type": "object", "required": ["category", "priority"]},
            {"schema": {"type": "object"}, "fenced": False},
        ],
    )
    def test_forms_pass_a_good_output(
        self, make_check: MakeCheck, context: CheckContext, raw: object
    ) -> None:
        assert make_check("json_schema", raw).evaluate(GOOD, context).status is Status.PASS

    @pytest.mark.parametrize(
        ("output", "reason"),
        [
            (
                '{"category": "bug", "priority": "P9"}',
                "$.priority: 'P9' is not one of ['P0', 'P1', 'P2', 'P3']",
            ),
            ('{"category": "bug"}', "$: 'priority' is a required property"),
            (
                '{"category": "bug", "priority": "P1", "x": 1}',
                "$: Additional properties are not allowed ('x' was unexpected)",
            ),
            ("[]", "$: [] is not of type 'object'"),
        ],
    )
    def test_parsed_but_wrong(
        self, make_check: MakeCheck, context: CheckContext, output: str, reason: str
    ) -> None:
        result = make_check("json_schema", "ticket.schema.json").evaluate(output, context)
        assert (result.status, result.reason) == (Status.FAIL, reason)

    def test_could_not_parse(self, make_check: MakeCheck, context: CheckContext) -> None:
        result = make_check("json_schema", "ticket.schema.json").evaluate('{"category": ', context)
        assert (result.status, result.reason) == (
            Status.FAIL,
            "invalid JSON at line 1 col 13: Expecting value",
        )

    def test_reason_is_clipped(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("json_schema", {"enum": ["x" * 500]})
        result = check.evaluate('"y"', context)
        assert result.status is Status.FAIL
        assert len(result.reason) <= 200

    def test_repeated_outputs_give_the_same_result(
        self, make_check: MakeCheck, context: CheckContext
    ) -> None:
        check = make_check("json_schema", "ticket.schema.json")
        bad = '{"category": "bug"}'
        assert check.evaluate(bad, context) == check.evaluate(bad, context)
        assert check.evaluate(GOOD, context).status is Status.PASS

    def test_fenced(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("json_schema", {"schema": "ticket.schema.json", "fenced": True})
        assert check.evaluate(FENCED, context).status is Status.PASS

    def test_draft_from_dollar_schema(self, make_check: MakeCheck, context: CheckContext) -> None:
        draft4 = {
            "$schema": "http://json-schema.org/draft-04/schema#",
            "type": "number",
            "maximum": 5,
            "exclusiveMaximum": True,
        }
        check = make_check("json_schema", draft4)
        assert check.evaluate("5", context).status is Status.FAIL
        assert check.evaluate("4", context).status is Status.PASS

    def test_formats_off_by_default(self, make_check: MakeCheck, context: CheckContext) -> None:
        schema = {"type": "string", "format": "email"}
        assert make_check("json_schema", schema).evaluate('"nope"', context).status is Status.PASS
        checked = make_check("json_schema", {"schema": schema, "check_formats": True})
        result = checked.evaluate('"nope"', context)
        assert (result.status, result.reason) == (Status.FAIL, "$: 'nope' is not a 'email'")

    def test_local_refs(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("json_schema", "refs/order.json")
        assert check.evaluate('{"lines": [{"sku": "ABC-123", "qty": 2}]}', context).status is (
            Status.PASS
        )
        result = check.evaluate('{"lines": [{"sku": "abc", "qty": 2}]}', context)
        assert result.status is Status.FAIL
        assert result.reason.startswith("$.lines[0].sku: 'abc' does not match")

    def test_a_dangling_ref_is_an_error_when_the_check_is_built(
        self, make_check: MakeCheck
    ) -> None:
        """Before, every sample was unscored and the case passed 0/0: now the suite is refused."""
        with pytest.raises(ConfigError, match=r"\$ref 'missing.json' cannot be resolved") as info:
            make_check("json_schema", "refs/dangling.json")
        assert info.value.key == ("schema",)

    def test_a_remote_ref_is_not_fetched_but_refused(self, make_check: MakeCheck) -> None:
        with pytest.raises(
            ConfigError, match=r"'https://example\.com/schema\.json' cannot be resolved"
        ):
            make_check("json_schema", {"$ref": "https://example.com/schema.json"})

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            ("missing.json", "does not exist"),
            ({"type": "strin"}, "is not a valid JSON Schema: $.type"),
            ({"$schema": "https://example.com/mine"}, "unknown $schema"),
            ({"$schema": 4}, "unknown $schema"),
            ({"type": "string", "pattern": "(unclosed"}, "is not a valid JSON Schema"),
        ],
    )
    def test_config_errors(self, make_check: MakeCheck, raw: object, message: str) -> None:
        with pytest.raises(ConfigError, match=message.replace("$", r"\$")) as info:
            make_check("json_schema", raw)
        assert info.value.key == ("schema",)

    @pytest.mark.parametrize(
        ("name", "content", "message"),
        [
            ("broken.json", '{"type": ', "is not valid JSON at line 1 col 10"),
            ("broken.yaml", "type: [object", "is not valid YAML"),
            ("list.json", "[1, 2]", "is a list, not a JSON Schema object"),
        ],
    )
    def test_bad_schema_files(
        self, make_check: MakeCheck, tmp_path: Path, name: str, content: str, message: str
    ) -> None:
        (tmp_path / name).write_text(content)
        with pytest.raises(ConfigError, match=message) as info:
            make_check("json_schema", name, base_dir=tmp_path)
        assert info.value.key == ("schema",)
        assert info.value.hint is None or "relative" in info.value.hint

    def test_missing_file_hint(self, make_check: MakeCheck) -> None:
        with pytest.raises(ConfigError) as info:
            make_check("json_schema", "nope.json")
        assert info.value.hint == "a schema path is relative to the directory of the suite file"

    @pytest.mark.parametrize("raw", [None, {}, {"fenced": True}, {"check_formats": True}])
    def test_schema_is_required(self, make_check: MakeCheck, raw: object) -> None:
        with pytest.raises(ValueError, match="schema"):
            make_check("json_schema", raw)


class TestPydantic:
    def test_passes(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("pydantic", "pc_fixture_models:Ticket")
        assert check.evaluate(GOOD, context).status is Status.PASS
        assert check.evaluate(f"\n {GOOD} \n", context).status is Status.PASS

    @pytest.mark.parametrize(
        ("output", "reason"),
        [
            ('{"category": "bug", "priority": "P9"}', "$.priority: Input should be 'P0', 'P1',"),
            ('{"category": "bug"}', "$.priority: Field required"),
            ("{}", "$.category: Field required (and 1 more)"),
            ("[]", "$: Input should be an object"),
        ],
    )
    def test_parsed_but_wrong(
        self, make_check: MakeCheck, context: CheckContext, output: str, reason: str
    ) -> None:
        result = make_check("pydantic", "pc_fixture_models:Ticket").evaluate(output, context)
        assert result.status is Status.FAIL
        assert result.reason.startswith(reason)

    def test_nested_location(self, make_check: MakeCheck, context: CheckContext) -> None:
        output = json.dumps({"items": [json.loads(GOOD), {"category": "x", "priority": "P1"}]})
        result = make_check("pydantic", {"model": "pc_fixture_models:Nested"}).evaluate(
            output, context
        )
        assert result.reason.startswith("$.items[1].category: Input should be")

    @pytest.mark.parametrize(
        ("output", "reason"),
        [
            ('{"category": ', "invalid JSON: "),
            ("", "empty output; expected JSON"),
            ("nope", "invalid JSON: expected ident at line 1 column 2"),
        ],
    )
    def test_could_not_parse(
        self, make_check: MakeCheck, context: CheckContext, output: str, reason: str
    ) -> None:
        result = make_check("pydantic", "pc_fixture_models:Ticket").evaluate(output, context)
        assert result.status is Status.FAIL
        assert result.reason.startswith(reason)

    def test_fenced(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("pydantic", {"model": "pc_fixture_models:Ticket", "fenced": True})
        assert check.evaluate(FENCED, context).status is Status.PASS
        result = check.evaluate("```\n{\n```", context)
        assert result.reason.startswith("invalid JSON in the fenced block: ")

    def test_buggy_model_is_unscored(self, make_check: MakeCheck, context: CheckContext) -> None:
        result = make_check("pydantic", "pc_fixture_models:Exploding").evaluate(
            '{"text": "x"}', context
        )
        assert (result.status, result.reason) == (
            Status.UNSCORED,
            "Exploding raised TypeError: bug in the validator",
        )

    @pytest.mark.parametrize(
        ("path", "message"),
        [
            ("pc_fixture_models:Missing", "has no attribute"),
            ("no_such_module_xyz:Model", "cannot import module"),
            ("pc_fixture_models:NOT_A_MODEL", "not a pydantic BaseModel subclass"),
            ("pc_fixture_models:CheckResult", "has no attribute"),
            ("pydantic:BaseModel.model_config", "not a pydantic BaseModel subclass"),
            ("Ticket", "is not an import path"),
        ],
    )
    def test_config_errors(self, make_check: MakeCheck, path: str, message: str) -> None:
        with pytest.raises(ConfigError, match=message) as info:
            make_check("pydantic", path, trusted=("pydantic",))
        assert info.value.key == ("model",)


def test_json_schema_misspelt_schema_key_next_to_options_is_refused() -> None:
    """A typo must not turn the mapping into an inline schema that accepts every output."""
    from pydantic import ValidationError

    from promptcheck.checks.base import CHECKS

    with pytest.raises(ValidationError, match="'shema'"):
        CHECKS.get("json_schema").params.model_validate({"shema": "x.json", "fenced": True})
