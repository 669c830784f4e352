"""Judges calibrated against people: sensitivity, specificity and kappa of each judging check
against the human labels, a judge-corrected conformance rate, and the floor that decides whether
a judge's verdicts gate.

A judging check is identified by its suite (name), case, check index and the model that judges
(the judge model, or the model under test for ``self_critique``): its ratings are pooled over
every run of that case the store holds, since a judge's error rates belong to the judge and the
rubric, not to one run. The truth is the human label of each sample (the majority of its raters'
latest ratings: :mod:`promptcheck.review.figures`); a sample the judge could not score, or that
humans split on, is left out. "Positive" is *pass*: sensitivity is how often the judge passes
what people pass, specificity how often it fails what people fail.

The corrected rate is per run: the judge's own pass rate over every sample it scored in that run
(rated or not), corrected by Rogan and Gladen's estimator with the calibration's sensitivity and
specificity, with an interval carrying all three uncertainties
(:func:`promptcheck.stats.agreement.rogan_gladen`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from promptcheck.config import JudgeFloor
from promptcheck.results import CaseResult, Status
from promptcheck.review.figures import human_labels, latest_verdicts
from promptcheck.review.items import Stratum, diagnostic_verdicts, sample_stratum
from promptcheck.stats.agreement import (
    Estimate,
    binary_table,
    cohen_kappa,
    effective_size,
    rogan_gladen,
    weighted_proportion,
)
from promptcheck.store import Store
from promptcheck.store.reviews import ItemKey, JudgeCalibrationRecord, Rating

#: Reads a run's case results (the store's method, or a cache in front of it).
CaseReader = Callable[[str], Sequence[CaseResult]]


class JudgeKey(NamedTuple):
    """One judging check of one case, by the model that judges."""

    suite: str
    case_id: str
    check_index: int
    judge: str
    label: str


@dataclass(frozen=True)
class Calibration:
    """One judge against the human labels: the 2x2 table and its figures."""

    key: JudgeKey
    both_pass: int
    judge_pass_human_fail: int
    judge_fail_human_pass: int
    both_fail: int
    sensitivity: Estimate
    specificity: Estimate
    kappa: Estimate
    #: Why the figures are not available (an output stratum with no label yet), else None.
    missing: str | None = None
    #: The weighted 2x2 table at Kish's effective size: (both pass, judge pass/human fail,
    #: judge fail/human pass, both fail) for Rogan-Gladen's correction.
    effective: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    @property
    def human_pass(self) -> int:
        return self.both_pass + self.judge_fail_human_pass

    @property
    def human_fail(self) -> int:
        return self.both_fail + self.judge_pass_human_fail

    @property
    def items(self) -> int:
        return self.human_pass + self.human_fail

    def as_dict(self) -> dict[str, Any]:
        return {
            "suite": self.key.suite,
            "case_id": self.key.case_id,
            "check_index": self.key.check_index,
            "judge": self.key.judge,
            "label": self.key.label,
            "both_pass": self.both_pass,
            "judge_pass_human_fail": self.judge_pass_human_fail,
            "judge_fail_human_pass": self.judge_fail_human_pass,
            "both_fail": self.both_fail,
            "sensitivity": self.sensitivity.as_dict(),
            "specificity": self.specificity.as_dict(),
            "kappa": self.kappa.as_dict(),
            "missing": self.missing,
        }


def calibrate(
    key: JudgeKey,
    pairs: Sequence[tuple[bool, bool]],
    weights: Sequence[float] | None = None,
    missing: str | None = None,
) -> Calibration:
    """The calibration from (human pass, judge pass) pairs, each weighted (default 1) by the
    inverse of its chance of being labelled: its stratum's outputs over those labelled
    (Begg and Greenes' correction for verification that depends on the automatic verdict).
    Se and Sp intervals are exact at the design-based effective size (kappa's table at Kish's);
    equal weights give the plain counts'."""
    (tp, fn), (fp, tn) = binary_table(pairs)  # rows: human pass / fail; columns: judge
    weights = list(weights) if weights is not None else [1.0] * len(pairs)
    cells: dict[tuple[bool, bool], list[float]] = {
        (h, j): [] for h in (True, False) for j in (True, False)
    }
    for pair, weight in zip(pairs, weights, strict=True):
        cells[pair].append(weight)
    if missing is not None:
        undefined = Estimate(None, (0.0, 1.0), len(pairs))
        return Calibration(
            key,
            tp,
            fp,
            fn,
            tn,
            undefined,
            undefined,
            Estimate(None, (-1.0, 1.0), len(pairs)),
            missing,
        )
    sensitivity = weighted_proportion(cells[True, True], cells[True, False])
    specificity = weighted_proportion(cells[False, False], cells[False, True])
    scale = effective_size(weights) / (sum(weights) or 1.0)
    table = [
        [sum(cells[True, True]) * scale, sum(cells[True, False]) * scale],
        [sum(cells[False, True]) * scale, sum(cells[False, False]) * scale],
    ]
    effective = (table[0][0], table[1][0], table[0][1], table[1][1])
    return Calibration(
        key,
        both_pass=tp,
        judge_pass_human_fail=fp,
        judge_fail_human_pass=fn,
        both_fail=tn,
        sensitivity=sensitivity,
        specificity=specificity,
        kappa=cohen_kappa(table),
        effective=effective,
    )


@dataclass(frozen=True)
class FloorDecision:
    """Whether a judge's verdicts gate, and why (or why not)."""

    gates: bool
    reason: str
    calibrated: bool


def floor_decision(calibration: Calibration, floor: JudgeFloor) -> FloorDecision:
    """Gate unless enough labelled items show the judge below ``floor`` (docs/review.md):
    with fewer than ``min_items`` human passes or fails the judge is uncalibrated and gates."""
    passes, fails = calibration.human_pass, calibration.human_fail
    if calibration.missing is not None:
        return FloorDecision(True, f"uncalibrated: {calibration.missing}", False)
    if passes < floor.min_items or fails < floor.min_items:
        return FloorDecision(
            True,
            f"uncalibrated: {passes} human passes and {fails} human fails rated, the floor "
            f"needs {floor.min_items} of each",
            False,
        )
    short = []
    bounds = (
        ("sensitivity", calibration.sensitivity, floor.sensitivity),
        ("specificity", calibration.specificity, floor.specificity),
        ("kappa", calibration.kappa, floor.kappa),
    )
    for name, estimate, wanted in bounds:
        if wanted is None:
            continue
        low = estimate.interval[0] if estimate.value is not None else None
        if low is None or low < wanted:
            shown = "undefined" if low is None else f"{low:.3f}"
            short.append(f"{name} 95% lower bound {shown} < floor {wanted:g}")
    if short:
        return FloorDecision(False, "below the calibration floor: " + "; ".join(short), True)
    return FloorDecision(True, "meets the calibration floor", True)


@dataclass(frozen=True)
class CorrectedRate:
    """A judge's pass rate in one run, and the rate corrected for its errors."""

    run_id: str
    key: JudgeKey
    positives: int
    judged: int
    corrected: Estimate

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "judge_pass": self.positives,
            "judged": self.judged,
            "judge_rate": self.positives / self.judged if self.judged else None,
            "corrected": self.corrected.as_dict(),
        }


