"""options: the marker grammar of docs/checks.md; missing, repeated and stray options."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from promptcheck.checks import CheckContext, Status

MakeCheck = Callable[..., Any]

ABC = ["A", "B", "C"]


@pytest.fixture
def abc(make_check: MakeCheck) -> Any:
    return make_check("options", ABC)


@pytest.mark.parametrize(
    "output",
    [
        "A) Hike\nB) Museums\nC) Food",
        "A. Hike\nB. Museums\nC. Food",
        "A: Hike\nB: Museums\nC: Food",
        "(A) Hike\n(B) Museums\n(C) Food",
        "**A.** Hike\n**B)** Museums\n**C:** Food",
        "**A**. Hike\n__B__) Museums\n**(C)** Food",
        "A - Hike\nB – Museums\nC — Food",
        "- A) Hike\n* B) Museums\n• C) Food",
        "### A. Hike\n### B. Museums\n### C. Food",
        "Option A: Hike\noption B: Museums\n**Choice C:** Food",
        "Sure! Here are three options:\n\n  A) Hike\n  B) Museums\n  C) Food\n\nEnjoy!",
        "C) Food\nA) Hike\nB) Museums",
        "A)\nHike\nB)\nMuseums\nC)\nFood",
        "A) Hike:\n   1. pack water\n   2. start early\n   a) or not\nB) Museums\nC) Food",
    ],
)
def test_marker_forms_pass(abc: Any, context: CheckContext, output: str) -> None:
    result = abc.evaluate(output, context)
    assert (result.status, result.reason) == (Status.PASS, "")


@pytest.mark.parametrize(
    "output",
    [
        "A.M. is early\nA) x\nB) y\nC) z",  # "A." must be followed by whitespace
        "Ask: x\nA) x\nB) y\nC) z",  # a word, not a label
        "A)x\nA) x\nB) y\nC) z",  # no space after the marker
        "I think A) x, then\nA) x\nB) y\nC) z",  # not at the start of a line
        "A-team\nA) x\nB) y\nC) z",
    ],
)
def test_lookalikes_are_not_markers(abc: Any, context: CheckContext, output: str) -> None:
    assert abc.evaluate(output, context).status is Status.PASS


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("A) x\nB) y", "expected 3 options A, B, C; found A, B (missing C)"),
        ("A) x\nB) y\nB) y\nC) z", "expected 3 options A, B, C; found A, B, B, C (repeated B)"),
        ("A) x\nB) y\nC) z\nD) w", "expected 3 options A, B, C; found A, B, C, D (unexpected D)"),
        (
            "A) x\nA) x\nE. y\n(F) z",
            "expected 3 options A, B, C; found A, A, E, F "
            "(missing B, C; repeated A; unexpected E, F)",
        ),
        (
            "Denver has many things.",
            "expected 3 options A, B, C; found no option markers (missing A, B, C)",
        ),
        ("", "expected 3 options A, B, C; found no option markers (missing A, B, C)"),
    ],
)
def test_failures(abc: Any, context: CheckContext, output: str, reason: str) -> None:
    result = abc.evaluate(output, context)
    assert (result.status, result.reason) == (Status.FAIL, reason)


def test_digit_labels(make_check: MakeCheck, context: CheckContext) -> None:
    check = make_check("options", {"labels": ["1", "2"]})
    assert check.evaluate("1. a\n2. b", context).status is Status.PASS
    assert check.evaluate("1. a\n2. b\n10. c", context).reason == (
        "expected 2 options 1, 2; found 1, 2, 10 (unexpected 10)"
    )
    assert check.evaluate("1. a\n2. b\nC) c\n2024. a year", context).status is Status.PASS


def test_lowercase_labels(make_check: MakeCheck, context: CheckContext) -> None:
    check = make_check("options", ["a", "b"])
    assert check.evaluate("a) x\nb) y\nC) z", context).status is Status.PASS
    assert check.evaluate("a) x\nb) y\nc) z", context).status is Status.FAIL


def test_word_labels(make_check: MakeCheck, context: CheckContext) -> None:
    check = make_check("options", ["Yes", "No"])
    assert check.evaluate("Yes: go\nNo: stay\nMaybe: later", context).status is Status.PASS
    assert check.evaluate("Yes: go", context).reason.endswith("(missing No)")


def test_labels_that_prefix_each_other(make_check: MakeCheck, context: CheckContext) -> None:
    check = make_check("options", ["A", "A1"])
    assert check.evaluate("A1) x\nA) y", context).status is Status.PASS


@pytest.mark.parametrize(
    "raw",
    [["A"], ["A", "A"], {"labels": []}, ["A", ""], ["A", " B"], ["A", "B\nC"], None, "ABC"],
)
def test_invalid_labels(make_check: MakeCheck, raw: object) -> None:
    with pytest.raises(ValueError, match="labels"):
        make_check("options", raw)
