"""The anthropic backend against a fake Messages API on loopback: request bodies (system prompt,
sampling, stop sequences, tools, structured outputs), answers (text and tool_use blocks), retries
and their limits (429, 5xx, 529 overloaded, timeouts, dropped connections), pacing, usage, and the
API key kept out of everything it writes."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

pytest.importorskip("anthropic")

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fakes package

from fakes.anthropic_server import OK, FakeAnthropic, Fault, fake_anthropic_server

from promptcheck.backends.anthropic_backend import AnthropicBackend
from promptcheck.backends.anthropic_params import AnthropicParams
from promptcheck.backends.base import (
    BACKENDS,
    BackendContext,
    Generation,
    GenerationRequest,
    Message,
    ResponseFormat,
    SamplingParams,
    Tool,
)
from promptcheck.backends.tool_calls import calls_of
from promptcheck.errors import BackendError

FAST: dict[str, Any] = {"backoff_s": 0.01, "timeout_s": 2.0}
WEATHER = Tool(
    "get_weather",
    "The weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture(autouse=True, params=["aiohttp", "httpx"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs over both HTTP transports the client can use."""
    if request.param == "aiohttp":
        pytest.importorskip("aiohttp")
    monkeypatch.setitem(FAST, "http_client", request.param)
    return str(request.param)


def build(server: FakeAnthropic | None = None, **settings: Any) -> AnthropicBackend:
    entry = BACKENDS.get("anthropic")
    raw: dict[str, Any] = {"model": "claude-test", "api_key_env": None, **FAST, **settings}
    if server is not None:
        raw["base_url"] = server.url
    backend = entry.build(entry.params.model_validate(raw), BackendContext(Path(".")))
    assert isinstance(backend, AnthropicBackend)
    return backend


def ask(prompt: str = "hi", seeds: tuple[int, ...] = (7,), **sampling: Any) -> GenerationRequest:
    return GenerationRequest(prompt, None, SamplingParams(**sampling), seeds)


def run(backend: AnthropicBackend, *requests: GenerationRequest) -> list[list[Generation]]:
    async def together() -> list[list[Generation]]:
        try:
            results = await asyncio.gather(*(backend.generate(r) for r in requests))
        finally:
            await backend.aclose()
        return [list(r) for r in results]

    return asyncio.run(together())


def only_call(server: FakeAnthropic) -> dict[str, Any]:
    [call] = server.calls
    return call.body


# --- parameters --------------------------------------------------------------------------------


def test_defaults_and_refusals() -> None:
    params = AnthropicParams(model="claude-sonnet-4-5")
    assert (params.api_key_env, params.send_sampling, params.structured_output) == (
        "ANTHROPIC_API_KEY",
        True,
        "output_config",
    )
    assert AnthropicParams.model_validate({"model": "m", "api_key_env": ""}).api_key_env is None
    with pytest.raises(ValidationError, match="api_key"):
        AnthropicParams.model_validate({"model": "m", "api_key": "sk-ant-123"})
    for extra, match in [({"x-api-key": "k"}, "secrets"), ({"system": "x"}, "set by")]:
        with pytest.raises(ValidationError, match=match):
            AnthropicParams.model_validate({"model": "m", "extra": extra})
    # top_k and max_tokens-like names are request fields, not secrets
    AnthropicParams.model_validate({"model": "m", "extra": {"top_k": 5, "thinking_tokens": 1}})


def test_a_key_pasted_into_api_key_env_is_refused_and_not_quoted() -> None:
    secret = "sk-ant-api03-abcdef0123456789"
    with pytest.raises(ValidationError) as caught:
        AnthropicParams.model_validate({"model": "m", "api_key_env": secret})
    messages = " ".join(e["msg"] for e in caught.value.errors(include_url=False))
    assert "environment variable" in messages and secret not in messages


