"""min_/max_ chars, words, lines and items: what is counted, and how a broken bound reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from promptcheck.checks import CHECKS, CheckContext, Status
from promptcheck.checks.lengths import count_chars, count_items, count_lines, count_words

MakeCheck = Callable[..., Any]

OPTIONS = "A) Hike the trails\n\nB) Visit museums\n   \nC) Eat out\n"
LIST = """Here is the list:
- apples
* pears
• plums
1. figs
  2) nested dates
---
**bold** is not an item
-not an item either
10. limes
"""


def test_counts() -> None:
    assert count_chars("  abc \n") == 3
    assert count_words(" one two\nthree\tfour ") == 4
    assert count_lines(OPTIONS) == 3
    assert count_lines("a\r\nb\rc") == 3
    assert count_items(LIST) == 6
    assert count_items("") == 0


@pytest.mark.parametrize(
    ("name", "value", "output", "status", "reason"),
    [
        ("max_words", 10, OPTIONS, Status.PASS, "10 words"),
        ("max_words", 5, OPTIONS, Status.FAIL, "10 words > max 5"),
        ("min_words", 11, OPTIONS, Status.FAIL, "10 words < min 11"),
        ("max_lines", 3, OPTIONS, Status.PASS, "3 lines"),
        ("max_lines", 2, OPTIONS, Status.FAIL, "3 lines > max 2"),
        ("min_lines", 4, OPTIONS, Status.FAIL, "3 lines < min 4"),
        ("max_chars", 3, " abc ", Status.PASS, "3 chars"),
        ("max_chars", 2, " abc ", Status.FAIL, "3 chars > max 2"),
        ("min_chars", 1, "   ", Status.FAIL, "0 chars < min 1"),
        ("max_items", 6, LIST, Status.PASS, "6 items"),
        ("max_items", 5, LIST, Status.FAIL, "6 items > max 5"),
        ("min_items", 3, "- one\n- two", Status.FAIL, "2 items < min 3"),
        ("min_items", 0, "", Status.PASS, "0 items"),
    ],
)
def test_bounds(
    make_check: MakeCheck,
    context: CheckContext,
    name: str,
    value: int,
    output: str,
    status: Status,
    reason: str,
) -> None:
    result = make_check(name, value).evaluate(output, context)
    assert (result.status, result.reason) == (status, reason)


@pytest.mark.parametrize("name", ["min_chars", "max_words", "max_items"])
def test_long_form(make_check: MakeCheck, context: CheckContext, name: str) -> None:
    assert make_check(name, {"value": 1}).value == 1


@pytest.mark.parametrize("raw", [-1, "40", True, 2.5, None, {"value": 1, "max": 2}])
def test_invalid_bounds(make_check: MakeCheck, raw: object) -> None:
    with pytest.raises(ValueError, match=r"value|max"):
        make_check("max_words", raw)


def test_each_bound_is_described() -> None:
    assert CHECKS.get("max_items").description.startswith("The output has at most")
    assert CHECKS.get("min_lines").description == (
        "The output has at least the given number of non-empty lines."
    )
