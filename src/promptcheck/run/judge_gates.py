"""Which judging checks gate a case: the floor on a judge's calibration against human ratings.

A judge (``judge``, ``self_critique``) whose recorded calibration is below the project's
``judge_floor`` (docs/review.md) still runs and its verdicts are still reported, but they do not
decide whether a sample conforms: like the pairwise judge's, they are diagnosis. The decision is
recorded in the store by ``promptcheck review`` when a review set is locked (or by ``promptcheck
review calibrate``), from locked ratings only, so a gate never moves while ratings are still
coming in; the runner only reads it, through the narrow :class:`JudgeGates` its cache (the
store) offers. A judge with no recorded calibration gates, as before there was review.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from promptcheck.suite import CaseSpec, ModelConfig

#: Key in ``CaseResult.properties`` of the verdicts of judging checks that did not gate.
DIAGNOSTIC_KEY = "diagnostic_checks"


@runtime_checkable
class JudgeGates(Protocol):
    """The part of the store that says which judges of a case do not gate, by (check index,
    judge model), with why."""

    def ungated_judges(self, suite: str, case_id: str) -> Mapping[tuple[int, str], str]: ...


def judge_name(check: object, model: str) -> str:
    """The model a judging check asks: its judge model, or ``model``, the model under test."""
    judge = getattr(check, "judge_model", None)
    return str(judge) if judge is not None else model


def diagnostic_checks(source: object, case: CaseSpec, model: ModelConfig) -> dict[int, str]:
    """The case's judging checks whose verdicts do not gate on ``model``, by check index, with
    why; empty when ``source`` records no calibrations (a cache that is not the store)."""
    if not isinstance(source, JudgeGates) or not any(c.judging for c in case.checks):
        return {}
    recorded = source.ungated_judges(case.suite, case.id)
    found = {}
    for compiled in case.checks:
        if compiled.judging:
            why = recorded.get((compiled.index, judge_name(compiled.check, model.name)))
            if why is not None:
                found[compiled.index] = why
    return found
