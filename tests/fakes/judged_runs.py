"""Runs scored by a format check and a judge, built by hand for the review's tests.

Each sample is ``(output, format check passes, judge verdict)``: check 0 is the format check
(``json_schema``), check 1 the judge (``judge`` by model ``judge``, paired with check 0), so the
stratum of every item and the judge's calibration are known exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from promptcheck.results import CaseResult, CheckOutcome, JudgeFigures, SampleOutcome, Status
from promptcheck.stats import threshold_verdict
from promptcheck.store.database import RunInfo, Store

Sample = tuple[str, bool, Status]


def judged_case(
    case_id: str,
    samples: Sequence[Sample],
    *,
    suite: str = "triage",
    suite_path: str = "suites/triage.yaml",
    model: str = "small",
    judge: str = "big",
    threshold: float = 0.9,
) -> CaseResult:
    outcomes = tuple(
        SampleOutcome(
            index=index,
            combination=0,
            variables={"n": index},
            prompt=f"Classify ticket {index} of {case_id} as JSON",
            seed=index,
            output=output,
            checks=(
                CheckOutcome(
                    0,
                    "json_schema",
                    Status.PASS if format_ok else Status.FAIL,
                    "" if format_ok else "not JSON",
                ),
                CheckOutcome(1, "judge", verdict, f"the judge said {verdict.value}"),
            ),
        )
        for index, (output, format_ok, verdict) in enumerate(samples)
    )
    conforming = sum(1 for o in outcomes if o.status == "pass")
    scored = sum(1 for o in outcomes if o.status in ("pass", "fail"))
    figures = JudgeFigures(index=1, label="judge", judge=judge, pairs=(0,))
    return CaseResult(
        suite=suite,
        suite_path=suite_path,
        case_id=case_id,
        model=model,
        samples=outcomes,
        verdict=threshold_verdict(conforming, scored, threshold),
        properties={"judges": [figures.as_dict()]},
    )


def record_run(
    store: Store, run_id: str, cases: Sequence[CaseResult], *, model: str = "small", at: float = 1.0
) -> str:
    store.create_run(RunInfo(run_id, run_id, model, {"backend": "scripted"}, at))
    for case in cases:
        store.record_case(run_id, case)
    store.finish_run(run_id, at + 1.0)
    return run_id
