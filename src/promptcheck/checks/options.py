"""The ``options`` check: the output offers exactly the labelled choices asked for, each once.

A program that renders "A) ... B) ... C) ..." as three buttons breaks on a missing C, on two Bs, and
on a fourth option D just as much; so a marker of the same shape as the labels but not among them
counts against the output. The marker grammar is documented in ``docs/checks.md``; keep the two in
step.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, field_validator

from promptcheck.checks.base import BuildContext, CheckContext, CheckResult, register_check
from promptcheck.checks.params import PASSED, CheckParams

_EMPHASIS = r"(?:\*\*|__)?"

#: Labels of these shapes make any other label of the same shape a stray option.
_SHAPES = (
    (re.compile(r"[A-Z]"), "[A-Z]"),
    (re.compile(r"[a-z]"), "[a-z]"),
    (re.compile(r"[0-9]{1,3}"), "[0-9]{1,3}"),
)


class OptionsParams(CheckParams):
    """``options: [A, B, C]`` is ``options: {labels: [A, B, C]}``."""

    short_field = "labels"

    labels: list[Annotated[str, Field(min_length=1, pattern=r"^\S(?:.*\S)?$")]] = Field(
        min_length=2,
        description="The labels the output must offer, each exactly once (order is not checked).",
    )

    @field_validator("labels")
    @classmethod
    def _unique(cls, labels: list[str]) -> list[str]:
        repeated = sorted(label for label, n in Counter(labels).items() if n > 1)
        if repeated:
            raise ValueError(f"labels must be unique; repeated: {', '.join(repeated)}")
        return labels


def marker_pattern(labels: list[str]) -> re.Pattern[str]:
    """The regex of a line that starts with an option marker for one of ``labels``, or a stray one.

    The label is captured as ``paren`` or ``bare``; a capture outside ``labels`` is a stray option.
    """
    alternatives = [re.escape(label) for label in sorted(labels, key=len, reverse=True)]
    alternatives += [
        shape for matcher, shape in _SHAPES if any(matcher.fullmatch(label) for label in labels)
    ]
    label = "|".join(alternatives)
    return re.compile(
        r"^[ \t]*"
        r"(?:\#{1,6}[ \t]+)?"  # a Markdown heading
        r"(?:[-*+\u2022][ \t]+)?"  # a bullet
        + _EMPHASIS
        + r"(?:(?:[Oo]ption|OPTION|[Cc]hoice|CHOICE)[ \t]+)?"
        + rf"(?:\((?P<paren>{label})\)|(?P<bare>{label}){_EMPHASIS}(?:[.):]|[ \t]+[-\u2013\u2014]))"
        + _EMPHASIS
        + r"(?=\s|$)",
        re.MULTILINE,
    )


@dataclass(slots=True)
class Options:
    """Finds the option markers in the output and compares them with the expected labels."""

    name: str
    labels: list[str]
    known: frozenset[str]
    pattern: re.Pattern[str]
    expected: str

    def evaluate(self, output: str, context: CheckContext) -> CheckResult:
        found = [match["paren"] or match["bare"] for match in self.pattern.finditer(output)]
        if len(found) == len(self.labels) and set(found) == self.known:
            return PASSED
        counts = Counter(found)
        problems = []
        missing = [label for label in self.labels if label not in counts]
        if missing:
            problems.append(f"missing {listing(missing)}")
        repeated = [label for label in self.labels if counts[label] > 1]
        if repeated:
            problems.append(f"repeated {listing(repeated)}")
        stray = [label for label in counts if label not in self.known]
        if stray:
            problems.append(f"unexpected {listing(stray)}")
        shown = listing(found) if found else "no option markers"
        return CheckResult.failed(f"{self.expected}; found {shown} ({'; '.join(problems)})")


def listing(labels: list[str], limit: int = 8) -> str:
    """``A, B, C``, cut after ``limit`` labels so that a runaway output keeps a short reason."""
    if len(labels) <= limit:
        return ", ".join(labels)
    return f"{', '.join(labels[:limit])}, … ({len(labels)} in all)"


@register_check(
    "options",
    OptionsParams,
    shorthand={"type": "array", "items": {"type": "string"}, "minItems": 2, "uniqueItems": True},
)
def build_options(params: OptionsParams, context: BuildContext) -> Options:
    """The output offers exactly the given labelled options, each once, and no others.

    Options are lines that start with a marker such as ``A)``, ``A.``, ``A:``, ``(A)``, ``**A.**``
    or ``A -``; see the checks reference for the full grammar.
    """
    labels = list(params.labels)
    expected = f"expected {len(labels)} options {listing(labels)}"
    return Options("options", labels, frozenset(labels), marker_pattern(labels), expected)
