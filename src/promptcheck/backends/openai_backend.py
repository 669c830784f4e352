"""The ``openai`` backend: any OpenAI-compatible endpoint through the official ``openai`` client.

OpenAI itself, vLLM, TGI, Ollama, llama.cpp's server and ``promptcheck serve`` all speak this API,
so one backend covers hosted models and self-hosted checkpoints alike (docs/hosted-apis.md).

The client is imported at the first request, so listing backends, and a run answered from the
cache, never import it. Its own retries are switched off and this backend retries instead,
because only here can a failure that outlasts the retries become *error samples*: the runner
reports those and never counts them against conformance, and the run goes on. Requests go
through the client's generic ``post`` (its auth, transport, timeouts and error types) with a
body built here, and answers are read as plain JSON, which tolerates what compatible servers
leave out and costs less CPU per request.

The API key is read from the environment when the client is built and is held by the client
alone; it is not a parameter, so it never reaches the store, a cache key or a report, and it is
scrubbed from every error message kept. The settings are in :mod:`openai_params`, usage and
pacing in :mod:`openai_pacing`, the HTTP transport in :mod:`openai_transport`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import os
import random
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from promptcheck.backends.base import (
    BackendContext,
    Generation,
    GenerationRequest,
    Message,
    register_backend,
)
from promptcheck.backends.openai_pacing import (
    Pacer,
    Usage,
    estimated_tokens,
    retry_after_seconds,
)
from promptcheck.backends.openai_params import OpenAIParams
from promptcheck.backends.openai_transport import (
    check_transport,
    connection_error_behind_timeout,
    http_client,
)
from promptcheck.errors import BackendError
from promptcheck.formats import END_KEY, dolly_prompt
from promptcheck.redaction import scrub_text

if TYPE_CHECKING:
    from types import ModuleType

#: HTTP statuses worth another attempt: request timeout, lock conflict, rate limit, server errors.
_RETRYABLE_STATUS = frozenset({408, 409, 429})
_SEED_MASK = (1 << 63) - 1


@register_backend("openai", OpenAIParams)
def build_openai(params: OpenAIParams, context: BackendContext) -> OpenAIBackend:
    """An OpenAI-compatible endpoint (OpenAI, vLLM, TGI, Ollama, llama.cpp, promptcheck serve).

    Fails at once, before any request, when the client is not installed or the key's
    environment variable is not set. The client itself is imported at the first request, so a
    run answered from the cache does without it (``import openai`` takes most of a second).
    """
    if importlib.util.find_spec("openai") is None:
        raise BackendError(
            "the openai backend needs the openai package", hint="pip install 'promptcheck[openai]'"
        )
    check_transport(params.http_client)
    key = None
    if params.api_key_env is not None:
        key = os.environ.get(params.api_key_env)
        if not key:
            raise BackendError(
                f"environment variable {params.api_key_env} (the model's api_key_env) is not set",
                hint=f"export {params.api_key_env}=... before the run, or write "
                "`api_key_env: null` for an endpoint that takes no key",
            )
    return OpenAIBackend(params, key)


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an attempt failed, whether another may succeed, and how long the server asked to wait."""

    message: str
    retryable: bool
    retry_after: float | None = None


@dataclass
class _LoopState:
    """What is bound to one event loop: the HTTP client, the in-flight limit, the pacing."""

    client: Any
    slots: asyncio.Semaphore | contextlib.nullcontext[None]
    pacers: list[tuple[Pacer, bool]] = field(default_factory=list)  # (pacer, counts tokens)
    paused_until: float = 0.0


