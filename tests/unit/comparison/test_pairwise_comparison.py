"""The pairwise judge in a comparison: one more check per case, with its own verdict.

The judges are scripted models asked through a real :class:`~promptcheck.run.runner.Runner`, so the
answers go the way a comparison's do (``CaseModels``, retries, the answer cache); which answer
the judge gives is set by rules on the pairwise prompt, so every tally is known exactly.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from promptcheck.backends.base import Generation
from promptcheck.checks.base import CheckResult, Status
from promptcheck.cli.compare import json_text, pairwise_params
from promptcheck.comparison.engine import ComparisonReport, compare_results
from promptcheck.comparison.live import judge_report, resolve_judge
from promptcheck.comparison.pairwise import (
    DEFAULT_MARGIN,
    PairedSample,
    PairwiseCheck,
    PairwiseParams,
    summarize_pairs,
)
from promptcheck.errors import ConfigError
from promptcheck.project import ModelEntry, ProjectConfig
from promptcheck.report import html, markdown
from promptcheck.report.comparison_text import text_lines
from promptcheck.results import CaseResult, CheckTally, SampleOutcome
from promptcheck.run.model_access import JUDGE_KEY_PREFIX
from promptcheck.run.runner import Runner
from promptcheck.stats import threshold_verdict

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fakes package

from fakes.case_results import run_summary

OLD = "GOOD old answer"
NEW = "GOOD new answer"
BASE = run_summary("base-run", "old", started_at=1_000.0)
CAND = run_summary("cand-run", "new", started_at=2_000.0)
#: Pairwise prompts hold the responses between marker lines: ``RESPONSE A <tag>``.
FIRST_IS_OLD = r"RESPONSE A \w+\n" + OLD
FIRST_IS_NEW = r"RESPONSE A \w+\n" + NEW

JUDGES: dict[str, dict[str, Any]] = {
    # always the first response shown: position bias, which both orders cancel to a tie
    "first": {"backend": "scripted", "default": [{"text": "A reads better.\nWINNER: A"}]},
    # the baseline's text wherever it is shown
    "fond": {
        "backend": "scripted",
        "rules": [
            {"match": FIRST_IS_OLD, "outputs": ["The old one.\nWINNER: A"]},
            {"match": FIRST_IS_NEW, "outputs": ["The old one.\nWINNER: B"]},
        ],
    },
    # the candidate's text wherever it is shown
    "fair": {
        "backend": "scripted",
        "rules": [
            {"match": FIRST_IS_NEW, "outputs": ["The new one.\nWINNER: A"]},
            {"match": FIRST_IS_OLD, "outputs": ["The new one.\nWINNER: B"]},
        ],
    },
    "mumbling": {"backend": "scripted", "default": [{"text": "They are both fine, I think."}]},
    "down": {"backend": "scripted", "default": [{"error": "HTTP 503: judge outage"}]},
    "missing": {"backend": "local", "path": "no/such/checkpoint"},
}


class DictCache:
    """The store's cache interface over a dict, counting what is written."""

    def __init__(self) -> None:
        self.items: dict[str, Generation] = {}
        self.writes = 0

    def cached_generations(self, keys: Sequence[str]) -> dict[str, Generation]:
        return {key: self.items[key] for key in keys if key in self.items}

    def cache_generations(self, items: Sequence[tuple[str, Generation]]) -> None:
        self.writes += len(items)
        self.items.update(items)


def case(
    case_id: str, output: str, samples: int = 20, suite_path: str = "suites/a.yaml"
) -> CaseResult:
    """``samples`` conforming samples answering ``output``, prompts ``<case_id> <i>``."""
    outcomes = tuple(
        SampleOutcome(i, 0, {}, f"{case_id} {i}", 1_000 + i, output) for i in range(samples)
    )
    return CaseResult(
        suite=suite_path.rsplit("/", 1)[-1].split(".")[0],
        suite_path=suite_path,
        case_id=case_id,
        model="m",
        samples=outcomes,
        verdict=threshold_verdict(samples, samples, 0.95),
    )


@pytest.fixture
def project(tmp_path: Path) -> ProjectConfig:
    models = {name: ModelEntry.model_validate(spec) for name, spec in JUDGES.items()}
    return ProjectConfig(base_dir=tmp_path, models=models)


