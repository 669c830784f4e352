"""Recorded runs built by hand: case results with chosen counts, for comparison tests.

A store round trip adds nothing to testing what is done with the counts, and choosing k and n
directly puts a test exactly on the case it means (a regression at 200 samples, an all-errored
baseline) without sampling a model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from promptcheck.results import CaseResult, CheckTally, SampleOutcome
from promptcheck.stats import threshold_verdict
from promptcheck.store.database import RunSummary


def run_summary(
    run_id: str,
    model: str = "demo",
    *,
    started_at: float = 1_000.0,
    finished: bool = True,
    label: str | None = None,
    commit: str | None = None,
    suites: Mapping[str, str] | None = None,
) -> RunSummary:
    return RunSummary(
        id=run_id,
        session=run_id,
        model=model,
        model_spec={"backend": "scripted"},
        started_at=started_at,
        finished_at=started_at + 60.0 if finished else None,
        label=label,
        git_commit=commit,
        suites=dict(suites or {}),
    )


def case_result(
    case_id: str,
    k: int,
    n: int,
    *,
    suite_path: str = "suites/a.yaml",
    errors: int = 0,
    tags: Sequence[str] = (),
    tallies: Sequence[tuple[str, int, int]] = (),
    model: str = "demo",
) -> CaseResult:
    """``k`` conforming of ``n`` scored samples, plus ``errors`` errored ones.

    ``tallies`` are ``(label, passed, failed)`` per check, indexed in order.
    """
    samples = tuple(
        SampleOutcome(
            index=i,
            combination=0,
            variables={},
            prompt="p",
            seed=i,
            output=None if i < errors else "out",
            error="boom" if i < errors else None,
        )
        for i in range(n + errors)
    )
    return CaseResult(
        suite=suite_path.rsplit("/", 1)[-1].split(".")[0],
        suite_path=suite_path,
        case_id=case_id,
        model=model,
        samples=samples,
        verdict=threshold_verdict(k, n, 0.95),
        tallies=tuple(
            CheckTally(index, label, passed, failed)
            for index, (label, passed, failed) in enumerate(tallies)
        ),
        tags=tuple(tags),
    )
