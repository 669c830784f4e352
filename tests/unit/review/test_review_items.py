"""What a rater is shown: items of a run and of a comparison, their strata, order and sides."""

from __future__ import annotations

import sys
from pathlib import Path

from promptcheck.results import Status
from promptcheck.review.items import Stratum, build_items, side_order
from promptcheck.store.reviews import ItemKey, ReviewSet

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fakes package

from fakes.judged_runs import judged_case

P, F, U = Status.PASS, Status.FAIL, Status.UNSCORED

RUN = ReviewSet("run:r1", "run", "r1", None, 2, 1.0)
PAIR = ReviewSet("comparison:r1:r2", "comparison", "r1", "r2", 2, 1.0)

#: format check, judge: agree pass, agree fail, disagree twice, judge unscored on a pass
SAMPLES = [
    ("ok", True, P),
    ("bad", False, F),
    ("judge-fails-it", True, F),
    ("judge-passes-it", False, P),
    ("unread", True, U),
    ("ok2", True, P),
    ("bad2", False, F),
]


def digests(run: str, count: int, case: str = "c1", model: str = "small") -> dict[ItemKey, str]:
    return {ItemKey(run, "suites/triage.yaml", case, model, i): f"{i:064x}" for i in range(count)}


def test_disagreements_come_first_then_failing_and_passing_in_turns() -> None:
    items = build_items(RUN, {"r1": [judged_case("c1", SAMPLES)]}, digests("r1", 7))
    strata = [item.stratum for item in items]
    assert strata[:2] == [Stratum.DISAGREEMENT, Stratum.DISAGREEMENT]
    assert {items[0].sides[0].output, items[1].sides[0].output} == {
        "judge-fails-it",
        "judge-passes-it",
    }
    rest = strata[2:]
    assert rest[0] == Stratum.FAILING and rest[1] == Stratum.PASSING  # in turns
    assert rest.count(Stratum.FAILING) == 2 and rest.count(Stratum.PASSING) == 3
    again = build_items(RUN, {"r1": [judged_case("c1", SAMPLES)]}, digests("r1", 7))
    assert [item.id for item in again] == [item.id for item in items]  # the same for every rater
    other = ReviewSet("run:r9", "run", "r1", None, 2, 1.0)
    reordered = build_items(other, {"r1": [judged_case("c1", SAMPLES * 3)]}, digests("r1", 21))
    assert len(reordered) == 21


def test_errored_samples_and_samples_without_a_stored_output_are_not_items() -> None:
    case = judged_case("c1", SAMPLES[:3])
    missing = digests("r1", 3)
    del missing[ItemKey("r1", "suites/triage.yaml", "c1", "small", 1)]
    items = build_items(RUN, {"r1": [case]}, missing)
    assert sorted(item.sides[0].key.sample for item in items) == [0, 2]


def test_a_comparison_pairs_the_same_sample_of_both_runs() -> None:
    base = judged_case("c1", SAMPLES[:4])
    cand = judged_case("c1", [("new", True, P)] * 3, model="big")
    only_base = judged_case("c2", SAMPLES[:2])
    keys = {**digests("r1", 4), **digests("r1", 2, "c2"), **digests("r2", 3, model="big")}
    items = build_items(PAIR, {"r1": [base, only_base], "r2": [cand]}, keys)
    assert len(items) == 3  # samples 0-2 of c1; c2 is in one run only
    for item in items:
        first, second = item.sides
        assert first.key.run_id == "r1" and second.key.run_id == "r2"
        assert first.key.sample == second.key.sample
    assert items[0].stratum == Stratum.DISAGREEMENT  # sample 2 of the baseline


def test_side_order_is_random_per_rater_and_item_but_stable() -> None:
    base = judged_case("c1", [("a", True, P)] * 40)
    cand = judged_case("c1", [("b", True, P)] * 40, model="big")
    keys = {**digests("r1", 40), **digests("r2", 40, model="big")}
    items = build_items(PAIR, {"r1": [base], "r2": [cand]}, keys)
    for rater in ("alice", "bob"):
        orders = [side_order(rater, PAIR.id, item) for item in items]
        assert orders == [side_order(rater, PAIR.id, item) for item in items]
        flipped = orders.count((1, 0))
        assert 8 <= flipped <= 32, flipped  # 40 fair coins: outside this once in ~10,000 sets
    assert [side_order("alice", PAIR.id, i) for i in items] != [
        side_order("bob", PAIR.id, i) for i in items
    ]
    single = build_items(RUN, {"r1": [base]}, digests("r1", 40))
    assert side_order("alice", RUN.id, single[0]) == (0,)
