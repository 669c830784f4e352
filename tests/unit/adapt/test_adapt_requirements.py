"""What the checks require, in words, from their parameters."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from promptcheck.adapt.requirements import describe_requirements, schema_sentences
from promptcheck.checks import BuildContext, CheckContext, CheckResult, register_check
from promptcheck.files import ProjectFiles


class CountParams(BaseModel):
    equals_var: str


class CountCheck:
    name = "adapt_item_count"

    def evaluate(self, output: str, context: CheckContext) -> CheckResult:
        return CheckResult.passed()


@register_check("adapt_item_count", CountParams)
def build_count(params: CountParams, context: BuildContext) -> CountCheck:
    """The output is a list with as many items as a variable says.

    Only the first paragraph describes it."""
    return CountCheck()


def words(expect: list[object], tmp_path: Path) -> tuple[str, ...]:
    return describe_requirements(expect, (), tmp_path, ProjectFiles(root=tmp_path))


def test_json_schema_keys_values_and_closure(tmp_path: Path) -> None:
    (tmp_path / "ticket.json").write_text(
        '{"type": "object", "required": ["category", "priority"], "additionalProperties": false,'
        ' "properties": {"category": {"enum": ["billing", "bug"]}, "priority": {"const": "P1"},'
        ' "count": {"type": "integer"}, "name": {"type": "string", "minLength": 1}}}'
    )
    sentences = words(["json", {"json_schema": "ticket.json"}], tmp_path)
    assert sentences == (
        "The answer is JSON only, with nothing before or after it.",
        'It is a JSON object with the keys "category" and "priority" and no other keys.',
        '"category" is one of billing or bug.',
        '"priority" is one of P1.',
        '"count" is a JSON integer.',
        '"name" is a non-empty string.',
    )
    fenced = words([{"json": {"fenced": True}}], tmp_path)
    assert fenced == ("The answer is JSON inside one ```json code fence.",)
    missing = words([{"json_schema": "nowhere.json"}], tmp_path)
    assert missing == ("The answer is JSON valid under the case's JSON Schema.",)
    assert schema_sentences(True) == []


def test_text_format_and_length_checks(tmp_path: Path) -> None:
    sentences = words(
        [
            {"options": ["A", "B", "C"]},
            {"regex": {"pattern": "YES|NO", "mode": "fullmatch"}},
            {"regex": "^A"},
            {"max_lines": 3},
            {"max_lines": 1},
            {"min_words": 2},
            {"equals": {"value": "OK", "case_sensitive": False}},
            {"ends_with": "."},
            {"contains": ["x", "y"]},
            {"not_contains": "As an AI"},
            {"judge": {"rubric": "Priority is P0 only for an outage.", "model": "j"}},
            {"self_critique": "Is it one sentence?"},
        ],
        tmp_path,
    )
    assert sentences[0].startswith("The answer gives exactly 3 options labeled A, B and C")
    assert sentences[1:] == (
        "The whole answer matches the regular expression YES|NO.",
        "The answer contains a match for the regular expression ^A.",
        "The answer has at most 3 non-empty lines.",
        "The answer has at most 1 non-empty line.",
        "The answer has at least 2 words.",
        'The answer is exactly "OK" (in any case).',
        'The answer ends with ".".',
        'The answer contains "x" and "y".',
        'The answer never contains "As an AI".',
        "A reviewer checks that priority is P0 only for an outage.",
        'The answer to "Is it one sentence?" is yes.',
    )


def test_other_checks_are_described_by_their_registration(tmp_path: Path) -> None:
    sentences = words(
        [
            {"python": "plugins.checks:email_is_normalized"},
            "no_such_check",
            {"max_words": "many"},
            {"two": 1, "keys": 2},
            "json",
            "json",
        ],
        tmp_path,
    )
    assert sentences == (
        "The project's check plugins.checks:email_is_normalized accepts the answer.",
        "The answer is JSON only, with nothing before or after it.",
    )
    plugin = words([{"adapt_item_count": {"equals_var": "k"}}], tmp_path)
    assert plugin == (
        'The output is a list with as many items as a variable says (equals_var: "k").',
    )
