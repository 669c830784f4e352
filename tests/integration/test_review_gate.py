"""Human review through the real commands: a judge that people show to be unreliable stops
gating in the next pytest run, and the review's records survive the command line.

The model always answers GOOD, which the format check passes. The grader fails every odd-numbered
ticket regardless of the output. People, who can see what the format check cannot, fail tickets
1 to 6 and pass the rest. Against them the grader's sensitivity is 9/18 and its specificity 3/6,
well below the project's floor (lower bounds of 0.7, from 5 labels of each kind): once the review
is locked, the grader's verdicts are reported and no longer decide the case.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from promptcheck import cli
from promptcheck.config import ExitCode
from promptcheck.review import ReviewWorkspace
from promptcheck.store.database import Store

from .conftest import Project, scripted_model, suite_yaml

MODELS = {
    "demo": scripted_model(rules=[{"match": "^Reply", "outputs": ["GOOD"]}]),
    "grader": scripted_model(
        rules=[
            {"match": "ticket \\d*[13579]\\b", "outputs": ["Odd ticket.\nVERDICT: FAIL"]},
            {"match": "Rubric", "outputs": ["Fine.\nVERDICT: PASS"]},
        ]
    ),
}
SUITE = suite_yaml(
    "tickets",
    """
    - id: reply
      prompt: "Reply GOOD for ticket {{ n }}"
      vars: {n: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                 21, 22, 23, 24]}
      threshold: 0.9
      expect:
        - equals: GOOD
        - judge: {rubric: "The reply is right for the ticket.", model: grader, agrees_with: [0]}
    """,
    defaults="samples: 24",
)
FLOOR = "judge_floor = {sensitivity = 0.7, specificity = 0.7, min_items = 5}"


@pytest.fixture
def reviewed(project: Project) -> Project:
    project.configure(MODELS, promptcheck=FLOOR)
    project.suite("tickets", SUITE)
    return project


def rate_all(store: Store, run_id: str, rater: str) -> str:
    """``rater`` fails tickets 1-6 and passes the rest; returns the set's id."""
    store.save_rater(rater, rater * 64, 1.0)
    workspace = ReviewWorkspace(store, overlap=1)
    review_set = workspace.open_set(run_id)
    for item in workspace.items(review_set):
        ticket = int(item.variables["n"])
        workspace.rate(review_set, item, rater, ["fail" if ticket <= 6 else "pass"])
    return review_set.id


