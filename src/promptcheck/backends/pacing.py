"""What a hosted model costs and how fast it may be asked: usage, per-minute pacing, Retry-After.

Shared by the ``openai`` and ``anthropic`` backends and kept apart from their request paths:
pure bookkeeping over time and headers, tested without a server. The usage counters are the
same for every provider, so the store adds them up without knowing which one a model used.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class Usage:
    """What a model has cost so far: requests, attempts, tokens as the provider counted them."""

    requests: int = 0
    retries: int = 0
    failed_requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    price_per_1k_input: float | None = None
    price_per_1k_output: float | None = None

    @property
    def cost(self) -> float | None:
        """The price of the tokens used, when both prices are configured."""
        if self.price_per_1k_input is None or self.price_per_1k_output is None:
            return None
        return (
            self.prompt_tokens * self.price_per_1k_input
            + self.completion_tokens * self.price_per_1k_output
        ) / 1000

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "failed_requests": self.failed_requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": self.cost,
        }


class Pacer:
    """Spaces requests out to stay under a per-minute budget (of requests, or of tokens).

    A token bucket holding one second of budget, allowed to go into debt: a request reserves its
    cost at once and waits until the debt is paid, so requests keep their order, one request
    bigger than the bucket still goes, and the rate over any minute stays within the budget.
    Providers enforce per-minute limits over shorter windows too, so a minute's budget is never
    spent in a burst.
    """

    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(self.rate, 1.0)
        self.level = self.capacity
        self.updated = time.monotonic()

    def reserve(self, cost: float) -> float:
        """Take ``cost`` from the budget; returns the seconds to wait before sending."""
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now
        self.level -= cost
        return 0.0 if self.level >= 0 else -self.level / self.rate


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked to wait: ``retry-after-ms``, or ``retry-after`` in seconds or as
    an HTTP date."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            milliseconds = float(value)
        except ValueError:
            milliseconds = math.nan
        if math.isfinite(milliseconds) and milliseconds >= 0:
            return milliseconds / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def estimated_tokens(shown: str, max_tokens: object, n: int) -> float:
    """Tokens a request counts against a tpm limit when sent: ~4 characters per prompt token,
    plus the completion limit (``max_tokens``) for every sample asked for."""
    completion = max_tokens if isinstance(max_tokens, int) else 0
    return len(shown) / 4 + 8 + completion * n
