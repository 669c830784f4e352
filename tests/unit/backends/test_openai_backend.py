"""The openai backend against a fake endpoint on loopback: request bodies, n and seeds, retries
and their limits, pacing, usage, and the API key kept out of everything it writes."""

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

pytest.importorskip("openai")

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fakes package

from fakes.openai_server import OK, FakeOpenAI, Fault, fake_server

from promptcheck.backends.base import (
    BACKENDS,
    MAX_IDENTITY_CHARS,
    BackendContext,
    Generation,
    GenerationRequest,
    Message,
    SamplingParams,
)
from promptcheck.backends.openai_backend import OpenAIBackend
from promptcheck.backends.openai_params import OpenAIParams
from promptcheck.backends.pacing import Pacer, retry_after_seconds
from promptcheck.errors import BackendError
from promptcheck.formats import dolly_prompt

FAST: dict[str, Any] = {"backoff_s": 0.01, "timeout_s": 2.0}


@pytest.fixture(autouse=True, params=["aiohttp", "httpx"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs over both HTTP transports the client can use."""
    if request.param == "aiohttp":
        pytest.importorskip("aiohttp")
    monkeypatch.setitem(FAST, "http_client", request.param)
    return str(request.param)


def build(server: FakeOpenAI | None = None, **settings: Any) -> OpenAIBackend:
    entry = BACKENDS.get("openai")
    raw: dict[str, Any] = {"model": "m", "api_key_env": None, **FAST, **settings}
    if server is not None:
        raw["base_url"] = server.url
    backend = entry.build(entry.params.model_validate(raw), BackendContext(Path(".")))
    assert isinstance(backend, OpenAIBackend)
    return backend


def ask(prompt: str = "hi", seeds: tuple[int, ...] = (7,), **sampling: Any) -> GenerationRequest:
    return GenerationRequest(prompt, None, SamplingParams(**sampling), seeds)


def run(backend: OpenAIBackend, *requests: GenerationRequest) -> list[list[Generation]]:
    async def together() -> list[list[Generation]]:
        try:
            results = await asyncio.gather(*(backend.generate(r) for r in requests))
        finally:
            await backend.aclose()
        return [list(r) for r in results]

    return asyncio.run(together())


# --- parameters --------------------------------------------------------------------------------


def test_defaults_and_unknown_keys() -> None:
    params = OpenAIParams(model="gpt-4o-mini")
    assert (params.mode, params.api_key_env, params.n_per_request) == ("chat", "OPENAI_API_KEY", 16)
    assert params.concurrency is None  # the runner's --promptcheck-concurrency rules
    with pytest.raises(ValidationError, match="api_key"):
        OpenAIParams.model_validate({"model": "m", "api_key": "sk-123"})
    # TOML has no null: an empty name means "no key" too
    assert OpenAIParams.model_validate({"model": "m", "api_key_env": ""}).api_key_env is None


def test_a_key_pasted_into_api_key_env_is_refused_and_not_quoted() -> None:
    secret = "sk-proj-abcdef0123456789"
    with pytest.raises(ValidationError) as caught:
        OpenAIParams.model_validate({"model": "m", "api_key_env": secret})
    messages = " ".join(e["msg"] for e in caught.value.errors(include_url=False))
    assert "environment variable" in messages and secret not in messages


@pytest.mark.parametrize(
    ("extra", "match"),
    [({"api_key": "x"}, "secrets"), ({"Authorization": "x"}, "secrets"), ({"n": 3}, "set by")],
)
def test_extra_cannot_carry_secrets_or_override_the_backend(
    extra: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValidationError, match=match):
        OpenAIParams.model_validate({"model": "m", "extra": extra})


def test_the_client_is_imported_at_the_first_request_not_at_build() -> None:
    """A run answered from the cache never pays for ``import openai`` (most of a second)."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from promptcheck.backends.base import BACKENDS, BackendContext\n"
        "import promptcheck.backends.openai_backend\n"
        "entry = BACKENDS.get('openai')\n"
        "params = entry.params.model_validate({'model': 'm', 'api_key_env': None})\n"
        "backend = entry.build(params, BackendContext(Path('.')))\n"
        "print(repr(backend), 'openai' in sys.modules)\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert shown.strip() == "OpenAIBackend('m' at the OpenAI API, mode=chat) False"


def test_a_missing_key_fails_at_build_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTCHECK_TEST_KEY", raising=False)
    entry = BACKENDS.get("openai")
    params = entry.params.model_validate({"model": "m", "api_key_env": "PROMPTCHECK_TEST_KEY"})
    with pytest.raises(BackendError, match="PROMPTCHECK_TEST_KEY"):
        entry.build(params, BackendContext(Path(".")))


def test_the_key_is_sent_but_never_kept_or_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("PROMPTCHECK_TEST_KEY", secret)

    def plan(body: dict[str, Any], attempt: int) -> Fault:
        return Fault(status=401, message=f"Incorrect API key provided: {secret}")

    with fake_server(plan=plan) as server:
        backend = build(server, api_key_env="PROMPTCHECK_TEST_KEY")
        [[generation]] = run(backend, ask())
    assert server.calls[0].headers["authorization"] == f"Bearer {secret}"
    assert generation.error is not None and "HTTP 401" in generation.error
    assert secret not in generation.error and "<redacted>" in generation.error
    assert secret not in repr(backend) + backend.params.model_dump_json()
    assert len(server.calls) == 1  # a 401 is not retried


@pytest.mark.parametrize("offset", [470, 495, 499, 500, 520])
def test_a_key_across_the_cut_of_a_long_error_leaves_no_part_behind(
    monkeypatch: pytest.MonkeyPatch, offset: int
) -> None:
    """The body is cut to 500 characters: scrubbing after the cut left the key's first half."""
    secret = "sk-test-0123456789abcdefghijklmnopqrstuvwxyz"
    monkeypatch.setenv("PROMPTCHECK_TEST_KEY", secret)
    message = "x" * offset + secret + " trailing"

    def plan(body: dict[str, Any], attempt: int) -> Fault:
        return Fault(status=401, message=message)

    with fake_server(plan=plan) as server:
        [[generation]] = run(build(server, api_key_env="PROMPTCHECK_TEST_KEY"), ask())
    assert generation.error is not None
    for start in range(0, len(secret) - 7):
        assert secret[start : start + 8] not in generation.error, generation.error[-80:]


def test_a_token_the_server_echoes_is_scrubbed_even_when_it_is_not_our_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMPTCHECK_TEST_KEY", "sk-ours-0123456789abcdef")
    leaked = "Bearer eyJhbGciOiJIUzI1NiJ9.payload.signature"

    def plan(body: dict[str, Any], attempt: int) -> Fault:
        return Fault(status=403, message=f"forbidden for {leaked} at https://u:p@proxy.internal/")

    with fake_server(plan=plan) as server:
        [[generation]] = run(build(server, api_key_env="PROMPTCHECK_TEST_KEY"), ask())
    error = generation.error or ""
    assert "eyJhbGciOiJIUzI1NiJ9" not in error and "u:p@" not in error
    assert "Bearer <redacted>" in error and "https://<redacted>@proxy.internal/" in error


# --- request bodies ------------------------------------------------------------------------


def test_a_chat_request_carries_the_case_settings_and_the_seed() -> None:
    with fake_server() as server:
        backend = build(server, n_per_request=1, extra={"top_p": 0.5, "response_format": {}})
        request = GenerationRequest(
            None,
            (Message("system", "Be brief."), Message("user", "Hi")),
            SamplingParams(temperature=0.3, top_p=0.9, max_tokens=12, stop=("\n",)),
            (41, 42),
        )
        [generations] = run(backend, request)
    bodies = sorted((call.body for call in server.calls), key=lambda b: b["seed"])
    assert [b["seed"] for b in bodies] == [41, 42]
    assert all("n" not in body for body in bodies)
    assert bodies[0]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    expected = {"temperature": 0.3, "top_p": 0.5, "max_tokens": 12, "stop": ["\n"]}
    assert {k: bodies[0][k] for k in expected} == expected
    assert bodies[0]["response_format"] == {} and bodies[0]["model"] == "m"
    assert [g.text for g in generations] == ["GOOD", "GOOD"]
    assert generations[0].formatted_prompt == "[system]\nBe brief.\n\n[user]\nHi"


def test_completions_with_dollys_template_render_and_cut_like_dolly() -> None:
    def answer(body: dict[str, Any], index: int) -> str:
        return " YES \n\n### End and more"

    with fake_server(answer=answer) as server:
        backend = build(
            server,
            mode="completions",
            template="dolly",
            send_seed=False,
            max_tokens_field="max_completion_tokens",
        )
        [[generation]] = run(backend, ask("Is it?", max_tokens=9))
    [call] = server.calls
    assert call.path == "/v1/completions"
    assert call.body["prompt"] == dolly_prompt("Is it?")
    assert call.body["stop"] == ["### End"]
    assert call.body["max_completion_tokens"] == 9 and "seed" not in call.body
    assert generation.text == "YES"


def test_n_asks_for_many_samples_per_request() -> None:
    with fake_server() as server:
        backend = build(server, n_per_request=4)
        [generations] = run(backend, ask(seeds=tuple(range(10, 20))))
    assert sorted((c.body.get("n", 1), c.body["seed"]) for c in server.calls) == [
        (2, 18),
        (4, 10),
        (4, 14),
    ]
    assert len(generations) == 10 and all(g.text == "GOOD" for g in generations)
    assert backend.n_honoured is True and backend.max_samples_per_request == 4


def test_an_endpoint_that_ignores_n_is_noticed_and_no_sample_is_lost() -> None:
    with fake_server(honour_n=False) as server:
        backend = build(server, n_per_request=5)
        [generations] = run(backend, ask(seeds=(1, 2, 3, 4, 5)))
        assert backend.n_honoured is False and backend.max_samples_per_request == 1
        [more] = run(backend, ask(seeds=(6, 7)))
    assert len(generations) == 5 and all(g.text == "GOOD" for g in generations)
    assert sorted(c.body["seed"] for c in server.calls) == [1, 2, 3, 4, 5, 6, 7]
    assert [c.body.get("n") for c in server.calls].count(5) == 1
    assert len(more) == 2


@pytest.mark.parametrize(
    ("answer", "text", "reason"),
    [
        ({"choices": [{"message": {"content": "hi"}}]}, "hi", None),  # no usage, index, reason
        ({"choices": [{"message": {"content": None, "refusal": "I can't."}}]}, "I can't.", None),
        ({"choices": [{"index": 0, "message": {}, "finish_reason": "length"}]}, "", "length"),
    ],
)
def test_sparse_answers_of_compatible_servers_are_read(
    answer: dict[str, Any], text: str, reason: str | None
) -> None:
    with fake_server(plan=lambda body, attempt: Fault(answer=answer)) as server:
        [[generation]] = run(build(server), ask())
    assert (generation.text, generation.finish_reason, generation.error) == (text, reason, None)
    assert generation.prompt_tokens is None and generation.completion_tokens is None
    assert generation.served_model is None and generation.served_fingerprint is None


def test_what_served_each_answer_is_kept() -> None:
    with fake_server(served_model="m-2024-08-06", system_fingerprint="fp_44709d6fcb") as server:
        [generations] = run(build(server, n_per_request=2), ask(seeds=(1, 2)))
    assert {(g.served_model, g.served_fingerprint) for g in generations} == {
        ("m-2024-08-06", "fp_44709d6fcb")
    }


@pytest.mark.parametrize(
    ("model", "fingerprint", "kept"),
    [
        (7, ["fp"], (None, None)),  # not strings: nothing is kept
        ("", "", (None, None)),
        ("m" * 5000, "fp", ("m" * MAX_IDENTITY_CHARS, "fp")),  # cut
        ("m\ud800", "fp", ("m\\ud800", "fp")),  # a lone surrogate, escaped for the store
        ("m\x1b[2J", "f\u202ep", ("m\\x1b[2J", "f\\u202ep")),  # never a terminal control
    ],
)
def test_a_served_identity_is_kept_only_as_a_short_encodable_string(
    model: object, fingerprint: object, kept: tuple[str | None, str | None]
) -> None:
    answer = {
        "model": model,
        "system_fingerprint": fingerprint,
        "choices": [{"message": {"content": "hi"}}],
    }
    with fake_server(plan=lambda body, attempt: Fault(answer=answer)) as server:
        [[generation]] = run(build(server), ask())
    assert generation.error is None
    assert (generation.served_model, generation.served_fingerprint) == kept


@pytest.mark.parametrize(
    "answer",
    [{"choices": []}, {"choices": ["x"]}, {"choices": [{"message": {"content": 3}}]}, {"id": 1}],
)
def test_answers_that_are_not_completions_are_errors(answer: dict[str, Any]) -> None:
    with fake_server(plan=lambda body, attempt: Fault(answer=answer)) as server:
        [[generation]] = run(build(server), ask())
    assert generation.text is None and generation.error is not None
    assert generation.error.startswith("unusable response") and len(server.calls) == 1


def test_usage_and_cost_are_tallied() -> None:
    with fake_server() as server:
        backend = build(server, n_per_request=3, price_per_1k_input=1.0, price_per_1k_output=2.0)
        [generations] = run(backend, ask(seeds=(1, 2, 3)))
    usage = backend.usage
    assert (usage.requests, usage.completion_tokens) == (1, 3)
    assert [g.completion_tokens for g in generations] == [1, 1, 1]
    assert usage.cost == pytest.approx((usage.prompt_tokens * 1.0 + 3 * 2.0) / 1000)


# --- retries -------------------------------------------------------------------------------


def first_attempts_fail(fault: Fault, failures: int = 1) -> Any:
    return lambda body, attempt: fault if attempt < failures else OK


@pytest.mark.parametrize(
    ("fault", "failures"),
    [
        (Fault(status=500), 2),
        (Fault(status=503), 1),
        (Fault(status=429), 2),
        (Fault(drop=True), 2),
        (Fault(delay_s=4.0), 1),  # past timeout_s
        (Fault(status=400, message="x"), 0),
    ],
    ids=["500", "503", "429", "dropped", "slow", "none"],
)
def test_transient_failures_are_retried_until_the_sample_comes(fault: Fault, failures: int) -> None:
    with fake_server(plan=first_attempts_fail(fault, failures)) as server:
        backend = build(server, timeout_s=1.0)
        [[generation]] = run(backend, ask())
    assert generation.text == "GOOD" and generation.error is None
    assert len(server.calls) == failures + 1
    assert backend.usage.retries == failures


def test_timeouts_and_dropped_connections_are_told_apart(transport: str) -> None:
    """aiohttp's dropped connection reaches the client as a timeout; the error says which."""

    def plan(body: dict[str, Any], attempt: int) -> Fault:
        return Fault(drop=True) if body["seed"] == 1 else Fault(delay_s=2.0)

    with fake_server(plan=plan) as server:
        backend = build(server, timeout_s=0.5, max_retries=1)
        [[dropped], [slow]] = run(backend, ask(seeds=(1,)), ask(seeds=(2,)))
    assert dropped.error is not None and dropped.error.startswith("connection failed"), dropped
    assert slow.error == "timed out after 0.5s (after 2 attempts)"


def test_a_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Behind a corporate proxy (HTTP_PROXY), requests go through it, on either transport: the
    fake server stands in for the proxy and answers what it is sent for an unreachable host."""
    with fake_server() as proxy:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        backend = build(base_url="http://upstream.invalid/v1", timeout_s=5.0, max_retries=0)
        [[generation]] = run(backend, ask())
    assert generation.text == "GOOD", generation.error
    [call] = proxy.calls
    assert call.path == "http://upstream.invalid/v1/chat/completions"


def not_installed(monkeypatch: pytest.MonkeyPatch, package: str) -> None:
    """Make ``package`` look uninstalled to ``importlib.util.find_spec``, as the backend asks."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == package else real(name, *a)
    )


def test_without_the_client_installed_the_model_fails_at_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    not_installed(monkeypatch, "openai")
    with pytest.raises(BackendError, match="needs the openai package") as caught:
        build()
    assert "promptcheck[openai]" in (caught.value.hint or "")


def test_http_client_aiohttp_without_aiohttp_fails_at_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    not_installed(monkeypatch, "aiohttp")
    with pytest.raises(BackendError, match="aiohttp needs the aiohttp package") as caught:
        build(http_client="aiohttp")
    assert "http_client: httpx" in (caught.value.hint or "")
    with fake_server() as server:  # auto falls back to httpx
        [[generation]] = run(build(server, http_client="auto"), ask())
    assert generation.text == "GOOD"


def test_retry_after_is_honoured() -> None:
    plan = first_attempts_fail(Fault(status=429, retry_after="0.4"))
    with fake_server(plan=plan) as server:
        [[generation]] = run(build(server), ask())
    first, second = server.calls
    assert generation.text == "GOOD"
    assert second.at - first.at >= 0.38


def test_failures_that_outlast_the_retries_are_error_samples() -> None:
    with fake_server(plan=lambda body, attempt: Fault(status=503)) as server:
        backend = build(server, max_retries=2, n_per_request=2)
        [generations] = run(backend, ask(seeds=(1, 2, 3)))
    assert len(generations) == 3
    assert all(g.text is None and g.error for g in generations)
    assert generations[0].error == "HTTP 503: injected 503 (after 3 attempts)"
    assert len(server.calls) == 2 * 3 and backend.usage.failed_requests == 2


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=400, message="bad"),
        Fault(status=404),
        Fault(status=429, code="insufficient_quota"),
        Fault(garbage=True),
        Fault(choices=0),
    ],
    ids=["400", "404", "quota", "garbage", "no-choices"],
)
def test_failures_retrying_cannot_cure_are_errors_at_once(fault: Fault) -> None:
    with fake_server(plan=lambda body, attempt: fault) as server:
        [[generation]] = run(build(server), ask())
    assert generation.text is None and generation.error
    assert len(server.calls) == 1


