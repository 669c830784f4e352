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

**In queue order** (``queue=True``, the second table) the rated outputs are the first ``rated``
items of the review queue, ordered by the project's own
:func:`~promptcheck.review.items.build_items` (disagreements between a judge and the format checks
first, then failing and passing outputs in turns, each stratum shuffled by the set's id, here one
set id per replicate), every rated item rated by all ``raters``. Which outputs get a label then
depends on the judge's verdict (verification bias); the review corrects it with stratum weights.
Each estimate is printed twice: as the review computes it (weighted by stratum; the human rate
per case from :func:`~promptcheck.review.figures.case_figures`, the page's stratified anytime
bounds) and, as the baseline measured on the same labels, unweighted (the same estimators with
every labelled output weighted alike: :func:`~promptcheck.review.calibration.calibrate` without
weights, Rogan-Gladen on the plain counts, and the anytime bound of k of n as one stratum).
With the judge the only check the strata are the judge's own verdicts; ``format_right`` adds a
format check and with it the disagreement stratum. A second table gives each estimate's mean
error (estimate - target), where the bias the weights remove shows directly.

tests/unit/review/test_calibration_simulation.py runs scenarios of both tables with fewer
replicates and Monte Carlo slack. Usage: python benchmarks/judge_calibration.py
[--replicates 2000] [--queue-replicates N] [--seed 0] [--only random|queue]
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
from promptcheck.review.calibration import CalibrationRow, calibrate, calibration_rows
from promptcheck.review.figures import CaseFigures, case_figures, latest_verdicts
from promptcheck.review.items import ReviewItem, build_items
from promptcheck.stats import threshold_verdict
from promptcheck.stats.agreement import Estimate, rogan_gladen
from promptcheck.stats.stratified import StratumCount, stratified_interval
from promptcheck.store.reviews import ItemKey, Rating, ReviewSet

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
    #: Rate the first ``rated`` items of the review queue (its own order, by the automatic
    #: verdicts) rather than a uniformly random subset.
    queue: bool = False
    #: A format check beside the judge, right (agreeing with the truth) with this probability,
    #: independently of the judge given the truth; None: the judge is the only check.
    format_right: float | None = None


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


def _status(passed: bool) -> Status:
    return Status.PASS if passed else Status.FAIL


def judged_run(judge_passes: list[bool], format_passes: list[bool] | None = None) -> CaseResult:
    """A case whose samples carry the judge's verdict (check 1, by model ``judge``), and the
    format check's (check 0) when ``format_passes`` is given."""
    samples = tuple(
        SampleOutcome(
            index=i,
            combination=0,
            variables={},
            prompt="p",
            seed=i,
            output="x",
            checks=(
                *(
                    ()
                    if format_passes is None
                    else (CheckOutcome(0, "format", _status(format_passes[i])),)
                ),
                CheckOutcome(1, "judge", _status(passed)),
            ),
        )
        for i, passed in enumerate(judge_passes)
    )
    figures = JudgeFigures(index=1, label="judge", judge="judge")
    passed = sum(
        passed and (format_passes is None or format_passes[i])
        for i, passed in enumerate(judge_passes)
    )
    return CaseResult(
        suite="s",
        suite_path="s.yaml",
        case_id="c",
        model="m",
        samples=samples,
        verdict=threshold_verdict(passed, len(judge_passes), 0.5),
        properties={"judges": [figures.as_dict()]},
    )


@dataclass(frozen=True)
class Review:
    """One replicate's review: the judge's calibration row as the review computes it, and, for
    a queue-order scenario, the human rate of the case as the set's page computes it."""

    row: CalibrationRow
    human: CaseFigures | None


