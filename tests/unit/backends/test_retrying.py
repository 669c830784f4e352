"""The retry loop both hosted backends share: attempts, backoff, Retry-After pauses, usage."""

from __future__ import annotations

import asyncio
import time

import pytest

from promptcheck.backends.pacing import Usage
from promptcheck.backends.retrying import (
    Failure,
    RetryPolicy,
    Throttle,
    describe,
    first_line,
    send_with_retries,
)

POLICY = RetryPolicy(max_retries=3, backoff_s=0.01, max_wait_s=1.0)


class Flaky:
    """Fails with the given failures in turn, then answers."""

    def __init__(self, *failures: Failure) -> None:
        self.failures = list(failures)
        self.attempts: list[float] = []

    async def attempt(self) -> str:
        self.attempts.append(time.monotonic())
        if self.failures:
            raise RuntimeError(self.failures[0].message)
        return "answer"

    def classify(self, exc: Exception) -> Failure:
        return self.failures.pop(0)


def send(flaky: Flaky, throttle: Throttle | None = None, policy: RetryPolicy = POLICY) -> tuple:
    usage = Usage()

    async def go() -> object:
        return await send_with_retries(
            flaky.attempt,
            flaky.classify,
            throttle=throttle or Throttle(None),
            policy=policy,
            usage=usage,
            tokens=10,
        )

    return asyncio.run(go()), usage


def test_retryable_failures_are_retried_and_counted() -> None:
    flaky = Flaky(Failure("HTTP 500", True), Failure("HTTP 529", True))
    result, usage = send(flaky)
    assert result == "answer" and len(flaky.attempts) == 3
    assert (usage.requests, usage.retries, usage.failed_requests) == (1, 2, 0)


def test_a_failure_that_outlasts_the_retries_is_returned_with_the_attempts() -> None:
    flaky = Flaky(*[Failure("HTTP 503", True)] * 4)
    result, usage = send(flaky)
    assert result == Failure("HTTP 503 (after 4 attempts)", False)
    assert (usage.requests, usage.retries, usage.failed_requests) == (0, 3, 1)


def test_a_failure_retrying_cannot_cure_ends_at_once_without_an_attempt_count() -> None:
    flaky = Flaky(Failure("HTTP 400: bad", False))
    result, usage = send(flaky)
    assert result == Failure("HTTP 400: bad", False) and len(flaky.attempts) == 1
    assert (usage.retries, usage.failed_requests) == (0, 1)


def test_retry_after_pauses_every_request_of_the_model() -> None:
    throttle = Throttle(None)
    flaky = Flaky(Failure("HTTP 429", True, retry_after=0.3))
    started = time.monotonic()
    result, _ = send(flaky, throttle)
    assert result == "answer"
    assert flaky.attempts[1] - flaky.attempts[0] >= 0.29
    assert throttle.paused_until >= started + 0.29  # others wait too


def test_a_retry_after_beyond_max_wait_ends_the_retries() -> None:
    flaky = Flaky(Failure("HTTP 429", True, retry_after=30.0))
    result, usage = send(flaky)
    assert isinstance(result, Failure) and len(flaky.attempts) == 1
    assert usage.failed_requests == 1


def test_backoff_doubles_with_jitter_and_respects_the_server() -> None:
    policy = RetryPolicy(max_retries=5, backoff_s=1.0, max_wait_s=60.0)
    for attempt in (1, 2, 3):
        delays = [policy.delay(attempt, None) for _ in range(200)]
        base = 2.0 ** (attempt - 1)
        assert 0.5 * base <= min(delays) and max(delays) <= 1.5 * base
        assert max(delays) - min(delays) > 0.1 * base  # jitter spreads retries apart
    assert policy.delay(1, 5.0) == 5.0
    assert RetryPolicy(5, 10.0, 2.0).delay(4, None) == 2.0


def test_the_in_flight_limit_holds_across_attempts() -> None:
    throttle = Throttle(2)
    running = 0
    most = 0

    async def attempt() -> str:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1
        return "x"

    async def many() -> list[object]:
        return list(
            await asyncio.gather(
                *(
                    send_with_retries(
                        attempt,
                        lambda exc: Failure("", False),
                        throttle=throttle,
                        policy=POLICY,
                        usage=Usage(),
                        tokens=1,
                    )
                    for _ in range(8)
                )
            )
        )

    assert asyncio.run(many()) == ["x"] * 8 and most == 2


def test_an_unrecognised_exception_is_not_swallowed() -> None:
    async def broken() -> str:
        raise KeyError("bug")

    def reraise(exc: Exception) -> Failure:
        raise exc

    async def go() -> object:
        return await send_with_retries(
            broken, reraise, throttle=Throttle(None), policy=POLICY, usage=Usage(), tokens=1
        )

    with pytest.raises(KeyError):
        asyncio.run(go())


def test_errors_are_described_on_one_line() -> None:
    assert describe(ValueError("first\nsecond"), str) == "ValueError: first"
    assert describe(ConnectionResetError(), str) == "ConnectionResetError"
    secret = "sk-" + "k" * 40
    scrubbed = describe(ValueError("x" * 480 + secret), lambda text: text.replace(secret, "<r>"))
    assert "kkkkkkkk" not in scrubbed  # scrubbed before the cut to 500 characters
    assert first_line("x" * 600) == "x" * 500
