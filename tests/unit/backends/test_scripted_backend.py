"""The scripted backend: weighted outputs drawn by seed, so tests know the true rate."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from promptcheck.backends.base import (
    Backend,
    BackendContext,
    Generation,
    GenerationRequest,
    Message,
    SamplingParams,
)
from promptcheck.backends.scripted import ScriptedBackend, ScriptedParams, build_scripted


def backend(**params: Any) -> ScriptedBackend:
    return ScriptedBackend(ScriptedParams.model_validate(params))


def generate(
    scripted: ScriptedBackend, seeds: range | list[int], prompt: str | None = "p", **request: Any
) -> list[Generation]:
    made = GenerationRequest(
        prompt=prompt,
        messages=request.get("messages"),
        params=SamplingParams(),
        seeds=tuple(seeds),
    )
    return asyncio.run(scripted.generate(made))


def test_it_is_a_backend() -> None:
    built = build_scripted(
        ScriptedParams.model_validate({"default": ["x"]}), BackendContext(Path("."))
    )
    assert isinstance(built, ScriptedBackend)
    assert isinstance(built, Backend)
    assert backend(default=["x"]).max_samples_per_request > 1000


@pytest.mark.parametrize("rate", [0.5, 0.9, 0.97])
def test_outputs_are_drawn_at_their_weights(rate: float) -> None:
    scripted = backend(
        default=[{"text": "good", "weight": rate}, {"text": "bad", "weight": 1 - rate}]
    )
    n = 20_000
    counts = Counter(g.text for g in generate(scripted, range(n)))
    assert abs(counts["good"] / n - rate) < 4 * math.sqrt(rate * (1 - rate) / n)


def test_the_same_seed_gives_the_same_output() -> None:
    scripted = backend(default=["a", "b", "c", "d"])
    seeds = [3, 99, 2**62, 7, 3]
    first = [g.text for g in generate(scripted, seeds)]
    assert first == [g.text for g in generate(backend(default=["a", "b", "c", "d"]), seeds)]
    assert first[0] == first[-1]
    assert len({g.text for g in generate(scripted, range(200))}) == 4


def test_errors_are_generations_with_an_error() -> None:
    scripted = backend(default=[{"error": "HTTP 503"}])
    generations = generate(scripted, range(3))
    assert [(g.text, g.error, g.finish_reason) for g in generations] == [
        (None, "HTTP 503", None)
    ] * 3


def test_a_generation_says_what_the_model_saw() -> None:
    generation = generate(backend(default=["x"]), [1], prompt="the prompt")[0]
    assert (generation.text, generation.formatted_prompt, generation.finish_reason) == (
        "x",
        "the prompt",
        "stop",
    )


def test_the_first_matching_rule_answers() -> None:
    scripted = backend(
        rules=[{"match": "^json", "outputs": ["{}"]}, {"match": "json|yaml", "outputs": ["y: 1"]}],
        default=["plain"],
    )
    assert generate(scripted, [1], "json please")[0].text == "{}"
    assert generate(scripted, [1], "some yaml or json")[0].text == "y: 1"
    assert generate(scripted, [1], "hello")[0].text == "plain"


def test_no_matching_rule_and_no_default_is_an_error_per_sample() -> None:
    scripted = backend(rules=[{"match": "^json", "outputs": ["{}"]}])
    generations = generate(scripted, range(2), "hello")
    assert [g.error for g in generations] == [
        "no scripted rule matches this prompt and there is no default"
    ] * 2


def test_chat_messages_are_matched_as_their_contents() -> None:
    scripted = backend(rules=[{"match": "be terse\nsay hi", "outputs": ["hi"]}])
    messages = (Message("system", "be terse"), Message("user", "say hi"))
    assert generate(scripted, [1], None, messages=messages)[0].text == "hi"


def test_latency_is_simulated_and_reported() -> None:
    generation = generate(backend(default=["x"], latency_ms=1), [1])[0]
    assert generation.latency_s == pytest.approx(0.001)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "a scripted model needs 'rules' or 'default'"),
        ({"default": []}, "a scripted model needs 'rules' or 'default'"),
        ({"default": [{"text": "a", "error": "b"}]}, "exactly one of 'text' or 'error'"),
        ({"default": [{"weight": 1}]}, "exactly one of 'text' or 'error'"),
        ({"default": [{"text": "a", "weight": 0}]}, "greater than 0"),
        ({"rules": [{"match": "(", "outputs": ["a"]}]}, "invalid regex"),
        ({"rules": [{"match": "a", "outputs": []}]}, "at least 1 item"),
        ({"default": ["a"], "temperature": 1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_parameters_are_refused(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ScriptedParams.model_validate(params)
