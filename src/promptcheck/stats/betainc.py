"""The regularized incomplete beta function and its inverse, in pure Python.

Every threshold verdict needs exact binomial (Clopper-Pearson) bounds, which are quantiles of a
beta distribution. scipy has them, but importing ``scipy.special`` costs half a second, which was
a fifth of the fixed cost of a ``pytest --promptcheck`` run; a verdict needs only a few quantiles,
and these functions compute them in tens to hundreds of microseconds. For p in [1e-12, 1 - 1e-12]
and a, b up to 10^5 the quantiles agree with scipy's to 1e-9 relative or better
(tests/unit/stats/test_betainc.py compares them over a grid and on random arguments).

``regularized_beta`` evaluates the classical continued fraction of I_x(a, b) by the modified
Lentz method, on the side of the symmetry relation I_x(a, b) = 1 - I_(1-x)(b, a) where it
converges fast; ``inverse_regularized_beta`` solves I_x(a, b) = p by Newton steps on the beta
density, kept inside a shrinking bracket (a step that would leave it bisects instead).
"""

from __future__ import annotations

import math

_TINY = 1e-300
_EPSILON = 1e-15
_MAX_TERMS = 100_000


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _continued_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction whose value times x^a (1-x)^b / (a B(a, b)) is I_x(a, b)."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    value = d
    for m in range(1, _MAX_TERMS):
        for term in (
            m * (b - m) * x / ((a + 2 * m - 1.0) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1.0)),
        ):
            d = 1.0 + term * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + term / c
            c = c if abs(c) > _TINY else _TINY
            value *= c * d
        if abs(c * d - 1.0) < _EPSILON:
            return value
    raise ArithmeticError(f"incomplete beta did not converge (x={x}, a={a}, b={b})")


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b): the beta(a, b) distribution's CDF at x, for a, b > 0."""
    if a <= 0 or b <= 0:
        raise ValueError("a and b must be positive")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = a * math.log(x) + b * math.log1p(-x) - _log_beta(a, b)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _continued_fraction(x, a, b) / a
    return 1.0 - math.exp(log_front) * _continued_fraction(1.0 - x, b, a) / b


def _start(p: float, a: float, b: float, log_norm: float) -> float:
    """A first guess: the tails' leading terms (I_x ~ x^a / (a B) near 0, and the mirror image
    near 1), else the mean."""
    mean = a / (a + b)
    low_tail = math.exp((math.log(p) + math.log(a) + log_norm) / a)
    if low_tail < mean:
        return low_tail
    high_tail = 1.0 - math.exp((math.log1p(-p) + math.log(b) + log_norm) / b)
    return high_tail if high_tail > mean else mean


def inverse_regularized_beta(p: float, a: float, b: float) -> float:
    """The x in [0, 1] with I_x(a, b) = p: the beta(a, b) distribution's p-quantile."""
    if not 0.0 <= p <= 1.0:
        raise ValueError("p must be in [0, 1]")
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return 1.0
    if p > 0.5:  # the upper tail, solved as the mirror image's lower tail, keeps its precision
        return 1.0 - inverse_regularized_beta(1.0 - p, b, a)
    log_norm = _log_beta(a, b)
    low, high = 0.0, 1.0
    x = min(max(_start(p, a, b, log_norm), 1e-300), 1.0 - 1e-16)
    last_error = error_before = math.inf  # |error| one and two steps back
    for _ in range(400):
        error = regularized_beta(x, a, b) - p
        if error == 0.0:
            return x
        if error > 0.0:
            high = x
        else:
            low = x
        density = math.exp((a - 1.0) * math.log(x) + (b - 1.0) * math.log1p(-x) - log_norm)
        candidate = x - error / density if density > 0.0 and math.isfinite(density) else -1.0
        slow = abs(error) > error_before / 2  # two Newton steps did not halve the error: bisect
        if slow or not low < candidate < high:
            # in log space while the bracket spans orders of magnitude, so tails are reached
            geometric = low > 0 and high > 4 * low
            candidate = math.sqrt(low) * math.sqrt(high) if geometric else (low + high) / 2
            if low == 0.0:
                candidate = high / 16
        last_error, error_before = abs(error), last_error
        if abs(candidate - x) <= 4e-16 * x or high - low <= 4e-16 * high:
            return candidate
        x = candidate
    return x
