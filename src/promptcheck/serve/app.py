"""The OpenAI-compatible API of ``promptcheck serve``: routes, authentication, and the
translation between OpenAI requests and the local backend's :class:`GenerationRequest`.

``/v1/chat/completions`` renders messages in the checkpoint's own format (Dolly's instruction
format for a Dolly checkpoint, its chat template otherwise); ``/v1/completions`` feeds the prompt
as it is, as vLLM does, so a client that renders Dolly's format itself (the ``openai`` backend's
``template: dolly``) gets the same samples from this server as from vLLM. A request's ``seed``
makes its first choice the very sample the ``local`` backend draws with that seed; the other
choices' seeds are derived from it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace
from typing import Protocol, cast

from promptcheck.backends.base import Generation, GenerationRequest, Message, SamplingParams
from promptcheck.serve.http import Request, Response
from promptcheck.serve.protocol import (
    DONE,
    Answer,
    APIError,
    Choice,
    Sampling,
    parse_chat,
    parse_completion,
    parse_json,
    prompts,
)
from promptcheck.serve.streaming import TextFeed

log = logging.getLogger("promptcheck.serve")

#: max_tokens of a chat request that sets none: as much as the context window leaves, within this.
DEFAULT_CHAT_MAX_TOKENS = 4096
_SEED_MASK = (1 << 64) - 1


class Engine(Protocol):
    """What the API needs from a model: :class:`~promptcheck.serve.batching.BatchingEngine`,
    or a fake in tests. ``generate`` raises :class:`APIError` for what it cannot answer."""

    model_id: str
    fingerprint: str

    async def generate(self, request: GenerationRequest, *, raw: bool) -> list[Generation]: ...


class StreamingEngine(Engine, Protocol):
    """An engine that streams tokens (it has ``streams_tokens = True``): ``generate`` puts each
    row's text in ``feed`` as choice ``first_choice + row`` while it is decoded."""

    async def generate(
        self,
        request: GenerationRequest,
        *,
        raw: bool,
        feed: TextFeed | None = None,
        first_choice: int = 0,
    ) -> list[Generation]: ...


class OpenAIApp:
    """Answers one HTTP request at a time (concurrently, one task per connection)."""

    def __init__(self, engine: Engine, *, api_key: str | None = None) -> None:
        self.engine = engine
        self._api_key = api_key.encode() if api_key else None
        self.created = int(time.time())

    async def handle(self, request: Request) -> Response:
        try:
            return await self._route(request)
        except APIError as error:
            return Response(error.status, error.body())

    async def _route(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        method = request.method
        if path == "/health":
            return _json(200, {"status": "ok", "model": self.engine.model_id, **self._stats()})
        routes = {
            "/v1/models": "GET",
            "/v1/chat/completions": "POST",
            "/v1/completions": "POST",
        }
        expected = routes.get(path, "GET" if path.startswith("/v1/models/") else None)
        if expected is None:
            raise APIError(404, f"unknown URL: {method} {path}", code="unknown_url")
        if method != expected:
            raise APIError(405, f"{path} takes {expected}, not {method}", code="method_not_allowed")
        self._authenticate(request)
        if path == "/v1/models":
            return _json(200, {"object": "list", "data": [self._model_card()]})
        if path.startswith("/v1/models/"):
            name = path.removeprefix("/v1/models/")
            if name != self.engine.model_id:
                raise _model_not_found(name)
            return _json(200, self._model_card())
        body = parse_json(request.body)
        if path == "/v1/chat/completions":
            return await self._chat(body)
        return await self._completions(body)

    def _authenticate(self, request: Request) -> None:
        if self._api_key is None:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self._api_key
        ):
            # The key a client sent is never echoed back or logged.
            raise APIError(401, "invalid or missing API key", code="invalid_api_key")

    async def _chat(self, body: dict[str, object]) -> Response:
        request, sampling = parse_chat(body)
        self._check_model(sampling.model)
        messages = tuple(
            Message("system" if m.role == "developer" else m.role, m.text())
            for m in request.messages
        )
        if sampling.max_tokens is None:
            sampling = replace(sampling, max_tokens=DEFAULT_CHAT_MAX_TOKENS)
        generation = _request(None, messages, sampling, prompt_index=0)
        return await self._respond(True, sampling, [generation], raw=False)

    async def _completions(self, body: dict[str, object]) -> Response:
        request, sampling = parse_completion(body)
        self._check_model(sampling.model)
        requests = [
            _request(text, None, sampling, prompt_index=index)
            for index, text in enumerate(prompts(request))
        ]
        return await self._respond(False, sampling, requests, raw=True)

    async def _respond(
        self, chat: bool, sampling: Sampling, requests: Sequence[GenerationRequest], *, raw: bool
    ) -> Response:
        if sampling.stream and getattr(self.engine, "streams_tokens", False):
            return await self._stream(chat, sampling, requests, raw=raw)
        results = await self._generate(requests, raw=raw)
        return self._answer(chat, sampling, results)

    async def _generate(
        self, requests: Sequence[GenerationRequest], *, raw: bool, feed: TextFeed | None = None
    ) -> list[list[Generation]]:
        if feed is None:
            calls = [self.engine.generate(r, raw=raw) for r in requests]
        else:
            engine = cast(StreamingEngine, self.engine)
            offsets = [sum(r.n for r in requests[:i]) for i in range(len(requests))]
            calls = [
                engine.generate(r, raw=raw, feed=feed, first_choice=offset)
                for r, offset in zip(requests, offsets, strict=True)
            ]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        results: list[list[Generation]] = []
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
            results.append(outcome)
        return results

    async def _stream(
        self, chat: bool, sampling: Sampling, requests: Sequence[GenerationRequest], *, raw: bool
    ) -> Response:
        """A response streamed as the sampler decodes it.

        The status is decided by the first text or the end of generation, whichever comes
        first, so that a request refused before any text (a prompt too long) is still a 4xx.
        """
        feed = TextFeed()
        task = asyncio.ensure_future(self._generate(requests, raw=raw, feed=feed))
        task.add_done_callback(lambda _: feed.changed.set())
        try:
            await feed.changed.wait()
        except asyncio.CancelledError:
            feed.cancel()
            task.cancel()
            raise
        failure = task.exception() if task.done() else None
        if failure is not None:
            raise failure
        answer = self._new_answer(chat, [])
        stream = _choice_events(
            answer, task, feed, sum(r.n for r in requests), sampling.include_usage
        )
        return Response(
            200,
            content_type="text/event-stream",
            headers={"cache-control": "no-cache"},
            stream=stream,
        )

    def _new_answer(self, chat: bool, results: Sequence[Sequence[Generation]]) -> Answer:
        choices = [
            Choice(index, generation.text or "", generation.finish_reason or "stop")
            for index, generation in enumerate(g for group in results for g in group)
        ]
        return Answer.new(
            chat,
            model=self.engine.model_id,
            fingerprint=self.engine.fingerprint,
            choices=choices,
            # OpenAI counts a prompt once per request, whatever n.
            prompt_tokens=sum((group[0].prompt_tokens or 0) for group in results if group),
            completion_tokens=sum(g.completion_tokens or 0 for group in results for g in group),
        )

    def _answer(
        self, chat: bool, sampling: Sampling, results: Sequence[Sequence[Generation]]
    ) -> Response:
        answer = self._new_answer(chat, results)
        if not sampling.stream:
            return Response(200, answer.whole())
        return Response(
            200,
            content_type="text/event-stream",
            headers={"cache-control": "no-cache"},
            stream=_aiter(answer.events(sampling.include_usage)),
        )

    def _check_model(self, name: str) -> None:
        if name != self.engine.model_id:
            raise _model_not_found(name)

    def _model_card(self) -> dict[str, object]:
        return {
            "id": self.engine.model_id,
            "object": "model",
            "created": self.created,
            "owned_by": "promptcheck",
        }

    def _stats(self) -> dict[str, object]:
        stats = getattr(self.engine, "stats", None)
        as_dict = getattr(stats, "as_dict", None)
        return {"stats": as_dict()} if callable(as_dict) else {}


