"""The race of a case's rewrites on its search values, sampled through the runner.

Each rewrite is the case rendered with its templates on the search combinations only; the
runner draws its samples (plan, seeds, cache, retries, checks) a round at a time, all rewrites
of a round at once, and :class:`~promptcheck.stats.racing.Race` decides who stays. A rewrite's
sample i uses the seed the original prompt's sample i used, so rewrites are compared on common
random numbers. The budgets are checked before every round: a round that would go past the
sample budget (less what the confirmation needs), or a spent cost budget, ends the race there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from promptcheck.adapt.budget import cost_exhausted
from promptcheck.adapt.records import Spend
from promptcheck.adapt.rewrites import Rewrite, rendered_case
from promptcheck.results import CaseResult
from promptcheck.run.runner import CaseSampler, Runner
from promptcheck.stats.racing import Race, RaceResult
from promptcheck.suite.records import CaseSpec, Combination, ModelConfig


@dataclass(frozen=True)
class SearchOutcome:
    """How the race ended, and each raced rewrite's samples (by rewrite name)."""

    race: RaceResult
    results: dict[str, CaseResult]


@dataclass(frozen=True, slots=True)
class RaceSetup:
    """The race's parameters for one case: the floor a winner must be able to clear, its
    level, the most samples a rewrite draws, a round's size, and the samples kept back from the
    budget for the confirmation."""

    floor: float
    alpha: float
    max_samples: int
    round_size: int
    reserve: int = 0


async def race_rewrites(
    runner: Runner,
    case: CaseSpec,
    model: ModelConfig,
    rewrites: Sequence[Rewrite],
    search: Sequence[Combination],
    setup: RaceSetup,
    spend: Spend,
) -> SearchOutcome:
    """Race ``rewrites`` on the ``search`` combinations of ``case`` on ``model``."""
    samplers: dict[str, CaseSampler] = {
        rewrite.name: runner.sampler(
            rendered_case(case, rewrite.template, search), model, setup.max_samples
        )
        for rewrite in rewrites
    }
    race = Race(
        [rewrite.name for rewrite in rewrites],
        floor=setup.floor,
        alpha=setup.alpha,
        max_samples=setup.max_samples,
        round_size=max(setup.round_size, len(search)),
    )
    result: RaceResult | None = None
    while result is None:
        wanted = race.next_round()
        draws = {name: min(count, samplers[name].remaining) for name, count in wanted.items()}
        total = sum(draws.values())
        if total == 0:
            result = race.stop("the rewrites' plans are used up")
            break
        left = spend.samples_left()
        if left is not None and total > left - setup.reserve:
            spend.exhausted.append(f"{case.id}: race stopped by the sample budget")
            result = race.stop("the sample budget is spent")
            break
        if cost_exhausted(spend, runner):
            spend.exhausted.append(f"{case.id}: race stopped by the cost budget")
            result = race.stop("the cost budget is spent")
            break
        before = {name: samplers[name].drawn for name in draws}
        await asyncio.gather(*(samplers[name].draw(count) for name, count in draws.items()))
        spend.search += total
        spend.cached += sum(
            sum(1 for sample in samplers[name].outcomes[before[name] :] if sample.cached)
            for name in draws
        )
        result = race.update({name: samplers[name].counts() for name in draws})
    return SearchOutcome(result, {name: sampler.result() for name, sampler in samplers.items()})
