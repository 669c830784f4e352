"""The batching engine over a stand-in for the local backend: which requests share a sampler
call, how arrivals spread over milliseconds are gathered, how failures stay apart, that
prompts are prepared off the event loop and all before any is sampled, and that the rows of a
client that left stop being sampled."""

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

LIMIT_S = 30  # no test here should come near it; it stops a regression from hanging


@dataclass(frozen=True)
class Plan:
    """Stands in for a SampleJob: how many decode steps the request's rows run."""

    steps: int = 1
    observer: Any = None


@dataclass(frozen=True)
class Prepared:
    """Stands in for a PreparedRequest."""

    request: GenerationRequest
    job: Plan
    stop_strings: tuple[str, ...] = ()


@dataclass
class StandIn:
    """``prepare`` and ``run`` as the local backend has them.

    ``run`` takes ``step_s`` and then decodes: each step, it shows each live row's ids to the
    row's observer, as the sampler does, and ends the rows the observer declines; ``steps``
    counts the rows' decode steps. A prompt ``long-N`` runs N steps; ``slow`` blocks in
    ``prepare`` until ``release`` is set; the run holds at step ``hold_at`` until ``go``.
    """

    step_s: float = 0.02
    max_batch_size: int = 64
    batches: list[list[str]] = field(default_factory=list)
    steps: dict[str, int] = field(default_factory=dict)
    format: str = "dolly"
    device: str = "cpu"
    dtype: str = "float32"
    fingerprint: str = "0123456789abcdef0123/dolly/float32/cpu/sampler-1"
    lock: threading.Lock = field(default_factory=threading.Lock)
    hold_at: int | None = None
    held: threading.Event = field(default_factory=threading.Event)
    go: threading.Event = field(default_factory=threading.Event)
    preparing: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    prepare_threads: set[int] = field(default_factory=set)

    @property
    def sampler(self) -> Any:
        return SimpleNamespace(max_batch_size=self.max_batch_size)

    @property
    def prompt_format(self) -> Any:
        return None

    def prepare(self, request: GenerationRequest) -> Any:
        self.prepare_threads.add(threading.get_ident())
        prompt = request.prompt or ""
        if prompt == "slow":
            self.preparing.set()
            assert self.release.wait(LIMIT_S)
        if prompt == "invalid":
            raise BackendError("temperature must be >= 0", hint="fix it")
        if prompt == "huge":
            return [Generation(text=None, error="the prompt exceeds the context window")]
        steps = int(prompt.split("-")[1]) if prompt.startswith("long-") else 1
        return Prepared(request, Plan(steps))

    def run(self, prepared: Sequence[Prepared]) -> list[list[Generation]]:
        with self.lock:  # one sampler call at a time, as the real sampler's lock ensures
            prompts = [p.request.prompt or "" for p in prepared]
            self.batches.append(prompts)
            if "oom" in prompts:
                raise BackendError("out of memory on cpu")
            time.sleep(self.step_s)
            for p in prepared:
                self._decode(p)
            return [
                [Generation(text=p.request.prompt, completion_tokens=1) for _ in p.request.seeds]
                for p in prepared
            ]

    def _decode(self, prepared: Prepared) -> None:
        prompt = prepared.request.prompt or ""
        live = set(range(prepared.request.n))
        for step in range(prepared.job.steps):
            if step == self.hold_at:
                self.held.set()
                assert self.go.wait(LIMIT_S)
            for row in sorted(live):
                self.steps[prompt] = self.steps.get(prompt, 0) + 1
                if not prepared.job.observer.token(row, [0] * (step + 1)):
                    live.discard(row)
            if not live:
                return


def engine(stand_in: StandIn, **settings: Any) -> BatchingEngine:
    backend: Any = stand_in
    return BatchingEngine(backend, backend, model_id="m", **settings)


def request(prompt: str, n: int = 1) -> GenerationRequest:
    return GenerationRequest(prompt, None, SamplingParams(), tuple(range(n)))


async def ask(served: BatchingEngine, prompt: str, n: int = 1) -> list[Generation]:
    [job] = await served.prepare([request(prompt, n)], raw=False)
    return await served.generate(job)


def run(main: Any) -> Any:
    async def limited() -> Any:
        return await asyncio.wait_for(main(), LIMIT_S)

    return asyncio.run(limited())


def test_requests_awaited_together_share_one_sampler_call() -> None:
    stand_in = StandIn()
    served = engine(stand_in)

    async def main() -> list[list[Generation]]:
        jobs = await served.prepare([request(f"p{i}") for i in range(5)], raw=False)
        return await asyncio.gather(*(served.generate(job) for job in jobs))

    results = run(main)
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
            [job] = await served.prepare([request(f"c{index}-{turn}")], raw=False)
            await asyncio.sleep(jitter.uniform(0.0005, 0.003))
            [generation] = await served.generate(job)
            assert generation.text == f"c{index}-{turn}"

    async def main() -> None:
        await asyncio.gather(*(client(i) for i in range(8)))

    run(main)
    sizes = [len(batch) for batch in stand_in.batches]
    assert sum(sizes) == 48
    assert len(sizes) <= 8 and sizes.count(8) >= 4, sizes  # without waiting: 5, 3, 5, 3 ...


