"""What the runner is asked to do and what it hands back: plain records, no behaviour.

The session and the live comparison build jobs from the items pytest selected (:class:`CaseRef`)
and keep what was sampled until each item reports it (:class:`SampledCase`).
"""

from __future__ import annotations

from dataclasses import dataclass

from promptcheck.results import CaseResult
from promptcheck.stats import Comparison
from promptcheck.suite.records import CaseSpec, ModelConfig, SuiteSpec


@dataclass(frozen=True)
class CaseRef:
    """A case on a model as one pytest item asks for it; ``key`` is the item's node id."""

    key: str
    suite: SuiteSpec
    case: CaseSpec
    model: ModelConfig


@dataclass(frozen=True)
class SampledCase:
    """A case sampled with its group, waiting for its item to report (and record) it; in a
    comparison with a live (or topped-up) baseline, the baseline's result and model too."""

    suite: SuiteSpec
    model: ModelConfig
    result: CaseResult
    baseline: CaseResult | None = None
    baseline_model: ModelConfig | None = None


@dataclass(frozen=True)
class CaseJob:
    """One case to sample on one model: the unit :meth:`Runner.run_cases` overlaps. ``draw``
    other than "" draws the model's samples afresh (new seeds): a re-recorded baseline."""

    case: CaseSpec
    model: ModelConfig
    samples: int | None = None
    adaptive: bool = False
    draw: str = ""


@dataclass(frozen=True)
class ComparisonJob:
    """One case on a candidate against a baseline: a live model, or a pinned stored result.

    A pinned result is used as it is (its samples are not drawn again); a live baseline is
    sampled alongside the candidate, round for round when adaptive. ``tolerance`` is the drop
    an early "unchanged" rules out, ``beta`` this case's share of the suite's beta (the suite's
    over its number of cases); ``baseline_stopped`` says a pinned baseline was itself stopped by
    adaptive sampling (its count is then bounded anytime-validly); ``baseline_draw`` is the
    draw of a live baseline re-recorded afresh.
    """

    case: CaseSpec
    candidate: ModelConfig
    baseline: ModelConfig | CaseResult
    samples: int | None = None
    adaptive: bool = False
    margin: float = 0.0
    tolerance: float = 0.15
    beta: float = 0.2
    baseline_stopped: bool = False
    baseline_draw: str = ""


@dataclass(frozen=True)
class ComparedCase:
    """What a :class:`ComparisonJob` produced. ``comparison`` is the sequential comparison of
    an adaptive job (None for a fixed one: the exact tests of
    :mod:`promptcheck.stats.two_sample` apply)."""

    candidate: CaseResult
    baseline: CaseResult
    comparison: Comparison | None = None
