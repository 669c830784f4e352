"""The tested configurations of docs/hosted-apis.md (Gemini's, Ollama's, vLLM's and TGI's
OpenAI-compatible endpoints), read from the page and sent a tool-calling request through the
real ``openai`` client, with each host replaced by the fake OpenAI server's: the URL path, the
authorization header and the samples are what the page says."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

pytest.importorskip("openai")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fakes

from fakes.openai_server import fake_server

from promptcheck.backends.base import (
    BACKENDS,
    BackendContext,
    Generation,
    GenerationRequest,
    SamplingParams,
    Tool,
)

PAGE = Path(__file__).resolve().parents[2] / "docs" / "hosted-apis.md"
LOOKUP = Tool("lookup", "Look it up.", {"type": "object", "properties": {"q": {"type": "string"}}})


def configurations() -> dict[str, dict[str, Any]]:
    found = re.search(
        r"<!-- tested-configurations -->\n```yaml\n(.*?)\n```", PAGE.read_text("utf-8"), re.S
    )
    assert found is not None, "docs/hosted-apis.md lost its tested configurations"
    loaded: dict[str, dict[str, Any]] = yaml.safe_load(found.group(1))
    return loaded


CONFIGURATIONS = configurations()


def answer(body: dict[str, Any], index: int) -> dict[str, Any]:
    call = {"name": "lookup", "arguments": '{"q": "weather"}'}
    return {"tool_calls": [{"id": f"call_{index}", "type": "function", "function": call}]}


def sample(settings: dict[str, Any], seeds: tuple[int, ...]) -> list[Generation]:
    entry = BACKENDS.get(settings["backend"])
    params = {k: v for k, v in settings.items() if k != "backend"}
    backend: Any = entry.build(entry.params.model_validate(params), BackendContext(Path(".")))
    request = GenerationRequest("Weather?", None, SamplingParams(tools=(LOOKUP,)), seeds)

    async def once() -> list[Generation]:
        try:
            return list(await backend.generate(request))
        finally:
            await backend.aclose()

    return asyncio.run(once())


def test_the_page_lists_the_providers_it_promises() -> None:
    assert set(CONFIGURATIONS) == {"gemini", "ollama", "vllm", "tgi"}


@pytest.mark.parametrize("honour_n", [True, False], ids=["n-honoured", "n-ignored"])
@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_a_documented_configuration_reaches_its_path_with_its_header(
    name: str, honour_n: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = dict(CONFIGURATIONS[name])
    documented = urlsplit(settings["base_url"])
    key_env = settings.get("api_key_env")
    if key_env is not None:
        monkeypatch.setenv(key_env, f"key-of-{name}")
    with fake_server(answer=answer, honour_n=honour_n) as server:
        settings["base_url"] = f"{server.root}{documented.path}"
        generations = sample(settings, seeds=(1, 2, 3))
    assert [g.text for g in generations] == ['lookup({"q": "weather"})'] * 3
    paths = {call.path for call in server.calls}
    assert paths == {documented.path.rstrip("/") + "/chat/completions"}
    expected = f"Bearer key-of-{name}" if key_env is not None else "Bearer unused"
    assert {call.headers["authorization"] for call in server.calls} == {expected}
    assert all(call.body["model"] == settings["model"] for call in server.calls)
    assert all(call.body["tools"][0]["function"]["name"] == "lookup" for call in server.calls)
