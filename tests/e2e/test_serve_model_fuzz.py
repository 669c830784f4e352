"""Fuzzing ``promptcheck serve`` on a real tiny Dolly checkpoint: malformed and near-valid
requests reach the real tokenizer, prompt format and sampler, and none causes a 500, a stream
that does not end with ``data: [DONE]``, or a traceback in the server's log."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings

pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fakes

from fakes.branching_model import build_branching_dolly, torch_threads
from fakes.malformed_requests import (
    LogWatch,
    Prober,
    bodies,
    check_answer,
    check_raw_answer,
    raw_requests,
    watching_logs,
)

from promptcheck.serve import BackgroundServer, load_engine
from promptcheck.serve.limits import ServerLimits

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
#: A stream in a batch of prompts one of which is empty (no tokens): it once sent a chunk of
#: the valid prompt, then an error event, and never `data: [DONE]`. It is now a 400.
EMPTY_PROMPT_IN_A_STREAMED_BATCH = (
    "/v1/completions",
    json.dumps(
        {"model": "yes-no", "max_tokens": 4, "prompt": ["", "0"], "messages": [], "stream": True}
    ).encode(),
)

#: Lone surrogates (JSON escapes that pair with nothing) once reached the tokenizer: a 500.
LONE_SURROGATE_IN_A_PROMPT = (
    "/v1/completions",
    b'{"model": "yes-no", "max_tokens": 4, "prompt": "a\\ud800"}',
)
LONE_SURROGATE_IN_A_STREAMED_CHAT = (
    "/v1/chat/completions",
    b'{"model": "yes-no", "max_tokens": 4, "stream": true,'
    b' "messages": [{"role": "user", "content": "\\udfff"}]}',
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prober, LogWatch]]:
    checkpoint = build_branching_dolly(tmp_path_factory.mktemp("fuzz") / "yes-no", 0.8)
    limits = ServerLimits(idle_timeout_s=1.0, body_timeout_s=1.0)
    engine = load_engine(checkpoint)
    server = BackgroundServer(engine, api_key="k", limits=limits)
    with torch_threads(1), watching_logs() as watch, server as url:
        host, port = url.removeprefix("http://").removesuffix("/v1").rsplit(":", 1)
        yield Prober(host, int(port), api_key="k", timeout_s=60), watch


def quiet(watch: LogWatch) -> None:
    problems = watch.problems()
    watch.clear()
    assert problems == []


@FUZZ
@example(request=EMPTY_PROMPT_IN_A_STREAMED_BATCH)
@example(request=LONE_SURROGATE_IN_A_PROMPT)
@example(request=LONE_SURROGATE_IN_A_STREAMED_CHAT)
@given(request=bodies("yes-no"))
def test_no_request_to_the_real_model_causes_a_500(
    served: tuple[Prober, LogWatch], request: tuple[str, bytes]
) -> None:
    prober, watch = served
    check_answer(*prober.post(*request), sent=request[1])
    quiet(watch)


def test_a_streamed_batch_with_an_empty_prompt_is_refused_before_streaming(
    served: tuple[Prober, LogWatch],
) -> None:
    prober, _ = served
    status, body = prober.post(*EMPTY_PROMPT_IN_A_STREAMED_BATCH)
    assert status == 400
    error = json.loads(body)["error"]
    assert error["param"] == "prompt" and "empty" in error["message"]


@settings(FUZZ, max_examples=60)
@given(data=raw_requests)
def test_no_raw_bytes_cause_a_500(served: tuple[Prober, LogWatch], data: bytes) -> None:
    prober, watch = served
    check_raw_answer(prober.raw(data))
    quiet(watch)


def test_the_server_survived(served: tuple[Prober, LogWatch]) -> None:
    prober, watch = served
    assert prober.alive()
    quiet(watch)
