"""tool_call and no_tool_call: which tool, how many calls, arguments against the declared or a
stricter schema and patterns; every reason names the call; nothing a model calls makes them
raise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from promptcheck.backends.base import Tool, ToolCall
from promptcheck.backends.tool_calls import call_from_raw, call_from_value
from promptcheck.checks import CHECKS, BuildContext, Check, CheckContext, CheckResult, Status
from promptcheck.errors import ConfigError

WEATHER = Tool(
    "get_weather",
    "The weather in a city.",
    {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
        "required": ["city"],
    },
)
SEARCH = Tool("search", "Search the web.", {"type": "object", "properties": {"q": {}}})
TOOLS = (WEATHER, SEARCH)


def build(name: str, raw: Any, tools: tuple[Tool, ...] = TOOLS, base: Path = Path(".")) -> Check:
    check_type = CHECKS.get(name)
    return check_type.build(check_type.params.model_validate(raw), BuildContext(base, tools=tools))


def judge(check: Check, *calls: ToolCall, output: str = "hi") -> CheckResult:
    result = check.evaluate(output, CheckContext(prompt="p", tool_calls=calls))
    assert isinstance(result, CheckResult)
    return result


def weather(**arguments: Any) -> ToolCall:
    return call_from_value("get_weather", arguments)


# --- tool_call -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "calls", "reason"),
    [
        (None, (), "no tool call; the output is text: 'hi'"),
        ("get_weather", (call_from_value("search", {"q": "x"}),), "no call to get_weather; "),
        ({"name": "get_weather", "count": 1}, (weather(city="A"), weather(city="B")), "2 calls"),
        ({"count": 3}, (weather(city="A"),), "1 call in all, expected 3"),
        (
            {"name": "get_weather", "only": True},
            (weather(city="A"), call_from_value("search", {"q": "x"})),
            'also called search({"q": "x"})',
        ),
        (None, (call_from_value("delete_all", {}),), "delete_all: not a declared tool"),
        (None, (call_from_raw("get_weather", '{"city": '),), "get_weather: arguments are not JSON"),
        (None, (weather(city=3),), "get_weather: $.city: 3 is not of type 'string'"),
        (None, (weather(unit="kelvin"),), "get_weather: $: 'city' is a required property"),
        (
            {"name": "get_weather", "arguments": {"city": "[A-Z][a-z]+"}},
            (weather(city="paris"),),
            "get_weather: argument city = 'paris' does not match '[A-Z][a-z]+'",
        ),
        (
            {"name": "get_weather", "arguments": {"unit": "celsius"}},
            (weather(city="Oslo"),),
            "get_weather: argument unit is missing",
        ),
    ],
)
def test_failures_say_what_is_wrong_with_the_call(
    raw: Any, calls: tuple[ToolCall, ...], reason: str
) -> None:
    result = judge(build("tool_call", raw), *calls)
    assert result.status is Status.FAIL
    assert result.reason.startswith(reason), result.reason


@pytest.mark.parametrize(
    ("raw", "calls"),
    [
        (None, (weather(city="Paris"),)),
        ("get_weather", (call_from_value("search", {}), weather(city="Oslo"))),
        ({"count": 2}, (weather(city="A"), call_from_value("search", {}))),
        (
            {"name": "get_weather", "count": 1, "only": True, "arguments": {"city": "Paris|Oslo"}},
            (weather(city="Oslo", unit="celsius"),),
        ),
    ],
)
def test_conforming_calls_pass(raw: Any, calls: tuple[ToolCall, ...]) -> None:
    assert judge(build("tool_call", raw), *calls).status is Status.PASS


def test_argument_patterns_reach_nested_values_and_match_non_strings_as_json() -> None:
    booking = Tool("book", parameters={"type": "object"})
    check = build(
        "tool_call",
        {"name": "book", "arguments": {"seat.row": r"\d+", "seat.window": "true"}},
        (booking,),
    )
    good = call_from_value("book", {"seat": {"row": 12, "window": True}})
    bad = call_from_value("book", {"seat": {"row": "twelve", "window": True}})
    assert judge(check, good).status is Status.PASS
    assert judge(check, bad).reason == (
        "book: argument seat.row = 'twelve' does not match '\\\\d+'"
    )


def test_a_stricter_schema_replaces_the_declared_one(tmp_path: Path) -> None:
    strict = {
        "type": "object",
        "properties": {"city": {"enum": ["Paris", "Oslo"]}},
        "required": ["city"],
        "additionalProperties": False,
    }
    (tmp_path / "cities.json").write_text(json.dumps(strict))
    for schema in (strict, "cities.json"):
        check = build("tool_call", {"name": "get_weather", "schema": schema}, base=tmp_path)
        assert judge(check, weather(city="Oslo")).status is Status.PASS
        declared_ok = weather(city="Rome")  # valid under the declared schema
        assert judge(build("tool_call", "get_weather"), declared_ok).status is Status.PASS
        assert "'Rome' is not one of" in judge(check, declared_ok).reason
        assert "Additional properties" in judge(check, weather(city="Oslo", unit="celsius")).reason


def test_without_declared_tools_any_call_is_a_call() -> None:
    check = build("tool_call", {"name": "anything"}, tools=())
    assert judge(check, call_from_value("anything", {"x": 1})).status is Status.PASS


@pytest.mark.parametrize(
    ("raw", "message", "hint"),
    [
        ("get_wether", "the case declares no tool 'get_wether'", "did you mean 'get_weather'?"),
        ("lookup", "the case declares no tool 'lookup'", "declared tools: get_weather, search"),
        ({"only": True}, "`only` needs the tool's `name`", None),
        ({"schema": {"type": 3}}, "inline schema is not a valid JSON Schema", None),
        ({"schema": "missing.json"}, "does not exist", None),
    ],
)
def test_configuration_mistakes_are_errors_when_built(
    raw: Any, message: str, hint: str | None
) -> None:
    with pytest.raises(ConfigError) as caught:
        build("tool_call", raw)
    assert message in caught.value.message
    if hint is not None:
        assert caught.value.hint == hint


@pytest.mark.parametrize(
    "raw", [{"arguments": {"city": "("}}, {"count": 0}, {"name": "f", "color": "red"}]
)
def test_invalid_parameters_are_refused(raw: Any) -> None:
    with pytest.raises(ValidationError):
        CHECKS.get("tool_call").params.model_validate(raw)


# --- no_tool_call --------------------------------------------------------------------------------


def test_no_tool_call_passes_on_text_and_fails_on_a_call() -> None:
    anything = build("no_tool_call", None)
    assert judge(anything).status is Status.PASS
    result = judge(anything, weather(city="Paris"))
    assert (result.status, result.reason) == (
        Status.FAIL,
        'called get_weather({"city": "Paris"})',
    )
    not_search = build("no_tool_call", "search")
    assert judge(not_search, weather(city="Paris")).status is Status.PASS
    assert judge(not_search, call_from_value("search", {})).status is Status.FAIL
    with pytest.raises(ConfigError, match="declares no tool 'serch'"):
        build("no_tool_call", "serch")


# --- whatever the model calls ------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children)
    ),
    max_leaves=10,
)
any_call = st.one_of(
    st.builds(call_from_value, st.sampled_from(["get_weather", "search", "x" * 300]), json_values),
    st.builds(call_from_raw, st.sampled_from(["get_weather", "search"]), st.text(max_size=300)),
)
CHECKS_UNDER_FUZZ = [
    ("tool_call", None),
    ("tool_call", {"name": "get_weather", "count": 1, "only": True, "arguments": {"city": "."}}),
    ("tool_call", {"arguments": {"a.b.c": ".*"}, "schema": {"type": "object"}}),
    ("no_tool_call", None),
]


@pytest.mark.parametrize(("name", "raw"), CHECKS_UNDER_FUZZ)
@settings(max_examples=150, deadline=None)
@given(calls=st.lists(any_call, max_size=4), output=st.text(max_size=400))
def test_no_call_makes_a_check_raise(
    name: str, raw: Any, calls: list[ToolCall], output: str
) -> None:
    result = judge(build(name, raw), *calls, output=output)
    assert isinstance(result.status, Status) and len(result.reason) <= 300
