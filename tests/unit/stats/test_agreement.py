"""The agreement statistics against figures computed by hand or from published examples.

Each expected figure is written out from its textbook formula in the test (not by calling the
code under test), so a slip in the code cannot hide in the expectation.
"""

from __future__ import annotations

import math

import pytest

from promptcheck.stats import clopper_pearson
from promptcheck.stats.agreement import (
    binary_table,
    cohen_kappa,
    design_effective_size,
    effective_size,
    krippendorff_alpha,
    majority,
    normal_quantile,
    proportion,
    ratings_needed,
    rogan_gladen,
    weighted_proportion,
)
from promptcheck.stats.betainc import inverse_regularized_beta

Z95 = 1.959963984540054


def test_normal_quantile() -> None:
    assert normal_quantile(0.95) == pytest.approx(Z95, abs=1e-12)
    assert normal_quantile(0.8) == pytest.approx(1.2815515655446004, abs=1e-12)


def test_proportion_is_clopper_pearson_and_empty_is_the_unit_range() -> None:
    estimate = proportion(18, 20)
    assert estimate.value == 0.9 and estimate.n == 20
    assert estimate.interval == clopper_pearson(18, 20)
    # 20/20: the exact lower bound is (alpha/2)^(1/n) = 0.025^(1/20)
    assert proportion(20, 20).interval[0] == pytest.approx(0.025 ** (1 / 20), abs=1e-9)
    assert proportion(0, 0).value is None and proportion(0, 0).interval == (0.0, 1.0)


def test_cohen_kappa_by_hand() -> None:
    # rater 1 pass/fail by rows, rater 2 by columns: 20 both pass, 5 + 10 disagree, 15 both fail
    table = [[20, 5], [10, 15]]
    n = 50
    p_o = 35 / n
    rows, columns = (25 / n, 25 / n), (30 / n, 20 / n)
    p_e = rows[0] * columns[0] + rows[1] * columns[1]  # 0.3 + 0.2
    kappa = (p_o - p_e) / (1 - p_e)
    assert kappa == pytest.approx(0.4)
    # Fleiss, Cohen and Everitt (1969): the variance that holds for any kappa
    p = [[c / n for c in row] for row in table]
    a = sum(p[i][i] * (1 - (rows[i] + columns[i]) * (1 - kappa)) ** 2 for i in range(2))
    b = (1 - kappa) ** 2 * (
        p[0][1] * (columns[0] + rows[1]) ** 2 + p[1][0] * (columns[1] + rows[0]) ** 2
    )
    c = (kappa - p_e * (1 - kappa)) ** 2
    se = math.sqrt((a + b - c) / (n * (1 - p_e) ** 2))
    estimate = cohen_kappa(table)
    assert estimate.value == pytest.approx(kappa, abs=1e-12)
    assert estimate.interval == pytest.approx((kappa - Z95 * se, kappa + Z95 * se), abs=1e-12)
    assert estimate.n == 50


def test_cohen_kappa_edges() -> None:
    assert cohen_kappa([[10, 0], [0, 10]]).value == pytest.approx(1.0)
    assert cohen_kappa([[10, 0], [0, 10]]).interval == pytest.approx((1.0, 1.0))
    # both raters always said pass: agreement by chance is certain, kappa is 0/0
    assert cohen_kappa([[7, 0], [0, 0]]).value is None
    assert cohen_kappa([[0, 0], [0, 0]]).value is None
    with pytest.raises(ValueError, match="square"):
        cohen_kappa([[1, 2]])


def test_binary_table_counts_pass_first() -> None:
    pairs = [(True, True), (True, False), (False, True), (False, False), (True, True)]
    assert binary_table(pairs) == [[2, 1], [1, 1]]


def test_krippendorff_alpha_reproduces_the_published_nominal_example() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 observers, 12 units,
    # nominal alpha = 0.743 (unit 12 has one value and is not pairable)
    observers = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    units = [[row[u] for row in observers if row[u] is not None] for u in range(12)]
    estimate = krippendorff_alpha(units, resamples=500)
    assert round(estimate.value or 0.0, 3) == 0.743
    assert estimate.n == 11
    low, high = estimate.interval
    assert low <= estimate.value <= high and low >= -1.0 and high <= 1.0
    assert krippendorff_alpha(units, resamples=500).interval == estimate.interval  # seeded


def test_krippendorff_alpha_binary_by_hand() -> None:
    # units (p, p), (p, f), (f, f, f); a unit of m values adds its ordered pairs weighted
    # 1/(m - 1): o_pp = 2, o_pf = o_fp = 1, o_ff = 6/2 = 3; n_p = 3, n_f = 4, n = 7
    # alpha = 1 - (n - 1) * o_pf / (n_p * n_f)
    units = [[True, True], [True, False], [False, False, False]]
    expected = 1 - (7 - 1) * 1 / (3 * 4)
    assert krippendorff_alpha(units, resamples=200).value == pytest.approx(expected)
    assert krippendorff_alpha([[True, True], [True]]).value is None  # one category only


