"""The ``anthropic`` backend: Claude models through the official ``anthropic`` client.

The Messages API differs from OpenAI's where a test notices: the system prompt is a field of its
own, ``max_tokens`` is required, there is no ``n`` and no ``seed`` (every sample is its own
request, and a re-run repeats its samples through the generation cache, not through seeds),
tools are declared with an ``input_schema`` and called in ``tool_use`` blocks, an overloaded
service answers 529, and a structured answer is asked for in ``output_config.format``. What a
hosted model needs besides is shared with the ``openai`` backend: retries with backoff, jitter
and ``retry-after`` (:mod:`retrying`), per-minute pacing and usage (:mod:`pacing`), the aiohttp
transport (:mod:`transport`).

As in the ``openai`` backend, the client is imported at the first request (a run answered from
the cache never imports it), its own retries are off, requests go through its generic ``post``
with a body built here and answers are read as plain JSON; a failure that outlasts the retries
becomes error samples, never failures. The key is read from the environment when the backend
is built, is held by the client alone, and is scrubbed from every error message kept.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptcheck.backends.anthropic_params import AnthropicParams
from promptcheck.backends.base import (
    BackendContext,
    Generation,
    GenerationRequest,
    Message,
    ResponseFormat,
    SamplingParams,
    ToolCall,
    register_backend,
    served_identity,
)
from promptcheck.backends.credentials import secret_from_env
from promptcheck.backends.pacing import Usage, estimated_tokens, retry_after_seconds
from promptcheck.backends.retrying import (
    RETRYABLE_STATUS,
    Failure,
    RetryPolicy,
    Throttle,
    describe,
    first_line,
    send_with_retries,
)
from promptcheck.backends.tool_calls import (
    TOOL_CALLS_FINISH,
    call_from_value,
    generation_with_calls,
)
from promptcheck.backends.transport import (
    check_transport,
    connection_error_behind_timeout,
    http_client,
)
from promptcheck.errors import BackendError
from promptcheck.redaction import scrub_text

if TYPE_CHECKING:
    from types import ModuleType

#: Stop reasons in the words the rest of promptcheck uses (OpenAI's): judges refuse an answer
#: cut at ``length``, and ``tool_calls`` lets a cached answer's calls be read back.
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": TOOL_CALLS_FINISH,
}
_TOOL_CHOICE = {"auto": {"type": "auto"}, "none": {"type": "none"}, "required": {"type": "any"}}
_FORMAT_TOOL_DESCRIPTION = "Give your answer by calling this tool; its input is the answer."


@register_backend("anthropic", AnthropicParams)
def build_anthropic(params: AnthropicParams, context: BackendContext) -> AnthropicBackend:
    """Claude models through Anthropic's Messages API (or a gateway that speaks it).

    Fails at once, before any request, when the client is not installed or the key's
    environment variable is not set; the client itself is imported at the first request.
    """
    if importlib.util.find_spec("anthropic") is None:
        raise BackendError(
            "the anthropic backend needs the anthropic package",
            hint="pip install 'promptcheck[anthropic]'",
        )
    check_transport(params.http_client, "anthropic")
    key = None
    if params.api_key_env is not None:
        key = secret_from_env(params.api_key_env, "api_key_env")
    return AnthropicBackend(params, key)


@dataclass(frozen=True, slots=True)
class _Asked:
    """One request's body, the prompt as the model is shown it, and the name of the forced tool
    that carries a structured answer (``structured_output: tool``), if any."""

    body: dict[str, Any]
    shown: str
    answer_tool: str | None = None


@dataclass
class _LoopState:
    """What is bound to one event loop: the HTTP client, and the in-flight limit and pacing."""

    client: Any
    throttle: Throttle


class AnthropicBackend:
    """Samples from the Messages API, one request per sample; see :class:`AnthropicParams`.

    ``usage`` tallies requests, retries and tokens (and the cost, when prices are configured)
    with the ``openai`` backend's counters, so the store adds them up alike.
    """

    max_samples_per_request = 1
    #: Judges may ask for their verdict as JSON (``output_config.format``).
    supports_response_format = True

    def __init__(self, params: AnthropicParams, api_key: str | None) -> None:
        self.params = params
        self.usage = Usage(
            price_per_1k_input=params.price_per_1k_input,
            price_per_1k_output=params.price_per_1k_output,
        )
        self._policy = RetryPolicy(params.max_retries, params.backoff_s, params.max_wait_s)
        self._api_key = api_key
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )

    @functools.cached_property
    def _anthropic(self) -> ModuleType:
        import anthropic

        return anthropic

    def __repr__(self) -> str:
        where = self.params.base_url or "the Anthropic API"
        return f"AnthropicBackend({self.params.model!r} at {where})"

    async def generate(self, request: GenerationRequest) -> Sequence[Generation]:
        state = self._state()
        asked = self._ask(request)
        if request.n == 1:  # the common case: no task to schedule
            return [await self._request(state, asked)]
        return await asyncio.gather(*(self._request(state, asked) for _ in request.seeds))

    async def aclose(self) -> None:
        """Close this loop's HTTP client; clients of loops already closed are just dropped."""
        state = self._states.pop(asyncio.get_running_loop(), None)
        self._states.clear()
        if state is not None:
            await state.client.close()

    # --- one request ------------------------------------------------------------------------

    def _ask(self, request: GenerationRequest) -> _Asked:
        """The body of the request every sample of ``request`` sends."""
        params = self.params
        sampling = request.params
        messages = list(request.messages or ())
        if request.prompt is not None or not messages:
            messages.append(Message("user", request.prompt or ""))
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        body: dict[str, Any] = {
            "model": params.model,
            "max_tokens": sampling.max_tokens,
            "messages": [
                {"role": m.role, "content": m.content} for m in messages if m.role != "system"
            ],
        }
        if system:
            body["system"] = system
        if params.send_sampling:
            body["temperature"] = sampling.temperature
            if sampling.top_p < 1.0:
                body["top_p"] = sampling.top_p
        if sampling.stop:
            body["stop_sequences"] = list(sampling.stop)
        answer_tool = self._answer_fields(sampling, body)
        body.update(
            {k: v for k, v in sampling.extra.items() if k not in ("context", "response_format")}
        )
        body.update(params.extra)
        shown = "\n\n".join(f"[{m.role}]\n{m.content}" for m in messages)
        return _Asked(body, shown, answer_tool)

    def _answer_fields(self, sampling: SamplingParams, body: dict[str, Any]) -> str | None:
        """Put the case's tools, tool choice and response format in the Messages API's form;
        returns the name of the forced tool that carries a structured answer, if one does."""
        tools = [
            {"name": t.name, "description": t.description, "input_schema": dict(t.parameters)}
            for t in sampling.tools
        ]
        choice = sampling.tool_choice
        if choice is not None:
            body["tool_choice"] = _TOOL_CHOICE.get(choice) or {"type": "tool", "name": choice}
        answer = sampling.response_format or _openai_response_format(sampling.extra)
        answer_tool = None
        if answer is not None and self.params.structured_output == "tool":
            if tools:
                raise BackendError(
                    "a case with tools cannot also get its response_format through a forced "
                    "tool (structured_output: tool)",
                    hint="use structured_output: output_config, or drop one of the two",
                )
            answer_tool = answer.name
            tools.append(
                {
                    "name": answer.name,
                    "description": _FORMAT_TOOL_DESCRIPTION,
                    "input_schema": dict(answer.schema),
                }
            )
            body["tool_choice"] = {"type": "tool", "name": answer.name}
        elif answer is not None:
            body["output_config"] = {
                "format": {"type": "json_schema", "schema": dict(answer.schema)}
            }
        if tools:
            body["tools"] = tools
        return answer_tool

    async def _request(self, state: _LoopState, asked: _Asked) -> Generation:
        """One sample: one API call, retried; an error generation once retries are spent."""
        params = self.params
        options = {"timeout": params.timeout_s}

        async def attempt() -> Generation:
            started = time.perf_counter()
            async with asyncio.timeout(params.timeout_s):
                answer = await state.client.post(
                    "/v1/messages", cast_to=object, body=asked.body, options=options
                )
            return self._parse(answer, asked, time.perf_counter() - started)

        outcome = await send_with_retries(
            attempt,
            self._failure,
            throttle=state.throttle,
            policy=self._policy,
            usage=self.usage,
            tokens=estimated_tokens(asked.shown, asked.body.get("max_tokens"), 1),
        )
        if isinstance(outcome, Failure):
            return Generation(text=None, error=outcome.message)
        return outcome

    def _parse(self, answer: object, asked: _Asked, latency: float) -> Generation:
        """The generation of an answer read as plain JSON: its text blocks joined, its
        ``tool_use`` blocks as calls (or as the answer, for the structured-answer tool)."""
        if not isinstance(answer, dict):
            raise ValueError("the answer is not a JSON object")
        content = answer.get("content")
        if not isinstance(content, list):
            raise ValueError("the answer has no content list")
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in content:
            if not isinstance(block, dict):
                raise ValueError("a content block is not an object")
            kind = block.get("type")
            if kind == "text":
                text = block.get("text")
                if not isinstance(text, str):
                    raise ValueError(f"a text block's text is {type(text).__name__}")
                texts.append(text)
            elif kind == "tool_use":
                name = block.get("name")
                if not isinstance(name, str):
                    raise ValueError("a tool_use block without a name")
                if name == asked.answer_tool:
                    texts.append(json.dumps(block.get("input"), ensure_ascii=False))
                else:
                    calls.append(call_from_value(name, block.get("input")))
            # thinking blocks and server tools' blocks are not the answer
        usage = answer.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        prompt_tokens = _tokens(usage, "input_tokens")
        if prompt_tokens is not None:
            cached = ("cache_creation_input_tokens", "cache_read_input_tokens")
            prompt_tokens += sum(_tokens(usage, name) or 0 for name in cached)
            self.usage.prompt_tokens += prompt_tokens
        completion_tokens = _tokens(usage, "output_tokens")
        if completion_tokens is not None:
            self.usage.completion_tokens += completion_tokens
        reason = answer.get("stop_reason")
        finish = _FINISH.get(reason, reason) if isinstance(reason, str) else None
        if asked.answer_tool is not None and finish == TOOL_CALLS_FINISH:
            finish = "stop"  # the forced answer tool is how the model answered, not a call
        return generation_with_calls(
            "".join(texts),
            calls,
            finish,
            formatted_prompt=asked.shown,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_s=latency,
            served_model=served_identity(answer.get("model")),
        )

    def _failure(self, exc: Exception) -> Failure:
        """Classify an attempt's exception; its message never contains the API key."""
        anthropic = self._anthropic
        if isinstance(exc, anthropic.APITimeoutError) and (
            dropped := connection_error_behind_timeout(exc)
        ):
            return Failure(f"connection failed: {describe(dropped, self.scrub)}", retryable=True)
        if isinstance(exc, (TimeoutError, anthropic.APITimeoutError)):
            return Failure(f"timed out after {self.params.timeout_s:g}s", retryable=True)
        if isinstance(exc, anthropic.APIConnectionError):
            cause = exc.__cause__ or exc
            return Failure(f"connection failed: {describe(cause, self.scrub)}", retryable=True)
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            headers = exc.response.headers
            body = exc.body if isinstance(exc.body, Mapping) else {}
            error = body.get("error")
            error = error if isinstance(error, Mapping) else {}
            kind = error.get("type") if isinstance(error.get("type"), str) else None
            detail = error.get("message") if isinstance(error.get("message"), str) else exc.message
            retryable = status in RETRYABLE_STATUS or status >= 500  # 529: overloaded
            hint = headers.get("x-should-retry")
            if hint in ("true", "false"):
                retryable = hint == "true"
            named = f" {kind}" if kind else ""
            message = f"HTTP {status}{named}: {first_line(self.scrub(str(detail)))}"
            return Failure(message, retryable, retry_after_seconds(headers) if retryable else None)
        if isinstance(exc, (anthropic.AnthropicError, ValueError, TypeError, AttributeError)):
            # A malformed answer (not JSON, no content): retrying would get the same.
            return Failure(f"unusable response: {describe(exc, self.scrub)}", retryable=False)
        raise exc

    def scrub(self, text: str) -> str:
        """``text`` without the key, URL credentials or key-shaped tokens (applied before an
        error is cut to its first line)."""
        return scrub_text(text, self._api_key)

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            params = self.params
            client = self._anthropic.AsyncAnthropic(
                api_key=self._api_key or "unused",
                base_url=params.base_url,
                timeout=params.timeout_s,
                max_retries=0,
                http_client=http_client(self._anthropic, params.http_client, params.timeout_s),
            )
            state = _LoopState(client, Throttle(params.concurrency, params.rpm, params.tpm))
            self._states[loop] = state
        return state


def _openai_response_format(extra: Mapping[str, Any]) -> ResponseFormat | None:
    """A response format given in OpenAI's form in a request's ``extra`` (how judges ask for
    their verdict as JSON), or None."""
    given = extra.get("response_format")
    if not isinstance(given, Mapping) or given.get("type") != "json_schema":
        return None
    spec = given.get("json_schema")
    if not isinstance(spec, Mapping) or not isinstance(spec.get("schema"), Mapping):
        return None
    name = spec.get("name")
    return ResponseFormat(
        spec["schema"], name if isinstance(name, str) else "response", bool(spec.get("strict"))
    )


def _tokens(usage: Mapping[str, Any], name: str) -> int | None:
    value = usage.get(name)
    return value if type(value) is int else None
