"""Tool calls as text: the canonical rendering every report shows, and the exact reading of it
that gives a cached generation its calls back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcheck.backends.base import Generation, ToolCall
from promptcheck.backends.tool_calls import (
    TOOL_CALLS_FINISH,
    call_from_raw,
    call_from_value,
    calls_of,
    generation_with_calls,
    read_output,
    render_call,
    render_output,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=8,
)
names = st.text(min_size=1) | st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,20}", fullmatch=True)
calls = st.one_of(
    st.builds(call_from_value, names, json_values),
    st.builds(call_from_raw, names, st.text()),  # mostly broken JSON, as a model may send
)


def same(left: ToolCall, right: ToolCall) -> bool:
    """Equal as a check sees them: name, parsed arguments, and the raw text when it is not JSON."""
    if (left.name, left.arguments_error is None) != (right.name, right.arguments_error is None):
        return False
    if left.arguments_error is None:
        return bool(left.arguments == right.arguments)
    return left.raw_arguments == right.raw_arguments


@settings(max_examples=300, deadline=None)
@given(text=st.text(), made=st.lists(calls, min_size=1, max_size=4))
def test_a_rendering_reads_back_to_its_text_and_calls(text: str, made: list[ToolCall]) -> None:
    read = read_output(render_output(text, made))
    assert read is not None
    read_text, read_calls = read
    assert read_text == text
    assert len(read_calls) == len(made)
    assert all(same(a, b) for a, b in zip(made, read_calls, strict=True))


@settings(max_examples=200, deadline=None)
@given(text=st.text(), made=st.lists(calls, min_size=1, max_size=3))
def test_text_that_imitates_a_rendering_does_not_shift_the_boundary(
    text: str, made: list[ToolCall]
) -> None:
    """The model's text may itself end in separator and call lines; the count decides."""
    imitation = render_output(text, [call_from_value("fake", {"x": 1})])
    read = read_output(render_output(imitation, made))
    assert read is not None and read[0] == imitation and len(read[1]) == len(made)


def test_renderings_read_as_a_person_would_write_them() -> None:
    assert render_call(call_from_value("get_weather", {"city": "Zürich"})) == (
        'get_weather({"city": "Zürich"})'
    )
    assert render_call(call_from_raw("f", '{"a": ')) == 'f(<not JSON> "{\\"a\\": ")'
    assert render_call(call_from_value("two words", [])) == '"two words"([])'
    assert render_output("", [call_from_value("f", {})]) == "f({})"
    assert render_output("Sure.", [call_from_value("f", {}), call_from_value("g", 1)]) == (
        "Sure.\n[2 tool calls]\nf({})\ng(1)"
    )


@pytest.mark.parametrize(
    ("raw", "arguments", "error"),
    [
        ('{"a": [1, 2]}', {"a": [1, 2]}, None),
        ("", None, "invalid JSON at line 1 col 1: Expecting value"),
        ('{"a": NaN}', None, "invalid JSON: NaN is not valid JSON"),
        ("[" * 100_000, None, "nested too deeply"),
    ],
)
def test_arguments_are_parsed_strictly(raw: str, arguments: Any, error: str | None) -> None:
    call = call_from_raw("f", raw)
    assert (call.arguments, call.arguments_error, call.raw_arguments) == (arguments, error, raw)


def test_a_value_json_cannot_hold_is_kept_as_written() -> None:
    huge = call_from_raw("f", '{"x": 1e999}')  # valid JSON, parsed as infinity
    assert huge.arguments == {"x": float("inf")}
    rendered = render_call(huge)
    assert rendered.startswith("f(<not JSON> ")
    read = read_output(rendered)
    assert read is not None and read[1][0].arguments == {"x": float("inf")}
    assert call_from_value("f", {"x": float("nan")}).arguments_error is not None


@pytest.mark.parametrize(
    "output",
    ["plain text", "f(", "f({})\nnot a call", "[1 tool call]\nf(oops)", '"unterminated({})'],
)
def test_outputs_that_are_not_renderings_read_as_none(output: str) -> None:
    assert read_output(output) is None


def test_calls_are_read_from_text_only_for_a_generation_that_called_tools() -> None:
    made = generation_with_calls("", [call_from_value("f", {"a": 1})], "stop")
    assert made.finish_reason == TOOL_CALLS_FINISH and made.text == 'f({"a": 1})'
    cached = Generation(made.text, finish_reason=made.finish_reason)  # what the cache keeps
    assert calls_of(cached) == made.tool_calls
    # a model whose plain answer looks like a call did not call anything
    assert calls_of(Generation('f({"a": 1})', finish_reason="stop")) == ()
    assert calls_of(Generation("not a rendering", finish_reason=TOOL_CALLS_FINISH)) == ()
    plain = generation_with_calls("hi", [], "length")
    assert (plain.text, plain.finish_reason, plain.tool_calls) == ("hi", "length", ())


def test_raw_arguments_of_a_valid_call_survive_rendering_in_canonical_form() -> None:
    call = call_from_raw("f", '{ "b" : 1,\n  "a": 2 }')
    [read] = (read_output(render_output("", [call])) or ("", ()))[1]
    assert read.arguments == {"b": 1, "a": 2}
    assert json.loads(read.raw_arguments) == call.arguments
