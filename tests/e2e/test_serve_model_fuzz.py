"""Fuzzing ``promptcheck serve`` on a real tiny Dolly checkpoint: malformed and near-valid
requests reach the real tokenizer, prompt format and sampler, and none causes a 500."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fakes

from fakes.branching_model import build_branching_dolly, torch_threads
from fakes.malformed_requests import Prober, bodies, check_answer, check_raw_answer, raw_requests

from promptcheck.serve import BackgroundServer, load_engine

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def prober(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prober]:
    checkpoint = build_branching_dolly(tmp_path_factory.mktemp("fuzz") / "yes-no", 0.8)
    with torch_threads(1), BackgroundServer(load_engine(checkpoint), api_key="k") as url:
        host, port = url.removeprefix("http://").removesuffix("/v1").rsplit(":", 1)
        yield Prober(host, int(port), api_key="k", timeout_s=60)


@FUZZ
@given(request=bodies("yes-no"))
def test_no_request_to_the_real_model_causes_a_500(
    prober: Prober, request: tuple[str, bytes]
) -> None:
    check_answer(*prober.post(*request))


@settings(FUZZ, max_examples=60)
@given(data=raw_requests)
def test_no_raw_bytes_cause_a_500(prober: Prober, data: bytes) -> None:
    check_raw_answer(prober.raw(data))


def test_the_server_survived(prober: Prober) -> None:
    assert prober.alive()
