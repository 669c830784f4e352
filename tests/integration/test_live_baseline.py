"""``--promptcheck-baseline``: a candidate judged against a live model or a stored run.

The models are scripted, so which case regressed is known: ``old`` conforms on every case,
``new`` answers the JSON case correctly about half the time and every other case always.
"""

from __future__ import annotations

import re

import pytest

from promptcheck import cli

from .conftest import MIGRATION_MODELS, Project, junit_cases, suite_yaml

MODELS = MIGRATION_MODELS
MAIN = suite_yaml(
    "main",
    """
    - id: stable-one
      prompt: stable one
      expect: [{equals: GOOD}]
    - id: stable-two
      prompt: stable two
      tags: [critical]
      expect: [{equals: GOOD}]
    - id: json-case
      prompt: json please
      expect: [{ends_with: D}, {equals: GOOD}]
    """,
    defaults="samples: 40",
)
EXTRA = suite_yaml(
    "extra",
    "- {id: only-new, prompt: a case added later, expect: [{equals: GOOD}]}",
    defaults="samples: 40",
)


@pytest.fixture
def migrating(project: Project) -> Project:
    project.configure(MODELS, default=None)
    project.suite("main", MAIN)
    return project


def changes(output: str) -> dict[str, str]:
    """The comparison table of the terminal summary: case name -> change."""
    section = output.split("= promptcheck comparison =")[1]
    found = {}
    for line in section.splitlines():
        if line.startswith("  suites/"):
            words = line.replace(" (critical)", "").split()
            found[words[0]] = words[1]
    return found


def drawn_samples(output: str) -> int:
    """The samples a case drew, from the comparison's budget line (every case drew as many)."""
    found = re.search(r"^drawn: (\d+) samples a case", output, re.MULTILINE)
    assert found is not None, "no budget line in the comparison"
    return int(found.group(1))


def test_a_degraded_candidate_fails_only_where_it_regressed(migrating: Project) -> None:
    result = migrating.run(
        "--promptcheck-model", "new", "--promptcheck-baseline", "old", "--junitxml=report.xml"
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*main::json-case on model 'new': REGRESSED against the baseline",
            "*baseline  */* = 100.0%*",
            "*candidate */* = *",
            "*check [[]1[]] equals: passed 100.0% -> *(dropped, unadjusted)",
            "*FAILED suites/main.yaml::json-case[[]new[]]*",
        ]
    )
    assert changes(result.stdout.str()) == {
        "suites/main.yaml::json-case": "REGRESSED",
        "suites/main.yaml::stable-one": "UNCHANGED",
        "suites/main.yaml::stable-two": "UNCHANGED",
    }
    cases = junit_cases(migrating.path / "report.xml")
    json_case = cases["json-case[new]"]
    assert json_case["outcome"] == "failure"
    assert json_case["promptcheck_change"] == "regressed"
    assert float(json_case["promptcheck_baseline_rate"]) == 1.0
    assert float(json_case["promptcheck_candidate_rate"]) < 0.8
    low, high = (float(json_case[f"promptcheck_difference_{end}"]) for end in ("low", "high"))
    assert low < float(json_case["promptcheck_difference"]) < high < 0
    assert cases["stable-two[new]"]["promptcheck_critical"] == "True"
    assert cases["stable-one[new]"]["promptcheck_change"] == "unchanged"
    # both models' runs are recorded; the label-free baseline run is the one the items name
    runs = {run.model: run for run in migrating.runs()}
    assert set(runs) == {"old", "new"}
    assert json_case["promptcheck_baseline_run"] == runs["old"].id
    assert runs["old"].cases == runs["new"].cases == 3


