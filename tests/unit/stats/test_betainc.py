"""The pure-Python incomplete beta behind every threshold verdict, against scipy's."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcheck.stats import clopper_pearson
from promptcheck.stats.betainc import inverse_regularized_beta, regularized_beta

scipy_special = pytest.importorskip("scipy.special")

SIZES = [1, 2, 3, 5, 10, 20, 50, 100, 400, 1000, 5000, 20000]
LEVELS = [1e-6, 0.025, 0.05, 0.2, 0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999]


def close(mine: float, reference: float, relative: float = 1e-9) -> bool:
    return math.isclose(mine, reference, rel_tol=relative, abs_tol=1e-14)


@pytest.mark.parametrize("n", SIZES)
def test_clopper_pearson_bounds_match_scipy(n: int) -> None:
    for k in sorted({0, 1, 2, n // 10, n // 2, n - 2, n - 1, n} & set(range(n + 1))):
        for level in LEVELS:
            if k < n:
                reference = float(scipy_special.betaincinv(k + 1, n - k, level))
                assert close(inverse_regularized_beta(level, k + 1, n - k), reference)
            if k > 0:
                reference = float(scipy_special.betaincinv(k, n - k + 1, 1 - level))
                assert close(inverse_regularized_beta(1 - level, k, n - k + 1), reference)


def test_the_interval_of_a_known_case() -> None:
    low, high = clopper_pearson(97, 100)
    assert (round(low, 4), round(high, 4)) == (0.9148, 0.9938)
    assert clopper_pearson(0, 0) == (0.0, 1.0)
    assert clopper_pearson(0, 10)[0] == 0.0 and clopper_pearson(10, 10)[1] == 1.0


@settings(max_examples=300, deadline=None)
@given(
    a=st.floats(0.05, 3000),
    b=st.floats(0.05, 3000),
    x=st.floats(0.0, 1.0),
)
def test_the_function_matches_scipy(a: float, b: float, x: float) -> None:
    mine = regularized_beta(x, a, b)
    if abs(mine - float(scipy_special.betainc(a, b, x))) < 1e-11:
        return
    # scipy's betainc loses digits at some edges (a = b = 0.5 at x = 1 - 1e-16 is 2.8e-9 off):
    # there the reference is the function evaluated in 50-digit arithmetic.
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(50):
        exact = mpmath.betainc(a, b, 0, mpmath.mpf(x), regularized=True)
    assert abs(mine - float(exact)) < 1e-11


@settings(max_examples=300, deadline=None)
@given(a=st.floats(0.05, 3000), b=st.floats(0.05, 3000), p=st.floats(1e-12, 1 - 1e-12))
def test_the_inverse_inverts(a: float, b: float, p: float) -> None:
    """Over the range verdicts use and far beyond (their levels are 0.5% to 99.5%)."""
    x = inverse_regularized_beta(p, a, b)
    assert 0.0 <= x <= 1.0
    assert close(x, float(scipy_special.betaincinv(a, b, p)), relative=1e-8)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: regularized_beta(0.5, 0, 1), "positive"),
        (lambda: inverse_regularized_beta(1.5, 1, 1), r"\[0, 1\]"),
    ],
)
def test_bad_arguments_are_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
