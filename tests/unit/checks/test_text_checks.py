"""equals, starts_with, ends_with, contains, not_contains and regex."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from promptcheck.checks import CheckContext, Status
from promptcheck.errors import ConfigError

MakeCheck = Callable[..., Any]


def outcome(check: Any, output: str, context: CheckContext) -> tuple[Status, str]:
    result = check.evaluate(output, context)
    return result.status, result.reason


class TestEquals:
    def test_short_form_and_strip(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("equals", "YES")
        assert outcome(check, "  YES\n", context) == (Status.PASS, "")

    def test_fail_reason_shows_both(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("equals", "YES")
        assert outcome(check, "Yes.", context) == (
            Status.FAIL,
            "expected exactly 'YES'; output is 'Yes.'",
        )

    def test_no_strip(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("equals", {"value": "YES", "strip": False})
        assert outcome(check, "YES\n", context) == (
            Status.FAIL,
            "expected exactly 'YES'; output is 'YES\\n'",
        )

    def test_case_insensitive(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("equals", {"value": "Straße", "case_sensitive": False})
        assert outcome(check, "STRASSE", context) == (Status.PASS, "")
        assert outcome(check, "Strasse!", context) == (
            Status.FAIL,
            "expected exactly 'Straße' (ignoring case); output is 'Strasse!'",
        )

    def test_long_output_is_clipped(self, make_check: MakeCheck, context: CheckContext) -> None:
        status, reason = outcome(make_check("equals", "x"), "y" * 1000, context)
        assert status is Status.FAIL
        assert len(reason) < 120

    @pytest.mark.parametrize("raw", [None, {}, 3, {"value": "x", "strict": True}])
    def test_invalid_params(self, make_check: MakeCheck, raw: object) -> None:
        with pytest.raises(ValueError, match=r"value|strict"):
            make_check("equals", raw)


class TestStartsEndsWith:
    def test_starts_with(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("starts_with", "A)")
        assert outcome(check, "\n A) Hike", context) == (Status.PASS, "")
        assert outcome(check, "Sure! A) Hike", context) == (
            Status.FAIL,
            "expected to start with 'A)'; output is 'Sure! A) Hike'",
        )

    def test_starts_with_unstripped(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("starts_with", {"value": "A)", "strip": False})
        assert outcome(check, " A) Hike", context)[0] is Status.FAIL

    def test_ends_with_shows_the_end(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("ends_with", ".")
        assert outcome(check, "One sentence.\n", context) == (Status.PASS, "")
        status, reason = outcome(check, "x" * 100 + " no stop", context)
        assert status is Status.FAIL
        assert reason.startswith("expected to end with '.'; output is '…")
        assert reason.endswith(" no stop'")

    def test_ends_with_ignoring_case(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("ends_with", {"value": "THANKS", "case_sensitive": False})
        assert outcome(check, "Many thanks", context) == (Status.PASS, "")


class TestContains:
    def test_single(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("contains", "Denver")
        assert outcome(check, "In Denver, ...", context) == (Status.PASS, "")
        assert outcome(check, "In denver", context) == (Status.FAIL, "missing 'Denver'")

    def test_all_of_a_list(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("contains", ["A)", "B)", "C)"])
        assert outcome(check, "A) x B) y C) z", context) == (Status.PASS, "")
        assert outcome(check, "A) x", context) == (Status.FAIL, "missing 'B)', 'C)' (2 of 3)")

    def test_ignoring_case(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("contains", {"value": ["denver"], "case_sensitive": False})
        assert outcome(check, "DENVER", context) == (Status.PASS, "")

    def test_not_contains(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("not_contains", ["As an AI", "language model"])
        assert outcome(check, "Here are three options", context) == (Status.PASS, "")
        assert outcome(check, "As an AI language model, I", context) == (
            Status.FAIL,
            "contains forbidden 'As an AI', 'language model'",
        )

    def test_not_contains_ignoring_case(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("not_contains", {"value": "secret", "case_sensitive": False})
        assert outcome(check, "The SECRET is", context) == (
            Status.FAIL,
            "contains forbidden 'secret'",
        )

    @pytest.mark.parametrize("raw", [[], {"value": []}, None, {"value": [1]}])
    def test_invalid_params(self, make_check: MakeCheck, raw: object) -> None:
        with pytest.raises(ValueError, match="value"):
            make_check("contains", raw)


class TestRegex:
    def test_search_is_the_default(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("regex", r"\bB\)")
        assert outcome(check, "A) x\nB) y", context) == (Status.PASS, "")
        assert outcome(check, "A) x", context) == (
            Status.FAIL,
            "no match for '\\\\bB\\\\)' in the output",
        )

    def test_match(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("regex", {"pattern": "A\\)", "mode": "match"})
        assert outcome(check, "A) x", context)[0] is Status.PASS
        assert outcome(check, "x A)", context) == (
            Status.FAIL,
            "the output does not start with a match for 'A\\\\)'",
        )

    def test_fullmatch(self, make_check: MakeCheck, context: CheckContext) -> None:
        check = make_check("regex", {"pattern": "YES|NO", "mode": "fullmatch"})
        assert outcome(check, "NO", context)[0] is Status.PASS
        assert outcome(check, "NO\n", context) == (
            Status.FAIL,
            "the output does not match 'YES|NO' as a whole",
        )

    @pytest.mark.parametrize(
        ("flags", "output"),
        [(["ignorecase"], "yes"), (["multiline"], "x\nYES"), (["dotall"], "YES\nmore")],
    )
    def test_flags(
        self, make_check: MakeCheck, context: CheckContext, flags: list[str], output: str
    ) -> None:
        pattern = "^YES.+" if flags == ["dotall"] else "^YES$"
        plain = make_check("regex", pattern)
        flagged = make_check("regex", {"pattern": pattern, "flags": flags})
        assert outcome(plain, output, context)[0] is Status.FAIL
        assert outcome(flagged, output, context)[0] is Status.PASS

    def test_bad_pattern_is_a_config_error(self, make_check: MakeCheck) -> None:
        with pytest.raises(
            ConfigError, match="invalid regular expression '\\(A': missing \\)"
        ) as e:
            make_check("regex", "(A")
        assert e.value.key == ("pattern",)
        assert e.value.hint is not None

    @pytest.mark.parametrize(
        "raw",
        [None, {"pattern": "x", "mode": "find"}, {"pattern": "x", "flags": ["verbose"]}, 3],
    )
    def test_invalid_params(self, make_check: MakeCheck, raw: object) -> None:
        with pytest.raises(ValueError, match=r"pattern|mode|flags"):
            make_check("regex", raw)
