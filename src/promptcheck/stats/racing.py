"""Choosing a prompt rewrite without fooling oneself: racing, then confirmation on held-out data.

``promptcheck adapt`` tries several rewrites of a prompt that a new model broke and must say
which one, if any, fixes it. Picking the rewrite with the best observed rate and reporting that
rate is the winner's curse: with six useless rewrites, the luckiest looks good. So the decision
has two parts with separate samples:

* **Racing** (:class:`Race`), on the *search* part of the case's variable values. Every rewrite
  still in the race draws a round of samples; each has an anytime-valid confidence sequence for
  its rate (:mod:`promptcheck.stats.sequential`, at level ``alpha / (2 K)`` per bound for K
  rewrites), and a rewrite is dropped as soon as its upper bound falls below the best lower
  bound. With probability at least 1 - alpha every bound holds at every look, whatever the
  stopping, so the truly best rewrite is never dropped. The race ends when one rewrite is left,
  when the leader's own lower bound (at level alpha) clears the floor (good enough to confirm),
  when no rewrite's upper bound reaches the floor (none can be a fix), or at the per-rewrite
  maximum.
* **Confirmation** (:func:`confirm_threshold`, :func:`confirm_noninferior`), on the *held-out*
  part with new samples: the winner is declared a fix only by a fixed-size test at level
  ``CONFIRM_LEVEL``. Those samples never took part in choosing it, so the test holds its level
  conditionally on the choice: a rewrite whose held-out rate is at or below the floor is declared
  a fix with probability at most 0.05, however the race went. Sampling may stop as soon as the
  final decision is certain (curtailment), which never changes the decision.
* **Contenders** (:meth:`RaceResult.contenders`): when the race ends with rewrites it could not
  tell apart, the winner is only the luckiest of them, and a rewrite that works on the search
  values may not on the held-out ones. Up to ``CONFIRM_CONTENDERS`` of them (the winner first)
  may be tested in turn, each at ``CONFIRM_LEVEL`` divided by their number, fixed before any
  held-out sample is drawn; the first declared a fix is chosen. By the union bound the chance
  that a useless rewrite is declared a fix stays at most ``CONFIRM_LEVEL``.

The racing errors cost power only (a dropped best rewrite), never validity, which rests on the
confirmation alone. :func:`fix_probability` gives its exact operating characteristic.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from promptcheck.stats.betainc import regularized_beta
from promptcheck.stats.sequential import lower_bound_anytime, upper_bound_anytime
from promptcheck.stats.threshold import Outcome, clopper_pearson, lower_bound, threshold_verdict
from promptcheck.stats.two_sample import compare_rates

#: Chance that any bound of a race is ever wrong, over all its rewrites and looks together.
RACE_ALPHA = 0.05
#: Chance that a useless rewrite (held-out rate at or below the floor) is declared a fix.
CONFIRM_LEVEL = 0.05
#: Most rewrites the race could not tell apart that go to the held-out test in turn.
CONFIRM_CONTENDERS = 2


@dataclass(frozen=True, slots=True)
class Arm:
    """One rewrite in a race: its counts on the search part, its anytime-valid bounds at the
    race's per-bound level, and why it stopped ("" while it runs)."""

    name: str
    k: int = 0
    n: int = 0
    lower: float = 0.0
    upper: float = 1.0
    alive: bool = True
    reason: str = ""

    @property
    def rate(self) -> float:
        return self.k / self.n if self.n else 0.0


@dataclass(frozen=True, slots=True)
class RaceResult:
    """How a race ended: the winner (None: no rewrite is worth confirming) and why."""

    winner: str | None
    reason: str
    arms: tuple[Arm, ...]

    def arm(self, name: str) -> Arm:
        return next(arm for arm in self.arms if arm.name == name)

    def contenders(self, limit: int, floor: float) -> tuple[str, ...]:
        """The winner, then the rewrites still in the race when it won that could still
        clear ``floor`` (best search rate first): at most ``limit``, the held-out tests' order."""
        if self.winner is None or limit < 1:
            return ()
        others = sorted(
            (a for a in self.arms if a.alive and a.name != self.winner and a.upper > floor),
            key=lambda arm: (-arm.rate, -arm.lower),
        )
        return (self.winner, *(arm.name for arm in others))[:limit]


