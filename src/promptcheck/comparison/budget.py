"""The budget of a comparison: how many samples each case draws, and what they can detect.

A gate is only as good as the drop it can see: twenty samples a case, the suite default, catch a
drop from 0.95 to 0.80 on one case of a 50-case suite almost never. So a comparison plans its
budget (:mod:`promptcheck.stats.power`, exact): per case, the fewest samples that

* catch a drop of ``detect`` (default 0.15) with probability ``power`` (default 0.8) at the
  level the suite's first rejection needs, alpha / m (Holm and Benjamini-Hochberg alike), and
* show a case that did not change to be unchanged (a drop of ``detect`` ruled out at beta / m,
  the level :func:`promptcheck.stats.multiplicity.decide` uses) with probability 1 - alpha / m,
  so that an unchanged suite ends with an inconclusive case in at most alpha of runs and a gate
  that fails on inconclusive cases fails it in at most 2 alpha.

Sizes never depend on the outcomes they are about to be tested with. A baseline that must be
drawn (live) or topped up (stored, but shorter than the plan) is sized at the case's threshold,
the rate the suite says it should have, so its size does not depend on its own outcomes (a size
chosen after seeing the first samples, larger when they look bad, makes the exact test
anti-conservative: measured in docs/statistics.md). Only a stored baseline long enough as it is
lets the candidate's size follow the baseline's rate, as the one-sided lower bound at
:data:`~promptcheck.config.PLANNING_CONFIDENCE` (a lucky baseline does not shrink the plan); the
candidate's own outcomes never enter. Rates are rounded to a percentage point (towards the
rates that need more samples), which also lets cases share their exact computations.

Which budget a case draws: ``--promptcheck-samples N`` when given (every case, above or below the
plan); otherwise the plan, or the suite's ``samples`` when that is larger. A budget below the plan
is stated with the drop it can detect ("this run can detect drops of X or more with power 0.8").
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from promptcheck.comparison.adaptive import sampled_adaptively
from promptcheck.config import PLANNING_CONFIDENCE, POWER_CACHE_FILE, POWER_CACHE_MAX_BYTES
from promptcheck.results import CaseResult
from promptcheck.stats import (
    Plan,
    detectable_drop,
    first_rejection_level,
    lower_bound,
    plan_budget,
)
from promptcheck.stats.power import CutKey, known_cuts, remember_cuts

#: Planning rates are rounded to this grid, towards the rate that needs the most samples.
RATE_GRID = 0.01


@dataclass(frozen=True, slots=True)
class Targets:
    """What a plan is asked to buy: the knobs of a comparison, in plain numbers."""

    alpha: float
    beta: float
    margin: float
    detect: float
    power: float


def planning_rate(threshold: float, stored: tuple[int, int] | None, detect: float) -> float:
    """The baseline rate a case is planned at: its stored baseline's lower bound, else its
    threshold, rounded to :data:`RATE_GRID` towards 0.5 + detect / 2 (where a drop of
    ``detect`` is hardest to see), so that rounding never shrinks a plan."""
    if stored is not None and stored[1] > 0:
        rate = lower_bound(stored[0], stored[1], PLANNING_CONFIDENCE)
    else:
        rate = threshold
    hardest = 0.5 + detect / 2.0
    steps = rate / RATE_GRID
    rounded = math.floor(steps + 1e-9) if rate >= hardest else math.ceil(steps - 1e-9)
    return min(1.0, max(0.0, round(rounded * RATE_GRID, 6)))


def plan_case(rate: float, targets: Targets, cases: int, stored: int, top_up: bool) -> Plan:
    """The plan of one case of a suite of ``cases``: ``stored`` baseline samples already there
    (0 for a live baseline), topped up when ``top_up`` (its model is configured)."""
    m = max(1, cases)
    return plan_budget(
        rate,
        drop=targets.detect,
        target=targets.power,
        level=first_rejection_level(targets.alpha, m),
        margin=targets.margin,
        baseline=stored,
        top_up=top_up,
        unchanged=(targets.beta / m, 1.0 - targets.alpha / m),
    )


@dataclass(frozen=True, slots=True)
class CaseBudget:
    """One case's plan and the samples this run draws for it.

    ``stored`` is the stored baseline's scored samples (None: a live baseline);
    ``baseline_target`` the size a stored baseline is topped up to (None: it stays as it is);
    ``samples`` what the candidate draws (the live baseline too); ``detectable`` the drop these
    samples catch with the planned power when they fall short of the plan (None otherwise, or
    when no drop is caught so often).
    """

    name: str
    rate: float
    from_baseline: bool
    plan: Plan
    samples: int
    stored: int | None = None
    baseline_target: int | None = None
    detectable: float | None = None
    short: bool = False


@dataclass(frozen=True)
class Budget:
    """The budget of a comparison: the targets, the suite size they were planned for, and each
    case's plan, in the order the cases were compared."""

    targets: Targets
    cases: tuple[CaseBudget, ...]
    #: ``--promptcheck-samples`` when it set the budget, else None (the plan did).
    option: int | None = None

    @property
    def level(self) -> float:
        return first_rejection_level(self.targets.alpha, max(1, len(self.cases)))

    @property
    def short(self) -> tuple[CaseBudget, ...]:
        return tuple(case for case in self.cases if case.short)

    @property
    def weakest(self) -> float | None:
        """The largest drop that some short case needs to be caught (None: none short, or one
        catches no drop at all with the planned power)."""
        drops = [case.detectable for case in self.short]
        if not drops or any(drop is None for drop in drops):
            return None
        return max(drop for drop in drops if drop is not None)

    def lines(self) -> list[str]:
        """What the budget buys, in words, for the terminal and the Markdown summary."""
        t = self.targets
        planned = [case.plan.samples for case in self.cases]
        drawn = [case.samples for case in self.cases]
        if not planned:
            return []
        span = _span(planned)
        head = (
            f"budget: planned {span} samples a case to catch a drop of {t.detect:g} with "
            f"power {t.power:g} (exact, at alpha / {len(self.cases)} = {self.level:.2g}, the "
            "level the suite's first regression needs)"
        )
        source = (
            f"--promptcheck-samples {self.option}"
            if self.option is not None
            else "the plan (or the suite's samples where larger)"
        )
        lines = [head, f"drawn: {_span(drawn)} samples a case, from {source}"]
        short = self.short
        if short:
            weakest = self.weakest
            what = (
                f"this run can detect drops of {weakest:.2f} or more with power {t.power:g}"
                if weakest is not None
                else f"on some cases this run cannot detect any drop with power {t.power:g}"
            )
            lines.append(
                f"{len(short)} of {len(self.cases)} case(s) draw less than their plan: {what} "
                f"(not {t.detect:g}); draw the plan, or see `promptcheck plan`"
            )
        return lines


