"""The OpenAI API of ``promptcheck serve`` over a fake engine, with the official client and raw
HTTP: routes, requests turned into generation requests, answers, streams, errors, the key."""

from __future__ import annotations

import asyncio
import http.client
import json
from collections.abc import Sequence
from typing import Any

import pytest
from fakes.echo_engine import API_KEY, EchoEngine, Served

from promptcheck.backends.base import Generation, GenerationRequest, Message
from promptcheck.serve.completions import Completions, choice_seed
from promptcheck.serve.limits import ServerLimits
from promptcheck.serve.protocol import APIError
from promptcheck.serve.server import BackgroundServer
from promptcheck.serve.streaming import TextFeed

openai = pytest.importorskip("openai")


def client(served: Served, key: str = API_KEY) -> Any:
    return openai.OpenAI(base_url=served.url, api_key=key, max_retries=0, timeout=10)


def raw(
    served: Served, method: str, path: str, body: Any = None, key: str | None = API_KEY
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(*served.origin, timeout=10)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    result = response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    connection.close()
    return result


def test_models_lists_the_served_model(served: Served) -> None:
    api = client(served)
    assert [m.id for m in api.models.list()] == ["echo"]
    assert api.models.retrieve("echo").owned_by == "promptcheck"
    with pytest.raises(openai.NotFoundError):
        api.models.retrieve("other")


def test_chat_requests_become_generation_requests(served: Served) -> None:
    served.engine.requests.clear()
    answer = client(served).chat.completions.create(
        model="echo",
        messages=[
            {"role": "developer", "content": "Be brief."},
            {
                "role": "user",
                "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}],
            },
        ],
        n=3,
        seed=11,
        temperature=0.2,
        top_p=0.9,
        max_tokens=7,
        stop="\n",
    )
    [(request, raw_prompt)] = served.engine.requests
    assert not raw_prompt and request.prompt is None
    assert request.messages == (Message("system", "Be brief."), Message("user", "Hi there"))
    params = request.params
    assert (params.temperature, params.top_p, params.max_tokens, params.stop) == (
        0.2,
        0.9,
        7,
        ("\n",),
    )
    assert request.seeds[0] == 11 and len(set(request.seeds)) == 3
    assert [c.message.content for c in answer.choices] == [f"Hi there#{s}" for s in request.seeds]
    assert [c.index for c in answer.choices] == [0, 1, 2]
    assert answer.object == "chat.completion" and answer.system_fingerprint == "fp_echo"
    assert answer.usage.prompt_tokens == 2  # the prompt counts once, whatever n
    assert answer.usage.completion_tokens == 6 and answer.usage.total_tokens == 8


def test_defaults_follow_openai(served: Served) -> None:
    served.engine.requests.clear()
    api = client(served)
    api.chat.completions.create(model="echo", messages=[{"role": "user", "content": "x"}])
    api.completions.create(model="echo", prompt="x")
    chat, text = (request.params for request, _ in served.engine.requests)
    assert (chat.temperature, chat.top_p, chat.max_tokens) == (1.0, 1.0, 4096)
    assert text.max_tokens == 16


def test_completions_take_several_prompts(served: Served) -> None:
    served.engine.requests.clear()
    answer = client(served).completions.create(
        model="echo", prompt=["a b", "c"], n=2, seed=5, max_tokens=3
    )
    assert all(raw_prompt for _, raw_prompt in served.engine.requests)
    assert [c.index for c in answer.choices] == [0, 1, 2, 3]
    assert [c.text.split("#")[0] for c in answer.choices] == ["a b", "a b", "c", "c"]
    assert answer.choices[0].text == "a b#5"
    assert answer.usage.prompt_tokens == 3 and answer.usage.completion_tokens == 8
    assert answer.choices[0].finish_reason == "stop"


def test_seeds_are_reproducible_and_distinct() -> None:
    assert choice_seed(7, 0, 0) == 7
    derived = {choice_seed(7, p, c) for p in range(3) for c in range(4)}
    assert len(derived) == 12 and all(0 <= s < 2**63 for s in derived)
    assert choice_seed(7, 1, 2) == choice_seed(7, 1, 2)
    assert choice_seed(-1, 0, 0) == 2**64 - 1  # the sampler reads seeds modulo 2**64
    assert choice_seed(None, 0, 0) != choice_seed(None, 0, 0)


def test_streams_end_with_done_and_match_the_whole_answer(served: Served) -> None:
    api = client(served)
    messages = [{"role": "user", "content": "one two  three"}]
    whole = api.chat.completions.create(model="echo", messages=messages, n=2, seed=3)
    stream = api.chat.completions.create(
        model="echo",
        messages=messages,
        n=2,
        seed=3,
        stream=True,
        stream_options={"include_usage": True},
    )
    texts = ["", ""]
    finish = [None, None]
    usage = None
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            finish[choice.index] = choice.finish_reason or finish[choice.index]
        usage = chunk.usage or usage
    assert texts == [c.message.content for c in whole.choices]
    assert finish == ["stop", "stop"] and usage is not None and usage.total_tokens == 7
    status, headers, body = raw(
        served, "POST", "/v1/completions", {"model": "echo", "prompt": "p q", "stream": True}
    )
    assert status == 200 and headers["content-type"] == "text/event-stream"
    events = body.decode().split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    pieces = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert "".join(p["choices"][0]["text"] for p in pieces).startswith("p q#")
    assert pieces[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(p["object"] == "text_completion" for p in pieces)


def test_the_api_key_is_required_but_not_by_health(served: Served) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        client(served, key="wrong-key").models.list()
    assert "wrong-key" not in str(caught.value)
    status, _, body = raw(served, "GET", "/v1/models", key=None)
    assert status == 401 and json.loads(body)["error"]["code"] == "invalid_api_key"
    status, _, body = raw(served, "GET", "/health", key=None)
    assert status == 200 and json.loads(body)["status"] == "ok"


def test_no_key_needed_when_none_is_set(open_server: Served) -> None:
    assert [m.id for m in client(open_server, key="anything").models.list()] == ["echo"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "param"),
    [
        ("GET", "/v2/nothing", None, 404, None),
        ("GET", "/v1/chat/completions", None, 405, None),
        ("POST", "/v1/models", None, 405, None),
        ("POST", "/v1/completions", b"{not json", 400, None),
        ("POST", "/v1/completions", b"[1, 2]", 400, None),
        ("POST", "/v1/completions", b"\xff\xfe", 400, None),
        ("POST", "/v1/completions", b"[" * 100_000, 400, None),
        ("POST", "/v1/completions", {"model": "echo"}, 400, "prompt"),
        ("POST", "/v1/completions", {"model": "nope", "prompt": "x"}, 404, "model"),
        ("POST", "/v1/completions", {"model": "echo", "prompt": []}, 400, "prompt"),
        ("POST", "/v1/completions", {"model": "echo", "prompt": [1, 2]}, 400, "prompt"),
        ("POST", "/v1/completions", {"model": "echo", "prompt": "x", "n": 0}, 400, "n"),
        ("POST", "/v1/completions", {"model": "echo", "prompt": ["x"] * 3, "n": 50}, 400, "n"),
        ("POST", "/v1/completions", {"model": "echo", "prompt": "x", "echo": True}, 400, "echo"),
        ("POST", "/v1/completions", {"model": "echo", "prompt": "x", "best_of": 3}, 400, "best_of"),
        (
            "POST",
            "/v1/completions",
            {"model": "echo", "prompt": "x", "logprobs": 2},
            400,
            "logprobs",
        ),
        ("POST", "/v1/completions", {"model": "echo", "prompt": "too long"}, 400, None),
        ("POST", "/v1/chat/completions", {"model": "echo", "messages": []}, 400, "messages"),
        (
            "POST",
            "/v1/chat/completions",
            {"model": "echo", "messages": [{"role": "tool", "content": "x"}]},
            400,
            "messages",
        ),
        ("POST", "/v1/chat/completions", {"model": "echo", "messages": "hi"}, 400, "messages"),
        (
            "POST",
            "/v1/chat/completions",
            {"model": 3, "messages": [{"role": "user", "content": "x"}]},
            400,
            "model",
        ),
    ],
)
def test_bad_requests_get_openai_style_errors(
    served: Served, method: str, path: str, body: Any, status: int, param: str | None
) -> None:
    got, headers, data = raw(served, method, path, body)
    assert got == status
    error = json.loads(data)["error"]
    assert error["message"] and error["type"] == "invalid_request_error"
    assert headers["content-type"] == "application/json"
    if param is not None:
        assert error["param"] == param


USER = [{"role": "user", "content": "x"}]


@pytest.mark.parametrize(
    ("settings", "param"),
    [
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": "0.5"}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"n": True}, "n"),
        ({"n": 129}, "n"),
        ({"stop": ["a", ""]}, "stop"),
        ({"stop": [str(i) for i in range(17)]}, "stop"),
        ({"stop": ["x" * 513]}, "stop"),
        ({"seed": 2**64}, "seed"),
        ({"stream": "yes"}, "stream"),
        ({"tools": [{"type": "function"}]}, "tools"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
    ],
)
def test_sampling_settings_are_checked(
    served: Served, settings: dict[str, Any], param: str
) -> None:
    body = {"model": "echo", "messages": USER, **settings}
    status, _, data = raw(served, "POST", "/v1/chat/completions", json.dumps(body).encode())
    assert status == 400
    assert json.loads(data)["error"]["param"] == param


def test_unknown_fields_and_neutral_settings_are_accepted(served: Served) -> None:
    body = {
        "model": "echo",
        "messages": USER,
        "top_k": 40,  # vLLM's: ignored, as vLLM ignores fields it does not know
        "presence_penalty": 0,
        "logit_bias": {},
        "response_format": {"type": "text"},
        "user": "ci",
        "max_completion_tokens": 5,
        "temperature": None,
    }
    status, _, data = raw(served, "POST", "/v1/chat/completions", body)
    assert status == 200 and json.loads(data)["choices"][0]["message"]["content"] == "x#" + str(
        served.engine.requests[-1][0].seeds[0]
    )
    assert served.engine.requests[-1][0].params.max_tokens == 5


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/completions", b'{"model": "echo", "prompt": "\\ud800"}', "prompt"),
        ("/v1/completions", b'{"model": "echo", "prompt": "x", "stop": "\\udc00"}', "stop"),
        ("/v1/completions", b'{"model": "echo", "prompt": "\xed\xa0\x80"}', "prompt"),
        (
            "/v1/chat/completions",
            b'{"model": "echo", "messages": [{"role": "user", "content": "\\ud800"}]}',
            "messages",
        ),
        (
            "/v1/chat/completions",
            b'{"model": "\\ud800", "messages": [{"role": "user", "content": "x"}]}',
            "model",
        ),
    ],
)
def test_lone_surrogates_are_a_400_before_the_engine_sees_them(
    served: Served, path: str, body: bytes, param: str
) -> None:
    before = len(served.engine.requests)
    status, headers, data = raw(served, "POST", path, body)
    assert status == 400 and headers["content-type"] == "application/json"
    error = json.loads(data)["error"]
    assert (error["param"], error["code"]) == (param, "invalid_unicode")
    assert len(served.engine.requests) == before


