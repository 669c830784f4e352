"""Judge calibration where the truth is known: a scripted judge with set sensitivity and
specificity, outputs rated by simulated raters, estimated by promptcheck's review code.

Each replicate draws a run of ``judged`` outputs, each truly passing with probability ``rate``;
the judge passes a truly passing output with probability ``se`` and fails a truly failing one
with probability ``sp``; ``rated`` of the outputs get one rating from each of ``raters`` raters,
each wrong with probability ``rater_error``, and the human label is their majority. The figures
come from :func:`promptcheck.review.calibration.calibration_rows`, the code behind the review
page, ``promptcheck show`` and the JSON report.

What the review estimates is the judge against the *human labels*, which differ from the truth
when raters err; the targets are therefore computed exactly from the scenario
(:func:`targets`): the sensitivity and specificity against the majority label, the kappa of the
judge with it, and the human-label pass rate (which the Rogan-Gladen correction recovers, by the
law of total probability). Coverage is the share of replicates whose 95% interval holds the
target. The baseline, measured in the same run, is the corrected rate's interval with the judge's
error rates taken as known (only the judge's own rate uncertain): what an interval that does not
carry the judge's uncertainty would claim.

tests/unit/review/test_calibration_simulation.py runs one scenario with fewer replicates and
Monte Carlo slack. Usage: python benchmarks/judge_calibration.py [--replicates 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import random
import time
from dataclasses import dataclass
from statistics import NormalDist

from promptcheck.config import JudgeFloor
from promptcheck.results import CaseResult, CheckOutcome, JudgeFigures, SampleOutcome, Status
from promptcheck.review.calibration import CalibrationRow, calibration_rows
from promptcheck.stats import threshold_verdict
from promptcheck.store.reviews import ItemKey, Rating

Z95 = NormalDist().inv_cdf(0.975)


@dataclass(frozen=True)
class Scenario:
    rate: float = 0.7
    se: float = 0.85
    sp: float = 0.75
    rater_error: float = 0.05
    raters: int = 3
    judged: int = 400
    rated: int = 200
    #: Rate a first run and correct a second, unrated one (a judge calibrated on an earlier
    #: run of the case), rather than rating part of the run corrected.
    separate: bool = False


@dataclass(frozen=True)
class Targets:
    sensitivity: float
    specificity: float
    kappa: float
    human_rate: float


def _majority_pass(prob_each_pass: float, raters: int) -> float:
    """P(more than half of ``raters`` independent raters say pass)."""
    need = raters // 2 + 1
    return sum(
        math.comb(raters, k) * prob_each_pass**k * (1 - prob_each_pass) ** (raters - k)
        for k in range(need, raters + 1)
    )


def targets(s: Scenario) -> Targets:
    """The judge against the majority label, exactly, for an odd number of raters."""
    assert s.raters % 2 == 1, "an odd number of raters never ties"
    h1 = _majority_pass(1 - s.rater_error, s.raters)  # P(label pass | truly passing)
    h0 = _majority_pass(s.rater_error, s.raters)  # P(label pass | truly failing)
    # joint P(judge, label), the judge and the raters independent given the truth
    pp = s.rate * h1 * s.se + (1 - s.rate) * h0 * (1 - s.sp)
    pf = s.rate * (1 - h1) * s.se + (1 - s.rate) * (1 - h0) * (1 - s.sp)  # judge p, label f
    fp = s.rate * h1 * (1 - s.se) + (1 - s.rate) * h0 * s.sp  # judge f, label p
    ff = s.rate * (1 - h1) * (1 - s.se) + (1 - s.rate) * (1 - h0) * s.sp
    label_pass = pp + fp
    judge_pass = pp + pf
    observed = pp + ff
    chance = label_pass * judge_pass + (1 - label_pass) * (1 - judge_pass)
    return Targets(
        sensitivity=pp / label_pass,
        specificity=ff / (1 - label_pass),
        kappa=(observed - chance) / (1 - chance),
        human_rate=label_pass,
    )


def judged_run(judge_passes: list[bool]) -> CaseResult:
    """A case whose samples carry only the judge's verdict (check 1, by model ``judge``)."""
    samples = tuple(
        SampleOutcome(
            index=i,
            combination=0,
            variables={},
            prompt="p",
            seed=i,
            output="x",
            checks=(CheckOutcome(1, "judge", Status.PASS if passed else Status.FAIL),),
        )
        for i, passed in enumerate(judge_passes)
    )
    figures = JudgeFigures(index=1, label="judge", judge="judge")
    passed = sum(judge_passes)
    return CaseResult(
        suite="s",
        suite_path="s.yaml",
        case_id="c",
        model="m",
        samples=samples,
        verdict=threshold_verdict(passed, len(judge_passes), 0.5),
        properties={"judges": [figures.as_dict()]},
    )


