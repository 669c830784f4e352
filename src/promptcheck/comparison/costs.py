"""What a planned budget costs: requests, tokens, money and time, at a model's recorded pace.

A plan in samples means little until it is said in money and minutes. Every run the store holds
knows its samples, its duration and, for a backend that counts them, its requests, tokens and
cost (:mod:`promptcheck.store.usage`); averaged per sample over a model's stored runs, that is
the pace a new run of the same model is likely to keep. Money comes from the recorded cost, or
from the tokens and the prices the model is configured with (``price_per_1k_input`` /
``price_per_1k_output``). What nothing records stays unknown (None), never guessed: a local
model reports no requests, a run without usage no tokens.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeGuard

from promptcheck.store.database import RunSummary


@dataclass(frozen=True, slots=True)
class Pace:
    """Per-sample figures of a model, from ``runs`` of its stored runs (None: not recorded)."""

    model: str
    runs: int
    requests: float | None = None
    tokens: float | None = None
    cost: float | None = None
    seconds: float | None = None

    def estimate(self, samples: int) -> Estimate:
        """What drawing ``samples`` more samples of this model would take."""

        def times(value: float | None) -> float | None:
            return None if value is None else value * samples

        return Estimate(
            samples, times(self.requests), times(self.tokens), times(self.cost), times(self.seconds)
        )


@dataclass(frozen=True, slots=True)
class Estimate:
    """Samples to draw, and what they take (None: unknown)."""

    samples: int
    requests: float | None = None
    tokens: float | None = None
    cost: float | None = None
    seconds: float | None = None

    def __add__(self, other: Estimate) -> Estimate:
        def plus(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a + b

        return Estimate(
            self.samples + other.samples,
            plus(self.requests, other.requests),
            plus(self.tokens, other.tokens),
            plus(self.cost, other.cost),
            plus(self.seconds, other.seconds),
        )


def pace(
    model: str,
    runs: Iterable[RunSummary],
    prices: tuple[float, float] | None = None,
) -> Pace:
    """``model``'s pace over its stored runs that drew samples. ``prices`` (per 1,000 input and
    output tokens) price the tokens of runs that recorded no cost."""
    samples = requests = tokens = cost = seconds = 0.0
    counted = {"requests": 0.0, "tokens": 0.0, "cost": 0.0, "seconds": 0.0}
    used = 0
    for run in runs:
        if run.model != model or run.samples <= 0:
            continue
        used += 1
        samples += run.samples
        usage = run.usage or {}
        if _number(usage.get("requests")):
            requests += float(usage["requests"])
            counted["requests"] += run.samples
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if _number(prompt) and _number(completion):
            tokens += float(prompt) + float(completion)
            counted["tokens"] += run.samples
            if _number(usage.get("cost")):
                cost += float(usage["cost"])
                counted["cost"] += run.samples
            elif prices is not None:
                cost += (float(prompt) * prices[0] + float(completion) * prices[1]) / 1000.0
                counted["cost"] += run.samples
        if run.finished_at is not None and run.finished_at >= run.started_at:
            seconds += run.finished_at - run.started_at
            counted["seconds"] += run.samples

    def per_sample(total: float, over: float) -> float | None:
        return total / over if over > 0 else None

    return Pace(
        model,
        used,
        per_sample(requests, counted["requests"]),
        per_sample(tokens, counted["tokens"]),
        per_sample(cost, counted["cost"]),
        per_sample(seconds, counted["seconds"]),
    )


def _number(value: object) -> TypeGuard[int | float]:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