def judged(
    project: ProjectConfig,
    judge: str,
    baseline: Sequence[CaseResult],
    candidate: Sequence[CaseResult],
    cache: DictCache | None = None,
    **params: Any,
) -> ComparisonReport:
    report = compare_results(BASE, baseline, CAND, candidate)
    runner = Runner(cache=cache, concurrency=4)
    try:
        return judge_report(
            report,
            baseline,
            candidate,
            runner,
            resolve_judge(judge, project),
            PairwiseParams.model_validate({"model": judge, **params}),
        )
    finally:
        runner.close()


def pairwise_of(report: ComparisonReport) -> dict[str, PairwiseCheck]:
    return {row.case_id: row.pairwise for row in report.rows if row.pairwise is not None}


def test_a_judge_that_always_picks_the_first_response_gives_ties(project: ProjectConfig) -> None:
    checks = pairwise_of(judged(project, "first", [case("c", OLD)], [case("c", NEW)]))
    check = checks["c"]
    assert (check.tally.passed, check.tally.failed, check.tally.unscored) == (20, 0, 0)
    assert (check.ties, check.position_bias) == (20, 20)
    assert check.outcome.value == "pass"
    assert check.tally.label == "pairwise" and check.judge == "first"


def test_a_judge_preferring_the_baseline_fails_the_case(project: ProjectConfig) -> None:
    check = pairwise_of(judged(project, "fond", [case("c", OLD)], [case("c", NEW)]))["c"]
    assert (check.tally.passed, check.tally.failed, check.ties) == (0, 20, 0)
    assert check.outcome.value == "fail"
    assert check.verdict == threshold_verdict(0, 20, 1 - DEFAULT_MARGIN)
    assert len(check.examples) == 3
    assert check.examples[0].startswith("#0: baseline: baseline first: The old one.")


def test_a_judge_preferring_the_candidate_passes_it(project: ProjectConfig) -> None:
    check = pairwise_of(judged(project, "fair", [case("c", OLD)], [case("c", NEW)]))["c"]
    assert (check.tally.passed, check.tally.failed, check.ties) == (20, 0, 0)
    assert check.outcome.value == "pass"


@pytest.mark.parametrize(
    ("judge", "reason"),
    [
        ("mumbling", "raw answer"),
        ("down", "HTTP 503: judge outage"),
        ("missing", "cannot"),  # the local checkpoint does not exist: the backend is not built
    ],
)
def test_a_judge_that_cannot_answer_leaves_pairs_unscored(
    project: ProjectConfig, judge: str, reason: str
) -> None:
    baseline, candidate = [case("c", OLD, 5)], [case("c", NEW, 5)]
    report = judged(project, judge, baseline, candidate)
    check = pairwise_of(report)["c"]
    assert (check.tally.passed, check.tally.failed, check.tally.unscored) == (0, 0, 5)
    assert check.outcome.value == "undecided"
    assert reason in check.examples[0]
    # the conformance verdicts are untouched
    plain = compare_results(BASE, baseline, CAND, candidate)
    assert report.rows[0].verdict == plain.rows[0].verdict


def test_judge_answers_are_cached_and_errors_are_not(project: ProjectConfig) -> None:
    cache = DictCache()
    judged(project, "fond", [case("c", OLD, 6)], [case("c", NEW, 6)], cache)
    assert cache.writes == 12  # both orders of six pairs
    assert all(key.startswith(JUDGE_KEY_PREFIX) for key in cache.items)
    again = judged(project, "fond", [case("c", OLD, 6)], [case("c", NEW, 6)], cache)
    assert cache.writes == 12
    assert pairwise_of(again)["c"].tally.failed == 6
    judged(project, "down", [case("c", OLD, 6)], [case("c", NEW, 6)], cache)
    assert cache.writes == 12


def test_only_cases_in_both_runs_are_judged_each_on_its_own_pairs(project: ProjectConfig) -> None:
    baseline = [case("same", OLD), case("gone", OLD)]
    candidate = [case("same", OLD), case("new-only", NEW)]
    report = judged(project, "fond", baseline, candidate)
    checks = pairwise_of(report)
    assert list(checks) == ["same"]
    # identical outputs: the judge's rules see the old text in both positions, so A both times
    assert (checks["same"].ties, checks["same"].position_bias) == (20, 20)


def result(status: Status, reason: str, score: float | None) -> CheckResult:
    return CheckResult(status, reason, score)


