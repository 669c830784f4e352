"""The ``scripted`` backend: outputs drawn from fixed distributions, so tests know the true rate.

Each rule matches prompts by regex and gives weighted outputs (or errors); every sample draws from
them with its own seed, so a suite with 90% conformant outputs really is sampled at 0.9, and a
re-run reproduces it exactly. It is the backend of the tests and the benchmarks.
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
    register_backend,
)


class ScriptedOutput(BaseModel):
    """One possible answer: a text, or an error standing for a failed API call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = None
    error: str | None = None
    weight: float = Field(1.0, gt=0.0)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _text_or_error(self) -> ScriptedOutput:
        if (self.text is None) == (self.error is None):
            raise ValueError("an output needs exactly one of 'text' or 'error'")
        return self


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
        generations = []
        for seed in request.seeds:
            output = distribution.draw(seed)
            generations.append(
                Generation(
                    text=output.text,
                    error=output.error,
                    formatted_prompt=prompt,
                    latency_s=self.latency_s,
                    finish_reason="stop" if output.error is None else None,
                )
            )
        return generations

    def _distribution(self, prompt: str) -> _Distribution | None:
        for pattern, distribution in self._rules:
            if pattern.search(prompt):
                return distribution
        return self._default


@register_backend("scripted", ScriptedParams)
def build_scripted(params: ScriptedParams, context: BackendContext) -> ScriptedBackend:
    """Outputs drawn from fixed weighted distributions: a model whose conformance is known."""
    return ScriptedBackend(params)
