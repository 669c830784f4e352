"""The ``local`` backend: a Hugging Face causal-LM checkpoint on this machine, Dolly v2 first-class.

This module is imported whenever promptcheck lists its backends, so it holds only the parameters,
the registered factory and the asyncio side of the backend; torch and transformers are imported
inside :func:`build_local` (by :mod:`.checkpoint` and :mod:`.sampler`). See docs/local-models.md.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from promptcheck.backends.base import (
    BackendContext,
    Generation,
    GenerationRequest,
    register_backend,
)
from promptcheck.errors import BackendError

if TYPE_CHECKING:
    from promptcheck.backends.checkpoint import LoadedCheckpoint
    from promptcheck.backends.prompting import PromptFormat, RenderedPrompt
    from promptcheck.backends.sampler import SampleJob, Sampler

_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")

#: Bumped whenever the same seed would give a different sample (noise, sampling method).
SAMPLER_VERSION = 1


class LocalParams(BaseModel):
    """Settings of a ``backend: local`` model (a suite's ``models:`` entry, minus ``backend``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(
        description="Checkpoint directory (config.json, weights, tokenizer files); a relative "
        "path is resolved from the directory of the file that declares the model."
    )
    format: Literal["auto", "dolly", "chat", "raw"] = Field(
        default="auto",
        description="Prompt format: `auto` picks dolly when the tokenizer has Dolly's special "
        "tokens, chat when it has a chat template, else raw.",
    )
    device: str = Field(
        default="auto", description="`auto` (cuda, then mps, then cpu), cpu, mps, cuda or cuda:N."
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto",
        description="`auto` is bfloat16 on GPUs that support it (else float16), float32 on CPU.",
    )
    max_batch_size: int = Field(
        default=64,
        ge=1,
        description="Most rows (samples) per forward pass; lower it when the GPU runs out of "
        "memory.",
    )
    stop: tuple[str, ...] = Field(
        default=(), description="Stop strings added to every request's own `stop` strings."
    )

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if not _DEVICE.fullmatch(value):
            raise ValueError("device must be auto, cpu, mps, cuda or cuda:N")
        return value

    @field_validator("stop")
    @classmethod
    def _no_empty_stop(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not s for s in value):
            raise ValueError("stop strings must not be empty")
        return value


