"""The seeded search / held-out split of a case's combinations."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from promptcheck.adapt.split import confirmation_seed, split_combinations, split_sizes
from promptcheck.backends.base import SamplingParams
from promptcheck.suite.records import CaseSpec, Combination


def case(count: int, case_id: str = "c") -> CaseSpec:
    return CaseSpec(
        id=case_id,
        suite="s",
        path=Path("s.yaml"),
        line=1,
        description="",
        combinations=tuple(Combination(i, {"v": i}, f"p{i}", None) for i in range(count)),
        checks=(),
        sampling=SamplingParams(),
        samples=10,
        seed=0,
        threshold=0.95,
        tolerance=0.05,
    )


@pytest.mark.parametrize(
    ("count", "share", "sizes"),
    [
        (1, 0.5, (1, 0)),
        (2, 0.5, (1, 1)),
        (8, 0.5, (4, 4)),
        (5, 0.5, (2, 3)),
        (10, 0.2, (8, 2)),
        (3, 0.9, (1, 2)),
        (3, 0.01, (2, 1)),
    ],
)
def test_both_parts_get_at_least_one_combination(
    count: int, share: float, sizes: tuple[int, int]
) -> None:
    assert split_sizes(count, share) == sizes


def test_the_split_is_a_seeded_partition_in_case_order() -> None:
    split = split_combinations(case(8), 0.5, seed=0)
    indexes = [c.index for c in (*split.search, *split.held_out)]
    assert sorted(indexes) == list(range(8)) and not split.shared
    assert [c.index for c in split.search] == sorted(c.index for c in split.search)
    assert split == split_combinations(case(8), 0.5, seed=0)
    others = {
        tuple(c.index for c in split_combinations(case(8), 0.5, s).held_out) for s in range(8)
    }
    assert len(others) > 1  # the seed decides
    assert split_combinations(case(8, "d"), 0.5, 0) != split  # and the case does


def test_a_lone_combination_is_shared_and_confirmed_on_new_seeds() -> None:
    split = split_combinations(case(1), 0.5, seed=0)
    assert split.shared and split.search == split.held_out
    single = case(1)
    assert confirmation_seed(single) != single.seed
    assert confirmation_seed(single) != confirmation_seed(dataclasses.replace(single, seed=1))
