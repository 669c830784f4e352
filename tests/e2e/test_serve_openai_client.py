"""``promptcheck serve`` on a real tiny Dolly checkpoint (the GPT-NeoX-20B tokenizer, Dolly's
special tokens), driven by the official ``openai`` client over loopback.

The checkpoint answers YES (p = 0.8) or NO, then ``### End``, to any instruction, so every
answer can be checked exactly, and the local backend can be asked for the same seeds.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import sys
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
