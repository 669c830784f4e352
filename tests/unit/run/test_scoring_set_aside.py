"""Checks set aside by the calibration floor: a sample whose every check is set aside is not a
pass (nothing decides it), and the case says why it was not judged."""

from __future__ import annotations

import asyncio

from test_runner import Equals, make_case, make_model

from promptcheck.backends.base import Generation
from promptcheck.results import Status
from promptcheck.run.planning import plan_samples
from promptcheck.run.scoring import NO_GATING_CHECK, SetAside, score_samples, summarize


def scored(checks: tuple[Equals, ...], diagnostic: dict[int, str]) -> tuple[list, SetAside]:
    case = make_case(checks=checks, samples=4)
    model = make_model()
    batch = plan_samples(case, model, 4)
    outputs = ["GOOD", "BAD", "GOOD", "GOOD"]
    generations = {s.index: (Generation(text=outputs[s.index]), False) for s in batch}
    set_aside: SetAside = {}
    outcomes = asyncio.run(
        asyncio.wait_for(
            score_samples(case, model, batch, generations, None, None, diagnostic, set_aside),
            timeout=30,
        )
    )
    return [case, model, outcomes], set_aside


def test_a_sample_with_no_gating_check_is_unscored_and_the_case_not_judged() -> None:
    (case, model, outcomes), set_aside = scored((Equals(),), {0: "below the floor"})
    assert [o.status for o in outcomes] == ["unscored"] * 4
    assert all(o.checks[0].reason == NO_GATING_CHECK for o in outcomes)
    result = summarize(case, model.name, outcomes, None, set_aside, {0: "below the floor"})
    assert (result.verdict.k, result.verdict.n, result.verdict.outcome.value) == (0, 0, "undecided")
    assert "no check gates" in result.verdict.explanation
    tally = result.tallies[0]  # the set-aside verdicts are still tallied, once each
    assert (tally.passed, tally.failed, tally.unscored) == (3, 1, 0)
    (entry,) = result.properties["diagnostic_checks"]
    assert entry["verdicts"]["1"] == [Status.FAIL.value, "expected 'GOOD'"]


def test_a_gating_check_beside_a_set_aside_one_still_decides() -> None:
    checks = (Equals(), Equals(value="BAD"))
    (case, model, outcomes), set_aside = scored(checks, {1: "below the floor"})
    assert [o.status for o in outcomes] == ["pass", "fail", "pass", "pass"]
    result = summarize(case, model.name, outcomes, None, set_aside, {1: "below the floor"})
    assert (result.verdict.k, result.verdict.n) == (3, 4)
    assert "no check gates" not in result.verdict.explanation