def test_the_client_is_imported_at_the_first_request_not_at_build() -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from promptcheck.backends.base import BACKENDS, BackendContext\n"
        "entry = BACKENDS.get('anthropic')\n"
        "params = entry.params.model_validate({'model': 'm', 'api_key_env': None})\n"
        "backend = entry.build(params, BackendContext(Path('.')))\n"
        "print(repr(backend), 'anthropic' in sys.modules)\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert shown.strip() == "AnthropicBackend('m' at the Anthropic API) False"


def test_a_missing_key_fails_at_build_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTCHECK_TEST_KEY", raising=False)
    with pytest.raises(BackendError, match="PROMPTCHECK_TEST_KEY"):
        build(api_key_env="PROMPTCHECK_TEST_KEY")


def test_without_the_client_installed_the_model_fails_at_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "anthropic" else real(name)
    )
    with pytest.raises(BackendError, match="needs the anthropic package") as caught:
        build()
    assert "promptcheck[anthropic]" in (caught.value.hint or "")


def test_the_key_is_sent_but_never_kept_or_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-ant-test-0123456789abcdef"
    monkeypatch.setenv("PROMPTCHECK_TEST_KEY", secret)

    def plan(body: dict[str, Any], attempt: int) -> Fault:
        return Fault(status=401, message=f"invalid x-api-key: {secret}")

    with fake_anthropic_server(plan=plan) as server:
        backend = build(server, api_key_env="PROMPTCHECK_TEST_KEY")
        [[generation]] = run(backend, ask())
    headers = server.calls[0].headers
    assert secret in (headers.get("x-api-key"), headers.get("authorization", "")[7:])
    assert generation.error is not None
    assert generation.error.startswith("HTTP 401 authentication_error: ")
    assert secret not in generation.error and "<redacted>" in generation.error
    assert secret not in repr(backend) + backend.params.model_dump_json()
    assert len(server.calls) == 1  # a 401 is not retried


def test_a_gateway_that_checks_the_key_accepts_the_backends_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMPTCHECK_TEST_KEY", "sk-ant-right")
    with fake_anthropic_server(key="sk-ant-right") as server:
        [[generation]] = run(build(server, api_key_env="PROMPTCHECK_TEST_KEY"), ask())
    assert generation.text == "GOOD", generation.error
    assert "anthropic-version" in server.calls[0].headers


# --- request bodies ------------------------------------------------------------------------------


def test_a_request_carries_the_system_prompt_messages_and_sampling() -> None:
    with fake_anthropic_server() as server:
        backend = build(server, extra={"top_k": 5})
        request = GenerationRequest(
            None,
            (Message("system", "Be brief."), Message("user", "Hi"), Message("assistant", "Hey")),
            SamplingParams(temperature=0.3, top_p=0.9, max_tokens=12, stop=("\n\n",)),
            (41,),
        )
        [[generation]] = run(backend, request)
    body = only_call(server)
    assert body == {
        "model": "claude-test",
        "max_tokens": 12,
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hey"},
        ],
        "temperature": 0.3,
        "top_p": 0.9,
        "stop_sequences": ["\n\n"],
        "top_k": 5,
    }
    assert generation.text == "GOOD" and generation.finish_reason == "stop"
    assert generation.formatted_prompt == "[system]\nBe brief.\n\n[user]\nHi\n\n[assistant]\nHey"


def test_top_p_of_one_and_sampling_are_left_out_when_not_wanted() -> None:
    with fake_anthropic_server() as server:
        run(build(server), ask(temperature=0.0))
        run(build(server, send_sampling=False), ask(temperature=0.5, top_p=0.5))
    first, second = (call.body for call in server.calls)
    assert first["temperature"] == 0.0 and "top_p" not in first
    assert "temperature" not in second and "top_p" not in second


def test_every_sample_is_its_own_request_without_n_or_seed() -> None:
    with fake_anthropic_server() as server:
        backend = build(server)
        [generations] = run(backend, ask(seeds=(1, 2, 3)))
    assert len(server.calls) == 3 and [g.text for g in generations] == ["GOOD"] * 3
    assert all("n" not in c.body and "seed" not in c.body for c in server.calls)
    assert backend.max_samples_per_request == 1