@dataclass(frozen=True)
class CalibrationRow:
    """One judge: its calibration, its corrected rate in each run asked about, the floor's
    decision now, and what the store recorded from the locked ratings (None: nothing yet)."""

    calibration: Calibration
    corrected: tuple[CorrectedRate, ...]
    decision: FloorDecision
    recorded: JudgeCalibrationRecord | None

    def as_dict(self) -> dict[str, Any]:
        recorded = self.recorded
        return {
            **self.calibration.as_dict(),
            "items": self.calibration.items,
            "floor": {"gates": self.decision.gates, "reason": self.decision.reason},
            "recorded": None
            if recorded is None
            else {
                "gates": recorded.gates,
                "reason": recorded.reason,
                "recorded_at": recorded.recorded_at,
            },
            "corrected": [rate.as_dict() for rate in self.corrected],
        }


def judge_verdicts(run_id: str, case: CaseResult) -> dict[JudgeKey, dict[ItemKey, bool | None]]:
    """Each judging check's verdict on each sample of a case (None: unscored), gating or not."""
    found: dict[JudgeKey, dict[ItemKey, bool | None]] = {}
    judges = {
        figures.index: (figures.label, case.model if figures.judge == "self" else figures.judge)
        for figures in case.judges
    }
    for sample in case.samples:
        if sample.output is None:
            continue
        item = ItemKey(run_id, case.suite_path, case.case_id, case.model, sample.index)
        for check in sample.checks:
            if check.index in judges:
                label, judge = judges[check.index]
                key = JudgeKey(case.suite, case.case_id, check.index, judge, label)
                found.setdefault(key, {})[item] = _passed(check.status.value)
    diagnostic = {
        int(entry["index"]): str(entry["judge"])
        for entry in case.properties.get("diagnostic_checks") or ()
    }
    for sample_index, entries in diagnostic_verdicts(case).items():
        item = ItemKey(run_id, case.suite_path, case.case_id, case.model, sample_index)
        for index, label, status, _ in entries:
            key = JudgeKey(case.suite, case.case_id, index, diagnostic[index], label)
            found.setdefault(key, {})[item] = _passed(status)
    return found


