"""The openai backend's tools, structured outputs and Azure deployments, against the fake OpenAI
server: tools and response formats in the Chat Completions form, tool calls read back as records
and as text, Azure's URL shape, api-version and its two ways to authenticate."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

pytest.importorskip("openai")

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fakes package

from fakes.openai_server import FakeOpenAI, Fault, fake_server

from promptcheck.backends.base import (
    BACKENDS,
    BackendContext,
    Generation,
    GenerationRequest,
    ResponseFormat,
    SamplingParams,
    Tool,
)
from promptcheck.backends.openai_backend import OpenAIBackend
from promptcheck.backends.openai_params import OpenAIParams
from promptcheck.errors import BackendError

WEATHER = Tool(
    "get_weather",
    "The weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
AZURE_KEY = "azure-key-0123456789abcdef"
VERSION = "2024-10-21"


def build(server: FakeOpenAI | None = None, **settings: Any) -> OpenAIBackend:
    entry = BACKENDS.get("openai")
    raw: dict[str, Any] = {"model": "m", "backoff_s": 0.01, **settings}
    if "azure" not in raw:  # an Azure deployment's key comes from its own variable
        raw.setdefault("api_key_env", None)
        if server is not None:
            raw["base_url"] = server.url
    backend = entry.build(entry.params.model_validate(raw), BackendContext(Path(".")))
    assert isinstance(backend, OpenAIBackend)
    return backend


def run(backend: OpenAIBackend, **sampling: Any) -> Generation:
    async def once() -> Generation:
        try:
            request = GenerationRequest("hi", None, SamplingParams(**sampling), (7,))
            [generation] = await backend.generate(request)
        finally:
            await backend.aclose()
        return generation

    return asyncio.run(once())


def function_call(name: str, arguments: str) -> dict[str, Any]:
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


# --- tools and structured outputs ------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("auto", "auto"),
        ("required", "required"),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
        (None, None),
    ],
)
def test_tools_and_tool_choice_take_the_chat_apis_form(
    choice: str | None, sent: str | dict[str, Any] | None
) -> None:
    with fake_server() as server:
        run(build(server), tools=(WEATHER,), tool_choice=choice)
    [call] = server.calls
    assert call.body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city.",
                "parameters": dict(WEATHER.parameters),
            },
        }
    ]
    assert call.body.get("tool_choice") == sent


def test_a_response_format_is_a_json_schema_response_format() -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    with fake_server() as server:
        run(build(server), response_format=ResponseFormat(schema, "verdict", strict=False))
    assert server.calls[0].body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "verdict", "strict": False, "schema": schema},
    }


def test_tool_calls_come_back_as_records_and_as_text() -> None:
    def answer(body: dict[str, Any], index: int) -> dict[str, Any]:
        calls = [
            function_call("get_weather", '{"city": "Paris"}'),
            function_call("get_weather", '{"city": "Os'),  # cut short: not JSON
        ]
        return {"content": None, "tool_calls": calls}

    with fake_server(answer=answer) as server:
        generation = run(build(server), tools=(WEATHER,))
    first, second = generation.tool_calls
    assert (first.name, first.arguments, first.arguments_error) == (
        "get_weather",
        {"city": "Paris"},
        None,
    )
    assert second.arguments is None and second.raw_arguments == '{"city": "Os'
    assert second.arguments_error is not None and "invalid JSON" in second.arguments_error
    assert generation.finish_reason == "tool_calls"
    assert generation.text == (
        'get_weather({"city": "Paris"})\nget_weather(<not JSON> "{\\"city\\": \\"Os")'
    )


def test_text_beside_tool_calls_is_kept_before_them() -> None:
    def answer(body: dict[str, Any], index: int) -> dict[str, Any]:
        return {"content": "Checking.", "tool_calls": [function_call("f", "{}")]}

    with fake_server(answer=answer) as server:
        generation = run(build(server), tools=(Tool("f"),))
    assert generation.text == "Checking.\n[1 tool call]\nf({})"


@pytest.mark.parametrize(
    "tool_calls",
    [
        "not a list",
        [{"type": "function", "function": {"arguments": "{}"}}],
        [{"type": "function", "function": {"name": "f", "arguments": {"a": 1}}}],
    ],
    ids=["not-a-list", "no-name", "arguments-not-text"],
)
def test_malformed_tool_calls_are_unusable_answers(tool_calls: Any) -> None:
    answer = {"choices": [{"message": {"content": None, "tool_calls": tool_calls}}]}
    with fake_server(plan=lambda body, attempt: Fault(answer=answer)) as server:
        generation = run(build(server))
    assert generation.error is not None and generation.error.startswith("unusable response")


def test_tools_need_a_chat_endpoint() -> None:
    with fake_server() as server:
        backend = build(server, mode="completions")
        with pytest.raises(BackendError, match="need a chat endpoint"):
            run(backend, tools=(WEATHER,))
    assert server.calls == []


# --- Azure -------------------------------------------------------------------------------------


def azure(server: FakeOpenAI, **settings: Any) -> dict[str, Any]:
    return {"endpoint": server.root, "api_version": VERSION, **settings}


def test_an_azure_deployment_is_asked_at_its_url_with_the_api_key_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZURE_KEY)  # the default variable for Azure
    with fake_server(azure_api_version=VERSION, auth={"api-key": AZURE_KEY}) as server:
        backend = build(server, model="gpt-4o-mini", azure=azure(server, deployment="prod-4o"))
        monkeypatch.delenv("AZURE_OPENAI_API_KEY")  # read when built, never again
        generation = run(backend)
    assert generation.text == "GOOD", generation.error
    [call] = server.calls
    assert call.path == "/openai/deployments/prod-4o/chat/completions"
    assert call.query == {"api-version": VERSION}
    assert call.headers["api-key"] == AZURE_KEY and "authorization" not in call.headers
    assert "prod-4o" in repr(backend) and AZURE_KEY not in repr(backend)


def test_the_deployment_defaults_to_the_model_and_the_key_variable_can_be_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_AZURE_KEY", AZURE_KEY)
    with fake_server(azure_api_version=VERSION, auth={"api-key": AZURE_KEY}) as server:
        backend = build(server, model="gpt4o", api_key_env="MY_AZURE_KEY", azure=azure(server))
        generation = run(backend)
    assert generation.text == "GOOD", generation.error
    assert server.calls[0].path == "/openai/deployments/gpt4o/chat/completions"


def test_an_entra_id_token_is_sent_as_a_bearer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_TOKEN", "eyJ-entra-token")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZURE_KEY)  # must not be used beside a token
    with fake_server(
        azure_api_version=VERSION, auth={"authorization": "Bearer eyJ-entra-token"}
    ) as server:
        backend = build(server, azure=azure(server, ad_token_env="AZURE_TOKEN"))
        generation = run(backend)
    assert generation.text == "GOOD", generation.error
    assert "api-key" not in server.calls[0].headers


def test_a_wrong_key_or_api_version_is_an_error_sample_naming_neither_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "wrong-key-0123456789")
    with fake_server(azure_api_version=VERSION, auth={"api-key": AZURE_KEY}) as server:
        wrong_key = run(build(server, azure=azure(server)))
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZURE_KEY)
        wrong_version = run(build(server, azure=azure(server, api_version="2023-01-01")))
    assert wrong_key.error is not None and wrong_key.error.startswith("HTTP 401")
    assert wrong_version.error is not None and wrong_version.error.startswith("HTTP 404")
    assert "wrong-key" not in wrong_key.error and AZURE_KEY not in wrong_version.error


def test_a_missing_azure_key_or_token_fails_at_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("AZURE_TOKEN", raising=False)
    settings = {"endpoint": "https://x.openai.azure.com", "api_version": VERSION}
    with pytest.raises(BackendError, match="AZURE_OPENAI_API_KEY"):
        build(azure=settings)
    with pytest.raises(BackendError, match="AZURE_TOKEN") as caught:
        build(azure={**settings, "ad_token_env": "AZURE_TOKEN"})
    assert "api_key_env: null" not in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"base_url": "http://x/v1"}, "not both"),
        ({"api_key_env": "K", "azure": {"ad_token_env": "T"}}, "a key or a token"),
        ({"azure": {"endpoint": "https://x.openai.azure.com/openai"}}, "resource's URL"),
        ({"azure": {"ad_token_env": "eyJhbGciOi.secret.token"}}, "environment variable"),
        ({"azure": {"api_version": None}}, "api_version"),
    ],
)
def test_azure_settings_are_checked(settings: dict[str, Any], match: str) -> None:
    azure_settings = {"endpoint": "https://x.openai.azure.com", "api_version": VERSION}
    azure_settings.update(settings.pop("azure", {}))
    raw = {"model": "m", "azure": {k: v for k, v in azure_settings.items() if v is not None}}
    with pytest.raises(ValidationError, match=match) as caught:
        OpenAIParams.model_validate({**raw, **settings})
    assert "secret.token" not in " ".join(e["msg"] for e in caught.value.errors())