def test_the_model_that_served_each_answer_is_kept() -> None:
    with fake_anthropic_server(served_model="claude-test-20250514") as server:
        [[generation]] = run(build(server), ask())
    assert generation.served_model == "claude-test-20250514"
    assert generation.served_fingerprint is None  # the Messages API has none


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ("get_weather", {"type": "tool", "name": "get_weather"}),
        (None, None),
    ],
)
def test_tools_and_tool_choice_take_the_messages_apis_form(
    choice: str | None, sent: dict[str, Any] | None
) -> None:
    with fake_anthropic_server() as server:
        run(build(server), ask(tools=(WEATHER,), tool_choice=choice))
    body = only_call(server)
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "The weather in a city.",
            "input_schema": dict(WEATHER.parameters),
        }
    ]
    assert body.get("tool_choice") == sent


def tool_use(name: str, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_use", "name": name, "input": arguments}


def test_tool_use_blocks_are_calls_rendered_after_the_text() -> None:
    def answer(body: dict[str, Any], index: int) -> list[dict[str, Any]]:
        return [
            {"type": "thinking", "thinking": "the user wants weather", "signature": "x"},
            {"type": "text", "text": "Let me check."},
            tool_use("get_weather", {"city": "Paris"}),
            tool_use("get_weather", {"city": "Oslo"}),
        ]

    with fake_anthropic_server(answer=answer) as server:
        [[generation]] = run(build(server), ask(tools=(WEATHER,)))
    assert [(c.name, c.arguments) for c in generation.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Oslo"}),
    ]
    assert generation.finish_reason == "tool_calls"
    assert generation.text == (
        "Let me check.\n[2 tool calls]\n"
        'get_weather({"city": "Paris"})\nget_weather({"city": "Oslo"})'
    )
    # what the cache keeps (text and finish reason) gives the same calls back
    cached = Generation(generation.text, finish_reason=generation.finish_reason)
    assert calls_of(cached) == generation.tool_calls


def test_a_response_format_is_asked_for_in_output_config() -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    with fake_anthropic_server(answer=lambda body, index: '{"ok": true}') as server:
        [[generation]] = run(build(server), ask(response_format=ResponseFormat(schema, "verdict")))
    body = only_call(server)
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "tools" not in body and generation.text == '{"ok": true}'


def test_a_judges_openai_style_response_format_is_translated() -> None:
    schema = {"type": "object"}
    extra = {"response_format": {"type": "json_schema", "json_schema": {"schema": schema}}}
    with fake_anthropic_server() as server:
        run(build(server), ask(extra=extra))
    body = only_call(server)
    assert body["output_config"]["format"]["schema"] == schema
    assert "response_format" not in body


def test_a_response_format_through_a_forced_tool_is_the_answers_text() -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}

    def answer(body: dict[str, Any], index: int) -> list[dict[str, Any]]:
        return [tool_use("verdict", {"ok": False})]

    with fake_anthropic_server(answer=answer) as server:
        backend = build(server, structured_output="tool")
        [[generation]] = run(backend, ask(response_format=ResponseFormat(schema, "verdict")))
        with pytest.raises(BackendError, match="cannot also") as refused:
            both = ask(tools=(WEATHER,), response_format=ResponseFormat(schema, "verdict"))
            run(backend, both)  # the runner records this on every sample of the request
    body = server.calls[0].body
    assert body["tool_choice"] == {"type": "tool", "name": "verdict"}
    assert body["tools"][0]["input_schema"] == schema and "output_config" not in body
    assert (generation.text, generation.tool_calls) == ('{"ok": false}', ())
    assert generation.finish_reason == "stop"
    assert "structured_output: output_config" in (refused.value.hint or "")
    assert len(server.calls) == 1  # tools and a forced format tool cannot go together


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("refusal", "refusal"),
    ],
)
def test_stop_reasons_are_read_in_promptchecks_words(stop_reason: str, finish: str) -> None:
    answer = {"content": [{"type": "text", "text": "x"}], "stop_reason": stop_reason}
    with fake_anthropic_server(plan=lambda body, attempt: Fault(answer=answer)) as server:
        [[generation]] = run(build(server), ask())
    assert (generation.text, generation.finish_reason) == ("x", finish)
    assert generation.prompt_tokens is None  # no usage in this answer