def _passed(status: str) -> bool | None:
    if status == Status.PASS.value:
        return True
    if status == Status.FAIL.value:
        return False
    return None


def calibration_rows(
    cases: Mapping[str, Sequence[CaseResult]],
    ratings: Sequence[Rating],
    digests: Mapping[ItemKey, str],
    floor: JudgeFloor,
    *,
    runs: Sequence[str] = (),
    recorded: Sequence[JudgeCalibrationRecord] = (),
) -> list[CalibrationRow]:
    """The calibration of every judge with at least one labelled sample it scored, from
    ``cases`` (run id -> its case results: every run the ratings touch, and ``runs``), with its
    corrected rate in each of ``runs``; with ``runs``, only the judges of those runs' cases."""
    labels = human_labels(latest_verdicts(ratings, digests))
    verdicts: dict[JudgeKey, dict[ItemKey, bool | None]] = {}
    strata: dict[ItemKey, Stratum] = {}
    for run_id, results in cases.items():
        for case in results:
            for key, found in judge_verdicts(run_id, case).items():
                verdicts.setdefault(key, {}).update(found)
            for sample in case.samples:
                item = ItemKey(run_id, case.suite_path, case.case_id, case.model, sample.index)
                strata[item] = sample_stratum(case, sample)
    wanted = set(runs)
    stored = {(r.suite, r.case_id, r.check_index, r.judge): r for r in recorded}
    rows = []
    for key, by_item in sorted(verdicts.items()):
        if wanted and not any(item.run_id in wanted for item in by_item):
            continue
        labelled = [
            (item, human, judge)
            for item, judge in by_item.items()
            if judge is not None and (human := labels.get(item)) is not None
        ]
        if not labelled:
            continue
        weights, missing = _design_weights(by_item, [item for item, _, _ in labelled], strata)
        pairs = [(human, judge) for _, human, judge in labelled]
        calibration = calibrate(key, pairs, weights, missing)
        corrected = []
        for run_id in runs:
            judged = [judge for item, judge in by_item.items() if item.run_id == run_id]
            scored = [judge for judge in judged if judge is not None]
            if not scored:
                continue
            corrected.append(
                CorrectedRate(
                    run_id,
                    key,
                    sum(scored),
                    len(scored),
                    rogan_gladen(
                        sum(scored),
                        len(scored),
                        (
                            calibration.effective[0],
                            calibration.effective[0] + calibration.effective[2],
                        ),
                        (
                            calibration.effective[3],
                            calibration.effective[3] + calibration.effective[1],
                        ),
                    )
                    if calibration.missing is None
                    else Estimate(None, (0.0, 1.0), len(scored)),
                )
            )
        rows.append(
            CalibrationRow(
                calibration,
                tuple(corrected),
                floor_decision(calibration, floor),
                stored.get((key.suite, key.case_id, key.check_index, key.judge)),
            )
        )
    return rows


