"""The ``openai`` backend: any OpenAI-compatible endpoint through the official ``openai`` client.

OpenAI itself, Azure OpenAI deployments, Gemini's compatible endpoint, vLLM, TGI, Ollama,
llama.cpp's server and ``promptcheck serve`` all speak this API, so one backend covers hosted
models and self-hosted checkpoints alike (docs/hosted-apis.md).

The client is imported at the first request, so listing backends, and a run answered from the
cache, never import it. Its own retries are switched off and this backend retries instead,
because only here can a failure that outlasts the retries become *error samples*: the runner
reports those and never counts them against conformance, and the run goes on. Requests go
through the client's generic ``post`` (its auth, transport, timeouts and error types) with a
body built here, and answers are read as plain JSON, which tolerates what compatible servers
leave out and costs less CPU per request.

The API key (or Azure's Entra ID token) is read from the environment when the backend is built
and is held by the client alone; it is not a parameter, so it never reaches the store, a cache
key or a report, and it is scrubbed from every error message kept. The settings are in
:mod:`openai_params`; retries, pacing and usage are shared with the ``anthropic`` backend
(:mod:`retrying`, :mod:`pacing`), as is the HTTP transport (:mod:`transport`).
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptcheck.backends.base import (
    TOOL_CHOICE_KEYWORDS,
    BackendContext,
    Generation,
    GenerationRequest,
    Message,
    SamplingParams,
    ToolCall,
    register_backend,
    served_identity,
)
from promptcheck.backends.credentials import secret_from_env
from promptcheck.backends.openai_params import OpenAIParams
from promptcheck.backends.pacing import Usage, estimated_tokens, retry_after_seconds
from promptcheck.backends.retrying import (
    RETRYABLE_STATUS,
    Failure,
    RetryPolicy,
    Throttle,
    send_with_retries,
)
from promptcheck.backends.retrying import describe as _describe
from promptcheck.backends.retrying import first_line as _first_line
from promptcheck.backends.tool_calls import call_from_raw, generation_with_calls
from promptcheck.backends.transport import (
    check_transport,
    connection_error_behind_timeout,
    http_client,
)
from promptcheck.errors import BackendError
from promptcheck.formats import END_KEY, dolly_prompt
from promptcheck.redaction import scrub_text

if TYPE_CHECKING:
    from types import ModuleType

_SEED_MASK = (1 << 63) - 1


@register_backend("openai", OpenAIParams)
def build_openai(params: OpenAIParams, context: BackendContext) -> OpenAIBackend:
    """An OpenAI-compatible endpoint (OpenAI, Azure OpenAI, Gemini, vLLM, TGI, Ollama, ...).

    Fails at once, before any request, when the client is not installed or the key's (or
    Azure's Entra ID token's) environment variable is not set. The client itself is imported at
    the first request, so a run answered from the cache does without it (``import openai``
    takes most of a second).
    """
    if importlib.util.find_spec("openai") is None:
        raise BackendError(
            "the openai backend needs the openai package", hint="pip install 'promptcheck[openai]'"
        )
    check_transport(params.http_client)
    if params.azure is not None and params.azure.ad_token_env is not None:
        token = secret_from_env(params.azure.ad_token_env, "azure.ad_token_env")
        return OpenAIBackend(params, None, azure_ad_token=token)
    key = None
    key_env = params.key_variable
    if key_env is not None:
        key = secret_from_env(key_env, "api_key_env")
    return OpenAIBackend(params, key)


@dataclass
class _LoopState:
    """What is bound to one event loop: the HTTP client, and the in-flight limit and pacing."""

    client: Any
    throttle: Throttle


class OpenAIBackend:
    """Samples from an OpenAI-compatible endpoint; see :class:`OpenAIParams` for the knobs.

    ``max_samples_per_request`` is ``n_per_request`` until the endpoint is seen to ignore ``n``,
    then 1, so the runner's concurrency keeps counting HTTP requests. ``usage`` tallies requests,
    retries and tokens (and the cost, when prices are configured) for the session.
    """

    def __init__(
        self, params: OpenAIParams, api_key: str | None, *, azure_ad_token: str | None = None
    ) -> None:
        self.params = params
        self.usage = Usage(
            price_per_1k_input=params.price_per_1k_input,
            price_per_1k_output=params.price_per_1k_output,
        )
        #: None until a request with n > 1 shows whether the endpoint honours ``n``.
        self.n_honoured: bool | None = None if params.n_per_request > 1 else False
        self._policy = RetryPolicy(params.max_retries, params.backoff_s, params.max_wait_s)
        self._api_key = api_key or azure_ad_token  # the secret errors are scrubbed of
        self._azure_ad_token = azure_ad_token
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )

    @functools.cached_property
    def _openai(self) -> ModuleType:
        import openai

        return openai

    def __repr__(self) -> str:
        azure = self.params.azure
        where = self.params.base_url or "the OpenAI API"
        if azure is not None:
            where = f"Azure {azure.endpoint}, deployment {azure.deployment or self.params.model}"
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
            body.update(_answer_fields(sampling))
            shown = "\n\n".join(f"[{m.role}]\n{m.content}" for m in messages)
        else:
            if sampling.tools or sampling.response_format is not None:
                raise BackendError(
                    "tools and response_format need a chat endpoint, and this model is "
                    "configured with mode: completions",
                    hint="use mode: chat for cases with tools or a response_format",
                )
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

        async def attempt() -> list[Generation]:
            started = time.perf_counter()
            async with asyncio.timeout(params.timeout_s):
                # The client's generic request: its auth, transport, errors and timeout, with
                # our own body and the answer as plain JSON. The typed methods would re-validate
                # a body already built here and build models of answers read once, a third of
                # the client's time per request (benchmarks/).
                answer = await state.client.post(
                    path, cast_to=object, body=payload, options=options
                )
            return self._parse(answer, shown, time.perf_counter() - started)

        outcome = await send_with_retries(
            attempt,
            self._failure,
            throttle=state.throttle,
            policy=self._policy,
            usage=self.usage,
            tokens=estimated_tokens(shown, body.get(params.max_tokens_field), len(seeds)),
        )
        if isinstance(outcome, Failure):
            return [Generation(text=None, error=outcome.message) for _ in seeds]
        return outcome

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
        served_model = served_identity(answer.get("model"))
        served_fingerprint = served_identity(answer.get("system_fingerprint"))
        return [
            generation_with_calls(
                self._text(choice),
                _tool_calls(choice) if self.params.mode == "chat" else (),
                reason if isinstance(reason, str) else None,
                formatted_prompt=shown,
                prompt_tokens=prompt_tokens,
                completion_tokens=share,
                latency_s=latency,
                served_model=served_model,
                served_fingerprint=served_fingerprint,
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
            return Failure(f"connection failed: {_describe(dropped, self.scrub)}", retryable=True)
        if isinstance(exc, (TimeoutError, openai.APITimeoutError)):
            return Failure(f"timed out after {self.params.timeout_s:g}s", retryable=True)
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return Failure(f"connection failed: {_describe(cause, self.scrub)}", retryable=True)
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            headers = exc.response.headers
            body = exc.body if isinstance(exc.body, Mapping) else {}
            code = body.get("code") if isinstance(body.get("code"), str) else None
            hint = headers.get("x-should-retry")
            retryable = status in RETRYABLE_STATUS or status >= 500
            if hint in ("true", "false"):
                retryable = hint == "true"
            if code == "insufficient_quota":  # a 429 that waiting does not cure
                retryable = False
            detail = body.get("message") if isinstance(body.get("message"), str) else exc.message
            message = f"HTTP {status}: {_first_line(self.scrub(str(detail)))}"
            return Failure(message, retryable, retry_after_seconds(headers) if retryable else None)
        if isinstance(exc, (openai.OpenAIError, ValueError, TypeError, AttributeError)):
            # A malformed answer (not JSON, no choices): retrying would get the same.
            return Failure(f"unusable response: {_describe(exc, self.scrub)}", retryable=False)
        raise exc

    def scrub(self, text: str) -> str:
        """``text`` without the key, URL credentials or key-shaped tokens: applied to the whole
        text before it is cut to its first line, so that no part of a key survives a cut."""
        return scrub_text(text, self._api_key)

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            params = self.params
            state = _LoopState(self._client(), Throttle(params.concurrency, params.rpm, params.tpm))
            self._states[loop] = state
        return state

    def _client(self) -> Any:
        """``AsyncOpenAI``, or ``AsyncAzureOpenAI`` for an Azure deployment (its URL shape, its
        ``api-version`` query and its ``api-key`` or Entra ID bearer header)."""
        params = self.params
        transport = http_client(self._openai, params.http_client, params.timeout_s)
        common: dict[str, Any] = {
            "timeout": params.timeout_s,
            "max_retries": 0,
            "http_client": transport,
        }
        azure = params.azure
        if azure is None:
            return self._openai.AsyncOpenAI(
                api_key=self._api_key or "unused", base_url=params.base_url, **common
            )
        if self._azure_ad_token is not None:
            credentials = {"azure_ad_token": self._azure_ad_token}
        else:
            credentials = {"api_key": self._api_key or "unused"}
        return self._openai.AsyncAzureOpenAI(
            azure_endpoint=azure.endpoint,
            azure_deployment=azure.deployment or params.model,
            api_version=azure.api_version,
            **credentials,
            **common,
        )


def _answer_fields(sampling: SamplingParams) -> dict[str, Any]:
    """A case's tools, tool choice and response format in the Chat Completions API's form."""
    fields: dict[str, Any] = {}
    if sampling.tools:
        fields["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": dict(tool.parameters),
                },
            }
            for tool in sampling.tools
        ]
    choice = sampling.tool_choice
    if choice is not None:
        fields["tool_choice"] = (
            choice
            if choice in TOOL_CHOICE_KEYWORDS
            else {"type": "function", "function": {"name": choice}}
        )
    answer = sampling.response_format
    if answer is not None:
        fields["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": answer.name, "strict": answer.strict, "schema": answer.schema},
        }
    return fields


def _tool_calls(choice: dict[str, Any]) -> list[ToolCall]:
    """The function calls of a chat choice, arguments as sent (possibly broken JSON)."""
    message = choice.get("message")
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    if not calls:
        return []
    if not isinstance(calls, list):
        raise ValueError("the answer's tool_calls is not a list")
    found = []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise ValueError("a tool call without a function name")
        arguments = function.get("arguments")
        if arguments is None:
            arguments = ""
        if not isinstance(arguments, str):
            raise ValueError("a tool call's arguments are not a string")
        found.append(call_from_raw(function["name"], arguments))
    return found


def _with_context(text: str, context: str | None) -> str:
    if not context:
        return text
    return f"{text}\n\n{context}" if text else context
