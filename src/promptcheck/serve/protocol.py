"""The OpenAI wire format as ``promptcheck serve`` reads and writes it.

Requests are validated strictly (a string where a number belongs is a 400, as it is at OpenAI)
and every problem becomes an OpenAI-style error object naming the offending parameter. Fields the
server does not know are ignored, as vLLM does; fields it knows but cannot honour (tools, logit
bias, penalties, log-probabilities, JSON-schema decoding) are refused when set, rather than
silently ignored, because a test run must not believe an output was constrained when it was not.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from promptcheck.files import find_invalid_text

#: Most choices one request may ask for (n x prompts), as OpenAI allows for n.
MAX_CHOICES = 128
#: Most stop sequences, and most characters in one: every row of a request matches each of
#: them on every decode step (in time linear in its length, but still per row).
MAX_STOP = 16
MAX_STOP_CHARS = 512
INT64 = 2**63
#: The event that ends every stream.
DONE = b"data: [DONE]\n\n"


class APIError(Exception):
    """An answer other than 200: status, message, and OpenAI's type / param / code fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type or ("server_error" if status >= 500 else "invalid_request_error")
        self.param = param
        self.code = code

    def body(self) -> bytes:
        error = {"message": self.message, "type": self.type, "param": self.param, "code": self.code}
        return json.dumps({"error": error}).encode()


def error_body(status: int, message: str) -> bytes:
    """The body of an error the HTTP layer answers by itself (malformed HTTP)."""
    return APIError(status, message).body()