def _design_weights(
    by_item: Mapping[ItemKey, bool | None],
    labelled: Sequence[ItemKey],
    strata: Mapping[ItemKey, Stratum],
) -> tuple[list[float], str | None]:
    """Each labelled output's weight: the outputs the judge scored in its cell (run, case and
    queue stratum) over those labelled there. Only runs with a label count; a cell of such a
    run with outputs but no label leaves the calibration not available (None would bias it)."""
    rated_runs = {item.run_id for item in labelled}
    sizes: dict[tuple[str, str, str, Stratum], int] = {}
    for item, judge in by_item.items():
        if judge is not None and item.run_id in rated_runs:
            cell = (item.run_id, item.suite_path, item.case_id, strata[item])
            sizes[cell] = sizes.get(cell, 0) + 1
    counts: dict[tuple[str, str, str, Stratum], int] = {}
    for item in labelled:
        cell = (item.run_id, item.suite_path, item.case_id, strata[item])
        counts[cell] = counts.get(cell, 0) + 1
    empty = sorted((cell for cell in sizes if cell not in counts), key=str)
    if empty:
        run_id, _, case_id, stratum = empty[0]
        return [1.0] * len(labelled), (
            f"no {stratum.value} output of run {run_id} ({case_id}) labelled yet, of "
            f"{sizes[empty[0]]}: its figures would be biased"
        )
    weights = []
    for item in labelled:
        cell = (item.run_id, item.suite_path, item.case_id, strata[item])
        weights.append(sizes[cell] / counts[cell])
    return weights, None


def rated_runs(ratings: Sequence[Rating]) -> list[str]:
    return sorted({rating.item.run_id for rating in ratings})


def store_calibration(
    store: Store,
    floor: JudgeFloor,
    runs: Sequence[str] = (),
    *,
    locked_only: bool = False,
    case_results: CaseReader | None = None,
) -> list[CalibrationRow]:
    """:func:`calibration_rows` over what the store holds: every rating (or those of locked
    sets), the runs they rate and ``runs``. ``case_results`` reads a run's cases (default: the
    store's method; the review app passes its cache)."""
    case_results = case_results or store.case_results
    ratings = store.ratings()
    if not ratings:
        return []
    if locked_only:
        locked = intact_locked_sets(store)
        ratings = [rating for rating in ratings if rating.set_id in locked]
    every = sorted({*rated_runs(ratings), *runs})
    cases = {run_id: case_results(run_id) for run_id in every}
    digests: dict[ItemKey, str] = {}
    for run_id in every:
        digests.update(store.output_digests(run_id))
    return calibration_rows(
        cases,
        ratings,
        digests,
        floor,
        runs=runs,
        recorded=store.judge_calibrations(),
    )


def intact_locked_sets(store: Store) -> set[str]:
    """The locked sets whose ratings still give their recorded digest: a set changed after its
    lock is left out of every calibration (``promptcheck review verify`` names it)."""
    intact = set()
    for review_set in store.review_sets():
        lock = review_set.lock
        if lock is None:
            continue
        count, digest = store.current_digest(review_set.id)
        if (count, digest) == (lock.ratings, lock.digest):
            intact.add(review_set.id)
    return intact


def record_calibration(
    store: Store, floor: JudgeFloor, now: float, case_results: CaseReader | None = None
) -> list[JudgeCalibrationRecord]:
    """Compute every judge's calibration from the locked ratings and record it with the floor's
    decision: what the runner reads to know which judges gate (run/judge_gates.py)."""
    rows = store_calibration(store, floor, locked_only=True, case_results=case_results)
    records = [
        JudgeCalibrationRecord(
            suite=row.calibration.key.suite,
            case_id=row.calibration.key.case_id,
            check_index=row.calibration.key.check_index,
            judge=row.calibration.key.judge,
            label=row.calibration.key.label,
            figures={
                **row.calibration.as_dict(),
                "floor": {
                    "sensitivity": floor.sensitivity,
                    "specificity": floor.specificity,
                    "kappa": floor.kappa,
                    "min_items": floor.min_items,
                },
            },
            gates=row.decision.gates,
            reason=row.decision.reason,
            recorded_at=now,
        )
        for row in rows
    ]
    store.record_judge_calibrations(records)
    return records
