"""A case's tools, tool_choice and response_format: short and long forms, schema files, what
reaches the sampling parameters and the checks, and what the cache keys make of them."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import pytest

from promptcheck.backends.base import ResponseFormat, Tool, ToolCall
from promptcheck.checks.base import CheckContext, Status
from promptcheck.project import ModelEntry, ProjectConfig
from promptcheck.run.model_access import model_key
from promptcheck.run.planning import plan_samples
from promptcheck.suite.loader import ModelConfig, SuiteSpec, load_suite, resolve_model

SUITE = """\
suite: tools
cases:
  - id: weather
    prompt: "Weather in {{ city }}?"
    vars: {city: [Paris]}
    tools:
      - name: get_weather
        description: The weather in a city.
        parameters: schemas/weather.json
      - name: noop
    tool_choice: get_weather
    expect:
      - tool_call: {name: get_weather, arguments: {city: Paris}}
  - id: structured
    prompt: Answer.
    response_format: {type: object, properties: {ok: {type: boolean}}}
    expect: [json]
  - id: structured-long
    prompt: Answer.
    response_format: {schema: schemas/weather.json, name: weather, strict: false}
    expect: [json]
  - id: plain
    prompt: Answer.
    expect: [json]
"""
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


def load(tmp_path: Path, text: str = SUITE) -> SuiteSpec:
    (tmp_path / "schemas").mkdir(exist_ok=True)
    (tmp_path / "schemas" / "weather.json").write_text(json.dumps(WEATHER_SCHEMA))
    path = tmp_path / "suite.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_suite(path, ProjectConfig(base_dir=tmp_path))


def test_tools_and_formats_reach_the_sampling_parameters(tmp_path: Path) -> None:
    cases = {case.id: case for case in load(tmp_path).cases}
    weather = cases["weather"].sampling
    assert weather.tools == (
        Tool("get_weather", "The weather in a city.", WEATHER_SCHEMA),
        Tool("noop", "", {"type": "object", "properties": {}}),
    )
    assert weather.tool_choice == "get_weather" and weather.response_format is None
    assert cases["structured"].sampling.response_format == ResponseFormat(
        {"type": "object", "properties": {"ok": {"type": "boolean"}}}, "response", True
    )
    assert cases["structured-long"].sampling.response_format == ResponseFormat(
        WEATHER_SCHEMA, "weather", False
    )
    assert cases["plain"].sampling.tools == () and cases["plain"].sampling.tool_choice is None


def test_the_checks_know_the_declared_tools(tmp_path: Path) -> None:
    [check] = [c.check for c in load(tmp_path).cases[0].checks]
    wrong = ToolCall("get_weather", {"city": 3}, '{"city": 3}')
    result = check.evaluate("", CheckContext(prompt="", tool_calls=(wrong,)))
    assert result.status is Status.FAIL  # type: ignore[union-attr]
    assert "is not of type 'string'" in result.reason  # type: ignore[union-attr]


def scripted() -> ModelConfig:
    entry = ModelEntry.model_validate({"backend": "scripted", "default": ["x"]})
    return resolve_model("m", entry, Path("."))


def keys(suite: SuiteSpec, case_id: str) -> list[str]:
    model = scripted()
    [case] = [case for case in suite.cases if case.id == case_id]
    return [sample.cache_key for sample in plan_samples(case, model, 3)]


def test_tools_are_part_of_the_cache_keys_and_absent_ones_change_nothing(
    tmp_path: Path,
) -> None:
    before = load(tmp_path)
    changed = load(tmp_path, SUITE.replace("description: The weather", "description: Weather"))
    assert keys(before, "weather") != keys(changed, "weather")
    assert keys(before, "plain") == keys(changed, "plain")
    no_choice = load(tmp_path, SUITE.replace("    tool_choice: get_weather\n", ""))
    assert keys(before, "weather") != keys(no_choice, "weather")
    strict = load(tmp_path, SUITE.replace("strict: false", "strict: true"))
    assert keys(before, "structured-long") != keys(strict, "structured-long")


def test_cache_keys_of_cases_without_tools_are_as_they_were(tmp_path: Path) -> None:
    """Adding tools to the format must not invalidate every cache: a case without them keeps
    the key its sampling parameters alone gave it (computed here as the planner always did)."""
    suite = load(tmp_path)
    model = scripted()
    [case] = [case for case in suite.cases if case.id == "plain"]
    sampling = case.sampling
    old_key = json.dumps(
        [sampling.temperature, sampling.top_p, sampling.max_tokens, list(sampling.stop)]
    )
    root = hashlib.sha256(f"{model_key(model)}\0Answer.\0{old_key}\0".encode())
    [first] = plan_samples(case, model, 1)
    root.update(f"0\0{first.seed}".encode())
    assert first.cache_key == root.hexdigest()


@pytest.mark.parametrize(
    "response_format", ['"schemas/weather.json"', "{name: w, schema: {type: object}}"]
)
def test_response_format_short_and_long_forms(tmp_path: Path, response_format: str) -> None:
    text = SUITE.replace(
        "response_format: {type: object, properties: {ok: {type: boolean}}}",
        f"response_format: {response_format}",
    )
    [structured] = [c for c in load(tmp_path, text).cases if c.id == "structured"]
    assert structured.sampling.response_format is not None
    assert structured.sampling.response_format.schema["type"] == "object"
