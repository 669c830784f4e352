"""``--promptcheck-pairwise`` and ``promptcheck compare --pairwise``: a judge compares the two
models' outputs prompt by prompt, as one more check of each case.

Both models conform on every case (their outputs start with GOOD), so the conformance verdicts
are unchanged and only the judge can tell them apart. The judges are scripted on the pairwise
prompt: ``fond`` prefers the baseline's text wherever it is shown, ``first`` always picks the
first response shown (pure position bias), ``down`` always errs.
"""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET

import pytest

from promptcheck import cli
from promptcheck.config import ExitCode

from .conftest import Project, scripted_model, suite_yaml

OLD = "GOOD old answer"
NEW = "GOOD new answer"
MODELS = {
    "old": scripted_model(rules=[{"match": ".", "outputs": [OLD]}]),
    "new": scripted_model(rules=[{"match": ".", "outputs": [NEW]}]),
    "fond": {
        "backend": "scripted",
        "rules": [
            {"match": r"RESPONSE A \w+\n" + OLD, "outputs": ["The old one.\nWINNER: A"]},
            {"match": r"RESPONSE A \w+\n" + NEW, "outputs": ["The old one.\nWINNER: B"]},
        ],
    },
    "broken": scripted_model(rules=[{"match": ".", "outputs": ["BAD answer"]}]),
    "picky": {
        "backend": "scripted",
        "rules": [
            {"match": r"RESPONSE A \w+\nBAD", "outputs": ["A is broken.\nWINNER: B"]},
            {"match": r"RESPONSE B \w+\nBAD", "outputs": ["B is broken.\nWINNER: A"]},
        ],
    },
    "first": {"backend": "scripted", "default": [{"text": "WINNER: A"}]},
    "down": {"backend": "scripted", "default": [{"error": "HTTP 503: judge outage"}]},
}
MAIN = suite_yaml(
    "main",
    """
    - id: one
      prompt: first prompt
      expect: [{starts_with: GOOD}]
    - id: two
      prompt: "second prompt about {{ topic }}"
      vars: {topic: [cats, dogs]}
      expect: [{starts_with: GOOD}]
    """,
    defaults="samples: 40",
)
#: A fixed budget: these tests count the judge's pairs, not what a plan would draw.
FIXED = ("--promptcheck-samples", "40")
LIVE = ("--promptcheck-model", "new", "--promptcheck-baseline", "old", *FIXED)


@pytest.fixture
def migrating(project: Project) -> Project:
    project.configure(MODELS, default=None)
    project.suite("main", MAIN)
    return project


def comparison(output: str) -> list[str]:
    """The comparison section of the terminal summary."""
    return output.split("= promptcheck comparison =")[1].splitlines()


def judge_answers(project: Project) -> int:
    """Judge answers in the store's cache (keys ``judge:...``)."""
    with sqlite3.connect(project.store_path) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM generation_cache WHERE key LIKE 'judge:%'"
        ).fetchone()
    return int(count)