def test_rogan_gladen_point_by_hand_and_interval_holds_it() -> None:
    # the judge passes 60 of 100; it passed 45 of 50 human passes and failed 40 of 50 human fails
    se, sp = 45 / 50, 40 / 50
    expected = (0.6 + sp - 1) / (se + sp - 1)  # (0.6 - 0.2) / 0.7
    estimate = rogan_gladen(60, 100, (45, 50), (40, 50))
    assert estimate.value == pytest.approx(expected)
    low, high = estimate.interval
    assert 0.0 <= low < expected < high <= 1.0
    # the delta method's variance, on Agresti-Coull-adjusted proportions
    z2 = Z95**2
    p_, se_, sp_ = ((k + z2 / 2) / (n + z2) for k, n in ((60, 100), (45, 50), (40, 50)))
    centre = (p_ + sp_ - 1) / (se_ + sp_ - 1)
    var = (
        p_ * (1 - p_) / (100 + z2)
        + centre**2 * se_ * (1 - se_) / (50 + z2)
        + (1 - centre) ** 2 * sp_ * (1 - sp_) / (50 + z2)
    ) / (se_ + sp_ - 1) ** 2
    assert estimate.interval == pytest.approx(
        (centre - Z95 * math.sqrt(var), centre + Z95 * math.sqrt(var))
    )


def test_rogan_gladen_carries_the_judges_uncertainty() -> None:
    """The same judge rate and error rates, known from fewer rated items: a wider interval."""
    many = rogan_gladen(60, 100, (450, 500), (400, 500))
    few = rogan_gladen(60, 100, (9, 10), (8, 10))
    assert many.value == pytest.approx(few.value or 0.0)
    width = lambda e: e.interval[1] - e.interval[0]  # noqa: E731
    assert width(few) > 1.5 * width(many)


def test_rogan_gladen_clips_and_refuses_a_useless_judge() -> None:
    assert rogan_gladen(100, 100, (9, 10), (8, 10)).value == 1.0  # (1 + .8 - 1) / .7 > 1
    assert rogan_gladen(0, 100, (9, 10), (8, 10)).value == 0.0
    coin = rogan_gladen(50, 100, (5, 10), (5, 10))  # Se + Sp - 1 = 0
    assert coin.value is None and coin.interval == (0.0, 1.0)
    assert rogan_gladen(5, 10, (0, 0), (5, 10)).value is None  # no human pass rated


def decided_at(k: int, n: int, threshold: float, more: int) -> bool:
    """The gate's rule (fail: 95% upper bound < threshold; pass: 80% lower bound > threshold -
    0.05) on the exact bounds at the projected count k/n * (n + more)."""
    size = n + more
    passing = k / n * size
    upper = 1.0 if passing >= size else inverse_regularized_beta(0.95, passing + 1, size - passing)
    lower = inverse_regularized_beta(0.2, passing, size - passing + 1)
    return upper < threshold or lower > threshold - 0.05


@pytest.mark.parametrize(
    ("k", "n", "threshold"),
    [(9, 10, 0.9), (14, 15, 0.9), (17, 20, 0.85), (4, 5, 0.8), (7, 10, 0.9)],
)
def test_ratings_needed_is_the_first_decided_count(k: int, n: int, threshold: float) -> None:
    needed = ratings_needed(k, n, threshold)
    assert needed is not None and needed > 0
    assert decided_at(k, n, threshold, needed)
    assert not decided_at(k, n, threshold, needed - 1)


def test_ratings_needed_edges() -> None:
    assert ratings_needed(0, 0, 0.9) is None  # nothing rated: no rate to project
    assert ratings_needed(2, 10, 0.9) == 0  # already a fail
    assert ratings_needed(18, 20, 0.95, limit=10) is None  # would need more than the limit


def test_majority() -> None:
    assert majority([True, True, False]) is True
    assert majority([False]) is False
    assert majority([True, False]) is None
    assert majority([]) is None


def test_design_effective_size_is_n_for_equal_weights() -> None:
    assert design_effective_size([1.0] * 7, [1.0] * 3) == pytest.approx(10)
    assert design_effective_size([2.5] * 7, [2.5] * 3) == pytest.approx(10)
    interval = weighted_proportion([2.0] * 7, [2.0] * 3).interval
    assert interval == pytest.approx(clopper_pearson(7, 10))


def test_design_effective_size_by_hand_when_the_heavy_weights_sit_on_the_misses() -> None:
    # 8 hits of weight 1, 2 misses of weight 3: p = 8/14, Var = (8 (6/14)^2 + 18 (8/14)^2) / 14^2
    hits, misses = [1.0] * 8, [3.0] * 2
    p = 8 / 14
    variance = (8 * (1 - p) ** 2 + 18 * p**2) / 14**2
    assert design_effective_size(hits, misses) == pytest.approx(p * (1 - p) / variance)
    kish = effective_size([*hits, *misses])  # 196 / 26 = 7.54
    assert design_effective_size(hits, misses) < kish  # the variance comes from the heavy misses


def test_design_effective_size_is_at_most_n_and_falls_back_at_the_edges() -> None:
    # heavy weights on the common outcome: the formula exceeds n, and is cut to it
    assert design_effective_size([3.0] * 2, [1.0] * 8) <= 10
    assert design_effective_size([1.0, 2.0, 3.0], []) == pytest.approx(effective_size([1, 2, 3]))
    assert design_effective_size([], []) == 0.0