@pytest.mark.parametrize(
    "answer",
    [
        {"id": "x"},
        {"content": "text"},
        {"content": ["x"]},
        {"content": [{"type": "text", "text": 3}]},
        {"content": [{"type": "tool_use", "input": {}}]},
    ],
)
def test_answers_that_are_not_messages_are_errors_at_once(answer: dict[str, Any]) -> None:
    with fake_anthropic_server(plan=lambda body, attempt: Fault(answer=answer)) as server:
        [[generation]] = run(build(server), ask())
    assert generation.text is None and generation.error is not None
    assert generation.error.startswith("unusable response") and len(server.calls) == 1


def test_usage_and_cost_are_tallied() -> None:
    answer = {
        "content": [{"type": "text", "text": "GOOD"}],
        "stop_reason": "end_turn",
        "usage": {
            "input_tokens": 10,
            "cache_read_input_tokens": 90,
            "cache_creation_input_tokens": 0,
            "output_tokens": 3,
        },
    }
    with fake_anthropic_server(plan=lambda body, attempt: Fault(answer=answer)) as server:
        backend = build(server, price_per_1k_input=1.0, price_per_1k_output=2.0)
        [generations] = run(backend, ask(seeds=(1, 2)))
    usage = backend.usage
    assert (usage.requests, usage.prompt_tokens, usage.completion_tokens) == (2, 200, 6)
    assert [(g.prompt_tokens, g.completion_tokens) for g in generations] == [(100, 3)] * 2
    assert usage.cost == pytest.approx((200 * 1.0 + 6 * 2.0) / 1000)
    assert usage.as_dict().keys() == {
        "requests",
        "retries",
        "failed_requests",
        "prompt_tokens",
        "completion_tokens",
        "cost",
    }


# --- retries -------------------------------------------------------------------------------------


def first_attempts_fail(fault: Fault, failures: int = 1) -> Any:
    return lambda body, attempt: fault if attempt < failures else OK


@pytest.mark.parametrize(
    ("fault", "failures"),
    [
        (Fault(status=500), 2),
        (Fault(status=529, message="Overloaded"), 2),
        (Fault(status=429), 1),
        (Fault(drop=True), 2),
        (Fault(delay_s=4.0), 1),  # past timeout_s
        (Fault(status=400, message="x"), 0),
    ],
    ids=["500", "529", "429", "dropped", "slow", "none"],
)
def test_transient_failures_are_retried_until_the_sample_comes(fault: Fault, failures: int) -> None:
    with fake_anthropic_server(plan=first_attempts_fail(fault, failures)) as server:
        backend = build(server, timeout_s=1.0)
        [[generation]] = run(backend, ask())
    assert generation.text == "GOOD" and generation.error is None
    assert len(server.calls) == failures + 1
    assert backend.usage.retries == failures


def test_timeouts_and_dropped_connections_are_told_apart() -> None:
    def plan(body: dict[str, Any], attempt: int) -> Fault:
        return Fault(drop=True) if body["messages"][0]["content"] == "drop" else Fault(delay_s=2.0)

    with fake_anthropic_server(plan=plan) as server:
        backend = build(server, timeout_s=0.5, max_retries=1)
        [[dropped], [slow]] = run(backend, ask("drop"), ask("slow"))
    assert dropped.error is not None and dropped.error.startswith("connection failed"), dropped
    assert slow.error == "timed out after 0.5s (after 2 attempts)"


