"""The compiled records of a suite: what the runner samples, with nothing left to validate.

The loader (:mod:`promptcheck.suite.loader`) makes them; the runner, the store and the reports
read them. They are plain frozen dataclasses so that a case is cheap to pass around and compare.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from promptcheck.backends.base import Message, SamplingParams
from promptcheck.checks.base import Check


@dataclass(frozen=True)
class Combination:
    """One assignment of the case's variables and the prompt rendered with it."""

    index: int
    variables: Mapping[str, Any]
    prompt: str | None
    messages: tuple[Message, ...] | None

    @property
    def display_prompt(self) -> str:
        """The prompt as stored and shown: the text, or the chat messages one per line."""
        if self.prompt is not None:
            return self.prompt
        return "\n".join(f"[{m.role}] {m.content}" for m in self.messages or ())


@dataclass(frozen=True)
class CompiledCheck:
    """A built check and its position in the case's ``expect`` list.

    ``judging`` marks a check that asks a model (it never scores a revision, and its agreement is
    measured); ``pairs`` are the expect indexes of the format checks it is compared with.
    """

    index: int
    label: str
    check: Check
    judging: bool = False
    pairs: tuple[int, ...] | None = None


@dataclass(frozen=True)
class CaseSpec:
    """A case ready to sample: everything resolved, nothing left to validate."""

    id: str
    suite: str
    path: Path
    line: int
    description: str
    combinations: tuple[Combination, ...]
    checks: tuple[CompiledCheck, ...]
    sampling: SamplingParams
    samples: int
    seed: int
    threshold: float
    tolerance: float
    tags: tuple[str, ...] = ()
    models: tuple[str, ...] | None = None
    judges: Mapping[str, ModelConfig] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelConfig:
    """A model as a backend will be built from it: name, backend and validated parameters."""

    name: str
    backend: str
    params: BaseModel
    raw: Mapping[str, Any]
    base_dir: Path

    @property
    def spec(self) -> dict[str, Any]:
        """The model as configured (backend and parameters), as a run records it."""
        return {"backend": self.backend, **self.raw}


@dataclass(frozen=True)
class SuiteSpec:
    """A compiled suite file."""

    id: str
    path: Path
    sha256: str
    description: str
    cases: tuple[CaseSpec, ...]
    models: Mapping[str, ModelConfig] = field(default_factory=dict)
    default_model: str | None = None
