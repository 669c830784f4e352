"""The batching engine over a stand-in for the local backend: which requests share a sampler
call, how arrivals spread over milliseconds are gathered, and how failures stay apart."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from promptcheck.backends.base import Generation, GenerationRequest, SamplingParams
from promptcheck.errors import BackendError
from promptcheck.serve.batching import BatchingEngine
from promptcheck.serve.protocol import APIError


@dataclass
class StandIn:
    """``prepare`` and ``run`` as the local backend has them; ``run`` takes ``step_s``."""

    step_s: float = 0.02
    max_batch_size: int = 64
    batches: list[list[str]] = field(default_factory=list)
    format: str = "dolly"
    device: str = "cpu"
    dtype: str = "float32"
    fingerprint: str = "0123456789abcdef0123/dolly/float32/cpu/sampler-1"
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def sampler(self) -> Any:
        return SimpleNamespace(max_batch_size=self.max_batch_size)

    def prepare(self, request: GenerationRequest) -> Any:
        prompt = request.prompt or ""
        if prompt == "invalid":
            raise BackendError("temperature must be >= 0", hint="fix it")
        if prompt == "huge":
            return [Generation(text=None, error="the prompt exceeds the context window")]
        return request

    def run(self, prepared: Sequence[GenerationRequest]) -> list[list[Generation]]:
        with self.lock:  # one sampler call at a time, as the real sampler's lock ensures
            prompts = [p.prompt or "" for p in prepared]
            self.batches.append(prompts)
            if "oom" in prompts:
                raise BackendError("out of memory on cpu")
            time.sleep(self.step_s)
            return [
                [Generation(text=p.prompt, completion_tokens=1) for _ in p.seeds] for p in prepared
            ]


def engine(stand_in: StandIn, **settings: Any) -> BatchingEngine:
    backend: Any = stand_in
    return BatchingEngine(backend, backend, model_id="m", **settings)


def request(prompt: str, n: int = 1) -> GenerationRequest:
    return GenerationRequest(prompt, None, SamplingParams(), tuple(range(n)))


def test_requests_awaited_together_share_one_sampler_call() -> None:
    stand_in = StandIn()
    served = engine(stand_in)

    async def main() -> list[list[Generation]]:
        return await asyncio.gather(
            *(served.generate(request(f"p{i}"), raw=False) for i in range(5))
        )

    results = asyncio.run(main())
    assert [r[0].text for r in results] == [f"p{i}" for i in range(5)]
    assert stand_in.batches == [[f"p{i}" for i in range(5)]]
    assert served.stats.as_dict()["batches"] == 1 and served.stats.requests == 5


def test_clients_arriving_over_milliseconds_are_batched() -> None:
    """Eight clients, each sending its next request a few ms after its last answer (as HTTP
    clients do): after the first batch, batches hold all eight."""
    stand_in = StandIn(step_s=0.03)
    served = engine(stand_in)
    jitter = random.Random(0)

    async def client(index: int) -> None:
        for turn in range(6):
            await asyncio.sleep(jitter.uniform(0.0005, 0.003))
            [generation] = await served.generate(request(f"c{index}-{turn}"), raw=False)
            assert generation.text == f"c{index}-{turn}"

    async def main() -> None:
        await asyncio.gather(*(client(i) for i in range(8)))

    asyncio.run(main())
    sizes = [len(batch) for batch in stand_in.batches]
    assert sum(sizes) == 48
    assert len(sizes) <= 8 and sizes.count(8) >= 4, sizes  # without waiting: 5, 3, 5, 3 ...


def test_a_lone_client_never_waits_for_company() -> None:
    stand_in = StandIn(step_s=0.0)
    served = engine(stand_in, max_wait_s=0.5)

    async def main() -> float:
        started = time.perf_counter()
        for turn in range(5):
            await served.generate(request(f"t{turn}"), raw=False)
        return time.perf_counter() - started

    assert asyncio.run(main()) < 0.5
    assert len(stand_in.batches) == 5


def test_a_batch_holds_at_most_max_rows() -> None:
    stand_in = StandIn(max_batch_size=4)
    served = engine(stand_in)

    async def main() -> None:
        await asyncio.gather(*(served.generate(request(f"p{i}", n=2), raw=False) for i in range(5)))

    asyncio.run(main())
    assert [len(batch) for batch in stand_in.batches] == [2, 2, 1]


def test_a_request_that_cannot_run_fails_alone() -> None:
    stand_in = StandIn()
    served = engine(stand_in)

    async def main() -> list[Any]:
        prompts = ["a", "oom", "b"]
        return await asyncio.gather(
            *(served.generate(request(p), raw=False) for p in prompts), return_exceptions=True
        )

    ok_a, failed, ok_b = asyncio.run(main())
    assert isinstance(failed, APIError) and failed.status == 503 and failed.code == "overloaded"
    assert ok_a[0].text == "a" and ok_b[0].text == "b"
    assert stand_in.batches[0] == ["a", "oom", "b"]  # tried together first, then one by one


@pytest.mark.parametrize(
    ("prompt", "code"), [("invalid", None), ("huge", "context_length_exceeded")]
)
def test_requests_the_model_cannot_take_are_400s(prompt: str, code: str | None) -> None:
    served = engine(StandIn())

    async def main() -> None:
        await served.generate(request(prompt), raw=True)

    with pytest.raises(APIError) as caught:
        asyncio.run(main())
    assert caught.value.status == 400 and caught.value.code == code
    assert caught.value.param == "prompt"


def test_a_client_that_went_away_is_dropped_from_the_queue() -> None:
    stand_in = StandIn(step_s=0.05)
    served = engine(stand_in)

    async def main() -> None:
        first = asyncio.ensure_future(served.generate(request("first"), raw=False))
        await asyncio.sleep(0.01)  # "first" is running; the next two queue behind it
        gone = asyncio.ensure_future(served.generate(request("gone"), raw=False))
        kept = asyncio.ensure_future(served.generate(request("kept"), raw=False))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.gather(first, kept)

    asyncio.run(main())
    assert stand_in.batches == [["first"], ["kept"]]
