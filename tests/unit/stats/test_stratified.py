"""Rates from a stratified queue: weighted point estimates, anytime bounds, labels needed."""

from __future__ import annotations

import pytest

from promptcheck.stats import Outcome
from promptcheck.stats.sequential import lower_bound_anytime
from promptcheck.stats.stratified import (
    StratumCount,
    labels_needed,
    stratified_bound,
    stratified_rate,
    stratified_verdict,
)


def test_the_rate_weights_each_stratum_by_its_share() -> None:
    strata = [StratumCount(0, 0, 0), StratumCount(10, 10, 1), StratumCount(90, 5, 5)]
    assert stratified_rate(strata) == pytest.approx(0.1 * 0.1 + 0.9 * 1.0)
    assert stratified_rate([StratumCount(10, 0, 0), StratumCount(90, 5, 5)]) is None


def test_one_stratum_gives_the_confidence_sequence_of_k_of_n() -> None:
    strata = [StratumCount(50, 30, 27)]
    assert stratified_bound(strata, 0.05, upper=False) == pytest.approx(
        float(lower_bound_anytime(27, 30, 0.05))
    )
    assert stratified_bound(strata, 0.05, upper=True) == pytest.approx(
        1 - float(lower_bound_anytime(3, 30, 0.05))
    )


def test_the_bounds_hold_the_estimate_and_tighten_with_labels() -> None:
    few = [StratumCount(10, 5, 1), StratumCount(90, 5, 5)]
    many = [StratumCount(10, 10, 1), StratumCount(90, 60, 58)]
    for strata in (few, many):
        rate = stratified_rate(strata)
        assert rate is not None
        assert stratified_bound(strata, 0.05, upper=False) <= rate
        assert rate <= stratified_bound(strata, 0.05, upper=True)
    width = [
        stratified_bound(s, 0.05, upper=True) - stratified_bound(s, 0.05, upper=False)
        for s in (few, many)
    ]
    assert width[1] < width[0]


def test_a_clear_case_is_decided_and_an_unlabelled_stratum_is_not() -> None:
    failing = [StratumCount(40, 40, 4), StratumCount(60, 60, 6)]
    assert stratified_verdict(failing, 0.9, 0.05).outcome is Outcome.FAIL
    passing = [StratumCount(5, 5, 5), StratumCount(395, 300, 300)]
    assert stratified_verdict(passing, 0.9, 0.05).outcome is Outcome.PASS
    verdict = stratified_verdict([StratumCount(5, 0, 0), StratumCount(395, 300, 300)], 0.9, 0.05)
    assert verdict.outcome is Outcome.UNDECIDED and verdict.rate is None


def test_labels_needed_is_the_first_count_in_queue_order_that_decides() -> None:
    strata = [StratumCount(5, 5, 0), StratumCount(395, 5, 5)]
    queue = [1] * 390
    needed = labels_needed(strata, queue, 0.9, 0.05)
    assert needed is not None and 0 < needed < 390

    def projected(more: int) -> list[StratumCount]:
        return [strata[0], StratumCount(395, 5 + more, 5 + more)]  # rate 1 projected

    assert stratified_verdict(projected(needed), 0.9, 0.05).outcome is Outcome.PASS
    assert stratified_verdict(projected(needed - 1), 0.9, 0.05).outcome is Outcome.UNDECIDED
    assert labels_needed(strata, queue[:3], 0.9, 0.05) is None  # the outputs left do not decide
    assert labels_needed([StratumCount(5, 0, 0), strata[1]], queue, 0.9, 0.05) is None