def replicate(s: Scenario, rng: random.Random) -> CalibrationRow:
    """One simulated run and its review, through the review's own calibration code."""
    truths = [rng.random() < s.rate for _ in range(s.judged)]
    case = judged_run([rng.random() < (s.se if truth else 1 - s.sp) for truth in truths])
    digests = {ItemKey("r", case.suite_path, "c", case.model, i): "d" for i in range(s.judged)}
    ratings = []
    for index in rng.sample(range(s.judged), s.rated):
        for rater in range(s.raters):
            says_pass = truths[index] != (rng.random() < s.rater_error)
            key = ItemKey("r", case.suite_path, "c", case.model, index)
            verdict = "pass" if says_pass else "fail"
            ratings.append(Rating("run:r", key, "d", f"rater{rater}", verdict, 1.0))
    cases = {"r": [case]}
    corrected = "r"
    if s.separate:
        fresh = [rng.random() < s.rate for _ in range(s.judged)]
        cases["r2"] = [judged_run([rng.random() < (s.se if t else 1 - s.sp) for t in fresh])]
        corrected = "r2"
    (row,) = calibration_rows(cases, ratings, digests, JudgeFloor(), runs=[corrected])
    return row


def known_error_interval(row: CalibrationRow) -> tuple[float, float]:
    """The baseline: the corrected rate's Wald interval with Se and Sp taken as known."""
    c = row.calibration
    (rate,) = row.corrected
    se = c.both_pass / c.human_pass
    sp = c.both_fail / c.human_fail
    p = rate.positives / rate.judged
    half = Z95 * math.sqrt(p * (1 - p) / rate.judged) / (se + sp - 1)
    centre = (p + sp - 1) / (se + sp - 1)
    return centre - half, centre + half


@dataclass
class Coverage:
    sensitivity: float
    specificity: float
    kappa: float
    corrected: float
    known_error_baseline: float
    corrected_width: float
    baseline_width: float


def coverage(s: Scenario, replicates: int, seed: int) -> Coverage:
    rng = random.Random(seed)
    truth = targets(s)
    hits = {"sensitivity": 0, "specificity": 0, "kappa": 0, "corrected": 0, "baseline": 0}
    widths = {"corrected": 0.0, "baseline": 0.0}
    for _ in range(replicates):
        row = replicate(s, rng)
        c = row.calibration
        (rate,) = row.corrected
        for name, estimate, target in (
            ("sensitivity", c.sensitivity, truth.sensitivity),
            ("specificity", c.specificity, truth.specificity),
            ("kappa", c.kappa, truth.kappa),
            ("corrected", rate.corrected, truth.human_rate),
        ):
            low, high = estimate.interval
            hits[name] += low <= target <= high
        low, high = known_error_interval(row)
        hits["baseline"] += low <= truth.human_rate <= high
        widths["corrected"] += rate.corrected.interval[1] - rate.corrected.interval[0]
        widths["baseline"] += high - low
    return Coverage(
        hits["sensitivity"] / replicates,
        hits["specificity"] / replicates,
        hits["kappa"] / replicates,
        hits["corrected"] / replicates,
        hits["baseline"] / replicates,
        widths["corrected"] / replicates,
        widths["baseline"] / replicates,
    )


SCENARIOS = {
    "good judge, careful raters": Scenario(),
    "weak judge (Se .7, Sp .6)": Scenario(se=0.7, sp=0.6),
    "few ratings (60 of 400)": Scenario(rated=60),
    "sloppy raters (10% wrong)": Scenario(rater_error=0.10),
    "rare failures (rate .95)": Scenario(rate=0.95, rated=300),
    "calibrated on another run": Scenario(separate=True),
    "another run, 60 ratings": Scenario(separate=True, rated=60),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        f"95% interval coverage over {args.replicates} replicates per scenario (seed {args.seed});"
        " baseline: the corrected rate's interval with the judge's error rates taken as known"
    )
    print(
        f"{'scenario':<30} {'Se':>6} {'Sp':>6} {'kappa':>6} {'corrected':>9} {'baseline':>9}"
        f" {'width':>6} {'base w':>6} {'w ratio':>7}"
    )
    for name, scenario in SCENARIOS.items():
        started = time.perf_counter()
        found = coverage(scenario, args.replicates, args.seed)
        print(
            f"{name:<30} {found.sensitivity:>6.3f} {found.specificity:>6.3f} {found.kappa:>6.3f}"
            f" {found.corrected:>9.3f} {found.known_error_baseline:>9.3f}"
            f" {found.corrected_width:>6.3f} {found.baseline_width:>6.3f}"
            f" {found.corrected_width / found.baseline_width:>7.2f}"
            f"  ({time.perf_counter() - started:.0f} s)"
        )


if __name__ == "__main__":
    main()