class OpenAIBackend:
    """Samples from an OpenAI-compatible endpoint; see :class:`OpenAIParams` for the knobs.

    ``max_samples_per_request`` is ``n_per_request`` until the endpoint is seen to ignore ``n``,
    then 1, so the runner's concurrency keeps counting HTTP requests. ``usage`` tallies requests,
    retries and tokens (and the cost, when prices are configured) for the session.
    """

    def __init__(self, params: OpenAIParams, api_key: str | None) -> None:
        self.params = params
        self.usage = Usage(
            price_per_1k_input=params.price_per_1k_input,
            price_per_1k_output=params.price_per_1k_output,
        )
        #: None until a request with n > 1 shows whether the endpoint honours ``n``.
        self.n_honoured: bool | None = None if params.n_per_request > 1 else False
        self._api_key = api_key
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )

    @functools.cached_property
    def _openai(self) -> ModuleType:
        import openai

        return openai

    def __repr__(self) -> str:
        where = self.params.base_url or "the OpenAI API"
        return f"OpenAIBackend({self.params.model!r} at {where}, mode={self.params.mode})"

    @property
    def max_samples_per_request(self) -> int:
        return self.params.n_per_request if self.n_honoured is not False else 1

    async def generate(self, request: GenerationRequest) -> Sequence[Generation]:
        state = self._state()
        body, shown = self._body(request)
        size = self.max_samples_per_request
        groups = [request.seeds[i : i + size] for i in range(0, request.n, size)]
        if len(groups) == 1:  # the common case: no task to schedule, one loop turn less
            return await self._sample(state, body, shown, groups[0])
        results = await asyncio.gather(*(self._sample(state, body, shown, g) for g in groups))
        return [generation for group in results for generation in group]

    async def aclose(self) -> None:
        """Close this loop's HTTP client; clients of loops already closed are just dropped."""
        state = self._states.pop(asyncio.get_running_loop(), None)
        self._states.clear()
        if state is not None:
            await state.client.close()

    # --- one request ------------------------------------------------------------------------

    def _body(self, request: GenerationRequest) -> tuple[dict[str, Any], str]:
        """The request body (less ``n`` and ``seed``) and the prompt as the model is shown it."""
        params = self.params
        sampling = request.params
        body: dict[str, Any] = {
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            params.max_tokens_field: sampling.max_tokens,
        }
        stop = list(sampling.stop)
        extra = {k: v for k, v in sampling.extra.items() if k != "context"}
        context = sampling.extra.get("context")
        context = context if isinstance(context, str) else None
        if params.mode == "chat":
            messages = list(request.messages or ())
            if request.prompt is not None or not messages:
                messages.append(Message("user", _with_context(request.prompt or "", context)))
            body["messages"] = [{"role": m.role, "content": m.content} for m in messages]
            shown = "\n\n".join(f"[{m.role}]\n{m.content}" for m in messages)
        else:
            shown = self._completion_prompt(request, context)
            body["prompt"] = shown
            if params.template == "dolly":
                stop.append(END_KEY)
        if stop:
            body["stop"] = stop
        body.update(extra)
        body.update(params.extra)
        return body, shown

    def _completion_prompt(self, request: GenerationRequest, context: str | None) -> str:
        if self.params.template == "dolly":
            from promptcheck.backends.prompting import dolly_instruction

            instruction = request.prompt
            if instruction is None:
                instruction = dolly_instruction(request.messages or ())
            return dolly_prompt(instruction, context)
        text = request.prompt
        if text is None:
            text = "\n\n".join(m.content for m in request.messages or ())
        return _with_context(text, context)

    async def _sample(
        self, state: _LoopState, body: dict[str, Any], shown: str, seeds: Sequence[int]
    ) -> list[Generation]:
        """One generation per seed: one request with ``n``, then single requests for any
        choices the endpoint did not return."""
        got = await self._request(state, body, shown, seeds)
        if len(seeds) > 1 and got[0].error is None:
            self.n_honoured = len(got) >= len(seeds)
        if len(got) >= len(seeds):
            return got[: len(seeds)]
        missing = seeds[len(got) :]
        rest = await asyncio.gather(*(self._sample(state, body, shown, (s,)) for s in missing))
        return got + [generation for group in rest for generation in group]

    async def _request(
        self, state: _LoopState, body: dict[str, Any], shown: str, seeds: Sequence[int]
    ) -> list[Generation]:
        """The generations of one API call, retried; error generations once retries are spent.

        Returns fewer generations than seeds when the endpoint ignored ``n`` (never none).
        """
        params = self.params
        payload = {"model": params.model, **body}
        if len(seeds) > 1:
            payload["n"] = len(seeds)
        if params.send_seed and "seed" not in params.extra:
            payload["seed"] = seeds[0] & _SEED_MASK
        path = "/chat/completions" if params.mode == "chat" else "/completions"
        options = {"timeout": params.timeout_s}
        cost = estimated_tokens(shown, body, len(seeds), params.max_tokens_field)
        failure = Failure("no attempt was made", retryable=False)
        for attempt in range(params.max_retries + 1):
            if attempt:
                self.usage.retries += 1
                await asyncio.sleep(self._backoff(attempt, failure.retry_after))
            await self._pace(state, cost)
            async with state.slots:
                started = time.perf_counter()
                try:
                    async with asyncio.timeout(params.timeout_s):
                        # The client's generic request: its auth, transport, errors and timeout,
                        # with our own body and the answer as plain JSON. The typed methods would
                        # re-validate a body already built here and build models of answers read
                        # once, a third of the client's time per request (benchmarks/).
                        answer = await state.client.post(
                            path, cast_to=object, body=payload, options=options
                        )
                    generations = self._parse(answer, shown, time.perf_counter() - started)
                except Exception as exc:
                    failure = self._failure(exc)
                else:
                    self.usage.requests += 1
                    return generations
            if failure.retry_after is not None and failure.retryable:
                # The server throttles the model, not this request: every request waits.
                pause = min(failure.retry_after, params.max_wait_s)
                state.paused_until = max(state.paused_until, time.monotonic() + pause)
            if not failure.retryable or (
                failure.retry_after is not None and failure.retry_after > params.max_wait_s
            ):
                break
        self.usage.failed_requests += 1
        attempts = f" (after {attempt + 1} attempts)" if attempt else ""
        return [Generation(text=None, error=failure.message + attempts) for _ in seeds]

    async def _pace(self, state: _LoopState, cost: float) -> None:
        """Wait out a pause a 429 asked for, then the request and token budgets."""
        pause = state.paused_until - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        wait = max((p.reserve(cost if tokens else 1.0) for p, tokens in state.pacers), default=0)
        if wait > 0:
            await asyncio.sleep(wait)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter (0.5x-1.5x), never sooner than the server asked."""
        delay = self.params.backoff_s * 2.0 ** (attempt - 1) * (0.5 + random.random())
        delay = min(delay, self.params.max_wait_s)
        return max(delay, retry_after or 0.0)

    def _parse(self, answer: object, shown: str, latency: float) -> list[Generation]:
        """Generations of an answer read as plain JSON, tolerant of what compatible servers
        leave out (usage, indexes); an answer without choices is unusable."""
        if not isinstance(answer, dict):
            raise ValueError("the endpoint's answer is not a JSON object")
        choices = answer.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ValueError("the endpoint answered with no choices")
        if not all(isinstance(choice, dict) for choice in choices):
            raise ValueError("the endpoint's choices are not objects")
        choices = sorted(
            choices, key=lambda c: c.get("index") if type(c.get("index")) is int else 0
        )
        usage = answer.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        prompt_tokens = usage.get("prompt_tokens")
        prompt_tokens = prompt_tokens if type(prompt_tokens) is int else None
        completion_total = usage.get("completion_tokens")
        if prompt_tokens is not None:
            self.usage.prompt_tokens += prompt_tokens
        shares: list[int | None] = [None] * len(choices)
        if type(completion_total) is int:
            self.usage.completion_tokens += completion_total
            # The API counts tokens per request; a sample's share is exact only when n is 1.
            base, extra = divmod(completion_total, len(choices))
            shares = [base + (1 if i < extra else 0) for i in range(len(choices))]
        reasons = [c.get("finish_reason") for c in choices]
        return [
            Generation(
                text=self._text(choice),
                formatted_prompt=shown,
                prompt_tokens=prompt_tokens,
                completion_tokens=share,
                latency_s=latency,
                finish_reason=reason if isinstance(reason, str) else None,
            )
            for choice, share, reason in zip(choices, shares, reasons, strict=True)
        ]

    def _text(self, choice: dict[str, Any]) -> str:
        if self.params.mode == "chat":
            message = choice.get("message")
            if not isinstance(message, dict):
                raise ValueError("a chat choice without a message")
            text = message.get("content")
            if text is None:
                # A refusal is the model's answer (and fails the checks), not an API error.
                text = message.get("refusal") or ""
        else:
            text = choice.get("text") or ""
        if not isinstance(text, str):
            raise ValueError(f"the answer's text is {type(text).__name__}, not a string")
        if self.params.template == "dolly" and self.params.mode == "completions":
            text = text.split(END_KEY, 1)[0].strip()
        return text

    def _failure(self, exc: BaseException) -> Failure:
        """Classify an attempt's exception; its message never contains the API key."""
        openai = self._openai
        if isinstance(exc, openai.APITimeoutError) and (
            dropped := connection_error_behind_timeout(exc)
        ):
            return Failure(f"connection failed: {_describe(dropped, self._scrub)}", retryable=True)
        if isinstance(exc, (TimeoutError, openai.APITimeoutError)):
            return Failure(f"timed out after {self.params.timeout_s:g}s", retryable=True)
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return Failure(f"connection failed: {_describe(cause, self._scrub)}", retryable=True)
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            headers = exc.response.headers
            body = exc.body if isinstance(exc.body, Mapping) else {}
            code = body.get("code") if isinstance(body.get("code"), str) else None
            hint = headers.get("x-should-retry")
            retryable = status in _RETRYABLE_STATUS or status >= 500
            if hint in ("true", "false"):
                retryable = hint == "true"
            if code == "insufficient_quota":  # a 429 that waiting does not cure
                retryable = False
            detail = body.get("message") if isinstance(body.get("message"), str) else exc.message
            message = f"HTTP {status}: {_first_line(self._scrub(str(detail)))}"
            return Failure(message, retryable, retry_after_seconds(headers) if retryable else None)
        if isinstance(exc, (openai.OpenAIError, ValueError, TypeError, AttributeError)):
            # A malformed answer (not JSON, no choices): retrying would get the same.
            return Failure(f"unusable response: {_describe(exc, self._scrub)}", retryable=False)
        raise exc

    def _scrub(self, text: str) -> str:
        """``text`` without the key, URL credentials or key-shaped tokens: applied to the whole
        text before it is cut to its first line, so that no part of a key survives a cut."""
        return scrub_text(text, self._api_key)

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            params = self.params
            client = self._openai.AsyncOpenAI(
                api_key=self._api_key or "unused",
                base_url=params.base_url,
                timeout=params.timeout_s,
                max_retries=0,
                http_client=http_client(self._openai, params.http_client, params.timeout_s),
            )
            slots = params.concurrency
            limit = asyncio.Semaphore(slots) if slots is not None else contextlib.nullcontext()
            state = _LoopState(client, limit)
            if params.rpm is not None:
                state.pacers.append((Pacer(params.rpm), False))
            if params.tpm is not None:
                state.pacers.append((Pacer(params.tpm), True))
            self._states[loop] = state
        return state


def _with_context(text: str, context: str | None) -> str:
    if not context:
        return text
    return f"{text}\n\n{context}" if text else context


def _describe(exc: BaseException, scrub: Callable[[str], str]) -> str:
    text = _first_line(scrub(str(exc)))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0][:500] if stripped else ""
