"""Retries of a hosted model's requests: backoff with jitter, Retry-After, pacing, in-flight limit.

The ``openai`` and ``anthropic`` backends send requests differently and read different errors,
but what they do between attempts is the same, so it lives here once. A backend gives
:func:`send_with_retries` one attempt (a coroutine factory) and a way to classify what an attempt
raised (:class:`Failure`); the loop paces the attempt, holds an in-flight slot while it runs,
counts it in the model's :class:`~promptcheck.backends.pacing.Usage`, waits out a Retry-After
for every request of the model, and backs off exponentially with jitter. A failure that outlasts
the retries comes back as a value, so the backend turns it into error samples: the runner reports
those and never counts them against conformance.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from promptcheck.backends.pacing import Pacer, Usage

T = TypeVar("T")

#: HTTP statuses worth another attempt besides 5xx: request timeout, lock conflict, rate limit.
RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an attempt failed, whether another may succeed, and how long the server asked to wait."""

    message: str
    retryable: bool
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to try again (a model's ``max_retries``, ``backoff_s``,
    ``max_wait_s``)."""

    max_retries: int
    backoff_s: float
    max_wait_s: float

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter (0.5x-1.5x), never sooner than the server asked."""
        delay = self.backoff_s * 2.0 ** (attempt - 1) * (0.5 + random.random())
        delay = min(delay, self.max_wait_s)
        return max(delay, retry_after or 0.0)


class Throttle:
    """How fast one model may be asked, on one event loop: an in-flight limit, per-minute
    budgets of requests and tokens, and the pause a Retry-After imposed on every request."""

    def __init__(
        self, concurrency: int | None, rpm: int | None = None, tpm: int | None = None
    ) -> None:
        self.slots: asyncio.Semaphore | contextlib.nullcontext[None] = (
            asyncio.Semaphore(concurrency) if concurrency is not None else contextlib.nullcontext()
        )
        self._pacers: list[tuple[Pacer, bool]] = []  # (pacer, counts tokens)
        if rpm is not None:
            self._pacers.append((Pacer(rpm), False))
        if tpm is not None:
            self._pacers.append((Pacer(tpm), True))
        self.paused_until = 0.0

    async def pace(self, tokens: float) -> None:
        """Wait out a pause a 429 asked for, then the request and token budgets."""
        pause = self.paused_until - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        wait = max((p.reserve(tokens if t else 1.0) for p, t in self._pacers), default=0.0)
        if wait > 0:
            await asyncio.sleep(wait)

    def pause(self, seconds: float) -> None:
        """Hold every request of the model for ``seconds``: the server throttles the model,
        not one request."""
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)


async def send_with_retries(
    attempt: Callable[[], Awaitable[T]],
    classify: Callable[[Exception], Failure],
    *,
    throttle: Throttle,
    policy: RetryPolicy,
    usage: Usage,
    tokens: float,
) -> T | Failure:
    """The result of the first attempt that succeeds, or the last failure once retrying cannot
    help (not retryable, retries spent, or a Retry-After longer than ``max_wait_s``).

    ``classify`` may re-raise what it does not recognise (a bug is not a failed request).
    ``tokens`` is what one attempt counts against a tpm budget.
    """
    failure = Failure("no attempt was made", retryable=False)
    tries = 0
    for tries in range(1, policy.max_retries + 2):
        if tries > 1:
            usage.retries += 1
            await asyncio.sleep(policy.delay(tries - 1, failure.retry_after))
        await throttle.pace(tokens)
        async with throttle.slots:
            try:
                result = await attempt()
            except Exception as exc:
                failure = classify(exc)
            else:
                usage.requests += 1
                return result
        if failure.retryable and failure.retry_after is not None:
            throttle.pause(min(failure.retry_after, policy.max_wait_s))
        if not failure.retryable or (
            failure.retry_after is not None and failure.retry_after > policy.max_wait_s
        ):
            break
    usage.failed_requests += 1
    if tries > 1:
        return Failure(f"{failure.message} (after {tries} attempts)", False, failure.retry_after)
    return failure


def describe(exc: BaseException, scrub: Callable[[str], str]) -> str:
    """An exception in one line for a sample's error: its type and the first line of its text,
    scrubbed of secrets *before* it is cut, so that no part of a key survives the cut."""
    text = first_line(scrub(str(exc)))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def first_line(text: str) -> str:
    """The first line of ``text``, at most 500 characters: an error body can be a whole page."""
    stripped = text.strip()
    return stripped.splitlines()[0][:500] if stripped else ""