def test_the_verdict_counts_ties_as_passes_and_leaves_unscored_pairs_out() -> None:
    pairs = [PairedSample(i, f"p{i}", OLD, NEW, i) for i in range(5)]
    results = [
        result(Status.PASS, "candidate: x", 1.0),
        result(Status.PASS, "tie: x", 0.5),
        result(Status.PASS, "tie (position bias: the first response won in both orders): x", 0.5),
        result(Status.FAIL, "baseline: x", 0.0),
        result(Status.UNSCORED, "unreadable", None),
    ]
    tally = CheckTally(-1, "pairwise", passed=3, failed=1, unscored=1)
    check = summarize_pairs("j", 0.2, tally, list(zip(pairs, results, strict=True)))
    assert (check.ties, check.position_bias) == (2, 1)
    assert check.verdict == threshold_verdict(3, 4, 0.8)
    assert check.examples == ("#3: baseline: x", "#4: unreadable")


def test_reports_show_the_pairwise_line(project: ProjectConfig) -> None:
    # enough samples for the conformance verdicts to say unchanged
    baseline = [case("fine", OLD, 150), case("worse", OLD, 150)]
    candidate = [case("fine", OLD, 150), case("worse", NEW, 150)]
    report = judged(project, "fond", baseline, candidate)
    checks = pairwise_of(report)
    assert (checks["fine"].outcome.value, checks["worse"].outcome.value) == ("pass", "fail")
    assert report.headline == "no regression (pairwise judge: baseline better in 1 case)"

    text = "\n".join(text_lines(report))
    assert (
        "check pairwise (judge 'fond'): candidate at least as good on 0/150 = 0.0% of pairs; "
        "baseline better on 150: FAIL (needs 95%)" in text
    )
    assert "150 tie(s) (150 from position bias)" in text
    assert "e.g. #0: baseline: baseline first: The old one." in text
    assert (
        "pairwise judge 'fond' (diagnosis; does not change the verdicts): 2 cases judged: "
        "1 fail, 0 undecided, 1 pass" in text
    )

    md = markdown.render(report)
    section = md.split("### Pairwise judge `fond`")[1]
    worse = section.index("| `suites/a.yaml::worse` | **fail** | 0/150 = 0.0%")
    assert worse < section.index("| `suites/a.yaml::fine` | pass | 150/150 = 100.0%")
    assert "| 150 (150) | 0 |" in section

    document = json.loads(json_text(report))
    by_case = {c["case_id"]: c["pairwise"] for c in document["cases"]}
    assert by_case["worse"]["outcome"] == "fail"
    assert (by_case["worse"]["failed"], by_case["worse"]["threshold"]) == (150, 0.95)
    assert by_case["fine"]["position_bias"] == 150

    page = html.render(report, [], {BASE.id: baseline, CAND.id: candidate})
    assert page.count('<li class="pairwise pairwise-fail"') == 1
    assert page.count('<li class="pairwise pairwise-pass"') == 1
    assert "pairwise (judge &#x27;fond&#x27;): candidate at least as good on 0/150" in page


def test_without_a_judge_nothing_changes() -> None:
    report = compare_results(BASE, [case("c", OLD, 150)], CAND, [case("c", NEW, 150)])
    assert report.rows[0].pairwise is None
    assert report.headline == "no regression"
    assert "pairwise" not in "\n".join(text_lines(report))
    assert "Pairwise" not in markdown.render(report)
    assert json.loads(json_text(report))["cases"][0]["pairwise"] is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"judge": None, "rubric": "x"}, "needs a pairwise judge"),
        ({"judge": None, "margin": 0.1}, "needs a pairwise judge"),
        ({"judge": "j", "margin": 1.0}, "pairwise margin"),
        ({"judge": "j", "rubric": ""}, "pairwise rubric"),
    ],
)
def test_bad_pairwise_options_are_config_errors(options: Mapping[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        pairwise_params(**options)


def test_pairwise_options_default_to_the_documented_margin() -> None:
    assert pairwise_params(None) is None
    params = pairwise_params("j", "shorter is better", 0.25)
    assert params is not None
    assert (params.model, params.rubric, params.margin) == ("j", "shorter is better", 0.25)
    assert pairwise_params("j") == PairwiseParams.model_validate("j")
    assert PairwiseParams.model_validate("j").margin == DEFAULT_MARGIN == 0.05


def test_an_unknown_judge_says_what_exists(project: ProjectConfig) -> None:
    with pytest.raises(ConfigError, match="unknown pairwise judge model 'fondd'") as raised:
        resolve_judge("fondd", project)
    assert "fond" in str(raised.value.hint)
