"""Fuzzing the server (over a fake engine, so that thousands of requests take seconds): no
request body and no raw bytes a client sends cause a 500 or stop the server."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fakes package

from fakes.echo_engine import API_KEY, Served
from fakes.malformed_requests import Prober, bodies, check_answer, check_raw_answer, raw_requests

FUZZ = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def prober(served: Served) -> Prober:
    return Prober(*served.origin, api_key=API_KEY, timeout_s=10)


@FUZZ
@given(request=bodies("echo"))
def test_no_body_causes_a_500(served: Served, request: tuple[str, bytes]) -> None:
    path, body = request
    status, answer = prober(served).post(path, body)
    check_answer(status, answer)


@settings(FUZZ, max_examples=250)
@given(data=raw_requests)
def test_no_raw_request_causes_a_500(served: Served, data: bytes) -> None:
    check_raw_answer(prober(served).raw(data))


def test_the_server_survived_the_fuzzing(served: Served) -> None:
    assert prober(served).alive()
