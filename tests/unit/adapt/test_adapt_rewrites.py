"""Which rewrites may be tried, and the case a rewrite makes."""

from __future__ import annotations

from pathlib import Path

from promptcheck.adapt.rewrites import rejection, rendered_case
from promptcheck.adapt.templates import PromptTemplate
from promptcheck.backends.base import SamplingParams
from promptcheck.suite.records import CaseSpec, Combination

ORIGINAL = PromptTemplate(prompt="Classify.\n\nTicket: {{ ticket }} ({{ lang }})")
COMBINATIONS = tuple(
    Combination(i, {"ticket": t, "lang": "en"}, None, None) for i, t in enumerate("abc")
)


def case() -> CaseSpec:
    return CaseSpec(
        id="c",
        suite="s",
        path=Path("s.yaml"),
        line=1,
        description="",
        combinations=COMBINATIONS,
        checks=(),
        sampling=SamplingParams(),
        samples=10,
        seed=3,
        threshold=0.95,
        tolerance=0.05,
    )


def why(prompt: str, earlier: tuple[tuple[str, PromptTemplate], ...] = ()) -> str | None:
    return rejection(PromptTemplate(prompt=prompt), ORIGINAL, COMBINATIONS, earlier)


def test_a_rewrite_with_the_same_variables_may_be_tried() -> None:
    assert why("Ticket: {{ ticket }} ({{ lang }})\n\nClassify.") is None


def test_rewrites_that_cannot_be_tried_say_why() -> None:
    assert why("Classify {{ ticket").startswith("does not compile: template syntax error")
    assert why("Classify {{ ticket }}.") == "drops the variable(s) lang"
    assert why("{{ ticket }} {{ lang }} {{ customer }}") == (
        "uses variable(s) the case does not define: customer"
    )
    assert why("{{ ticket.upper.missing }} {{ lang }}").startswith(
        "does not render with combination 0"
    )
    assert why(ORIGINAL.prompt or "") == "is the original prompt"
    same = PromptTemplate(prompt="{{ ticket }} {{ lang }}")
    assert why("{{ ticket }} {{ lang }}", (("after-data", same),)) == "is the same as after-data"
    assert rejection(PromptTemplate(prompt="   "), PromptTemplate(prompt="x"), ()) == "is empty"


def test_a_rewritten_case_renders_its_own_combinations_and_may_reseed() -> None:
    rewrite = PromptTemplate(prompt="{{ lang }}: {{ ticket }}")
    changed = rendered_case(case(), rewrite, COMBINATIONS[1:])
    assert [c.prompt for c in changed.combinations] == ["en: b", "en: c"]
    assert [c.index for c in changed.combinations] == [1, 2]
    assert changed.seed == 3 and changed.id == "c"
    assert rendered_case(case(), rewrite, COMBINATIONS, seed=99).seed == 99