def test_retry_after_is_honoured() -> None:
    plan = first_attempts_fail(Fault(status=429, retry_after="0.4"))
    with fake_anthropic_server(plan=plan) as server:
        [[generation]] = run(build(server), ask())
    first, second = server.calls
    assert generation.text == "GOOD"
    assert second.at - first.at >= 0.38


def test_overload_that_outlasts_the_retries_is_an_error_sample_never_a_failure() -> None:
    fault = Fault(status=529, message="Overloaded")
    with fake_anthropic_server(plan=lambda body, attempt: fault) as server:
        backend = build(server, max_retries=2)
        [generations] = run(backend, ask(seeds=(1, 2)))
    assert all(g.text is None for g in generations)
    assert generations[0].error == "HTTP 529 overloaded_error: Overloaded (after 3 attempts)"
    assert len(server.calls) == 2 * 3 and backend.usage.failed_requests == 2


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=400, message="bad"),
        Fault(status=404),
        Fault(status=529, headers={"x-should-retry": "false"}),
        Fault(garbage=True),
    ],
    ids=["400", "404", "told-not-to", "garbage"],
)
def test_failures_retrying_cannot_cure_are_errors_at_once(fault: Fault) -> None:
    with fake_anthropic_server(plan=lambda body, attempt: fault) as server:
        [[generation]] = run(build(server), ask())
    assert generation.text is None and generation.error
    assert len(server.calls) == 1


def test_a_retry_after_beyond_max_wait_ends_the_retries() -> None:
    plan = first_attempts_fail(Fault(status=429, retry_after="30"))
    with fake_anthropic_server(plan=plan) as server:
        started = time.monotonic()
        [[generation]] = run(build(server, max_wait_s=1), ask())
    assert generation.error is not None and "HTTP 429 rate_limit_error" in generation.error
    assert len(server.calls) == 1 and time.monotonic() - started < 5


# --- limits --------------------------------------------------------------------------------------


def test_in_flight_requests_are_bounded() -> None:
    with fake_anthropic_server(latency_s=0.05) as server:
        backend = build(server, concurrency=3)
        [generations] = run(backend, ask(seeds=tuple(range(12))))
    assert len(generations) == 12 and 1 < server.most_in_flight <= 3


def test_a_requests_per_minute_limit_spaces_real_requests() -> None:
    started = time.monotonic()  # before the bucket exists: a lower bound of its start
    with fake_anthropic_server() as server:
        backend = build(server, rpm=600)  # 10 a second, a bucket of 10
        [generations] = run(backend, ask(seeds=tuple(range(20))))
    arrivals = sorted(call.at for call in server.calls)
    assert len(generations) == 20 and len(arrivals) == 20
    # the 10 beyond the bucket are sent 0.1 s apart, the last a second after the bucket's start;
    # measured from before the bucket exists, so a slow machine only makes the gap longer (from
    # the first arrival it would not be: that request may reach the server late)
    assert arrivals[-1] - started >= 0.95


def test_a_tokens_per_minute_limit_spaces_real_requests() -> None:
    started = time.monotonic()  # before the bucket exists: a lower bound of its start
    with fake_anthropic_server() as server:
        backend = build(server, tpm=6000)  # 100 tokens a second, a bucket of 100
        # each request counts at least its 20 completion tokens and 8 of overhead
        [generations] = run(backend, ask(seeds=tuple(range(8)), max_tokens=20))
    arrivals = sorted(call.at for call in server.calls)
    assert len(generations) == 8 and len(arrivals) == 8
    # 8 x 28 tokens against a bucket of 100 at 100 a second: the 5th goes 0.40 s in, the 8th
    # 1.24 s in, or later (measured from before the bucket exists: slowness only adds)
    assert arrivals[4] - started >= 0.38
    assert arrivals[7] - started >= 1.2


def test_a_backend_serves_one_event_loop_after_another() -> None:
    with fake_anthropic_server() as server:
        backend = build(server)
        first = run(backend, ask())
        second = run(backend, ask())
    assert first[0][0].text == second[0][0].text == "GOOD"