def _span(values: Sequence[int]) -> str:
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}-{high}"


def case_budget(
    name: str,
    *,
    threshold: float,
    suite_samples: int,
    targets: Targets,
    cases: int,
    stored: tuple[int, int] | None,
    top_up: bool,
    option: int | None,
    stopped: bool = False,
) -> CaseBudget:
    """One case's plan and budget. ``stored`` is the stored baseline's (conforming, scored)
    counts (None: live); ``top_up`` whether its model can top it up; ``stopped`` whether
    adaptive sampling stopped it (its count is then no fixed sample: it is topped up like a
    short one); ``option`` is ``--promptcheck-samples``."""
    stored_n = stored[1] if stored is not None and not stopped else 0
    design_rate = planning_rate(threshold, None, targets.detect)
    # sized without looking at any outcome: the threshold, and only the stored sample's size
    design = plan_case(design_rate, targets, cases, stored_n, top_up=True)
    rate, plan, from_baseline = design_rate, design, False
    long_enough = stored is not None and not stopped and stored_n >= design.baseline_samples
    if long_enough:
        assert stored is not None
        fitted_rate = planning_rate(threshold, stored, targets.detect)
        fitted = plan_case(fitted_rate, targets, cases, stored_n, top_up=False)
        rate, from_baseline = fitted_rate, True
        plan = fitted if fitted.reached else design
    samples = option if option is not None else max(plan.samples, suite_samples)
    target = None
    if stored is not None and not long_enough:
        wanted = option if option is not None else design.baseline_samples
        target = max(wanted, samples) if top_up else None
    if stored is None:
        baseline = samples
    elif target is not None:
        baseline = max(stored_n, target)
    else:
        baseline = stored_n
    short = samples < plan.samples or not plan.reached or baseline < plan.baseline_samples
    detectable = None
    if short:
        detectable = detectable_drop(
            rate,
            baseline,
            samples,
            target=targets.power,
            level=first_rejection_level(targets.alpha, max(1, cases)),
            margin=targets.margin,
        )
    return CaseBudget(
        name,
        rate,
        from_baseline,
        plan,
        samples,
        stored[1] if stored is not None else None,
        target,
        detectable,
        short,
    )


