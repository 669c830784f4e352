"""The scripted backend's tool calls: a stand-in model whose calls, like its texts, are known."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from pydantic import ValidationError

from promptcheck.backends.base import Generation, GenerationRequest, SamplingParams
from promptcheck.backends.scripted import ScriptedBackend, ScriptedParams


def generate(outputs: list[Any], seeds: range = range(1)) -> list[Generation]:
    backend = ScriptedBackend(ScriptedParams.model_validate({"default": outputs}))
    request = GenerationRequest("p", None, SamplingParams(), tuple(seeds))
    return list(asyncio.run(backend.generate(request)))


def test_an_output_may_be_tool_calls_alone_or_with_text() -> None:
    [alone] = generate([{"tool_calls": [{"name": "f", "arguments": {"a": 1}}]}])
    assert (alone.text, alone.finish_reason) == ('f({"a": 1})', "tool_calls")
    assert [(c.name, c.arguments) for c in alone.tool_calls] == [("f", {"a": 1})]
    [both] = generate([{"text": "On it.", "tool_calls": [{"name": "g"}, {"name": "f"}]}])
    assert both.text == "On it.\n[2 tool calls]\ng({})\nf({})"
    assert [c.name for c in both.tool_calls] == ["g", "f"]


def test_arguments_as_text_are_sent_as_a_model_would_send_them() -> None:
    [broken] = generate([{"tool_calls": [{"name": "f", "arguments": '{"city": "Par'}]}])
    [call] = broken.tool_calls
    assert call.arguments is None and call.raw_arguments == '{"city": "Par'
    assert call.arguments_error is not None


def test_calls_are_drawn_by_weight_like_texts() -> None:
    outputs = [
        {"tool_calls": [{"name": "f"}], "weight": 3},
        {"text": "no call", "weight": 1},
    ]
    drawn = Counter(bool(g.tool_calls) for g in generate(outputs, range(4000)))
    assert 0.72 < drawn[True] / 4000 < 0.78


@pytest.mark.parametrize(
    "output",
    [
        {},
        {"tool_calls": []},
        {"tool_calls": [{"name": "f"}], "error": "x"},
        {"tool_calls": [{"name": ""}]},
        {"tool_calls": [{"name": "f", "arguments": [1]}]},
    ],
)
def test_invalid_outputs_are_refused(output: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ScriptedParams.model_validate({"default": [output]})
