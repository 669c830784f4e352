"""The completions of ``promptcheck serve``'s OpenAI-compatible API, apart from HTTP: the
translation between OpenAI requests and the local backend's :class:`GenerationRequest`, and
the answers, whole or streamed as server-sent events.

``/v1/chat/completions`` renders messages in the checkpoint's own format (Dolly's instruction
format for a Dolly checkpoint, its chat template otherwise); ``/v1/completions`` feeds the prompt
as it is, as vLLM does, so a client that renders Dolly's format itself (the ``openai`` backend's
``template: dolly``) gets the same samples from this server as from vLLM. A request's ``seed``
makes its first choice the very sample the ``local`` backend draws with that seed; the other
choices' seeds are derived from it.

Every prompt of a request is prepared (rendered, tokenized, checked against the context window)
before any is sampled, so a request with one prompt the model cannot take is a 400, never a
stream that breaks off.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import AsyncGenerator, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from promptcheck.backends.base import Generation, GenerationRequest, Message, SamplingParams
from promptcheck.serve.protocol import (
    DONE,
    Answer,
    APIError,
    Choice,
    Sampling,
    parse_chat,
    parse_completion,
    prompts,
)
from promptcheck.serve.streaming import TextFeed

log = logging.getLogger("promptcheck.serve")

#: max_tokens of a chat request that sets none: as much as the context window leaves, within this.
DEFAULT_CHAT_MAX_TOKENS = 4096
_SEED_MASK = (1 << 64) - 1

JobT = TypeVar("JobT")


class Engine(Protocol[JobT]):
    """What the API needs from a model: :class:`~promptcheck.serve.batching.BatchingEngine`,
    or a fake in tests.

    ``prepare`` turns requests into jobs, raising :class:`APIError` for the first it cannot
    take (before anything is sampled); ``generate`` samples one job. An engine with
    ``streams_tokens`` puts each row's text in ``feed`` as choice ``first_choice + row`` while
    it is decoded; others are never given a feed. Cancelling ``generate`` (the client left)
    must stop the job's sampling.
    """

    model_id: str
    fingerprint: str
    streams_tokens: bool

    async def prepare(self, requests: Sequence[GenerationRequest], *, raw: bool) -> list[JobT]: ...

    async def generate(
        self, job: JobT, *, feed: TextFeed | None = None, first_choice: int = 0
    ) -> list[Generation]: ...


@dataclass(frozen=True)
class Reply:
    """A 200 answer: a JSON body, or server-sent ``events`` to stream (closing the iterator
    before its end, as a server does when the client leaves, stops the sampling)."""

    body: bytes = b""
    events: AsyncGenerator[bytes, None] | None = None


class Completions:
    """Answers ``/v1/completions`` and ``/v1/chat/completions`` bodies with one engine."""

    def __init__(self, engine: Engine[Any], *, max_prompt_chars: int) -> None:
        self.engine = engine
        self.max_prompt_chars = max_prompt_chars

    async def chat(self, body: dict[str, Any]) -> Reply:
        request, sampling = parse_chat(body)
        self._check_model(sampling.model)
        self._check_size(sum(len(m.text()) for m in request.messages), "messages")
        messages = tuple(
            Message("system" if m.role == "developer" else m.role, m.text())
            for m in request.messages
        )
        if sampling.max_tokens is None:
            sampling = replace(sampling, max_tokens=DEFAULT_CHAT_MAX_TOKENS)
        generation = _request(None, messages, sampling, prompt_index=0)
        return await self._respond(True, sampling, [generation], raw=False)

    async def completions(self, body: dict[str, Any]) -> Reply:
        request, sampling = parse_completion(body)
        self._check_model(sampling.model)
        texts = prompts(request)
        self._check_size(sum(len(text) for text in texts), "prompt")
        requests = [
            _request(text, None, sampling, prompt_index=index) for index, text in enumerate(texts)
        ]
        return await self._respond(False, sampling, requests, raw=True)

    def _check_model(self, name: str) -> None:
        if name != self.engine.model_id:
            raise model_not_found(name)

    def _check_size(self, characters: int, param: str) -> None:
        """Refuse a prompt too long to be worth tokenizing (tokenizing is linear in it)."""
        if characters > self.max_prompt_chars:
            raise APIError(
                400,
                f"the prompt has {characters} characters; this server takes at most "
                f"{self.max_prompt_chars} a request",
                param=param,
                code="context_length_exceeded",
            )

    async def _respond(
        self, chat: bool, sampling: Sampling, requests: Sequence[GenerationRequest], *, raw: bool
    ) -> Reply:
        jobs = await self.engine.prepare(requests, raw=raw)
        if sampling.stream and self.engine.streams_tokens:
            return await self._stream(chat, sampling, requests, jobs)
        results = await self._generate(jobs)
        answer = self._new_answer(chat, results)
        if not sampling.stream:
            return Reply(answer.whole())
        return Reply(events=_aiter(answer.events(sampling.include_usage)))

    async def _generate(
        self,
        jobs: Sequence[object],
        *,
        feed: TextFeed | None = None,
        first_choices: Sequence[int] = (),
    ) -> list[list[Generation]]:
        if feed is None:
            calls = [self.engine.generate(job) for job in jobs]
        else:
            calls = [
                self.engine.generate(job, feed=feed, first_choice=first)
                for job, first in zip(jobs, first_choices, strict=True)
            ]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        results: list[list[Generation]] = []
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
            results.append(outcome)
        return results

    async def _stream(
        self,
        chat: bool,
        sampling: Sampling,
        requests: Sequence[GenerationRequest],
        jobs: Sequence[object],
    ) -> Reply:
        """A reply streamed as the sampler decodes it.

        The status is decided by the first text or the end of generation, whichever comes
        first, so that a request that fails before any text (out of memory) is still an error
        status rather than a stream.
        """
        feed = TextFeed()
        first_choices = [sum(r.n for r in requests[:i]) for i in range(len(requests))]
        task = asyncio.ensure_future(self._generate(jobs, feed=feed, first_choices=first_choices))
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
        choices = sum(r.n for r in requests)
        return Reply(events=_choice_events(answer, task, feed, choices, sampling.include_usage))

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


def model_not_found(name: str) -> APIError:
    return APIError(
        404, f"the model {name!r} does not exist", param="model", code="model_not_found"
    )


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


async def _aiter(events: Iterator[bytes]) -> AsyncGenerator[bytes, None]:
    for event in events:
        yield event


async def _choice_events(
    answer: Answer,
    task: asyncio.Future[list[list[Generation]]],
    feed: TextFeed,
    choices: int,
    include_usage: bool,
) -> AsyncGenerator[bytes, None]:
    """Server-sent events of a streamed answer: each choice's text as it is decoded.

    A choice ends with its finish reason as soon as its row ends; choices whose rows did not
    report their end (a model that answered before any token, say) are completed from the
    generations. A failure after the first event (out of memory) is sent as an ``error``
    event; every stream ends with ``data: [DONE]``, as vLLM's do. Closing this iterator (the
    client went away) cancels the rows still sampling.
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
            yield DONE
            return
        except Exception:  # a bug: the status is sent, so it is told in the stream
            log.exception("streamed generation failed")
            yield answer.error(APIError(500, "internal server error"))
            yield DONE
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
