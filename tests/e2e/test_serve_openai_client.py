"""``promptcheck serve`` on a real tiny Dolly checkpoint (the GPT-NeoX-20B tokenizer, Dolly's
special tokens), driven by the official ``openai`` client over loopback.

The checkpoint answers YES (p = 0.8) or NO, then ``### End``, to any instruction, so every
answer can be checked exactly, and the local backend can be asked for the same seeds.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("openai")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fakes

import openai
from fakes.branching_model import build_branching_dolly, torch_threads

from promptcheck.backends.base import BackendContext, GenerationRequest, SamplingParams
from promptcheck.backends.local import LocalBackend, LocalParams, build_local
from promptcheck.formats import dolly_prompt
from promptcheck.serve import BackgroundServer, load_engine
from promptcheck.serve.batching import BatchingEngine

KEY = "client-test-key"
MODEL = "tiny-dolly"
QUESTION = [{"role": "user", "content": "Is the sky blue? Answer YES or NO."}]


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_branching_dolly(tmp_path_factory.mktemp("serve") / MODEL, 0.8)


@pytest.fixture(scope="module")
def engine(checkpoint: Path) -> BatchingEngine:
    return load_engine(checkpoint)


@pytest.fixture(scope="module")
def url(engine: BatchingEngine) -> Iterator[str]:
    with BackgroundServer(engine, api_key=KEY) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def api(url: str) -> Any:
    return openai.OpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def local(checkpoint: Path) -> LocalBackend:
    backend = build_local(LocalParams(path=str(checkpoint)), BackendContext(Path.cwd()))
    assert isinstance(backend, LocalBackend)
    return backend


def test_the_model_is_listed_under_its_directory_name(api: Any) -> None:
    assert [model.id for model in api.models.list()] == [MODEL]


def test_chat_answers_in_dollys_format_with_usage(api: Any, local: LocalBackend) -> None:
    answer = api.chat.completions.create(model=MODEL, messages=QUESTION, n=12, seed=1, max_tokens=8)
    texts = [choice.message.content for choice in answer.choices]
    assert set(texts) <= {"YES", "NO"} and len(texts) == 12
    assert {choice.finish_reason for choice in answer.choices} == {"stop"}
    rendered = local.prompt_format.render(QUESTION[0]["content"], None)
    assert rendered.text == dolly_prompt(QUESTION[0]["content"])
    assert answer.usage.prompt_tokens == len(rendered.token_ids)
    assert answer.usage.completion_tokens == 12 * 2  # the answer and ### End


def test_a_seed_gives_the_local_backends_sample(api: Any, local: LocalBackend) -> None:
    """One choice per request: the server samples exactly what the local backend does."""
    seeds = list(range(100, 124))

    async def served() -> list[str]:
        client = openai.AsyncOpenAI(base_url=api.base_url, api_key=KEY, max_retries=0)
        async with client:
            answers = await asyncio.gather(
                *(
                    client.chat.completions.create(
                        model=MODEL, messages=QUESTION, seed=seed, max_tokens=8
                    )
                    for seed in seeds
                )
            )
        return [a.choices[0].message.content for a in answers]

    request = GenerationRequest(
        QUESTION[0]["content"], None, SamplingParams(temperature=1.0, max_tokens=8), tuple(seeds)
    )
    expected = [g.text for g in asyncio.run(local.generate(request))]  # type: ignore[union-attr]
    assert asyncio.run(served()) == expected
    assert 0 < expected.count("NO") < len(seeds)


def test_completions_take_dollys_prompt_as_text(api: Any) -> None:
    prompt = dolly_prompt(QUESTION[0]["content"])
    text = api.completions.create(model=MODEL, prompt=prompt, seed=5, max_tokens=8, n=4)
    chat = api.chat.completions.create(model=MODEL, messages=QUESTION, seed=5, max_tokens=8, n=4)
    # raw text, so not stripped; the same token ids and seeds, so the same answers
    assert [c.text.strip() for c in text.choices] == [c.message.content for c in chat.choices]
    assert text.usage.prompt_tokens == chat.usage.prompt_tokens


def test_sampling_settings_reach_the_sampler(api: Any) -> None:
    greedy = api.chat.completions.create(
        model=MODEL, messages=QUESTION, temperature=0, n=6, max_tokens=8
    )
    assert {c.message.content for c in greedy.choices} == {"YES"}
    cut = api.chat.completions.create(
        model=MODEL, messages=QUESTION, temperature=0, max_tokens=8, stop=["ES"]
    )
    assert cut.choices[0].message.content == "Y" and cut.choices[0].finish_reason == "stop"
    short = api.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=1)
    assert short.choices[0].finish_reason == "length"
    assert short.usage.completion_tokens == 1
    narrow = api.chat.completions.create(
        model=MODEL, messages=QUESTION, top_p=0.5, n=8, seed=3, max_tokens=8
    )
    assert {c.message.content for c in narrow.choices} == {"YES"}  # the nucleus holds YES alone


def test_streaming_matches_the_whole_answer(api: Any, url: str) -> None:
    whole = api.chat.completions.create(model=MODEL, messages=QUESTION, seed=9, n=3, max_tokens=8)
    texts = ["", "", ""]
    for chunk in api.chat.completions.create(
        model=MODEL, messages=QUESTION, seed=9, n=3, max_tokens=8, stream=True
    ):
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    assert texts == [choice.message.content for choice in whole.choices]
    host, port = url.removeprefix("http://").removesuffix("/v1").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    body = {"model": MODEL, "prompt": "Hello", "max_tokens": 3, "stream": True}
    headers = {"Authorization": f"Bearer {KEY}"}
    connection.request("POST", "/v1/completions", body=json.dumps(body), headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    assert response.status == 200 and data.endswith(b"data: [DONE]\n\n")


def test_concurrent_requests_are_batched(tmp_path: Path) -> None:
    """On a model whose answers take a while (random weights: every answer runs to max_tokens),
    requests sent while it is busy share the next batch."""
    from checkpoints import build_dolly_checkpoint

    engine = load_engine(build_dolly_checkpoint(tmp_path / "random-dolly", seed=1))

    async def many(url: str) -> list[Any]:
        client = openai.AsyncOpenAI(base_url=url, api_key=KEY, max_retries=0)
        async with client:
            return await asyncio.gather(
                *(
                    client.chat.completions.create(
                        model="random-dolly", messages=QUESTION, max_tokens=48, seed=i
                    )
                    for i in range(24)
                )
            )

    with BackgroundServer(engine, api_key=KEY) as url:
        answers = asyncio.run(many(url))
    assert len(answers) == 24 and all(a.choices[0].message.content for a in answers)
    assert engine.stats.requests == 24
    assert engine.stats.batches <= 12, engine.stats  # at least two requests a batch on average
    assert engine.stats.largest_batch >= 4


def test_what_dolly_cannot_take_is_a_400(api: Any) -> None:
    with pytest.raises(openai.BadRequestError, match="Dolly"):
        api.chat.completions.create(
            model=MODEL,
            messages=[*QUESTION, {"role": "assistant", "content": "YES"}, *QUESTION],
        )
    with pytest.raises(openai.BadRequestError) as caught:
        api.completions.create(model=MODEL, prompt="word " * 3000, max_tokens=4)
    assert caught.value.code == "context_length_exceeded"
    with pytest.raises(openai.NotFoundError):
        api.chat.completions.create(model="gpt-4o", messages=QUESTION)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=api.base_url, api_key="wrong", max_retries=0).models.list()
    assert [model.id for model in api.models.list()] == [MODEL]  # still serving


# -- token streaming, on a model whose answers are long (random weights: every answer runs to
# -- max_tokens, through multi-byte characters split across tokens) -----------------------------


class Gate:
    """Wraps a sampler's forward pass: counts the calls, and holds the sampling thread at call
    ``hold_at`` until the test opens the gate (so that what a client received meanwhile was
    provably sent while the answer was still being sampled)."""

    def __init__(self, engine: BatchingEngine, hold_at: int | None = None) -> None:
        self.calls = 0
        self.hold_at = hold_at
        self.timed_out = False
        self.held = threading.Event()
        self.opened = threading.Event()
        self.sampler = engine.chat.sampler
        self.forward = self.sampler.forward

    def __enter__(self) -> Gate:
        self.sampler.forward = self._forward  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self.opened.set()
        self.sampler.forward = self.forward  # type: ignore[method-assign]

    def _forward(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == self.hold_at:
            self.held.set()
            self.timed_out = not self.opened.wait(timeout=30)
        return self.forward(*args, **kwargs)


@pytest.fixture(scope="module")
def long_engine(tmp_path_factory: pytest.TempPathFactory) -> BatchingEngine:
    from checkpoints import build_dolly_checkpoint

    return load_engine(build_dolly_checkpoint(tmp_path_factory.mktemp("long") / LONG, seed=1))


@pytest.fixture(scope="module")
def long_api(long_engine: BatchingEngine) -> Iterator[Any]:
    with BackgroundServer(long_engine, api_key=KEY) as base_url:
        yield openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0, timeout=60)


LONG = "random-dolly"
WRITE = [{"role": "user", "content": "Write a long story."}]


def test_a_long_answer_streams_in_pieces_that_add_up_to_the_whole_answer(long_api: Any) -> None:
    settings: dict[str, Any] = {"model": LONG, "seed": 21, "n": 2, "max_tokens": 40}
    whole = long_api.chat.completions.create(messages=WRITE, **settings)
    texts, pieces, finish, usage = ["", ""], [0, 0], [None, None], None
    stream = long_api.chat.completions.create(
        messages=WRITE, stream=True, stream_options={"include_usage": True}, **settings
    )
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            pieces[choice.index] += bool(choice.delta.content)
            finish[choice.index] = finish[choice.index] or choice.finish_reason
        usage = chunk.usage or usage
    assert texts == [choice.message.content for choice in whole.choices]
    assert all(count > 5 for count in pieces), pieces
    assert finish == [choice.finish_reason for choice in whole.choices] == ["length", "length"]
    assert usage == whole.usage
    prompt = dolly_prompt(WRITE[0]["content"])
    completion = long_api.completions.create(prompt=prompt, **settings)
    streamed = ["", ""]
    for chunk in long_api.completions.create(prompt=prompt, stream=True, **settings):
        for choice in chunk.choices:
            streamed[choice.index] += choice.text
    assert streamed == [choice.text for choice in completion.choices]


def test_text_is_sent_while_the_answer_is_still_being_sampled(
    long_api: Any, long_engine: BatchingEngine
) -> None:
    with Gate(long_engine, hold_at=24) as gate:
        stream = long_api.chat.completions.create(
            model=LONG, messages=WRITE, seed=3, max_tokens=60, stream=True
        )
        received = ""
        for chunk in stream:
            received += "".join(choice.delta.content or "" for choice in chunk.choices)
            if received:
                break
        # Text came before the gate opened, and without it the sampler cannot pass step 23.
        assert gate.calls <= 24 and not gate.timed_out
        gate.opened.set()
        for chunk in stream:
            received += "".join(choice.delta.content or "" for choice in chunk.choices)
    whole = long_api.chat.completions.create(model=LONG, messages=WRITE, seed=3, max_tokens=60)
    assert received == whole.choices[0].message.content


def test_a_client_that_leaves_mid_stream_ends_its_rows_and_the_server_goes_on(
    long_api: Any, long_engine: BatchingEngine
) -> None:
    settings: dict[str, Any] = {"model": LONG, "messages": WRITE, "seed": 8, "max_tokens": 30}
    expected = long_api.chat.completions.create(n=3, **settings)

    async def leave_and_stay() -> Any:
        client = openai.AsyncOpenAI(base_url=long_api.base_url, api_key=KEY, max_retries=0)
        async with client:

            async def leave() -> None:
                stream = await client.chat.completions.create(
                    model=LONG, messages=WRITE, seed=9, max_tokens=1500, n=2, stream=True
                )
                async for chunk in stream:
                    if any(choice.delta.content for choice in chunk.choices):
                        break
                await stream.close()

            staying = client.chat.completions.create(n=3, **settings)
            return (await asyncio.gather(leave(), staying))[1]

    with Gate(long_engine) as gate:
        stayed = asyncio.run(leave_and_stay())
        after = long_api.chat.completions.create(n=3, **settings)
    assert gate.calls < 1000  # the leaver's 1,500 steps were not all sampled
    assert stayed.choices == expected.choices == after.choices


def test_a_client_that_hangs_up_before_its_whole_answer_ends_its_rows(
    long_api: Any, long_engine: BatchingEngine
) -> None:
    """Not streaming: the client waits for the whole answer of 1,500 tokens a row, and hangs
    up while it is being sampled. Its handler is cancelled and its rows end; the server goes
    on answering the same as before."""
    settings: dict[str, Any] = {"model": LONG, "messages": WRITE, "seed": 8, "max_tokens": 30}
    expected = long_api.chat.completions.create(n=3, **settings)
    body = json.dumps({**settings, "seed": 9, "max_tokens": 1500, "n": 2}).encode()
    host, port = str(long_api.base_url).removeprefix("http://").split("/")[0].rsplit(":", 1)
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
    ) % (KEY.encode(), len(body), body)
    departed = long_engine.stats.departed
    with Gate(long_engine, hold_at=10) as gate:
        with socket.create_connection((host, int(port)), timeout=30) as client:
            client.sendall(request)
            assert gate.held.wait(timeout=30)  # its rows are being sampled
        for _ in range(3000):  # until the server has seen the client go (bounded)
            if long_engine.stats.departed > departed:
                break
            time.sleep(0.01)
        assert long_engine.stats.departed == departed + 1
        gate.opened.set()
        after = long_api.chat.completions.create(n=3, **settings)
    assert not gate.timed_out
    assert gate.calls < 1000  # the leaver's 1,500 steps were not all sampled
    assert after.choices == expected.choices