@dataclass(frozen=True, slots=True)
class CaseInput:
    """What planning needs of one compared case: its name, threshold and suite budget (at least
    one sample per variable combination), its stored baseline result (None: a live baseline)
    and whether the baseline's model can top that up."""

    name: str
    threshold: float
    suite_samples: int
    stored: CaseResult | None = None
    top_up: bool = True


def budget_for(cases: Sequence[CaseInput], targets: Targets, option: int | None) -> Budget:
    """The budget of a comparison of ``cases`` (all of them compared, so the suite's size is
    their number); ``option`` is ``--promptcheck-samples``."""
    plans = [
        case_budget(
            case.name,
            threshold=case.threshold,
            suite_samples=case.suite_samples,
            targets=targets,
            cases=len(cases),
            stored=(case.stored.verdict.k, case.stored.verdict.n) if case.stored else None,
            top_up=case.top_up,
            option=option,
            stopped=case.stored is not None and sampled_adaptively(case.stored),
        )
        for case in cases
    ]
    return Budget(targets, tuple(plans), option)


def baseline_draws(case: CaseBudget) -> int:
    """Samples of the baseline's model this case draws: all of them live, a top-up stored."""
    if case.stored is None:
        return case.samples
    if case.baseline_target is None:
        return 0
    return max(0, case.baseline_target - case.stored)


#: Version of the kept cut-offs: raise it whenever the exact test or its nuisance grid changes,
#: so that cut-offs of another test are never reused.
CUTS_FORMAT = 1


@contextlib.contextmanager
def kept_cuts(directory: Path | None) -> Iterator[None]:
    """Plan with the cut-offs kept in ``directory`` (beside the run store), and keep the new
    ones: a 50-case plan against a stored baseline takes seconds cold and a fraction of a second
    warm (benchmarks/plan_speed.py), and every ``promptcheck plan`` is a new process. A missing,
    damaged or foreign file is ignored; one that cannot be written is not an error."""
    path = directory / POWER_CACHE_FILE if directory is not None else None
    if path is not None:
        remember_cuts(_read_cuts(path))
    try:
        yield
    finally:
        if path is not None:
            _write_cuts(path, known_cuts())


def _identity() -> dict[str, object]:
    from promptcheck import __version__
    from promptcheck.stats.two_sample import GRID_POINTS

    return {"format": CUTS_FORMAT, "promptcheck": __version__, "grid": GRID_POINTS}


def _read_cuts(path: Path) -> dict[CutKey, list[int]]:
    try:
        if path.stat().st_size > POWER_CACHE_MAX_BYTES:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("identity") != _identity():
        return {}
    found: dict[CutKey, list[int]] = {}
    for entry in data.get("entries", ()):
        try:
            n_b, n_c, delta0, level, alternative, cuts = entry
            key = (int(n_b), int(n_c), float(delta0), float(level), str(alternative))
            found[key] = [int(cut) for cut in cuts]
        except (TypeError, ValueError):
            continue
    return found


def _write_cuts(path: Path, cuts: dict[CutKey, list[int]]) -> None:
    entries = [[*key, values] for key, values in cuts.items()]
    text = json.dumps({"identity": _identity(), "entries": entries}, separators=(",", ":"))
    if len(text) > POWER_CACHE_MAX_BYTES:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{os.getpid()}")
        scratch.write_text(text, encoding="utf-8")
        os.replace(scratch, path)
    except OSError:
        return
