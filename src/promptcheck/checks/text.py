"""Text checks: the output equals, starts with, ends with, contains or matches given text.

These run once per sample and per check, tens of thousands of times a second, so everything that
does not depend on the output (case folding of the expected text, regex compilation) happens once
in ``build``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import regex
from pydantic import Field

from promptcheck.checks.base import BuildContext, CheckContext, CheckResult, register_check
from promptcheck.checks.params import PASSED, CheckParams, clip, quoted
from promptcheck.config import CHECK_TIMEOUT_S
from promptcheck.errors import ConfigError

_STRING = {"type": "string"}
_STRINGS = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]
}


class TextParams(CheckParams):
    """``equals`` / ``starts_with`` / ``ends_with``: the text, and how to compare it."""

    short_field = "value"

    value: str = Field(description="The expected text.")
    case_sensitive: bool = Field(True, description="Compare case-sensitively.")
    strip: bool = Field(True, description="Strip leading and trailing whitespace off the output.")


@dataclass(slots=True)
class TextComparison:
    """Compares the (stripped, case-folded) output with one expected text."""

    name: str
    value: str
    case_sensitive: bool
    strip: bool
    test: Callable[[str, str], bool]
    describe: str
    show_end: bool = False

    def evaluate(self, output: str, context: CheckContext) -> CheckResult:
        text = output.strip() if self.strip else output
        if self.test(text if self.case_sensitive else text.casefold(), self.value):
            return PASSED
        shown = repr("…" + text[-59:]) if self.show_end and len(text) > 60 else quoted(text)
        return CheckResult.failed(f"{self.describe}; output is {shown}")


def _compare(
    name: str, params: TextParams, test: Callable[[str, str], bool], verb: str
) -> TextComparison:
    value = params.value if params.case_sensitive else params.value.casefold()
    case = "" if params.case_sensitive else " (ignoring case)"
    describe = f"expected {verb} {quoted(params.value)}{case}"
    return TextComparison(
        name, value, params.case_sensitive, params.strip, test, describe, name == "ends_with"
    )


@register_check("equals", TextParams, shorthand=_STRING)
def build_equals(params: TextParams, context: BuildContext) -> TextComparison:
    """The output is exactly the given text (after stripping whitespace, unless ``strip: false``).

    For answers that drive a branch in the calling program: ``YES``/``NO``, a label, an id.
    """
    return _compare("equals", params, str.__eq__, "exactly")


@register_check("starts_with", TextParams, shorthand=_STRING)
def build_starts_with(params: TextParams, context: BuildContext) -> TextComparison:
    """The output starts with the given text (after stripping leading whitespace by default)."""
    return _compare("starts_with", params, str.startswith, "to start with")


@register_check("ends_with", TextParams, shorthand=_STRING)
def build_ends_with(params: TextParams, context: BuildContext) -> TextComparison:
    """The output ends with the given text (after stripping trailing whitespace by default)."""
    return _compare("ends_with", params, str.endswith, "to end with")


class ContainsParams(CheckParams):
    """``contains`` / ``not_contains``: one text or a list of texts."""

    short_field = "value"

    value: str | Annotated[list[str], Field(min_length=1)] = Field(
        description="A text, or a list of texts; all must occur (contains) or none (not_contains)."
    )
    case_sensitive: bool = Field(True, description="Compare case-sensitively.")

    def values(self) -> tuple[str, ...]:
        return (self.value,) if isinstance(self.value, str) else tuple(self.value)


@dataclass(slots=True)
class Containment:
    """Looks for each of several texts in the output; ``wanted`` says whether they must occur."""

    name: str
    values: tuple[str, ...]
    folded: tuple[str, ...]
    case_sensitive: bool
    wanted: bool

    def evaluate(self, output: str, context: CheckContext) -> CheckResult:
        text = output if self.case_sensitive else output.casefold()
        wrong = [
            shown
            for shown, value in zip(self.values, self.folded, strict=True)
            if (value in text) is not self.wanted
        ]
        if not wrong:
            return PASSED
        listed = clip(", ".join(quoted(value, 40) for value in wrong), 160)
        if self.wanted:
            of = f" ({len(wrong)} of {len(self.values)})" if len(self.values) > 1 else ""
            return CheckResult.failed(f"missing {listed}{of}")
        return CheckResult.failed(f"contains forbidden {listed}")


def _containment(name: str, params: ContainsParams, wanted: bool) -> Containment:
    values = params.values()
    folded = values if params.case_sensitive else tuple(value.casefold() for value in values)
    return Containment(name, values, folded, params.case_sensitive, wanted)


@register_check("contains", ContainsParams, shorthand=_STRINGS)
def build_contains(params: ContainsParams, context: BuildContext) -> Containment:
    """The output contains the given text, or every text of the given list."""
    return _containment("contains", params, wanted=True)


@register_check("not_contains", ContainsParams, shorthand=_STRINGS)
def build_not_contains(params: ContainsParams, context: BuildContext) -> Containment:
    """The output contains neither the given text nor any text of the given list.

    For leaks and boilerplate: a system prompt echoed back, "As an AI language model".
    """
    return _containment("not_contains", params, wanted=False)


_FLAGS = {"ignorecase": re.IGNORECASE, "multiline": re.MULTILINE, "dotall": re.DOTALL}


class RegexParams(CheckParams):
    """``regex``: a Python regular expression, where it must match, and its flags."""

    short_field = "pattern"

    pattern: str = Field(description="A Python regular expression (re module syntax).")
    mode: Literal["search", "match", "fullmatch"] = Field(
        "search",
        description="search: anywhere in the output; match: at its start; fullmatch: all of it.",
    )
    flags: list[Literal["ignorecase", "multiline", "dotall"]] = Field(
        default_factory=list, description="re flags to compile the pattern with."
    )


_FAILURE = {
    "search": "no match for {} in the output",
    "match": "the output does not start with a match for {}",
    "fullmatch": "the output does not match {} as a whole",
}


@dataclass(slots=True)
class RegexMatch:
    """A compiled pattern's bound search, match or fullmatch, and its one failure result.

    A pattern can backtrack for ever on the wrong output (``(a+)+b`` on forty a's), so it runs
    off the event loop (``blocking``) under the ``regex`` package's own timeout, which stops the
    matching itself rather than only the wait for it.
    """

    name: str
    apply: Callable[..., Any]
    failure: CheckResult
    blocking = True

    def evaluate(self, output: str, context: CheckContext) -> CheckResult:
        try:
            found = self.apply(output, timeout=CHECK_TIMEOUT_S)
        except TimeoutError:
            return CheckResult.unscored(
                f"the pattern took longer than {CHECK_TIMEOUT_S:g} s on this output "
                "(catastrophic backtracking); simplify it"
            )
        return PASSED if found is not None else self.failure


@register_check("regex", RegexParams, shorthand=_STRING)
def build_regex(params: RegexParams, context: BuildContext) -> RegexMatch:
    """The output matches a regular expression: anywhere (search), at its start, or as a whole.

    The output is not stripped: with ``mode: fullmatch``, end the pattern with ``\\s*`` when the
    model may emit a trailing newline.
    """
    flags = 0
    for flag in params.flags:
        flags |= _FLAGS[flag]
    try:  # Python's re decides what a valid pattern is (and words the error)
        re.compile(params.pattern, flags)
    except re.error as exc:
        raise ConfigError(
            f"invalid regular expression {quoted(params.pattern)}: {exc}",
            key=("pattern",),
            hint="patterns use Python's re syntax; in YAML, quote them with single quotes "
            "so that backslashes stay as written",
        ) from None
    try:  # the same pattern in the regex package, whose matching can be timed out
        bounded = regex.compile(params.pattern, flags | regex.VERSION0)
    except regex.error as exc:
        raise ConfigError(
            f"regular expression {quoted(params.pattern)} is not supported: {exc}",
            key=("pattern",),
        ) from None
    apply: Callable[..., Any] = getattr(bounded, params.mode)
    reason = _FAILURE[params.mode].format(repr(clip(params.pattern, 80)))
    return RegexMatch("regex", apply, CheckResult.failed(reason))
