"""Length bounds: at least or at most so many characters, words, non-empty lines or list items.

Each bound is its own check type (``max_words: 40``) rather than one ``length`` check with a unit,
so that a failing sample names the bound it broke and a suite reads like the page it fills.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from promptcheck.checks.base import BuildContext, CheckContext, CheckResult, register_check
from promptcheck.checks.params import CheckParams

#: A list item: a line whose first non-blank characters are a bullet (``-``, ``*``, ``•``) or a
#: number with ``.`` or ``)``, then whitespace and some text. ``---`` and ``**bold**`` are not.
LIST_ITEM = re.compile(r"^[ \t]*(?:[-*\u2022]|\d+[.)])[ \t]+\S", re.MULTILINE)


class BoundParams(CheckParams):
    """A length bound: ``max_words: 40`` is ``max_words: {value: 40}``."""

    short_field = "value"

    value: Annotated[int, Field(strict=True, ge=0, description="The bound, inclusive.")]


def count_chars(output: str) -> int:
    """Characters, leading and trailing whitespace not counted."""
    return len(output.strip())


def count_words(output: str) -> int:
    """Whitespace-separated words."""
    return len(output.split())


def count_lines(output: str) -> int:
    """Lines with something other than whitespace on them."""
    return sum(1 for line in output.splitlines() if line and not line.isspace())


def count_items(output: str) -> int:
    """List items, nested ones included (see :data:`LIST_ITEM`)."""
    return len(LIST_ITEM.findall(output))


@dataclass(slots=True)
class LengthBound:
    """Measures the output with ``measure`` and compares it with ``value``."""

    name: str
    unit: str
    measure: Callable[[str], int]
    value: int
    is_max: bool

    def evaluate(self, output: str, context: CheckContext) -> CheckResult:
        found = self.measure(output)
        if self.is_max:
            if found <= self.value:
                return CheckResult.passed(f"{found} {self.unit}")
            return CheckResult.failed(f"{found} {self.unit} > max {self.value}")
        if found >= self.value:
            return CheckResult.passed(f"{found} {self.unit}")
        return CheckResult.failed(f"{found} {self.unit} < min {self.value}")


def _register(unit: str, measure: Callable[[str], int], what: str) -> None:
    """Register ``min_<unit>`` and ``max_<unit>``; ``what`` completes their descriptions."""
    for is_max, bound in ((False, "at least"), (True, "at most")):
        name = f"{'max' if is_max else 'min'}_{unit}"

        def build(
            params: BoundParams, context: BuildContext, name: str = name, is_max: bool = is_max
        ) -> LengthBound:
            return LengthBound(name, unit, measure, params.value, is_max)

        build.__name__ = f"build_{name}"
        build.__doc__ = f"The output has {bound} the given number of {what}."
        register_check(name, BoundParams, shorthand={"type": "integer", "minimum": 0})(build)


_register("chars", count_chars, "characters, leading and trailing whitespace not counted")
_register("words", count_words, "words (runs of non-whitespace)")
_register("lines", count_lines, "non-empty lines")
_register("items", count_items, "list items (lines starting with -, *, •, 1. or 1))")
