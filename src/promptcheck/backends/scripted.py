"""The ``scripted`` backend: outputs drawn from fixed distributions, so tests know the true rate.

Each rule matches prompts by regex and gives weighted outputs (or errors); every sample draws from
them with its own seed, so a suite with 90% conformant outputs really is sampled at 0.9, and a
re-run reproduces it exactly. It is the backend of the tests and the benchmarks. An output may
call tools (``tool_calls``), so tool-calling suites have a model whose calls are known too.
"""

from __future__ import annotations

import asyncio
import bisect
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from promptcheck.backends.base import (
    BackendContext,
    Generation,
    GenerationRequest,
    ToolCall,
    register_backend,
)
from promptcheck.backends.tool_calls import call_from_raw, call_from_value, generation_with_calls


class ScriptedToolCall(BaseModel):
    """A call an output makes: the tool's name and its arguments (a mapping, or the raw text a
    model would send, which may be broken JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    arguments: dict[str, Any] | str = Field(default_factory=dict)

    def call(self) -> ToolCall:
        if isinstance(self.arguments, str):
            return call_from_raw(self.name, self.arguments)
        return call_from_value(self.name, self.arguments)


class ScriptedOutput(BaseModel):
    """One possible answer: a text, tool calls (with or without text), or an error standing for
    a failed API call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = None
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)
    error: str | None = None
    weight: float = Field(1.0, gt=0.0)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _text_or_error(self) -> ScriptedOutput:
        answered = self.text is not None or bool(self.tool_calls)
        if answered == (self.error is not None):
            raise ValueError(
                "an output needs exactly one of 'text' or 'error' ('tool_calls' may stand for, "
                "or go with, 'text')"
            )
        return self

    def generation(self, prompt: str, latency_s: float) -> Generation:
        if self.error is not None:
            return Generation(
                text=None, error=self.error, formatted_prompt=prompt, latency_s=latency_s
            )
        calls = [call.call() for call in self.tool_calls]
        return generation_with_calls(
            self.text or "", calls, "stop", formatted_prompt=prompt, latency_s=latency_s
        )


class ScriptedRule(BaseModel):
    """Outputs for prompts that match ``match`` (a regex searched in the prompt)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    match: str
    outputs: list[ScriptedOutput] = Field(min_length=1)

    @field_validator("match")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regex: {exc}") from None
        return value


class ScriptedParams(BaseModel):
    """``backend: scripted`` parameters: rules tried in order, then ``default``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[ScriptedRule] = Field(default_factory=list)
    default: list[ScriptedOutput] | None = None
    latency_ms: float = Field(0.0, ge=0.0, description="Simulated latency per request.")

    @model_validator(mode="after")
    def _something(self) -> ScriptedParams:
        if not self.rules and not self.default:
            raise ValueError("a scripted model needs 'rules' or 'default'")
        return self


class _Distribution:
    """Weighted outputs with precomputed cumulative weights, drawn from by seed."""

    def __init__(self, outputs: Sequence[ScriptedOutput]) -> None:
        self.outputs = list(outputs)
        total = 0.0
        self.cumulative = []
        for output in outputs:
            total += output.weight
            self.cumulative.append(total)
        self.total = total

    def draw(self, seed: int) -> ScriptedOutput:
        point = uniform(seed) * self.total
        return self.outputs[min(bisect.bisect_right(self.cumulative, point), len(self.outputs) - 1)]


def uniform(seed: int) -> float:
    """A uniform draw in [0, 1) determined by the seed (splitmix64: cheap and well mixed)."""
    z = (seed + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return ((z ^ (z >> 31)) >> 11) / float(1 << 53)


_MASK = (1 << 64) - 1


class ScriptedBackend:
    """Answers every request from the first rule whose regex matches the prompt."""

    max_samples_per_request = 1_000_000

    def __init__(self, params: ScriptedParams) -> None:
        self.latency_s = params.latency_ms / 1000.0
        self._rules = [
            (re.compile(rule.match), _Distribution(rule.outputs)) for rule in params.rules
        ]
        self._default = _Distribution(params.default) if params.default else None

    async def generate(self, request: GenerationRequest) -> list[Generation]:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        prompt = request.prompt
        if prompt is None:
            prompt = "\n".join(message.content for message in request.messages or ())
        distribution = self._distribution(prompt)
        if distribution is None:
            error = "no scripted rule matches this prompt and there is no default"
            return [Generation(text=None, error=error) for _ in request.seeds]
        return [
            distribution.draw(seed).generation(prompt, self.latency_s) for seed in request.seeds
        ]

    def _distribution(self, prompt: str) -> _Distribution | None:
        for pattern, distribution in self._rules:
            if pattern.search(prompt):
                return distribution
        return self._default


@register_backend("scripted", ScriptedParams)
def build_scripted(params: ScriptedParams, context: BackendContext) -> ScriptedBackend:
    """Outputs drawn from fixed weighted distributions: a model whose conformance is known."""
    return ScriptedBackend(params)
