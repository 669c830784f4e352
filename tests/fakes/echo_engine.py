"""An engine that echoes, for testing ``promptcheck serve``'s API without a model."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from promptcheck.backends.base import Generation, GenerationRequest
from promptcheck.serve.protocol import APIError
from promptcheck.serve.streaming import TextFeed

API_KEY = "test-key-123"

Job = tuple[GenerationRequest, bool]


@dataclass
class EchoEngine:
    """Answers ``<last user text>#<seed>``; a few prompts misbehave on purpose.

    ``too long`` is refused when prepared, ``engine bug`` raises when generated, ``big-N``
    answers N characters, and ``hang`` never answers: its generation waits until it is
    cancelled, which ``departed`` counts.
    ``hanging`` and ``cancelled`` are released once per hanging generation started and
    cancelled, for a test on another thread to acquire.
    """

    model_id: str = "echo"
    fingerprint: str = "fp_echo"
    streams_tokens: bool = False
    requests: list[Job] = field(default_factory=list)
    departed: int = 0
    hanging: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    cancelled: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))

    async def prepare(self, requests: Sequence[GenerationRequest], *, raw: bool) -> list[Job]:
        for request in requests:
            if _text(request) == "too long":
                raise APIError(400, "the prompt is too long", code="context_length_exceeded")
        jobs = [(request, raw) for request in requests]
        self.requests.extend(jobs)
        return jobs

    async def generate(
        self, job: Job, *, feed: TextFeed | None = None, first_choice: int = 0
    ) -> list[Generation]:
        request, _ = job
        text = _text(request)
        if text == "engine bug":
            raise RuntimeError("a bug in the engine")
        if text == "hang":
            self.hanging.release()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.departed += 1
                self.cancelled.release()
                raise
        if text.startswith("big-"):
            return [Generation(text="x" * int(text.removeprefix("big-")), completion_tokens=1)]
        return [
            Generation(
                text=f"{text}#{seed}",
                prompt_tokens=len(text.split()) or 1,
                completion_tokens=2,
                finish_reason="length" if text == "long" else "stop",
            )
            for seed in request.seeds
        ]


def _text(request: GenerationRequest) -> str:
    if request.messages:
        return request.messages[-1].content
    return request.prompt if request.prompt is not None else ""


@dataclass
class Served:
    url: str
    engine: EchoEngine

    @property
    def origin(self) -> tuple[str, int]:
        host, port = self.url.removeprefix("http://").removesuffix("/v1").rsplit(":", 1)
        return host, int(port)