@register_backend("local", LocalParams)
def build_local(params: LocalParams, context: BackendContext) -> LocalBackend:
    """A Hugging Face causal-LM checkpoint on this machine (Dolly v2, chat models, raw LMs).

    The model is loaded here, which takes seconds for a multi-GB checkpoint: build one backend
    per model and share it between cases (it is safe to call from a worker thread).
    """
    try:
        from promptcheck.backends.checkpoint import load_checkpoint, resolve_checkpoint_dir
        from promptcheck.backends.prompting import PromptFormat, detect_format
        from promptcheck.backends.sampler import Sampler
    except ImportError as exc:
        raise BackendError(
            f"the local backend needs torch and transformers ({exc})",
            hint="pip install 'promptcheck[local]'",
        ) from None

    directory = resolve_checkpoint_dir(params.path, context.base_dir)
    checkpoint = load_checkpoint(
        directory, device=params.device, dtype=params.dtype, declared_as=params.path
    )
    name = detect_format(checkpoint.tokenizer) if params.format == "auto" else params.format
    try:
        prompt_format = PromptFormat(checkpoint.tokenizer, name, _eos_token_ids(checkpoint))
    except BackendError as exc:
        raise BackendError(f"checkpoint {directory}: {exc.message}", hint=exc.hint) from None
    sampler = Sampler(
        checkpoint.model,
        max_batch_size=params.max_batch_size,
        decode=prompt_format.decode,
        name=f"checkpoint {directory}",
    )
    return LocalBackend(params, checkpoint, prompt_format, sampler)


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A request turned into what the sampler needs, with what its generations report."""

    rendered: RenderedPrompt
    job: SampleJob
    stop_strings: tuple[str, ...]


class LocalBackend:
    """Samples from a loaded checkpoint; requests awaited concurrently share forward passes.

    Attributes the runner reads: ``max_samples_per_request`` (all samples of a prompt come in one
    request, so they share one prefill), ``fingerprint`` (what the samples depend on: checkpoint
    files, format, dtype, device type, sampler version), ``load_seconds`` and ``memory_bytes``
    (of the weights and buffers).
    """

    max_samples_per_request = 256

    def __init__(
        self,
        params: LocalParams,
        checkpoint: LoadedCheckpoint,
        prompt_format: PromptFormat,
        sampler: Sampler,
    ) -> None:
        self.params = params
        self.checkpoint = checkpoint
        self.prompt_format = prompt_format
        self.sampler = sampler
        self.usage = sampler.usage  # requests and tokens, for the run's usage line
        self.path = checkpoint.path
        self.format = prompt_format.name
        self.device = str(checkpoint.device)
        self.dtype = str(checkpoint.dtype).removeprefix("torch.")
        self.load_seconds: float = checkpoint.load_seconds
        self.memory_bytes: int = checkpoint.memory_bytes
        self.context_window = checkpoint.context_window
        # Keys the runner's generation cache: the files, and what else decides the samples.
        self.fingerprint = (
            f"{checkpoint.fingerprint}/{self.format}/{self.dtype}/{checkpoint.device.type}"
            f"/sampler-{SAMPLER_VERSION}"
        )
        self._batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batcher] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"LocalBackend({str(self.path)!r}, format={self.format}, device={self.device})"

    async def generate(self, request: GenerationRequest) -> Sequence[Generation]:
        if self.sampler.model is None:
            raise BackendError(f"the backend of checkpoint {self.path} was closed")
        prepared = self.prepare(request)
        if not isinstance(prepared, PreparedRequest):
            return prepared
        loop = asyncio.get_running_loop()
        batcher = self._batchers.get(loop)
        if batcher is None:
            batcher = self._batchers[loop] = _Batcher(self.run)
        return await batcher.submit(prepared)

    def prepare(self, request: GenerationRequest) -> PreparedRequest | list[Generation]:
        """Render and tokenize a request; a prompt the model cannot take gives error generations."""
        from promptcheck.backends.sampler import SampleJob

        params = request.params
        if request.prompt is None and not request.messages:
            raise BackendError("the request has neither a prompt nor messages")
        if params.temperature < 0:
            raise BackendError(f"temperature must be >= 0, got {params.temperature}")
        if not 0 < params.top_p <= 1:
            raise BackendError(f"top_p must be in (0, 1], got {params.top_p}")
        if params.response_format is not None:
            # sampling is not constrained here: a test must not believe an output was
            raise BackendError(
                "a local checkpoint cannot constrain its output to the case's response_format",
                hint="leave this model out of the case (`models:`), and score the shape with "
                "a json_schema check",
            )
        context = params.extra.get("context")
        rendered = self.prompt_format.render(
            request.prompt, request.messages, context if isinstance(context, str) else None
        )
        prompt_tokens = len(rendered.token_ids)
        error = self._prompt_error(prompt_tokens)
        if error is not None:
            failed = Generation(
                text=None, error=error, formatted_prompt=rendered.text, prompt_tokens=prompt_tokens
            )
            return [failed] * request.n
        max_new = max(0, params.max_tokens)
        if self.context_window is not None:
            max_new = min(max_new, self.context_window - prompt_tokens)
        stop_strings = (*self.params.stop, *params.stop)
        job = SampleJob(
            prompt_ids=rendered.token_ids,
            seeds=request.seeds,
            temperature=params.temperature,
            top_p=params.top_p,
            max_new_tokens=max_new,
            stop_token_ids=self.prompt_format.stop_token_ids,
            stop_strings=(*self.prompt_format.stop_strings, *stop_strings),
        )
        return PreparedRequest(rendered=rendered, job=job, stop_strings=stop_strings)

    def run(self, requests: Sequence[PreparedRequest]) -> list[list[Generation]]:
        """Sample every request (blocking; called in a worker thread) and decode the responses."""
        rows = self.sampler.sample([r.job for r in requests])
        results: list[list[Generation]] = []
        for request, request_rows in zip(requests, rows, strict=True):
            generations = []
            for row in request_rows:
                response = self.prompt_format.response(
                    row.token_ids, row.finish_reason, request.stop_strings
                )
                generations.append(
                    Generation(
                        text=response.text,
                        formatted_prompt=request.rendered.text,
                        prompt_tokens=len(request.rendered.token_ids),
                        completion_tokens=response.completion_tokens,
                        latency_s=row.latency_s,
                        finish_reason=response.finish_reason,
                    )
                )
            results.append(generations)
        return results

    async def aclose(self) -> None:
        """Free the model's memory (the backend cannot generate afterwards)."""
        self.sampler.model = None
        self.checkpoint.model = None
        if self.checkpoint.device.type == "cuda":
            import torch

            torch.cuda.empty_cache()

    def _prompt_error(self, prompt_tokens: int) -> str | None:
        where = f"checkpoint {self.path}"
        if prompt_tokens == 0:
            return f"the formatted prompt is empty (no tokens) for {where}; give the case a prompt"
        window = self.context_window
        if window is not None and prompt_tokens >= window:
            return (
                f"the prompt is {prompt_tokens} tokens but {where} has a context window of "
                f"{window} tokens (prompt and response together); shorten the prompt or its "
                "variables"
            )
        return None


class _Batcher:
    """Hands the requests awaited concurrently on one event loop to the sampler as one call.

    The runner awaits the prompts of a case together; each ``generate`` queues its request and
    the first schedules a drain, which yields once so that the others queue too, then runs them
    all in a worker thread, where the sampler batches their rows (left-padded) into shared
    forward passes. A failure of a combined call is retried request by request, so that one
    request that cannot run (out of memory) does not fail the others.
    """

    def __init__(self, run: Callable[[Sequence[PreparedRequest]], list[list[Generation]]]):
        self._run = run
        self._queue: list[tuple[PreparedRequest, asyncio.Future[list[Generation]]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, request: PreparedRequest) -> list[Generation]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Generation]] = loop.create_future()
        self._queue.append((request, future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # let requests gathered with this one queue up
        while self._queue:
            batch, self._queue = self._queue, []
            await self._run_batch([(r, f) for r, f in batch if not f.done()])

    async def _run_batch(
        self, batch: list[tuple[PreparedRequest, asyncio.Future[list[Generation]]]]
    ) -> None:
        if not batch:
            return
        try:
            results = await asyncio.to_thread(self._run, [r for r, _ in batch])
        except BackendError as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            for item in batch:
                await self._run_batch([item])
            return
        except Exception as exc:
            for _, future in batch:
                _settle(future, exc)
            return
        for (_, future), generations in zip(batch, results, strict=True):
            _settle(future, generations)


def _settle(
    future: asyncio.Future[list[Generation]], outcome: list[Generation] | BaseException
) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _eos_token_ids(checkpoint: LoadedCheckpoint) -> list[int]:
    """End-of-sequence ids from the generation config and the tokenizer: any of them ends a row."""
    found: list[int] = []
    config = getattr(checkpoint.model, "generation_config", None)
    for value in (getattr(config, "eos_token_id", None), checkpoint.tokenizer.eos_token_id):
        if isinstance(value, int):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found.extend(v for v in value if isinstance(v, int))
    return found
