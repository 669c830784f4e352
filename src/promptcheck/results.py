"""Plain records of what a run produced: per check, per sample, per case.

The runner builds them, the store persists them, stats and reports read them. They hold no
behaviour beyond small derived properties, so every layer can share them without cycles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from promptcheck.checks.base import Status
from promptcheck.stats import ThresholdVerdict


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """One check's result on one sample. ``label`` is the check's ``expect`` key (``regex``)."""

    index: int
    label: str
    status: Status
    reason: str = ""
    score: float | None = None


@dataclass(frozen=True, slots=True)
class SampleOutcome:
    """One sample: what was asked, what came back, and what each check said of it.

    ``status`` is 'error' when no output came back (never counted against conformance),
    'fail' when any check failed, 'unscored' when none failed but one could not tell, else 'pass'.
    """

    index: int
    combination: int
    variables: Mapping[str, Any]
    prompt: str
    seed: int
    output: str | None
    checks: tuple[CheckOutcome, ...] = ()
    error: str | None = None
    formatted_prompt: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    cached: bool = False
    cache_key: str = ""

    @property
    def status(self) -> str:
        if self.error is not None or self.output is None:
            return "error"
        statuses = {check.status for check in self.checks}
        if Status.FAIL in statuses:
            return "fail"
        if Status.UNSCORED in statuses:
            return "unscored"
        return "pass"


@dataclass(frozen=True, slots=True)
class CheckTally:
    """How often one check passed, failed or could not tell, over the scored samples of a case."""

    index: int
    label: str
    passed: int = 0
    failed: int = 0
    unscored: int = 0


@dataclass(frozen=True)
class CaseResult:
    """All samples of one case on one model, with the threshold verdict."""

    suite: str
    suite_path: str
    case_id: str
    model: str
    samples: tuple[SampleOutcome, ...]
    verdict: ThresholdVerdict
    tallies: tuple[CheckTally, ...] = ()
    tags: tuple[str, ...] = ()
    properties: Mapping[str, Any] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(1 for sample in self.samples if sample.status == status)

    @property
    def errors(self) -> int:
        return self.count("error")
