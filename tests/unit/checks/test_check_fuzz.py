"""No output, however strange, makes a format check raise: it always answers with a CheckResult.

A model under test emits anything (truncated JSON, control characters, a megabyte of brackets), and
one exception in a check would abort a run of thousands of samples.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptcheck.checks import CHECKS, BuildContext, Check, CheckContext, CheckResult, Status
from promptcheck.importing import CodePolicy

FIXTURES = Path(__file__).parent / "fixtures"

#: Representative parameters of every built-in check; several where the code paths differ.
PARAMS: dict[str, list[Any]] = {
    "json": [None, {"fenced": True}],
    "json_schema": [
        "ticket.schema.json",
        {"schema": "refs/order.json", "fenced": True},
        {"schema": {"type": "array", "items": {"format": "date"}}, "check_formats": True},
    ],
    "pydantic": ["pc_fixture_models:Ticket", {"model": "pc_fixture_models:Nested", "fenced": True}],
    "regex": [
        "^A",
        {"pattern": r"(- [^\n]+\n?)+", "mode": "fullmatch"},
        {"pattern": "yes|no", "mode": "match", "flags": ["ignorecase", "multiline", "dotall"]},
    ],
    "options": [["A", "B", "C"], ["1", "2"], ["Yes", "No"], ["a", "b"]],
    "equals": ["YES", {"value": "ß", "case_sensitive": False, "strip": False}],
    "starts_with": ["A)", {"value": "İ", "case_sensitive": False}],
    "ends_with": [".", {"value": "X", "case_sensitive": False, "strip": False}],
    "contains": [["a", "b"], {"value": "ﬁ", "case_sensitive": False}],
    "not_contains": ["secret", {"value": ["X", "y"], "case_sensitive": False}],
    **{
        f"{bound}_{unit}": [3]
        for bound in ("min", "max")
        for unit in ("chars", "words", "lines", "items")
    },
    "python": [
        "pc_fixture_functions:is_upper",
        "pc_fixture_functions:echoes_prompt",
        {"function": "pc_fixture_functions:keyword_context", "args": {"word": "a"}},
        "pc_fixture_functions:raises",
        "pc_fixture_functions:returns_number",
        "pc_fixture_functions:async_contains_a",
    ],
    # without a model to ask, judges are unscored; test_judge_parsing fuzzes how they read answers
    "judge": [{"rubric": "three options", "model": "gpt"}],
    "self_critique": [None, {"question": "Three options?", "revise": True}],
    # they read the context's calls (none here); test_tool_checks fuzzes calls
    "tool_call": [None, {"name": "lookup", "count": 1, "arguments": {"city": "P.*"}}],
    "no_tool_call": [None, "lookup"],
}

CASES = [(name, raw) for name, raws in PARAMS.items() for raw in raws]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def jsonish(draw: st.DrawFn) -> str:
    """JSON, often cut short, fenced, or with a ticket's keys: outputs near the boundary."""
    value = draw(
        json_values
        | st.fixed_dictionaries(
            {"category": st.sampled_from(["bug", "x"]), "priority": st.sampled_from(["P1", "P9"])}
        )
    )
    text = json.dumps(value)
    text = text[: draw(st.integers(0, len(text)))] if draw(st.booleans()) else text
    if draw(st.booleans()):
        tag = draw(st.sampled_from(["json", "", "python", "JSON "]))
        text = f"{draw(st.text(max_size=5))}```{tag}\n{text}\n```{draw(st.text(max_size=5))}"
    return text


option_lines = st.lists(
    st.tuples(
        st.sampled_from(["", "  ", "- ", "**", "### ", "Option "]),
        st.sampled_from(["A", "B", "C", "D", "1", "10", "a", "Yes", "No", "(A", "(B"]),
        st.sampled_from([")", ".", ":", " -", "**", ".**", ""]),
        st.text(max_size=8),
    ).map("".join),
    max_size=6,
).map("\n".join)

OUTPUTS = (
    st.text()
    | jsonish()
    | option_lines
    | st.text(alphabet='{}[]":,0123456789.eE+-tfnrulaNI \n\t\\`', max_size=40)
    | st.text(alphabet=string.printable, max_size=200)
)


@functools.cache
def built(name: str, raw_json: str) -> Check:
    check_type = CHECKS.get(name)
    params = check_type.params.model_validate(json.loads(raw_json))
    return check_type.build(params, BuildContext(FIXTURES, CodePolicy(root=FIXTURES)))


def test_every_builtin_check_is_fuzzed() -> None:
    builtin = {
        name
        for name, check_type in CHECKS
        if getattr(check_type.build, "__module__", "").startswith("promptcheck.checks.")
    }
    assert builtin == set(PARAMS)


@pytest.mark.parametrize(("name", "raw"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(output=OUTPUTS)
def test_never_raises(name: str, raw: Any, output: str) -> None:
    check = built(name, json.dumps(raw))
    context = CheckContext(prompt="Options for a", variables={"k": 3}, case_id="fuzz")
    result = check.evaluate(output, context)
    if inspect.isawaitable(result):
        result = asyncio.run(result)  # type: ignore[arg-type]
    assert isinstance(result, CheckResult)
    assert isinstance(result.status, Status)
    assert isinstance(result.reason, str)
    assert len(result.reason) <= 300


@pytest.mark.parametrize("name", ["json", "json_schema", "pydantic"])
@pytest.mark.parametrize("output", ["[" * 100_000, '{"a":' * 50_000, "1" * 100_000])
def test_pathological_json(name: str, output: str) -> None:
    result = built(name, json.dumps(PARAMS[name][0])).evaluate(output, CheckContext(prompt=""))
    assert isinstance(result, CheckResult)
    assert result.status is Status.FAIL


def test_deeply_nested_valid_json_against_a_schema() -> None:
    check = built("json_schema", json.dumps({"items": {"$ref": "#"}, "type": "array"}))
    result = check.evaluate("[" * 900 + "]" * 900, CheckContext(prompt=""))
    assert isinstance(result, CheckResult)
