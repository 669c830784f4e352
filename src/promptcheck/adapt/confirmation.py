"""The held-out test of a race's contenders, sampled through the runner.

A contender is rendered on the held-out combinations with a seed root of its own, so every
sample is new, and drawn a round at a time until the decision of the fixed-size test is certain
(:func:`~promptcheck.stats.racing.confirm_threshold`, or the non-inferiority test against the
baseline's samples on the same values, which :func:`sample_baseline` draws anew). The whole test
is paid from the budget up front: a confirmation the budget cannot finish is not started.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptcheck.adapt.budget import cost_exhausted
from promptcheck.adapt.records import Spend
from promptcheck.adapt.rewrites import Rewrite, rendered_case
from promptcheck.adapt.templates import PromptTemplate
from promptcheck.results import CaseResult
from promptcheck.run.runner import Runner
from promptcheck.stats.racing import Confirmation, confirm_noninferior, confirm_threshold
from promptcheck.suite.records import CaseSpec, Combination, ModelConfig


@dataclass(frozen=True, slots=True)
class Goal:
    """What a fix must show on the held-out values: ``threshold`` (clear threshold - tolerance)
    or ``baseline`` (be no worse than the baseline's ``baseline`` counts by the tolerance)."""

    kind: str
    threshold: float
    tolerance: float
    level: float
    #: New samples of the baseline's model on the held-out values (conforming, scored).
    baseline: tuple[int, int] | None = None

    def decide(self, k: int, n: int, planned: int) -> Confirmation | None:
        if self.kind == "baseline" and self.baseline is not None:
            return confirm_noninferior(
                k, n, planned, baseline=self.baseline, tolerance=self.tolerance, level=self.level
            )
        return confirm_threshold(
            k, n, planned, threshold=self.threshold, tolerance=self.tolerance, level=self.level
        )


@dataclass(frozen=True)
class ConfirmationOutcome:
    """The decision (None: not run, ``reason`` says why) and the samples it was taken on."""

    confirmation: Confirmation | None
    result: CaseResult | None
    reason: str = ""


async def confirm_rewrite(
    runner: Runner,
    case: CaseSpec,
    model: ModelConfig,
    rewrite: Rewrite,
    held_out: Sequence[Combination],
    goal: Goal,
    planned: int,
    round_size: int,
    seed: int,
    spend: Spend,
) -> ConfirmationOutcome:
    """Test ``rewrite`` on ``planned`` new samples of the ``held_out`` combinations."""
    left = spend.samples_left()
    if left is not None and left < planned:
        spend.exhausted.append(f"{case.id}: no budget left for the held-out test")
        return ConfirmationOutcome(
            None,
            None,
            f"the budget left ({left} samples) cannot pay for the held-out test ({planned})",
        )
    if cost_exhausted(spend, runner):
        spend.exhausted.append(f"{case.id}: no cost budget left for the held-out test")
        return ConfirmationOutcome(None, None, "the cost budget is spent")
    variant = rendered_case(case, rewrite.template, held_out, seed=seed)
    sampler = runner.sampler(variant, model, planned)
    decision: Confirmation | None = None
    while decision is None:
        take = min(max(round_size, len(held_out)), sampler.remaining)
        if take <= 0:
            k, n = sampler.counts()
            decision = goal.decide(k, n, n) if n else None
            if decision is None:
                return ConfirmationOutcome(
                    None, sampler.result(), "no held-out sample could be scored"
                )
            break
        before = sampler.drawn
        await sampler.draw(take)
        spend.confirmation += take
        spend.cached += sum(1 for sample in sampler.outcomes[before:] if sample.cached)
        decision = goal.decide(*sampler.counts(), planned)
    return ConfirmationOutcome(decision, sampler.result())


async def sample_baseline(
    runner: Runner,
    case: CaseSpec,
    model: ModelConfig,
    template: PromptTemplate,
    held_out: Sequence[Combination],
    planned: int,
    seed: int,
    spend: Spend,
) -> CaseResult:
    """``planned`` new samples of the baseline's model with the case's original ``template`` on
    the ``held_out`` combinations: what a rewrite must be no worse than (paid as held-out test
    samples)."""
    sampler = runner.sampler(rendered_case(case, template, held_out, seed=seed), model, planned)
    await sampler.draw(planned)
    spend.confirmation += sampler.drawn
    spend.cached += sum(1 for sample in sampler.outcomes if sample.cached)
    return sampler.result()
