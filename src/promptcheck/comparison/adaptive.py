"""Adaptive runs, compared again after the fact: what a run must record, and how it is read.

A live adaptive comparison decides each case with :class:`promptcheck.stats.ComparisonMonitor`:
its p-values stay valid however the case stopped, but they are computed from the path of both
runs' samples, which the stored counts no longer show. So the candidate's result records its
sequential comparison under ``properties["adaptive"]["comparison"]``, with the baseline run it
was made against and the counts it saw; ``promptcheck compare`` of the same two runs reads it
back (:func:`recorded_comparison`), and gets the live gate's verdicts. Any other case that was
sampled adaptively (a threshold run with ``--promptcheck-adaptive``, or a comparison against
another baseline) is compared with anytime-valid bounds instead
(:func:`promptcheck.stats.stopped_comparison`): never as if its count were a fixed sample.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from promptcheck.results import ADAPTIVE_KEY, CaseResult
from promptcheck.stats import Comparison

#: Key of the recorded sequential comparison inside ``properties["adaptive"]``.
RECORD_KEY = "comparison"


def sampled_adaptively(result: CaseResult) -> bool:
    """Whether adaptive sampling drew this case (so its count is not a fixed-size sample)."""
    return isinstance(result.properties.get(ADAPTIVE_KEY), Mapping)


def record(comparison: Comparison, baseline_run: str) -> dict[str, Any]:
    """A sequential comparison as JSON-ready data, for the candidate's ``properties``."""
    return {
        "baseline_run": baseline_run,
        "counts": [
            comparison.k_baseline,
            comparison.n_baseline,
            comparison.k_candidate,
            comparison.n_candidate,
        ],
        "margin": comparison.margin,
        "tolerance": comparison.tolerance,
        "p_regressed": comparison.p_regressed,
        "p_improved": comparison.p_improved,
        "p_noninferior": comparison.p_noninferior,
        "baseline_interval": list(comparison.baseline_interval),
        "candidate_interval": list(comparison.candidate_interval),
        "interval": list(comparison.interval),
        "note": comparison.note,
    }


def with_record(result: CaseResult, comparison: Comparison, baseline_run: str) -> CaseResult:
    """``result`` with its sequential comparison against ``baseline_run`` recorded."""
    adaptive = dict(result.properties.get(ADAPTIVE_KEY) or {})
    adaptive[RECORD_KEY] = record(comparison, baseline_run)
    return dataclasses.replace(result, properties={**result.properties, ADAPTIVE_KEY: adaptive})


def recorded_comparison(
    candidate: CaseResult, baseline_run: str, counts: tuple[int, int, int, int]
) -> Comparison | None:
    """The sequential comparison the candidate's run recorded, when it was made against
    ``baseline_run`` on exactly these counts (None otherwise, or when unreadable)."""
    adaptive = candidate.properties.get(ADAPTIVE_KEY)
    found = adaptive.get(RECORD_KEY) if isinstance(adaptive, Mapping) else None
    if not isinstance(found, Mapping) or found.get("baseline_run") != baseline_run:
        return None
    try:
        stored = tuple(int(value) for value in found["counts"])
        if stored != counts:
            return None
        k_b, n_b, k_c, n_c = stored
        return Comparison(
            k_b,
            n_b,
            k_c,
            n_c,
            margin=float(found["margin"]),
            tolerance=float(found["tolerance"]),
            baseline_interval=_pair(found["baseline_interval"]),
            candidate_interval=_pair(found["candidate_interval"]),
            interval=_pair(found["interval"]),
            p_regressed=float(found["p_regressed"]),
            p_improved=float(found["p_improved"]),
            p_noninferior=float(found["p_noninferior"]),
            method="sequential",
            note=str(found.get("note", "")),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _pair(value: Any) -> tuple[float, float]:
    low, high = value
    return float(low), float(high)