def test_a_retry_after_beyond_max_wait_ends_the_retries() -> None:
    plan = first_attempts_fail(Fault(status=429, retry_after="30"))
    with fake_server(plan=plan) as server:
        started = time.monotonic()
        [[generation]] = run(build(server, max_wait_s=1), ask())
    assert generation.error is not None and "HTTP 429" in generation.error
    assert len(server.calls) == 1 and time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "1.5", "retry-after-ms": "junk"}, 1.5),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # in the past
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_forms(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_seconds(headers) == seconds


# --- limits ----------------------------------------------------------------------------------


def test_in_flight_requests_are_bounded() -> None:
    with fake_server(latency_s=0.05) as server:
        backend = build(server, concurrency=3, n_per_request=1)
        [generations] = run(backend, ask(seeds=tuple(range(12))))
    assert len(generations) == 12 and 1 < server.most_in_flight <= 3


def test_the_pacer_spends_a_second_of_budget_then_spaces_requests() -> None:
    pacer = Pacer(per_minute=120)  # 2 per second
    waits = [pacer.reserve(1) for _ in range(5)]
    assert waits[:2] == [0.0, 0.0]
    assert waits[2:] == pytest.approx([0.5, 1.0, 1.5], abs=0.01)
    # 10 tokens a second, a bucket of 10: a request of 30 tokens waits 2 s (for the 20 it lacks)
    # before it is sent; one bigger than the bucket is never refused, only delayed
    tokens = Pacer(per_minute=600)
    assert tokens.reserve(30) == pytest.approx(2.0, abs=0.01)


def test_a_requests_per_minute_limit_spaces_real_requests() -> None:
    started = time.monotonic()  # before the bucket exists: a lower bound of its start
    with fake_server() as server:
        backend = build(server, rpm=600, n_per_request=1)  # 10 a second, a bucket of 10
        [generations] = run(backend, ask(seeds=tuple(range(20))))
    arrivals = sorted(call.at for call in server.calls)
    assert len(generations) == 20 and len(arrivals) == 20
    # the 10 beyond the bucket are sent 0.1 s apart, the last a second after the bucket's start;
    # measured from before the bucket exists, so a slow machine only makes the gap longer (from
    # the first arrival it would not be: that request may reach the server late)
    assert arrivals[-1] - started >= 0.95


def test_a_tokens_per_minute_limit_spaces_real_requests() -> None:
    started = time.monotonic()  # before the bucket exists: a lower bound of its start
    with fake_server() as server:
        backend = build(server, tpm=6000, n_per_request=1)  # 100 tokens a second, a bucket of 100
        # each request counts at least its 20 completion tokens and 8 of overhead
        [generations] = run(backend, ask(seeds=tuple(range(8)), max_tokens=20))
    arrivals = sorted(call.at for call in server.calls)
    assert len(generations) == 8 and len(arrivals) == 8
    # 8 x 28 tokens against a bucket of 100 at 100 a second: the 5th goes 0.40 s in, the 8th
    # 1.24 s in, or later (measured from before the bucket exists: slowness only adds)
    assert arrivals[4] - started >= 0.38
    assert arrivals[7] - started >= 1.2


def test_a_backend_serves_one_event_loop_after_another() -> None:
    with fake_server() as server:
        backend = build(server)
        first = run(backend, ask())
        second = run(backend, ask())
    assert first[0][0].text == second[0][0].text == "GOOD"
