"""Fuzzing the server (over a fake engine, so that thousands of requests take seconds): no
request body, header, framing of a body, nor raw bytes a client sends cause a 500, leave a
traceback in the server's log, or stop the server; validly framed bodies arrive whole."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes.echo_engine import API_KEY, EchoEngine, Served
from fakes.malformed_requests import (
    Framed,
    Headed,
    LogWatch,
    Prober,
    bodies,
    check_answer,
    check_framed_answer,
    check_raw_answer,
    framed_requests,
    headed_requests,
    raw_requests,
    statuses,
    watching_logs,
)
from hypothesis import HealthCheck, given, settings

from promptcheck.serve.limits import ServerLimits
from promptcheck.serve.server import BackgroundServer

FUZZ = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
#: Short timeouts, so that a request that leaves its connection open (a body shorter than
#: announced, a keep-alive) costs the fuzzing a fraction of a second, not half a minute.
LIMITS = ServerLimits(idle_timeout_s=0.3, body_timeout_s=0.3)


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[tuple[Served, LogWatch]]:
    engine = EchoEngine()
    with watching_logs() as watch, BackgroundServer(engine, api_key=API_KEY, limits=LIMITS) as url:
        yield Served(url, engine), watch


def prober(served: Served) -> Prober:
    return Prober(*served.origin, api_key=API_KEY, timeout_s=10)


def quiet(watch: LogWatch) -> None:
    """Nothing a client sent left a traceback or an error in the server's log."""
    problems = watch.problems()
    watch.clear()
    assert problems == []


@FUZZ
@given(request=bodies("echo"))
def test_no_body_causes_a_500(fuzzed: tuple[Served, LogWatch], request: tuple[str, bytes]) -> None:
    served, watch = fuzzed
    path, body = request
    status, answer = prober(served).post(path, body)
    check_answer(status, answer, sent=body)
    quiet(watch)


@settings(FUZZ, max_examples=250)
@given(data=raw_requests)
def test_no_raw_request_causes_a_500(fuzzed: tuple[Served, LogWatch], data: bytes) -> None:
    served, watch = fuzzed
    check_raw_answer(prober(served).raw(data))
    quiet(watch)


@settings(FUZZ, max_examples=300)
@given(framed=framed_requests(API_KEY))
def test_bodies_framed_any_way_are_read_whole_or_refused(
    fuzzed: tuple[Served, LogWatch], framed: Framed
) -> None:
    served, watch = fuzzed
    check_framed_answer(framed, prober(served).raw(framed.data))
    quiet(watch)


@settings(FUZZ, max_examples=300)
@given(headed=headed_requests(API_KEY))
def test_no_header_causes_a_500(fuzzed: tuple[Served, LogWatch], headed: Headed) -> None:
    served, watch = fuzzed
    data = prober(served).raw(headed.data)
    check_raw_answer(data)
    if headed.benign:
        assert statuses(data) == [200], data[:300]
    quiet(watch)


def test_the_server_survived_the_fuzzing(fuzzed: tuple[Served, LogWatch]) -> None:
    served, watch = fuzzed
    assert prober(served).alive()
    counters = prober(served).get("/health")
    assert counters[0] == 200
    quiet(watch)