def simulate(s: Scenario, rng: random.Random) -> Review:
    """One simulated run and its review, through the review's own code: the queue's order
    (:func:`~promptcheck.review.items.build_items`), the calibration and the human rate."""
    truths = [rng.random() < s.rate for _ in range(s.judged)]
    judge = [rng.random() < (s.se if truth else 1 - s.sp) for truth in truths]
    formats = (
        None
        if s.format_right is None
        else [truth == (rng.random() < s.format_right) for truth in truths]
    )
    case = judged_run(judge, formats)
    run_id = f"r{rng.getrandbits(32):08x}" if s.queue else "r"
    digests = {ItemKey(run_id, case.suite_path, "c", case.model, i): "d" for i in range(s.judged)}
    items: list[ReviewItem] = []
    if s.queue:
        # the set's id seeds the shuffle within each stratum, so each replicate gets its own
        review_set = ReviewSet(f"run:{run_id}", "run", run_id, None, s.raters, 0.0)
        items = build_items(review_set, {run_id: [case]}, digests)
        chosen = [item.sides[0].key.sample for item in items[: s.rated]]
    else:
        chosen = rng.sample(range(s.judged), s.rated)
    ratings = []
    for index in chosen:
        for rater in range(s.raters):
            says_pass = truths[index] != (rng.random() < s.rater_error)
            key = ItemKey(run_id, case.suite_path, "c", case.model, index)
            verdict = "pass" if says_pass else "fail"
            ratings.append(Rating(f"run:{run_id}", key, "d", f"rater{rater}", verdict, 1.0))
    cases = {run_id: [case]}
    corrected = run_id
    if s.separate:
        fresh = [rng.random() < s.rate for _ in range(s.judged)]
        cases["r2"] = [judged_run([rng.random() < (s.se if t else 1 - s.sp) for t in fresh])]
        corrected = "r2"
    (row,) = calibration_rows(cases, ratings, digests, JudgeFloor(), runs=[corrected])
    human = None
    if s.queue:
        (human,) = case_figures(items, latest_verdicts(ratings, digests))
    return Review(row, human)


def replicate(s: Scenario, rng: random.Random) -> CalibrationRow:
    """One simulated run and its review: the judge's calibration row."""
    return simulate(s, rng).row


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


#: The figures measured in queue order, each against the target of the same name.
ESTIMATES = ("sensitivity", "specificity", "kappa", "corrected", "human rate")


def weighted_figures(review: Review) -> dict[str, Estimate] | None:
    """What the review shows (stratum-weighted), or None while a stratum has no label."""
    c = review.row.calibration
    (rate,) = review.row.corrected
    human = review.human
    if c.missing is not None or human is None or human.verdict.rate is None:
        return None
    return {
        "sensitivity": c.sensitivity,
        "specificity": c.specificity,
        "kappa": c.kappa,
        "corrected": rate.corrected,
        "human rate": Estimate(human.verdict.rate, human.verdict.interval, human.labelled),
    }


def unweighted_figures(review: Review) -> dict[str, Estimate]:
    """The baseline: the same labels through the same estimators, every labelled output
    weighted alike (one stratum), as if the labelled outputs were a simple random sample."""
    c = review.row.calibration
    (rate,) = review.row.corrected
    pairs = (
        [(True, True)] * c.both_pass
        + [(True, False)] * c.judge_fail_human_pass
        + [(False, True)] * c.judge_pass_human_fail
        + [(False, False)] * c.both_fail
    )
    plain = calibrate(c.key, pairs)
    human = review.human
    assert human is not None
    labelled = sum(count.labelled for _, count in human.strata)
    passed = sum(count.passed for _, count in human.strata)
    pooled = [StratumCount(human.items, labelled, passed)]
    return {
        "sensitivity": plain.sensitivity,
        "specificity": plain.specificity,
        "kappa": plain.kappa,
        "corrected": rogan_gladen(
            rate.positives, rate.judged, (c.both_pass, c.human_pass), (c.both_fail, c.human_fail)
        ),
        "human rate": Estimate(
            passed / labelled if labelled else None, stratified_interval(pooled), int(labelled)
        ),
    }


@dataclass
class QueueCoverage:
    """Coverage of the 95% intervals and mean error of the estimates (mean estimate - target),
    stratum-weighted (as the review computes them) and unweighted (the baseline), over the
    replicates whose weighted figures are available (``available`` of ``replicates``)."""

    weighted: dict[str, float]
    unweighted: dict[str, float]
    weighted_error: dict[str, float]
    unweighted_error: dict[str, float]
    available: int
    replicates: int


