"""Batching concurrent HTTP requests onto one local model, so throughput grows with clients.

A decode step costs about the same for one row as for dozens (on a GPU it is bound by reading
the weights; on a CPU by per-step overhead), so the server runs the requests that are waiting
together: one worker-thread call of the local backend's sampler per batch, whose rows share
every forward pass. While a batch runs, new requests queue; when it ends, the next batch is
formed from the queue.

Requests arrive over sockets, not in one event-loop tick: when a batch ends, its clients send
their next requests over the following milliseconds. Starting the next batch at once would run
the requests that queued meanwhile and leave the clients just answered for the batch after, so
the clients split into cohorts that take turns, each batch half full. The scheduler therefore
expects as many requests as were waiting plus those just answered, and waits for them, but never
longer than ``max_wait_s`` nor half the last batch's time: when clients have left, that costs
one short wait, after which the expectation is the smaller batch that actually ran. A lone
client never waits, since it is all the company a batch of one expects.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from promptcheck.backends.base import Generation, GenerationRequest
from promptcheck.errors import BackendError
from promptcheck.serve.protocol import APIError
from promptcheck.serve.streaming import RowStreamer, TextFeed

if TYPE_CHECKING:
    from promptcheck.backends.local import LocalBackend, PreparedRequest
    from promptcheck.backends.sampler import FinishReason, RowObserver


@dataclass
class EngineStats:
    """Counters shown by ``GET /health``: how much batching actually happened."""

    requests: int = 0
    batches: int = 0
    rows: int = 0
    completion_tokens: int = 0
    largest_batch: int = 0
    busy_s: float = 0.0
    departed: int = 0  # requests whose client left before their answer

    def as_dict(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "batches": self.batches,
            "rows": self.rows,
            "completion_tokens": self.completion_tokens,
            "largest_batch": self.largest_batch,
            "busy_s": round(self.busy_s, 3),
            "departed": self.departed,
        }


@dataclass(frozen=True)
class Job:
    """A request ready to sample: rendered, tokenized, checked (``BatchingEngine.prepare``)."""

    backend: LocalBackend
    prepared: PreparedRequest
    rows: int


@dataclass
class _Pending:
    backend: LocalBackend
    prepared: PreparedRequest
    rows: int
    future: asyncio.Future[list[Generation]] = field(repr=False)


class Departure:
    """The sampler's observer of rows nobody streams: it ends them once their client has left,
    so that a client that hangs up stops costing decode steps at the next one."""

    def __init__(self) -> None:
        self.left = False

    def leave(self) -> None:
        self.left = True

    def token(self, row: int, token_ids: Sequence[int]) -> bool:
        return not self.left

    def finish(self, row: int, token_ids: Sequence[int], reason: FinishReason) -> None:
        pass


class BatchingEngine:
    """Generates for the server: ``chat`` renders requests in the checkpoint's own format
    (Dolly's, a chat template), ``raw`` takes prompt text as it is (``/v1/completions``).

    Both backends share one loaded model and sampler; see the module docstring for scheduling.
    A request is first prepared (:meth:`prepare`: rendered, tokenized, checked), then sampled
    (:meth:`generate`), so that every prompt of a request is known to be valid before any of
    it is sampled or streamed.
    """

    #: ``generate`` takes ``feed``: the app streams tokens as they are decoded.
    streams_tokens = True

    def __init__(
        self,
        chat: LocalBackend,
        raw: LocalBackend,
        *,
        model_id: str,
        max_wait_s: float = 0.1,
        max_rows: int | None = None,
    ) -> None:
        self.chat = chat
        self.raw = raw
        self.model_id = model_id
        self.fingerprint = "fp_" + chat.fingerprint.split("/")[0][:16]
        self.max_wait_s = max_wait_s
        self.max_rows = max_rows or chat.sampler.max_batch_size
        self.stats = EngineStats()
        self._queue: list[_Pending] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._expected = 1  # requests the next batch should hold: waiting + just answered
        self._last_duration = 0.0

    def describe(self) -> str:
        return f"{self.chat.format} format, {self.chat.device}, {self.chat.dtype}"

    async def prepare(self, requests: Sequence[GenerationRequest], *, raw: bool) -> list[Job]:
        """Render and tokenize ``requests`` in a worker thread, so that a long prompt never
        holds up the event loop (the tokenizer releases the GIL while it works); the first
        request the model cannot take is an :class:`APIError` (400)."""
        backend = self.raw if raw else self.chat
        return await asyncio.to_thread(_prepare, backend, requests, "prompt" if raw else "messages")

    async def generate(
        self, job: Job, *, feed: TextFeed | None = None, first_choice: int = 0
    ) -> list[Generation]:
        """``job.rows`` generations of a prepared request.

        With ``feed``, the text of row ``r`` is also put there as choice ``first_choice + r``
        while it is decoded (see :mod:`promptcheck.serve.streaming`). Cancelling the call (its
        client went away) takes the request out of the queue, or, when it is being sampled,
        ends its rows at the next decode step; the rest of the batch goes on.
        """
        loop = asyncio.get_running_loop()
        observer: RowObserver
        if feed is not None:
            observer = RowStreamer(
                loop,
                feed,
                job.backend.prompt_format,
                job.prepared.stop_strings,
                job.rows,
                first_choice,
            )
            leave = feed.cancel
        else:
            observer = departure = Departure()
            leave = departure.leave
        prepared = replace(job.prepared, job=replace(job.prepared.job, observer=observer))
        pending = _Pending(job.backend, prepared, job.rows, loop.create_future())
        self._queue.append(pending)
        self._arrived.set()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._schedule())
        try:
            generations = await pending.future
        except asyncio.CancelledError:
            leave()
            self.stats.departed += 1
            raise
        self.stats.requests += 1
        self.stats.completion_tokens += sum(g.completion_tokens or 0 for g in generations)
        return generations

    async def _schedule(self) -> None:
        while self._queue:
            await self._gather()
            batch = self._take()
            if not batch:
                continue
            self.stats.batches += 1
            self.stats.rows += sum(item.rows for item in batch)
            self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
            started = time.perf_counter()
            outcomes = await asyncio.to_thread(_run, batch)
            self._last_duration = time.perf_counter() - started
            self.stats.busy_s += self._last_duration
            self._expected = len(self._queue) + len(batch)
            for item, outcome in zip(batch, outcomes, strict=True):
                if item.future.done():
                    continue
                if isinstance(outcome, BaseException):
                    item.future.set_exception(outcome)
                else:
                    item.future.set_result(outcome)

    async def _gather(self) -> None:
        """Wait for the requests the next batch expects (see the module docstring)."""
        limit = min(self.max_wait_s, self._last_duration / 2)
        deadline = time.monotonic() + limit
        while len(self._queue) < self._expected and self._rows() < self.max_rows:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                return

    def _take(self) -> list[_Pending]:
        """Waiting requests, oldest first, up to ``max_rows`` rows (at least one request)."""
        batch: list[_Pending] = []
        rows = 0
        while self._queue:
            item = self._queue[0]
            if batch and rows + item.rows > self.max_rows:
                break
            self._queue.pop(0)
            if item.future.done():  # its client went away
                continue
            batch.append(item)
            rows += item.rows
        return batch

    def _rows(self) -> int:
        return sum(item.rows for item in self._queue)


def _prepare(backend: LocalBackend, requests: Sequence[GenerationRequest], param: str) -> list[Job]:
    """Prepare requests (in a worker thread); a prompt the model cannot take is a 400."""
    jobs = []
    for request in requests:
        try:
            prepared = backend.prepare(request)
        except BackendError as exc:
            raise APIError(400, _message(exc), param=param) from None
        if isinstance(prepared, list):  # the backend's answer to a prompt it cannot take
            failed = next((g.error for g in prepared if g.error), None) or "invalid prompt"
            code = "context_length_exceeded" if "context window" in failed else None
            raise APIError(400, failed, param=param, code=code)
        jobs.append(Job(backend, prepared, request.n))
    return jobs


def _run(batch: Sequence[_Pending]) -> list[list[Generation] | BaseException]:
    """Sample a batch (in a worker thread): one sampler call per backend in it.

    A failed call is retried request by request, so that one request that cannot run (out of
    memory with its n x max_tokens) fails alone with a 503 while the others are answered.
    """
    outcomes: dict[int, list[Generation] | BaseException] = {}
    groups: dict[int, list[int]] = {}
    for position, item in enumerate(batch):
        groups.setdefault(id(item.backend), []).append(position)
    for positions in groups.values():
        backend = batch[positions[0]].backend
        try:
            results = backend.run([batch[p].prepared for p in positions])
        except BackendError as exc:
            if len(positions) == 1:
                outcomes[positions[0]] = _overloaded(exc)
                continue
            for position in positions:
                outcomes[position] = _run([batch[position]])[0]
            continue
        except Exception as exc:  # a bug: the handler answers 500 and the server goes on
            for position in positions:
                outcomes[position] = exc
            continue
        for position, generations in zip(positions, results, strict=True):
            outcomes[position] = generations
    return [outcomes[position] for position in range(len(batch))]


def _overloaded(exc: BackendError) -> APIError:
    return APIError(503, _message(exc), code="overloaded")


def _message(exc: BackendError) -> str:
    return exc.message + (f" ({exc.hint})" if exc.hint else "")