def test_a_judge_preferring_the_baseline_fails_the_pairwise_check_only(
    migrating: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    result = migrating.run(
        *LIVE, "--promptcheck-pairwise", "fond", "--promptcheck-md", "out/summary.md"
    )
    # diagnosis only: the conformance verdicts (unchanged) decide the items
    result.assert_outcomes(passed=2)
    lines = comparison(result.stdout.str())
    failing = (
        "check pairwise (judge 'fond'): candidate at least as good on 0/40 = 0.0% of pairs; "
        "baseline better on 40: FAIL (needs 95%)"
    )
    assert sum(failing in line for line in lines) == 2
    assert any("e.g. #0: baseline: baseline first: The old one." in line for line in lines)
    assert "verdict: no regression (pairwise judge: baseline better in 2 cases)" in lines
    summary = (migrating.path / "out" / "summary.md").read_text(encoding="utf-8")
    assert "### Pairwise judge `fond`" in summary
    assert "| `suites/main.yaml::one` | **fail** | 0/40 = 0.0% [" in summary
    # both orders of every pair, cached in the store as judge answers
    assert judge_answers(migrating) == 2 * 40 * 2

    # offline, the same two runs and the same judge: the same lines, every answer from the cache
    runs = {run.model: run.id for run in migrating.runs()}
    capsys.readouterr()
    code = cli.main(["compare", runs["old"], runs["new"], "--pairwise", "fond"])
    offline = capsys.readouterr().out.splitlines()
    assert code == ExitCode.OK
    assert [line for line in lines if line.startswith("  ")] == [
        line for line in offline if line.startswith("  ")
    ]
    assert judge_answers(migrating) == 2 * 40 * 2

    code = cli.main(["compare", runs["old"], runs["new"], "--pairwise", "fond", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == ExitCode.OK
    pairwise = {case["case_id"]: case["pairwise"] for case in document["cases"]}
    assert pairwise["two"]["outcome"] == "fail"
    assert (pairwise["two"]["passed"], pairwise["two"]["failed"]) == (0, 40)
    assert pairwise["one"]["judge"] == "fond"


def test_a_regressed_item_shows_the_pairwise_line_and_junit_carries_it(
    migrating: Project,
) -> None:
    result = migrating.run(
        "--promptcheck-model",
        "broken",
        "--promptcheck-baseline",
        "old",
        *FIXED,
        "--promptcheck-pairwise",
        "picky",
        "--junitxml",
        "out/junit.xml",
    )
    result.assert_outcomes(failed=2)
    failures = result.stdout.str().split("= FAILURES =")[1].split("= promptcheck ")[0]
    assert failures.count("REGRESSED against the baseline") == 2
    judged = (
        "  check pairwise (judge 'picky'): candidate at least as good on 0/40 = 0.0% of pairs; "
        "baseline better on 40: FAIL (needs 95%)"
    )
    assert failures.count(judged) == 2
    assert failures.count("e.g. #0: baseline: baseline first: B is broken.") == 2
    tree = ET.parse(migrating.path / "out" / "junit.xml")
    for case in tree.iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert props["promptcheck_change"] == "regressed"
        assert props["promptcheck_pairwise_judge"] == "picky"
        assert props["promptcheck_pairwise"] == "fail"
        assert props["promptcheck_pairwise_at_least_as_good"] == "0"
        assert props["promptcheck_pairwise_baseline_better"] == "40"
        assert props["promptcheck_pairwise_unscored"] == "0"


def test_a_judge_that_always_picks_the_first_response_gives_ties(migrating: Project) -> None:
    result = migrating.run(*LIVE, "--promptcheck-pairwise", "first")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*check pairwise (judge 'first'): candidate at least as good on 40/40 = 100.0% of "
            "pairs, 40 tie(s) (40 from position bias); baseline better on 0: PASS (needs 95%)",
            "pairwise judge 'first' (diagnosis; does not change the verdicts): 2 cases judged: "
            "0 fail, 0 undecided, 2 pass",
            "verdict: no regression",
        ]
    )


def test_a_failing_judge_leaves_pairs_unscored_and_the_run_intact(migrating: Project) -> None:
    result = migrating.run(
        *LIVE, "--promptcheck-pairwise", "down", "--promptcheck-pairwise-margin", "0.2"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*check pairwise (judge 'down'): candidate at least as good on 0/0 of pairs; "
            "baseline better on 0, 40 unscored: UNDECIDED (needs 80%)",
            "*e.g. #0: judge 'down' failed: HTTP 503: judge outage",
        ]
    )
    assert judge_answers(migrating) == 0  # errors are never cached


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--promptcheck-model", "new", "--promptcheck-pairwise", "fond"],
            "*--promptcheck-pairwise judges a comparison*add --promptcheck-baseline BASELINE*",
        ),
        (
            [*LIVE, "--promptcheck-pairwise", "fnod"],
            "*unknown pairwise judge model 'fnod'*fond*",
        ),
        (
            [*LIVE, "--promptcheck-pairwise-rubric", "shorter is better"],
            "*a pairwise rubric or margin needs a pairwise judge model*",
        ),
        (
            [*LIVE, "--promptcheck-pairwise", "fond", "--promptcheck-pairwise-margin", "1"],
            "*pairwise margin: Input should be less than 1*",
        ),
    ],
)
def test_bad_pairwise_options_are_usage_errors(
    migrating: Project, args: list[str], message: str
) -> None:
    result = migrating.run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_compare_refuses_an_unknown_judge_in_one_line(
    migrating: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    migrating.run("--promptcheck-model", "old", "--promptcheck-label", "baseline")
    migrating.run("--promptcheck-model", "new")
    capsys.readouterr()
    code = cli.main(["compare", "baseline", migrating.runs()[-1].id, "--pairwise", "nobody"])
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE
    assert err.startswith("promptcheck: error: unknown pairwise judge model 'nobody'")
    assert len(err.strip().splitlines()) == 1