class _Lenient(BaseModel):
    """Unknown fields are ignored; known ones are checked strictly."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class TextPart(_Lenient):
    type: Literal["text"]
    text: str


class ChatMessageIn(_Lenient):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(_Lenient):
    include_usage: bool | None = None


_Temperature = Field(None, ge=0, le=2, allow_inf_nan=False)


class _SamplingRequest(_Lenient):
    model: str
    n: int | None = Field(None, ge=1, le=MAX_CHOICES)
    temperature: float | None = _Temperature
    top_p: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    max_tokens: int | None = Field(None, ge=1, lt=INT64)
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=-INT64, lt=INT64)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    presence_penalty: float | None = Field(None, ge=-2, le=2, allow_inf_nan=False)
    frequency_penalty: float | None = Field(None, ge=-2, le=2, allow_inf_nan=False)
    logit_bias: dict[str, Any] | None = None
    user: str | None = None


class ChatRequest(_SamplingRequest):
    messages: list[ChatMessageIn] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1, lt=INT64)
    logprobs: bool | None = None
    tools: list[Any] | None = None
    functions: list[Any] | None = None
    response_format: dict[str, Any] | None = None


class CompletionRequest(_SamplingRequest):
    prompt: str | list[str]
    echo: bool | None = None
    suffix: str | None = None
    best_of: int | None = Field(None, ge=1, le=MAX_CHOICES)
    logprobs: int | None = None


@dataclass(frozen=True)
class Sampling:
    """What every choice of a request is sampled with, after defaults."""

    model: str
    n: int
    temperature: float
    top_p: float
    max_tokens: int | None
    stop: tuple[str, ...]
    seed: int | None
    stream: bool
    include_usage: bool


def parse_json(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise APIError(400, "the body is not valid JSON", code="invalid_json") from None
    if not isinstance(value, dict):
        raise APIError(400, "the body must be a JSON object", code="invalid_json")
    return value


def parse_chat(body: dict[str, Any]) -> tuple[ChatRequest, Sampling]:
    request = _validate(ChatRequest, body)
    for name in ("tools", "functions"):
        if getattr(request, name):
            _unsupported(name, "tool calls are not supported")
    if request.logprobs:
        _unsupported("logprobs", "log-probabilities are not supported")
    kind = (request.response_format or {}).get("type", "text")
    if kind != "text":
        _unsupported("response_format", f"response_format {kind!r} is not supported (text only)")
    return request, _sampling(request, max_tokens=request.max_completion_tokens, default=None)


def parse_completion(body: dict[str, Any]) -> tuple[CompletionRequest, Sampling]:
    request = _validate(CompletionRequest, body)
    if isinstance(request.prompt, list) and not request.prompt:
        raise APIError(400, "prompt must not be an empty list", param="prompt")
    if request.echo:
        _unsupported("echo", "echo is not supported")
    if request.suffix:
        _unsupported("suffix", "suffix is not supported")
    if request.logprobs is not None:
        _unsupported("logprobs", "log-probabilities are not supported")
    sampling = _sampling(request, max_tokens=None, default=16)  # OpenAI's completions default
    if request.best_of is not None and request.best_of != sampling.n:
        _unsupported("best_of", "best_of other than n is not supported")
    if sampling.n * len(prompts(request)) > MAX_CHOICES:
        raise APIError(400, f"n x prompts must be at most {MAX_CHOICES}", param="n")
    return request, sampling


def prompts(request: CompletionRequest) -> list[str]:
    return [request.prompt] if isinstance(request.prompt, str) else list(request.prompt)


def _validate(model: type[Any], body: dict[str, Any]) -> Any:
    _refuse_invalid_text(body)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        location = [str(part) for part in first["loc"]]
        where = ".".join(location) or "body"
        message = f"{where}: {first['msg']}"
        raise APIError(400, message, param=location[0] if location else None) from None
    except RecursionError:
        raise APIError(400, "the body is nested too deeply", code="invalid_json") from None


def _refuse_invalid_text(body: dict[str, Any]) -> None:
    """A 400 naming the first field (key or value, known or not) whose text is not valid
    Unicode: a JSON escape such as ``"\\ud800"`` that pairs with nothing decodes to a lone
    surrogate, which no tokenizer, log or store can encode. ``json.loads`` joins every valid
    pair into one character, so any surrogate left is a lone one.
    """
    found = find_invalid_text(body)
    if found is not None:
        first = found.characters[0].encode("utf-8", "backslashreplace").decode()
        _invalid_text(tuple(map(str, found.location)), first, in_name=found.in_name)


def _invalid_text(location: tuple[str, ...], escaped: str, *, in_name: bool = False) -> None:
    where = ".".join(location).encode("utf-8", "backslashreplace").decode()
    what = "the name of this field" if in_name else "the text"
    raise APIError(
        400,
        f"{where}: {what} holds {escaped}, a lone surrogate, which is not valid Unicode "
        "(a \\u escape must pair a high and a low surrogate)",
        param=location[0].encode("utf-8", "backslashreplace").decode(),
        code="invalid_unicode",
    )


def _sampling(
    request: _SamplingRequest, *, max_tokens: int | None, default: int | None
) -> Sampling:
    if request.logit_bias:
        _unsupported("logit_bias", "logit_bias is not supported")
    for name in ("presence_penalty", "frequency_penalty"):
        if getattr(request, name):
            _unsupported(name, f"{name} other than 0 is not supported")
    stop = request.stop
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    if len(stops) > MAX_STOP:
        raise APIError(400, f"at most {MAX_STOP} stop sequences", param="stop")
    if any(not s for s in stops):
        raise APIError(400, "stop sequences must not be empty", param="stop")
    if any(len(s) > MAX_STOP_CHARS for s in stops):
        raise APIError(
            400, f"stop sequences must be at most {MAX_STOP_CHARS} characters", param="stop"
        )
    options = request.stream_options
    return Sampling(
        model=request.model,
        n=request.n or 1,
        temperature=1.0 if request.temperature is None else request.temperature,
        top_p=1.0 if request.top_p is None else request.top_p,
        max_tokens=max_tokens or request.max_tokens or default,
        stop=stops,
        seed=request.seed,
        stream=bool(request.stream),
        include_usage=bool(options and options.include_usage and request.stream),
    )


def _unsupported(param: str, message: str) -> None:
    raise APIError(400, message, param=param, code="unsupported_parameter")


# --- answers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    index: int
    text: str
    finish_reason: str


@dataclass(frozen=True)
class Answer:
    """Everything a response (whole or streamed) is written from."""

    chat: bool
    model: str
    fingerprint: str
    choices: Sequence[Choice]
    prompt_tokens: int
    completion_tokens: int
    id: str = ""
    created: int = 0

    @staticmethod
    def new(chat: bool, **fields: Any) -> Answer:
        prefix = "chatcmpl" if chat else "cmpl"
        return Answer(
            chat=chat, id=f"{prefix}-{uuid.uuid4().hex}", created=int(time.time()), **fields
        )

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }

    def _envelope(self, chunk: bool) -> dict[str, Any]:
        kind = "chat.completion" if self.chat else "text_completion"
        return {
            "id": self.id,
            "object": f"{kind}.chunk" if chunk and self.chat else kind,
            "created": self.created,
            "model": self.model,
            "system_fingerprint": self.fingerprint,
        }

    def whole(self) -> bytes:
        """The JSON body of a non-streamed answer."""
        choices = []
        for choice in self.choices:
            item: dict[str, Any] = {"index": choice.index}
            if self.chat:
                item["message"] = {"role": "assistant", "content": choice.text}
            else:
                item["text"] = choice.text
            choices.append({**item, "logprobs": None, "finish_reason": choice.finish_reason})
        answer = {**self._envelope(False), "choices": choices, "usage": self.usage()}
        return json.dumps(answer).encode()

    def events(self, include_usage: bool) -> Iterator[bytes]:
        """Server-sent events of an answer whose text is complete, ending with ``data: [DONE]``.

        For engines that cannot stream tokens (the batching engine streams them as they are
        decoded, see :mod:`promptcheck.serve.streaming`); the text is still sent in word-sized
        pieces so that clients exercise their stream handling.
        """
        for choice in self.choices:
            if self.chat:
                yield self.chunk(choice.index, "", None, include_usage, role=True)
            for piece in _pieces(choice.text):
                yield self.chunk(choice.index, piece, None, include_usage)
            yield self.chunk(choice.index, "", choice.finish_reason, include_usage)
        if include_usage:
            yield self.usage_chunk()
        yield DONE

    def chunk(
        self,
        index: int,
        text: str,
        finish_reason: str | None,
        include_usage: bool,
        *,
        role: bool = False,
    ) -> bytes:
        """One event of choice ``index``: a piece of its text, or its end (``finish_reason``).

        A chat stream opens each choice with ``role``; its last event has an empty delta.
        """
        item: dict[str, Any] = {"index": index}
        if self.chat:
            delta: dict[str, str] = {"role": "assistant", "content": ""} if role else {}
            if text or (finish_reason is None and not role):
                delta["content"] = text
            item["delta"] = delta
        else:
            item["text"] = text
        item.update(logprobs=None, finish_reason=finish_reason)
        event = {**self._envelope(True), "choices": [item]}
        if include_usage:
            event["usage"] = None
        return _sse(event)

    def usage_chunk(self) -> bytes:
        """The last event before ``[DONE]`` when the client asked for ``include_usage``."""
        return _sse({**self._envelope(True), "choices": [], "usage": self.usage()})

    def error(self, error: APIError) -> bytes:
        """An error after the stream began (the status is sent): OpenAI's clients raise it."""
        return _sse(json.loads(error.body()))


def _sse(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"


_PIECE = re.compile(r"\s*\S+\s*|\s+")


def _pieces(text: str) -> list[str]:
    return _PIECE.findall(text)