class Race:
    """Successive elimination of rewrites with anytime-valid confidence sequences.

    Feed it cumulative (conforming, scored) counts after every round (:meth:`update`); it says
    how many samples each rewrite still in the race should draw next (:meth:`next_round`) and,
    once over, the :class:`RaceResult`. ``floor`` is the rate a rewrite must beyond doubt exceed
    to be worth confirming (``threshold - tolerance``).
    """

    def __init__(
        self,
        names: Sequence[str],
        *,
        floor: float,
        alpha: float = RACE_ALPHA,
        max_samples: int = 100,
        round_size: int = 10,
    ) -> None:
        if not names or len(set(names)) != len(names):
            raise ValueError(f"a race needs distinct rewrite names, got {list(names)}")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        if max_samples < 1 or round_size < 1:
            raise ValueError(f"need max_samples >= 1 and round_size >= 1, got {max_samples}")
        self.floor = floor
        self.alpha = alpha
        self.level = alpha / (2 * len(names))
        self.max_samples = max_samples
        self.round_size = round_size
        self._arms = {name: Arm(name) for name in names}
        self._result: RaceResult | None = None

    @property
    def arms(self) -> tuple[Arm, ...]:
        return tuple(self._arms.values())

    @property
    def result(self) -> RaceResult | None:
        return self._result

    def next_round(self) -> dict[str, int]:
        """Samples each rewrite still in the race draws now; empty once the race is over."""
        if self._result is not None:
            return {}
        return {
            arm.name: min(self.round_size, self.max_samples - arm.n)
            for arm in self._arms.values()
            if arm.alive and arm.n < self.max_samples
        }

    def update(self, counts: Mapping[str, tuple[int, int]]) -> RaceResult | None:
        """Record cumulative counts of the rewrites that drew; drop the beaten; the result once
        the race is over (None while it goes on)."""
        if self._result is not None:
            return self._result
        for name, (k, n) in counts.items():
            arm = self._arms[name]
            if not (0 <= k <= n and k >= arm.k and n - k >= arm.n - arm.k):
                raise ValueError(
                    f"{name}: counts are cumulative; got {k}/{n} after {arm.k}/{arm.n}"
                )
            lower, upper = self._bounds(k, n)
            self._arms[name] = Arm(name, k, n, lower, upper)
        self._eliminate()
        self._result = self._decide()
        return self._result

    def stop(self, reason: str) -> RaceResult:
        """End the race now (a spent budget): the leader wins if it can still reach the floor."""
        if self._result is None:
            self._result = self._finish(reason)
        return self._result

    def _bounds(self, k: int, n: int) -> tuple[float, float]:
        return anytime_bounds(k, n, self.level)

    def _alive(self) -> list[Arm]:
        return [arm for arm in self._arms.values() if arm.alive]

    def _leader(self) -> Arm:
        """The rewrite with the best lower bound, then rate; ties go to the earlier one."""
        alive = self._alive()
        return max(alive, key=lambda arm: (arm.lower, arm.rate, -alive.index(arm)))

    def _eliminate(self) -> None:
        leader = self._leader()
        for arm in self._alive():
            if arm.name != leader.name and arm.upper < leader.lower:
                self._arms[arm.name] = Arm(
                    arm.name,
                    arm.k,
                    arm.n,
                    arm.lower,
                    arm.upper,
                    alive=False,
                    reason=f"upper bound {arm.upper:.3f} < lower bound {leader.lower:.3f} "
                    f"of {leader.name}",
                )

    def _decide(self) -> RaceResult | None:
        alive = self._alive()
        leader = self._leader()
        if len(alive) == 1 and len(self._arms) > 1:
            return self._won(leader, "the other rewrites were eliminated")
        # Good enough to confirm: the leader's own bound, at the race's whole level. This stop
        # only picks what the held-out test judges, so a wrong call costs a test, not validity;
        # the simultaneous bounds that keep the best rewrite in the race cost ~60 samples here.
        own_lower = anytime_bounds(leader.k, leader.n, self.alpha)[0]
        if own_lower > self.floor:
            return self._won(leader, f"its lower bound {own_lower:.3f} > {self.floor:.3g}")
        if all(arm.upper <= self.floor for arm in alive):
            best = max(arm.upper for arm in alive)
            return self._lost(
                f"no rewrite can reach {self.floor:.3g} (best upper bound {best:.3f})"
            )
        if all(arm.n >= self.max_samples for arm in alive):
            return self._finish(f"every rewrite drew its {self.max_samples} samples")
        return None

    def _finish(self, reason: str) -> RaceResult:
        alive = self._alive()
        best = max(alive, key=lambda arm: (arm.rate, arm.lower, -alive.index(arm)))
        if best.upper <= self.floor or best.n == 0:
            return self._lost(f"{reason}; no rewrite can reach {self.floor:.3g}")
        return self._won(best, f"{reason}; best rate")

    def _won(self, winner: Arm, reason: str) -> RaceResult:
        arms = []
        for arm in self._arms.values():
            if arm.alive:
                why = reason if arm.name == winner.name else f"{winner.name} won: {reason}"
                arm = Arm(arm.name, arm.k, arm.n, arm.lower, arm.upper, arm.alive, why)
            arms.append(arm)
        return RaceResult(winner.name, reason, tuple(arms))

    def _lost(self, reason: str) -> RaceResult:
        arms = tuple(
            Arm(arm.name, arm.k, arm.n, arm.lower, arm.upper, arm.alive, reason)
            if arm.alive
            else arm
            for arm in self._arms.values()
        )
        return RaceResult(None, reason, arms)