def queue_coverage(s: Scenario, replicates: int, seed: int) -> QueueCoverage:
    assert s.queue and not s.separate, "the human rate is that of the rated run"
    rng = random.Random(seed)
    truth = targets(s)
    target = {
        "sensitivity": truth.sensitivity,
        "specificity": truth.specificity,
        "kappa": truth.kappa,
        "corrected": truth.human_rate,
        "human rate": truth.human_rate,
    }
    hits = {kind: dict.fromkeys(ESTIMATES, 0) for kind in ("weighted", "unweighted")}
    errors = {kind: {name: [0.0, 0] for name in ESTIMATES} for kind in ("weighted", "unweighted")}
    available = 0
    for _ in range(replicates):
        review = simulate(s, rng)
        weighted = weighted_figures(review)
        if weighted is None:
            continue
        available += 1
        for kind, figures in (("weighted", weighted), ("unweighted", unweighted_figures(review))):
            for name in ESTIMATES:
                estimate = figures[name]
                low, high = estimate.interval
                hits[kind][name] += low <= target[name] <= high
                if estimate.value is not None:
                    errors[kind][name][0] += estimate.value - target[name]
                    errors[kind][name][1] += 1
    share = {
        kind: {n: h / max(available, 1) for n, h in found.items()} for kind, found in hits.items()
    }
    mean = {
        kind: {n: total / count if count else math.nan for n, (total, count) in found.items()}
        for kind, found in errors.items()
    }
    return QueueCoverage(
        share["weighted"],
        share["unweighted"],
        mean["weighted"],
        mean["unweighted"],
        available,
        replicates,
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

QUEUE_SCENARIOS = {
    "good judge, 60 in queue": Scenario(queue=True, rated=60),
    "good judge, 200 in queue": Scenario(queue=True),
    "weak judge, 60 in queue": Scenario(queue=True, se=0.7, sp=0.6, rated=60),
    "weak judge, 200 in queue": Scenario(queue=True, se=0.7, sp=0.6),
    "rare failures, 60 in queue": Scenario(queue=True, rate=0.95, rated=60),
    "rare failures, 200 in queue": Scenario(queue=True, rate=0.95),
    "format check too, 200": Scenario(queue=True, format_right=0.9),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--queue-replicates", type=int, default=None, help="default: --replicates")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=("random", "queue"), default=None)
    args = parser.parse_args()
    if args.only != "queue":
        random_order(args.replicates, args.seed)
    if args.only != "random":
        queue_order(args.queue_replicates or args.replicates, args.seed)


def random_order(replicates: int, seed: int) -> None:
    print(
        f"95% interval coverage over {replicates} replicates per scenario (seed {seed});"
        " baseline: the corrected rate's interval with the judge's error rates taken as known"
    )
    print(
        f"{'scenario':<30} {'Se':>6} {'Sp':>6} {'kappa':>6} {'corrected':>9} {'baseline':>9}"
        f" {'width':>6} {'base w':>6} {'w ratio':>7}"
    )
    for name, scenario in SCENARIOS.items():
        started = time.perf_counter()
        found = coverage(scenario, replicates, seed)
        print(
            f"{name:<30} {found.sensitivity:>6.3f} {found.specificity:>6.3f} {found.kappa:>6.3f}"
            f" {found.corrected:>9.3f} {found.known_error_baseline:>9.3f}"
            f" {found.corrected_width:>6.3f} {found.baseline_width:>6.3f}"
            f" {found.corrected_width / found.baseline_width:>7.2f}"
            f"  ({time.perf_counter() - started:.0f} s)"
        )


def queue_order(replicates: int, seed: int) -> None:
    print(
        f"\nRated in queue order: 95% interval coverage over {replicates} replicates per scenario"
        f" (seed {seed}), weighted by stratum (the review) / unweighted (baseline, same labels)"
    )
    print(f"{'scenario':<28}" + "".join(f" {name:>12}" for name in ESTIMATES) + "  available")
    errors = []
    for name, scenario in QUEUE_SCENARIOS.items():
        started = time.perf_counter()
        found = queue_coverage(scenario, replicates, seed)
        print(
            f"{name:<28}"
            + "".join(f" {found.weighted[n]:>5.3f}/{found.unweighted[n]:<6.3f}" for n in ESTIMATES)
            + f"  {found.available}/{found.replicates}"
            + f"  ({time.perf_counter() - started:.0f} s)"
        )
        errors.append((name, found))
    print("\nMean error of the point estimate (estimate - target), weighted / unweighted")
    print(f"{'scenario':<28}" + "".join(f" {name:>14}" for name in ESTIMATES))
    for name, found in errors:
        print(
            f"{name:<28}"
            + "".join(
                f" {found.weighted_error[n]:>+6.3f}/{found.unweighted_error[n]:<+7.3f}"
                for n in ESTIMATES
            )
        )


if __name__ == "__main__":
    main()