def test_the_live_gate_agrees_with_the_offline_comparison(
    migrating: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    live = migrating.run("--promptcheck-model", "new", "--promptcheck-baseline", "old")
    runs = {run.model: run.id for run in migrating.runs()}
    # up to pytest's short summary, which (with CI set) repeats whole failure messages
    section = live.stdout.str().split("= promptcheck comparison =")[1]
    live_lines = section.split("short test summary info")[0].splitlines()
    capsys.readouterr()
    code = cli.main(["compare", runs["old"], runs["new"]])
    offline = capsys.readouterr().out.splitlines()
    assert code == 1
    # the same report, line for line (the live one ends where pytest's own summary begins)
    assert [line for line in live_lines if line.startswith("  ")] == [
        line for line in offline if line.startswith("  ")
    ]


def test_inconclusive_fails_only_when_asked(migrating: Project) -> None:
    args = ("--promptcheck-model", "new", "--promptcheck-baseline", "old", "-k", "stable")
    few = ("--promptcheck-samples", "10")
    result = migrating.run(*args, *few)
    result.assert_outcomes(passed=2)
    assert set(changes(result.stdout.str()).values()) == {"INCONCLUSIVE"}
    strict = migrating.run(*args, *few, "--promptcheck-fail-on", "inconclusive")
    strict.assert_outcomes(failed=2)
    strict.stdout.fnmatch_lines(["*stable-one on model 'new': INCONCLUSIVE against the baseline"])


def test_a_stored_baseline_is_reused_by_label_and_by_id(migrating: Project) -> None:
    migrating.run("--promptcheck-model", "old", "--promptcheck-label", "blessed")
    (stored,) = migrating.runs()
    # "old" is no longer configured: nothing could generate its samples again
    migrating.configure({"new": MODELS["new"]}, default=None)
    for ref in ("blessed", stored.id):
        result = migrating.run("--promptcheck-model", "new", "--promptcheck-baseline", ref)
        result.assert_outcomes(passed=2, failed=1)
        assert changes(result.stdout.str())["suites/main.yaml::json-case"] == "REGRESSED"
        result.stdout.fnmatch_lines([f"baseline  {stored.id} (model old, label blessed)"])
    runs = migrating.runs()
    assert [run.model for run in runs] == ["old", "new", "new"]
    assert migrating.results(stored.id).keys() == {
        "stable-one[old]",
        "stable-two[old]",
        "json-case[old]",
    }


def test_a_short_stored_baseline_is_topped_up_by_its_model(migrating: Project) -> None:
    migrating.run("--promptcheck-model", "old", "--promptcheck-samples", "10")
    (short,) = migrating.runs()
    result = migrating.run(
        "--promptcheck-model", "new", "--promptcheck-baseline", short.id, "-k", "stable-one"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "warning: 1 baseline case(s) had fewer samples than the candidate's budget (or were "
            "stopped by adaptive sampling) and were topped up by model 'old' (cached samples "
            "reused)"
        ]
    )
    drawn = drawn_samples(result.stdout.str())
    topped_run = [run for run in migrating.runs() if run.model == "old"][-1]
    (topped,) = migrating.results(topped_run.id).values()
    assert len(topped.samples) == drawn > 10
    # the ten stored samples came back from the cache: topped up, not drawn again
    assert [s.cached for s in topped.samples[:10]] == [True] * 10
    assert not any(s.cached for s in topped.samples[10:])


def test_a_refreshed_baseline_is_a_new_draw_that_takes_the_label(migrating: Project) -> None:
    migrating.run("--promptcheck-model", "old", "--promptcheck-label", "blessed", "-k", "stable")
    (stored,) = migrating.runs()
    result = migrating.run(
        "--promptcheck-model",
        "new",
        "--promptcheck-baseline",
        "blessed",
        "--promptcheck-baseline-refresh",
        "-k",
        "stable",
    )
    result.assert_outcomes(passed=2)
    refreshed = [run for run in migrating.runs() if run.model == "old"][-1]
    assert refreshed.id != stored.id and refreshed.label == "blessed"
    # compared with the new run, drawn live: the label now names it
    assert f"baseline  {refreshed.id} (model old, label blessed)" in result.stdout.str()
    old_seeds = {s.seed for s in migrating.results(stored.id)["stable-one[old]"].samples}
    new_case = migrating.results(refreshed.id)["stable-one[old]"]
    assert old_seeds.isdisjoint(s.seed for s in new_case.samples)  # a new, independent draw
    assert not any(s.cached for s in new_case.samples)
    assert new_case.properties["draw"]
    with migrating.store() as store:
        assert store.run("blessed").id == refreshed.id