def test_an_engine_bug_is_a_500_and_the_server_goes_on(served: Served) -> None:
    body = {"model": "echo", "prompt": "engine bug"}
    status, _, data = raw(served, "POST", "/v1/completions", body)
    assert status == 500 and json.loads(data)["error"]["type"] == "server_error"
    assert raw(served, "GET", "/v1/models")[0] == 200


def test_a_batch_of_prompts_with_one_refused_is_a_400_before_any_stream(served: Served) -> None:
    body = {"model": "echo", "prompt": ["fine", "too long"], "stream": True, "max_tokens": 4}
    status, headers, data = raw(served, "POST", "/v1/completions", body)
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(data)["error"]["code"] == "context_length_exceeded"


def test_prompts_over_the_size_limit_are_refused_before_tokenizing() -> None:
    engine = EchoEngine()
    with BackgroundServer(engine, api_key=API_KEY, limits=ServerLimits(max_prompt_chars=10)) as url:
        served = Served(url, engine)
        fits = {"model": "echo", "prompt": ["12345", "67890"]}
        assert raw(served, "POST", "/v1/completions", fits)[0] == 200
        over = {"model": "echo", "prompt": ["12345", "678901"]}
        status, _, data = raw(served, "POST", "/v1/completions", over)
        assert status == 400 and json.loads(data)["error"]["code"] == "context_length_exceeded"
        chat = {"model": "echo", "messages": [{"role": "user", "content": "x" * 11}]}
        status, _, data = raw(served, "POST", "/v1/chat/completions", chat)
        assert status == 400 and json.loads(data)["error"]["param"] == "messages"
    assert [request.prompt for request, _ in engine.requests] == ["12345", "67890"]


class FailingMidStream:
    """A streaming engine whose rows send some text, then run out of memory."""

    model_id = "oom"
    fingerprint = "fp_oom"
    streams_tokens = True

    async def prepare(self, requests: Sequence[GenerationRequest], *, raw: bool) -> list[int]:
        return [request.n for request in requests]

    async def generate(
        self, job: int, *, feed: TextFeed | None = None, first_choice: int = 0
    ) -> list[Generation]:
        assert feed is not None
        feed.put(first_choice, "partial", None)
        await asyncio.sleep(0)
        raise APIError(503, "out of memory", code="overloaded")


def test_a_failure_after_the_first_chunk_is_an_error_event_then_done() -> None:
    async def main() -> list[bytes]:
        completions = Completions(FailingMidStream(), max_prompt_chars=100)
        reply = await completions.completions({"model": "oom", "prompt": "x", "stream": True})
        assert reply.events is not None
        return [event async for event in reply.events]

    events = asyncio.run(asyncio.wait_for(main(), 10))
    assert json.loads(events[0].removeprefix(b"data: "))["choices"][0]["text"] == "partial"
    assert json.loads(events[-2].removeprefix(b"data: "))["error"]["code"] == "overloaded"
    assert events[-1] == b"data: [DONE]\n\n"
