"""The length of a value's text, told without building it and at a cost bounded by the limit."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2.utils import Namespace

from promptcheck.textsize import percent_size, spec_size, text_size

LIMIT = 1_000_000


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        12345,
        -(10**40),
        None,
        True,
        [1, "two", [3.5, None]],
        (1,),
        {"a": [1, 2], "b": {"c": "d"}},
        [[], {}, ()],
    ],
    ids=repr,
)
def test_the_estimate_is_within_a_small_factor_of_the_text(value: Any) -> None:
    """Never below the text (so a refusal is never late), at most a few times above it."""
    actual = max(len(str(value)), len(repr(value)))
    assert actual <= text_size(value, LIMIT) <= 3 * actual + 4


def test_a_structure_that_shares_itself_is_measured_without_unfolding() -> None:
    shared: list[Any] = [1]
    for _ in range(60):  # 2**60 leaves: str() would never finish
        shared = [shared, shared]
    assert text_size(shared, LIMIT) == LIMIT + 1


def test_a_shared_part_counts_each_time_it_appears() -> None:
    part = "x" * 1000
    assert text_size([part] * 10, LIMIT) >= 10 * 1000
    assert text_size([part] * 2000, LIMIT) == LIMIT + 1


def test_a_cycle_is_counted_once() -> None:
    looped: list[Any] = [1]
    looped.append(looped)
    assert len(repr(looped)) <= text_size(looped, LIMIT) <= 20


def test_a_namespace_counts_its_attributes() -> None:
    assert text_size(Namespace(a="x" * 5000), LIMIT) > 5000


def test_the_walk_stops_at_the_limit() -> None:
    assert text_size(list(range(10**6)), 1000) == 1001


@pytest.mark.parametrize(
    ("template", "values", "at_least"),
    [
        ("%s and %s", ("ab", "cd"), len("ab and cd")),
        ("%10s|%-5d", ("x", 3), len("         x|3    ")),
        ("%.3f", 3.14159, len("3.142")),
        ("%(a)s%(a)s", {"a": "xyz"}, 6),
        ("%*s", (20, "x"), 20),
        ("%.*f", (12, 1.0), 14),
        ("100%%", (), 4),
    ],
)
def test_a_percent_format_is_not_underestimated(template: str, values: Any, at_least: int) -> None:
    assert at_least <= percent_size(template, values, LIMIT) <= at_least + 200


@pytest.mark.parametrize(
    ("template", "values"),
    [
        ("%0999999999d", 1),
        ("%.999999999f", 1.0),
        ("%*s", (999999999, "x")),
        ("%s", (["x" * 1000] * 2000,)),
        ("%99999999999999999999s", "x"),
    ],
)
def test_a_percent_format_past_the_limit_is_told(template: str, values: Any) -> None:
    assert percent_size(template, values, LIMIT) == LIMIT + 1


def test_counting_stops_where_python_would_refuse_the_format() -> None:
    assert percent_size("%s %s", ("a",), LIMIT) < 20  # not enough arguments: Python raises
    assert percent_size("%*s", ("x", "y"), LIMIT) < 20  # * wants int


@pytest.mark.parametrize(
    ("spec", "size"),
    [("", 0), (">10", 10), ("0>8.3f", 11), (",", 0), ("9" * 30, LIMIT + 1)],
)
def test_a_format_spec_adds_its_widths(spec: str, size: int) -> None:
    assert spec_size(spec, LIMIT) == size