def test_a_lone_client_never_waits_for_company() -> None:
    stand_in = StandIn(step_s=0.0)
    served = engine(stand_in, max_wait_s=0.5)

    async def main() -> float:
        started = time.perf_counter()
        for turn in range(5):
            await ask(served, f"t{turn}")
        return time.perf_counter() - started

    assert run(main) < 0.5
    assert len(stand_in.batches) == 5


def test_a_batch_holds_at_most_max_rows() -> None:
    stand_in = StandIn(max_batch_size=4)
    served = engine(stand_in)

    async def main() -> None:
        jobs = await served.prepare([request(f"p{i}", n=2) for i in range(5)], raw=False)
        await asyncio.gather(*(served.generate(job) for job in jobs))

    run(main)
    assert [len(batch) for batch in stand_in.batches] == [2, 2, 1]


def test_a_request_that_cannot_run_fails_alone() -> None:
    stand_in = StandIn()
    served = engine(stand_in)

    async def main() -> list[Any]:
        jobs = await served.prepare([request(p) for p in ("a", "oom", "b")], raw=False)
        return await asyncio.gather(*(served.generate(j) for j in jobs), return_exceptions=True)

    ok_a, failed, ok_b = run(main)
    assert isinstance(failed, APIError) and failed.status == 503 and failed.code == "overloaded"
    assert ok_a[0].text == "a" and ok_b[0].text == "b"
    assert stand_in.batches[0] == ["a", "oom", "b"]  # tried together first, then one by one


@pytest.mark.parametrize(
    ("prompt", "code"), [("invalid", None), ("huge", "context_length_exceeded")]
)
def test_requests_the_model_cannot_take_are_400s(prompt: str, code: str | None) -> None:
    served = engine(StandIn())

    async def main() -> None:
        await served.prepare([request(prompt)], raw=True)

    with pytest.raises(APIError) as caught:
        run(main)
    assert caught.value.status == 400 and caught.value.code == code
    assert caught.value.param == "prompt"


def test_every_prompt_is_checked_before_any_is_sampled() -> None:
    """A batch of prompts with one the model cannot take is refused whole, before sampling:
    a streamed request is a 400, never a stream that breaks off after its first chunk."""
    stand_in = StandIn()
    served = engine(stand_in)

    async def main() -> None:
        await served.prepare([request("fine"), request("huge"), request("also fine")], raw=True)

    with pytest.raises(APIError) as caught:
        run(main)
    assert caught.value.status == 400 and caught.value.code == "context_length_exceeded"
    assert stand_in.batches == []


def test_prompts_are_prepared_off_the_event_loop() -> None:
    """While one request's prompt is being tokenized (held here in ``prepare``), the event
    loop answers another request from start to end."""
    stand_in = StandIn()
    served = engine(stand_in)

    async def main() -> list[str | None]:
        slow = asyncio.ensure_future(ask(served, "slow"))
        assert await asyncio.to_thread(stand_in.preparing.wait, LIMIT_S)
        [quick] = await ask(served, "quick")  # the loop is free while "slow" is tokenized
        assert not slow.done()
        stand_in.release.set()
        [late] = await slow
        return [quick.text, late.text]

    assert run(main) == ["quick", "slow"]
    assert threading.get_ident() not in stand_in.prepare_threads
    assert stand_in.batches == [["quick"], ["slow"]]


def test_a_client_that_went_away_is_dropped_from_the_queue() -> None:
    stand_in = StandIn(step_s=0.05)
    served = engine(stand_in)

    async def main() -> None:
        jobs = await served.prepare([request("first"), request("gone"), request("kept")], raw=False)
        first = asyncio.ensure_future(served.generate(jobs[0]))
        await asyncio.sleep(0.01)  # "first" is running; the next two queue behind it
        gone = asyncio.ensure_future(served.generate(jobs[1]))
        kept = asyncio.ensure_future(served.generate(jobs[2]))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.gather(first, kept)

    run(main)
    assert stand_in.batches == [["first"], ["kept"]]
    assert served.stats.departed == 1


def test_the_rows_of_a_client_that_left_stop_being_sampled() -> None:
    """A request that does not stream, cancelled while its batch is being sampled (its client
    hung up): its rows end at the next decode step; the other request of the batch runs on."""
    stand_in = StandIn(step_s=0.0, hold_at=5)
    served = engine(stand_in)

    async def main() -> list[Generation]:
        jobs = await served.prepare([request("long-1000", n=3), request("long-40")], raw=False)
        leaving = asyncio.ensure_future(served.generate(jobs[0]))
        staying = asyncio.ensure_future(served.generate(jobs[1]))
        assert await asyncio.to_thread(stand_in.held.wait, LIMIT_S)  # at step 5 of the batch
        leaving.cancel()
        await asyncio.sleep(0)
        stand_in.go.set()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        return await staying

    [stayed] = run(main)
    assert stayed.text == "long-40"
    assert stand_in.steps["long-1000"] == 3 * 6  # three rows, ended at the step after leaving
    assert stand_in.steps["long-40"] == 40
    assert served.stats.departed == 1 and served.stats.requests == 1