@functools.lru_cache(maxsize=65536)
def anytime_bounds(k: int, n: int, level: float) -> tuple[float, float]:
    """The lower and upper confidence sequences of a rate at ``level`` each (cached: races and
    their simulations ask the same counts again and again)."""
    if n == 0:
        return 0.0, 1.0
    return float(lower_bound_anytime(k, n, level)), float(upper_bound_anytime(k, n, level))


@dataclass(frozen=True, slots=True)
class Confirmation:
    """The held-out test of a race's winner.

    ``fixed`` is the decision; ``k`` of ``n`` scored held-out samples conformed, of ``planned``;
    ``interval`` is their two-sided 95% Clopper-Pearson interval; ``bound`` is the one-sided
    ``1 - level`` lower bound (threshold goal) or the exact non-inferiority p-value (baseline
    goal); ``minimum`` is the fewest conforming samples out of ``planned`` that make a fix.
    """

    fixed: bool
    k: int
    n: int
    planned: int
    minimum: int
    interval: tuple[float, float]
    bound: float
    reason: str
    stopped_early: bool = False

    @property
    def rate(self) -> float:
        return self.k / self.n if self.n else 0.0


def passes_threshold(k: int, n: int, threshold: float, tolerance: float, level: float) -> bool:
    """The suite's own threshold verdict at beta = ``level``: PASS means the one-sided
    ``1 - level`` lower bound exceeds ``threshold - tolerance`` (and the verdict is not FAIL)."""
    return (
        threshold_verdict(k, n, threshold, tolerance=tolerance, beta=level).outcome is Outcome.PASS
    )


@functools.lru_cache(maxsize=256)
def minimum_conforming(
    planned: int, threshold: float, tolerance: float, level: float = CONFIRM_LEVEL
) -> int:
    """The fewest conforming samples out of ``planned`` that pass :func:`passes_threshold`
    (``planned + 1`` when none does). Passing is monotone in k, so one bisection finds it."""
    low, high = 0, planned + 1
    while low < high:
        middle = (low + high) // 2
        if passes_threshold(middle, planned, threshold, tolerance, level):
            high = middle
        else:
            low = middle + 1
    return low