def test_refreshing_needs_a_stored_run_and_its_model(migrating: Project) -> None:
    result = migrating.run(
        "--promptcheck-model",
        "new",
        "--promptcheck-baseline",
        "old",
        "--promptcheck-baseline-refresh",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--promptcheck-baseline-refresh re-records a stored run*"])
    result = migrating.run("--promptcheck-model", "new", "--promptcheck-baseline-refresh")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*re-records a baseline*add --promptcheck-baseline BASELINE*"])


def test_a_short_baseline_without_its_model_is_reported(migrating: Project) -> None:
    migrating.run("--promptcheck-model", "old", "--promptcheck-samples", "10", "-k", "stable-one")
    (short,) = migrating.runs()
    migrating.configure({"new": MODELS["new"]}, default=None)
    result = migrating.run(
        "--promptcheck-model", "new", "--promptcheck-baseline", short.id, "-k", "stable-one"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["warning: the baseline has fewer scored samples than the candidate in *stable-one*"]
    )


def test_cases_in_one_run_only_are_listed_and_judged_on_their_threshold(
    migrating: Project,
) -> None:
    migrating.run("--promptcheck-model", "old", "-k", "not stable-two")
    (stored,) = migrating.runs()
    migrating.suite("extra", EXTRA)
    result = migrating.run("--promptcheck-model", "new", "--promptcheck-baseline", stored.id, "-v")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*only in the candidate (not compared): "
            "suites/extra.yaml::only-new, suites/main.yaml::stable-two",
        ]
    )
    assert set(changes(result.stdout.str())) == {
        "suites/main.yaml::json-case",
        "suites/main.yaml::stable-one",
    }


def test_markdown_summary_of_the_comparison(migrating: Project) -> None:
    result = migrating.run(
        "--promptcheck-model",
        "new",
        "--promptcheck-baseline",
        "old",
        "--promptcheck-md",
        "out/summary.md",
    )
    target = migrating.path / "out" / "summary.md"
    result.stdout.fnmatch_lines([f"Markdown summary written to {target}"])
    text = target.read_text(encoding="utf-8")
    assert text.startswith("## :x: promptcheck: 1 case regressed\n")
    assert "| `suites/main.yaml::json-case` | **regressed** | " in text
    assert "- budget: planned " in text  # what the samples were sized to catch


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--promptcheck-baseline", "nowhere"],
            "*baseline 'nowhere' is neither a model of [[]tool.promptcheck.models[]] nor a "
            "stored run*defined models: demo, new, old, tiny-dolly, tiny-dolly-critic, "
            "tiny-dolly-no-json*",
        ),
        (
            ["--promptcheck-baseline", "old", "--promptcheck-model", "old"],
            "*the candidate and the baseline are both model 'old'*",
        ),
        (
            ["--promptcheck-baseline", "old", "--promptcheck-model", "new,old"],
            "*a comparison takes one candidate model*",
        ),
        (
            ["--promptcheck-baseline", "old", "--promptcheck-fail-on", "undecided"],
            "*a comparison (--promptcheck-baseline) fails on 'regressed' or 'inconclusive'*",
        ),
        (
            ["--promptcheck-fail-on", "regressed", "--promptcheck-model", "new"],
            "*'regressed' applies to comparisons: add --promptcheck-baseline BASELINE*",
        ),
        (
            ["--promptcheck-baseline", "old", "--promptcheck-detect", "1.5"],
            "*the drop to detect must be above the margin (0) and below 1, got 1.5*",
        ),
        (
            ["--promptcheck-baseline", "old", "--promptcheck-power", "1"],
            "*power must be in (0, 1), got 1*",
        ),
        (
            ["--promptcheck-model", "new", "--promptcheck-detect", "0.1"],
            "*--promptcheck-detect and --promptcheck-power plan a comparison*"
            "add --promptcheck-baseline BASELINE*",
        ),
    ],
)
def test_bad_options_are_usage_errors(migrating: Project, args: list[str], message: str) -> None:
    result = migrating.run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_a_comparison_refuses_xdist_with_a_clear_message(migrating: Project) -> None:
    pytest.importorskip("xdist")
    result = migrating.run_subprocess(
        "--promptcheck-model", "new", "--promptcheck-baseline", "old", "-n", "2"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--promptcheck-baseline decides across all*drop -n*"])


def test_html_report_of_the_comparison(migrating: Project) -> None:
    result = migrating.run(
        "--promptcheck-model",
        "new",
        "--promptcheck-baseline",
        "old",
        "--promptcheck-html",
        "r.html",
    )
    result.stdout.fnmatch_lines([f"HTML report written to {migrating.path / 'r.html'}"])
    text = (migrating.path / "r.html").read_text(encoding="utf-8")
    runs = {run.model: run.id for run in migrating.runs()}
    assert runs["old"] in text and runs["new"] in text
    assert "json-case" in text and "regressed" in text