def test_a_judge_below_the_floor_stops_gating_after_the_lock(
    reviewed: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    first = reviewed.run()
    first.assert_outcomes(failed=1)  # the grader fails 12 of 24
    run = reviewed.runs()[-1].id
    with reviewed.store() as store:
        set_id = rate_all(store, run, "alice")

    capsys.readouterr()
    assert cli.main(["show", run]) == ExitCode.OK
    shown = capsys.readouterr().out
    assert "tickets::reply [1] judge by grader: 24 labelled (18 pass, 6 fail)" in shown
    assert "sensitivity 50.0% (" in shown and "not recorded yet (lock a review set)" in shown

    assert cli.main(["review", "lock", set_id, "--as", "lead"]) == ExitCode.OK
    assert f"{set_id} locked with 24 rating(s)" in capsys.readouterr().out

    second = reviewed.run()
    second.assert_outcomes(passed=1)  # the format check alone: 24/24
    result = reviewed.last_results()["reply[demo]"]
    assert (result.verdict.k, result.verdict.n) == (24, 24)
    assert all(len(sample.checks) == 1 for sample in result.samples)  # the judge set apart
    (diagnostic,) = result.properties["diagnostic_checks"]
    assert (diagnostic["index"], diagnostic["judge"]) == (1, "grader")
    assert diagnostic["why"].startswith("below the calibration floor: sensitivity")
    statuses = [diagnostic["verdicts"][str(i)][0] for i in range(24)]
    assert statuses.count("fail") == 12
    judge_tally = result.tallies[1]
    assert (judge_tally.passed, judge_tally.failed) == (12, 12)  # still tallied

    later = reviewed.runs()[-1].id
    capsys.readouterr()
    assert cli.main(["show", later, "--json"]) == ExitCode.OK
    data = json.loads(capsys.readouterr().out)
    (row,) = data["calibration"]
    assert (row["judge"], row["both_pass"], row["judge_fail_human_pass"]) == ("grader", 9, 9)
    assert (row["both_fail"], row["judge_pass_human_fail"]) == (3, 3)
    assert row["recorded"]["gates"] is False
    assert (
        row["corrected"][0]["run_id"] == later and row["corrected"][0]["corrected"]["value"] is None
    )

    # the comparison of the two runs carries the same calibration in its JSON
    capsys.readouterr()
    cli.main(["compare", run, later, "--json"])
    compared = json.loads(capsys.readouterr().out)
    (row,) = compared["calibration"]
    assert (row["judge"], row["both_pass"], row["judge_fail_human_pass"]) == ("grader", 9, 9)
    assert {entry["run_id"] for entry in row["corrected"]} == {run, later}


def test_verify_export_and_import_through_the_command_line(
    reviewed: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    reviewed.run()
    run = reviewed.runs()[-1].id
    pristine = reviewed.path / "pristine.db"
    shutil.copyfile(reviewed.store_path, pristine)
    with reviewed.store() as store:
        set_id = rate_all(store, run, "alice")
        store.save_rater("bob", "b" * 64, 1.0)
        workspace = ReviewWorkspace(store)
        review_set = workspace.review_set(set_id)
        item = workspace.items(review_set)[0]
        workspace.rate(review_set, item, "bob", ["pass"], "=SUM(A1)", "line one\nline, two")
    assert cli.main(["review", "lock", run]) == ExitCode.OK
    assert cli.main(["review", "verify"]) == ExitCode.OK
    assert f"{set_id}: intact (25 ratings" in capsys.readouterr().out

    for form in ("jsonl", "csv"):
        exported = reviewed.path / f"set.{form}"
        assert cli.main(["review", "export", set_id, "--format", form, "--out", str(exported)]) == 0
        target = reviewed.path / f"copy-{form}.db"
        shutil.copyfile(pristine, target)
        assert cli.main(["review", "import", str(exported), "--store", str(target)]) == 0
        assert "25 of 25 rating(s)" in capsys.readouterr().out
        again = reviewed.path / f"again.{form}"
        code = cli.main(
            ["review", "export", set_id, "--format", form, "--out", str(again), "--store",
             str(target)]
        )  # fmt: skip
        assert code == 0
        assert again.read_text(encoding="utf-8") == exported.read_text(encoding="utf-8")
        if form == "csv":
            assert "'=SUM(A1)" in exported.read_text(encoding="utf-8")  # no formula runs
            with Store(target) as copy:
                assert copy.review_set(set_id).lock is None  # CSV carries no lock
        else:
            with Store(target) as copy:
                assert copy.review_set(set_id).lock is not None
    with Store(reviewed.path / "copy-csv.db") as copy:
        notes = {r.note for r in copy.ratings(set_id)}
    assert "line one\nline, two" in notes

    with sqlite3.connect(reviewed.store_path) as raw:
        raw.execute("DROP TRIGGER ratings_never_change")
        raw.execute("UPDATE ratings SET verdict = 'pass' WHERE verdict = 'fail'")
    capsys.readouterr()
    assert cli.main(["review", "verify", set_id]) == ExitCode.FAILED
    assert "CHANGED AFTER THE LOCK" in capsys.readouterr().out
    # a tampered set no longer feeds the calibration that decides which judges gate
    with reviewed.store() as store:
        assert ReviewWorkspace(store).calibrate() == []


def test_a_non_loopback_bind_needs_raters(
    reviewed: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    reviewed.run()
    code = cli.main(["review", "--host", "0.0.0.0", "--port", "0"])
    assert code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "listening on 0.0.0.0 exposes the store to the network: it needs raters" in err
    assert "--raters FILE or --rater NAME" in err


def test_command_line_mistakes_are_errors_with_a_hint_not_tracebacks(
    reviewed: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["review", "--port", "70000"]) == ExitCode.USAGE
    assert "--port must be between 0 and 65535" in capsys.readouterr().err
    for content in ("[1,2]\n", "null\n"):
        bad = tmp_path / "bad.jsonl"
        bad.write_text(content, encoding="utf-8")
        assert cli.main(["review", "import", str(bad)]) == ExitCode.USAGE
        assert "bad.jsonl: not a promptcheck review export" in capsys.readouterr().err


def test_serving_without_aiohttp_names_the_extra_to_install(
    reviewed: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(sys.modules, "promptcheck.review.server", raising=False)
    monkeypatch.delitem(sys.modules, "promptcheck.review.app", raising=False)
    monkeypatch.setitem(sys.modules, "aiohttp", None)  # an import of it raises ModuleNotFoundError
    assert cli.main(["review", "--port", "0"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "promptcheck review needs aiohttp" in err
    assert "pip install 'promptcheck[review]'" in err


JUDGE_ONLY = suite_yaml(
    "tickets",
    """
    - id: reply
      prompt: "Reply GOOD for ticket {{ n }}"
      vars: {n: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                 21, 22, 23, 24]}
      threshold: 0.9
      expect:
        - judge: {rubric: "The reply is right for the ticket.", model: grader}
    """,
    defaults="samples: 24",
)


def test_a_case_whose_only_check_is_set_aside_is_not_judged_rather_than_passed(
    project: Project,
) -> None:
    project.configure(MODELS, promptcheck=FLOOR)
    project.suite("tickets", JUDGE_ONLY)
    project.run().assert_outcomes(failed=1)  # the grader fails 12 of 24
    with project.store() as store:
        set_id = rate_all(store, project.runs()[-1].id, "alice")
    assert cli.main(["review", "lock", set_id, "--as", "lead"]) == ExitCode.OK

    second = project.run()
    second.assert_outcomes(errors=1)  # not judged: nothing gates, so it cannot pass
    second.stdout.fnmatch_lines(["*: ERROR", "*", "  no sample was scored: *no check gates*"])
    result = project.last_results()["reply[demo]"]
    assert (result.verdict.k, result.verdict.n) == (0, 0)
    assert result.verdict.outcome.value == "undecided"
    assert "no check gates" in result.verdict.explanation
    assert {sample.status for sample in result.samples} == {"unscored"}
    (diagnostic,) = result.properties["diagnostic_checks"]
    assert [diagnostic["verdicts"][str(i)][0] for i in range(24)].count("fail") == 12
    assert (result.tallies[0].passed, result.tallies[0].failed) == (12, 12)  # still tallied
    second.stdout.fnmatch_lines(["*no check gates*"])