def choice_seed(seed: int | None, prompt_index: int, choice: int) -> int:
    """The seed of one choice: the request's own for the first choice of the first prompt (so a
    single-sample request reproduces the local backend's sample), derived for the others, and
    random when the request gives none."""
    if seed is None:
        return secrets.randbits(63)
    if prompt_index == 0 and choice == 0:
        return seed & _SEED_MASK
    digest = hashlib.blake2b(f"{seed}:{prompt_index}:{choice}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def _request(
    prompt: str | None,
    messages: tuple[Message, ...] | None,
    sampling: Sampling,
    *,
    prompt_index: int,
) -> GenerationRequest:
    seeds = tuple(choice_seed(sampling.seed, prompt_index, i) for i in range(sampling.n))
    params = SamplingParams(
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        max_tokens=sampling.max_tokens or DEFAULT_CHAT_MAX_TOKENS,
        stop=sampling.stop,
    )
    return GenerationRequest(prompt=prompt, messages=messages, params=params, seeds=seeds)


def _model_not_found(name: str) -> APIError:
    return APIError(
        404, f"the model {name!r} does not exist", param="model", code="model_not_found"
    )


def _json(status: int, data: object) -> Response:
    return Response(status, json.dumps(data).encode())


async def _aiter(events: Iterator[bytes]) -> AsyncIterator[bytes]:
    for event in events:
        yield event


async def _choice_events(
    answer: Answer,
    task: asyncio.Future[list[list[Generation]]],
    feed: TextFeed,
    choices: int,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    """Server-sent events of a streamed answer: each choice's text as it is decoded.

    A choice ends with its finish reason as soon as its row ends; choices whose rows did not
    report their end (a model that answered before any token, say) are completed from the
    generations. Closing this iterator (the client went away) cancels the rows still sampling.
    """
    sent = [""] * choices
    ended = [False] * choices
    try:
        if answer.chat:
            for index in range(choices):
                yield answer.chunk(index, "", None, include_usage, role=True)
        while True:
            await feed.changed.wait()
            for index, text, finish_reason in feed.take():
                if ended[index]:
                    continue
                sent[index] += text
                ended[index] = finish_reason is not None
                if text:
                    yield answer.chunk(index, text, None, include_usage)
                if finish_reason is not None:
                    yield answer.chunk(index, "", finish_reason, include_usage)
            if task.done() and not feed.pieces:
                break
        try:
            results = task.result()
        except APIError as error:
            yield answer.error(error)
            return
        except Exception:  # a bug: the status is sent, so it is told in the stream
            log.exception("streamed generation failed")
            yield answer.error(APIError(500, "internal server error"))
            return
        generations = [g for group in results for g in group]
        for index, generation in enumerate(generations):
            if ended[index]:
                continue
            text = generation.text or ""
            rest = text[len(sent[index]) :] if text.startswith(sent[index]) else ""
            if rest:
                yield answer.chunk(index, rest, None, include_usage)
            yield answer.chunk(index, "", generation.finish_reason or "stop", include_usage)
        if include_usage:
            final = replace(
                answer,
                prompt_tokens=sum((group[0].prompt_tokens or 0) for group in results if group),
                completion_tokens=sum(g.completion_tokens or 0 for g in generations),
            )
            yield final.usage_chunk()
        yield DONE
    finally:
        if not task.done():
            feed.cancel()
            task.cancel()
