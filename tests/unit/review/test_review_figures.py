"""Ratings into human labels, per-case human rates with the gate's verdict, and agreement."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from promptcheck.results import Status
from promptcheck.review.figures import (
    case_figures,
    human_labels,
    latest_verdicts,
    rater_agreement,
)
from promptcheck.review.items import build_items
from promptcheck.stats import Outcome
from promptcheck.stats.sequential import lower_bound_anytime
from promptcheck.store.reviews import ItemKey, Rating, ReviewSet

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fakes package

from fakes.judged_runs import judged_case

P = Status.PASS
RUN = ReviewSet("run:r1", "run", "r1", None, 2, 1.0)


def key(sample: int) -> ItemKey:
    return ItemKey("r1", "suites/triage.yaml", "c1", "small", sample)


def rate(rater: str, sample: int, verdict: str, at: float, digest: str | None = None) -> Rating:
    return Rating("run:r1", key(sample), digest or f"{sample:064x}", rater, verdict, at)  # type: ignore[arg-type]


DIGESTS = {key(i): f"{i:064x}" for i in range(10)}


def test_the_latest_rating_of_each_rater_counts_and_a_tie_gives_no_label() -> None:
    ratings = [
        rate("alice", 0, "fail", 1.0),
        rate("alice", 0, "pass", 2.0),  # alice changed her mind: pass
        rate("bob", 0, "pass", 1.5),
        rate("alice", 1, "pass", 1.0),
        rate("bob", 1, "fail", 1.0),  # 1 - 1: split
        rate("carol", 2, "fail", 1.0),
        rate("bob", 3, "pass", 1.0, digest="f" * 64),  # rated another output: stale
    ]
    latest = latest_verdicts(list(reversed(ratings)), DIGESTS)
    assert latest == {
        key(0): {"alice": True, "bob": True},
        key(1): {"alice": True, "bob": False},
        key(2): {"carol": False},
    }
    assert human_labels(latest) == {key(0): True, key(1): None, key(2): False}


def test_case_figures_decide_the_human_rate_with_anytime_bounds() -> None:
    items = build_items(RUN, {"r1": [judged_case("c1", [("x", True, P)] * 10)]}, DIGESTS)
    ratings = [rate("alice", i, "pass", 1.0) for i in range(8)]
    ratings += [rate("alice", 8, "fail", 1.0), rate("alice", 9, "pass", 1.0)]
    ratings += [rate("bob", 9, "fail", 2.0)]  # sample 9 split
    (figures,) = case_figures(items, latest_verdicts(ratings, DIGESTS))
    assert (figures.items, figures.rated, figures.split, figures.passed) == (10, 10, 1, 8)
    # one stratum: the rate is 8 of 9, its bounds the confidence sequence of 8 of 9
    assert figures.verdict.rate == pytest.approx(8 / 9) and figures.labelled == 9
    low, high = figures.verdict.interval
    assert low == pytest.approx(float(lower_bound_anytime(8, 9, 0.025)))
    assert high == pytest.approx(1 - float(lower_bound_anytime(1, 9, 0.025)))
    assert figures.verdict.outcome is Outcome.UNDECIDED
    assert figures.needed is None  # nothing left to label: not decidable from this run
    assert figures.unrated == 0


def test_the_human_rate_weights_the_queues_strata_by_their_share_of_outputs() -> None:
    """95 outputs pass their checks and 5 fail; people agree with the checks. Rated in queue
    order, the first 10 are 5 failing and 5 passing: k/n would be 50%, the case's rate is 95%."""
    samples = [("ok", True, P)] * 95 + [("bad", False, Status.FAIL)] * 5
    digests = {key(i): f"{i:064x}" for i in range(100)}
    items = build_items(RUN, {"r1": [judged_case("c1", samples)]}, digests)
    first = [item.sides[0] for item in items[:10]]
    ratings = [
        rate("alice", side.key.sample, "pass" if side.status == "pass" else "fail", float(t))
        for t, side in enumerate(first)
    ]
    (figures,) = case_figures(items, latest_verdicts(ratings, digests))
    assert (figures.passed, figures.labelled) == (5, 10)
    assert figures.verdict.rate == pytest.approx(0.95)
    assert figures.verdict.outcome is Outcome.UNDECIDED  # not "fail", as k/n would say
    assert figures.verdict.interval[0] <= 0.95 <= figures.verdict.interval[1]
    assert figures.needed is not None and 0 < figures.needed <= 90
    # only failing outputs rated: the passing stratum has no label, so no rate at all
    only_failing = [r for r in ratings if r.verdict == "fail"]
    (figures,) = case_figures(items, latest_verdicts(only_failing, digests))
    assert figures.verdict.rate is None and figures.needed is None
    assert "not labelled yet" in figures.verdict.explanation


def test_two_raters_agree_by_cohens_kappa_and_more_by_krippendorffs_alpha() -> None:
    two = [rate("alice", i, "pass" if i < 5 else "fail", 1.0) for i in range(10)]
    two += [rate("bob", i, "pass" if i < 6 else "fail", 1.0) for i in range(10)]
    agreement = rater_agreement(latest_verdicts(two, DIGESTS))
    assert agreement is not None and agreement.method == "cohen_kappa"
    # alice 5 pass / 5 fail, bob 6 / 4, they differ on one: p_o = .9, p_e = .5*.6 + .5*.4 = .5
    assert agreement.estimate.value == pytest.approx((0.9 - 0.5) / (1 - 0.5))
    assert agreement.unanimous == pytest.approx(0.9)
    three = [*two, *(rate("carol", i, "pass", 1.0) for i in range(4))]
    agreement = rater_agreement(latest_verdicts(three, DIGESTS))
    assert agreement is not None and agreement.method == "krippendorff_alpha"
    assert agreement.raters == ("alice", "bob", "carol")
    assert rater_agreement(latest_verdicts(two[:10], DIGESTS)) is None  # one rater only
