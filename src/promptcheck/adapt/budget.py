"""What ``adapt`` may still spend: samples, optimizer calls, money.

Samples and calls are counted by ``adapt`` itself (cached ones included, so that a re-run makes
the same decisions); money is what the models' backends report (the ``openai`` backend prices
its tokens when ``price_per_1k_input`` / ``price_per_1k_output`` are configured,
:mod:`promptcheck.store.usage`). Cached samples cost nothing, so a re-run under a cost budget may
go further than the first run did; the sample budget is the one that keeps runs comparable.
"""

from __future__ import annotations

from promptcheck.adapt.records import Spend
from promptcheck.run.runner import Runner
from promptcheck.store.usage import COST, usage_by_model


def spent_cost(runner: Runner) -> float | None:
    """What the runner's models have cost so far; None when none of them reports a price."""
    costs = [usage.get(COST) for usage in usage_by_model(runner.backends.built()).values()]
    known = [float(cost) for cost in costs if isinstance(cost, int | float)]
    return sum(known) if known else None


def cost_exhausted(spend: Spend, runner: Runner) -> bool:
    """Whether the cost budget is spent (never, without a budget or a reported price)."""
    if spend.budget_cost is None:
        return False
    spend.cost = spent_cost(runner)
    return spend.cost is not None and spend.cost >= spend.budget_cost