def confirm_threshold(
    k: int,
    n: int,
    planned: int,
    *,
    threshold: float,
    tolerance: float,
    level: float = CONFIRM_LEVEL,
) -> Confirmation | None:
    """The decision after ``k`` of ``n`` held-out samples of ``planned`` (errored and unscored
    ones not counted); None while the remaining samples could still change it.

    The decision is the fixed test's on all ``planned`` samples: a fix when at least
    :func:`minimum_conforming` conform. It is taken early only when already certain (enough
    conform, or too few can), so stopping early never changes it.
    """
    minimum = minimum_conforming(planned, threshold, tolerance, level)
    remaining = max(planned - n, 0)
    floor = max(threshold - tolerance, 0.0)
    if k >= minimum:
        fixed, stopped = True, n < planned
    elif k + remaining < minimum or remaining == 0:
        fixed, stopped = False, remaining > 0
    else:
        return None
    interval = clopper_pearson(k, n)
    bound = lower_bound(k, n, 1.0 - level)
    confidence = f"{100 * (1 - level):g}%"
    if fixed:
        reason = f"{k} conform, and {minimum} of {planned} put the one-sided {confidence} "
        reason += f"lower bound above {floor:g} (threshold - tolerance)"
    elif remaining and minimum <= planned:
        reason = f"{n - k} of {n} failed: {minimum} of {planned} cannot be reached"
    elif minimum > planned:
        reason = f"{planned} held-out samples can never clear {floor:g} at level {level:g}"
    else:
        reason = f"{k} of {n} conform; a fix needs {minimum} of {planned} "
        reason += f"(one-sided {confidence} lower bound {bound:.3f} <= {floor:g})"
    return Confirmation(fixed, k, n, planned, minimum, interval, bound, reason, stopped)


def confirm_noninferior(
    k: int,
    n: int,
    planned: int,
    *,
    baseline: tuple[int, int],
    tolerance: float,
    level: float = CONFIRM_LEVEL,
) -> Confirmation | None:
    """As :func:`confirm_threshold`, for a case whose baseline itself misses the threshold: a
    fix is a held-out rate shown to be no worse than ``tolerance`` below the baseline's on the
    same held-out values (the exact non-inferiority test of :mod:`promptcheck.stats.two_sample`
    at level ``level``, on all ``planned`` samples; taken early only when certain)."""
    k_base, n_base = baseline
    minimum = _minimum_noninferior(k_base, n_base, planned, tolerance, level)
    remaining = max(planned - n, 0)
    if k >= minimum:
        fixed, stopped = True, n < planned
    elif k + remaining < minimum or remaining == 0:
        fixed, stopped = False, remaining > 0
    else:
        return None
    comparison = compare_rates(k_base, n_base, k, max(n, 1), tolerance=tolerance)
    rate = f"the baseline's {k_base}/{n_base}"
    if fixed:
        drawn = f"{k} of {n} conform" if n < planned else f"{k} of {planned} conform"
        reason = f"{drawn}: no worse than {rate} minus {tolerance:g} at level {level:g} (needs "
        reason += f"{minimum} of {planned})"
    else:
        reason = f"{k} of {n} conform; shown no worse than {rate} minus {tolerance:g} only from "
        reason += f"{minimum} of {planned}"
    interval = clopper_pearson(k, n)
    bound = float(comparison.p_noninferior) if n else 1.0
    return Confirmation(fixed, k, n, planned, minimum, interval, bound, reason, stopped)


@functools.lru_cache(maxsize=256)
def _minimum_noninferior(
    k_base: int, n_base: int, planned: int, tolerance: float, level: float
) -> int:
    def passes(k: int) -> bool:
        if n_base == 0 or planned == 0:
            return False
        comparison = compare_rates(k_base, n_base, k, planned, tolerance=tolerance)
        return comparison.p_noninferior <= level

    low, high = 0, planned + 1
    while low < high:
        middle = (low + high) // 2
        if passes(middle):
            high = middle
        else:
            low = middle + 1
    return low


def fix_probability(rate: float, planned: int, minimum: int) -> float:
    """P(declared a fix) for a rewrite whose held-out rate is ``rate``: P(Binomial(planned,
    rate) >= minimum), exactly. At ``rate = threshold - tolerance`` with the minimum of
    :func:`minimum_conforming` it is at most ``level``: the false-fix rate."""
    if minimum <= 0:
        return 1.0
    if minimum > planned:
        return 0.0
    if rate >= 1.0:
        return 1.0
    if rate <= 0.0:
        return 0.0
    return regularized_beta(rate, minimum, planned - minimum + 1)
