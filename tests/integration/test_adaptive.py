"""``--promptcheck-adaptive``: samples in rounds, each case stopping once its verdict is decided.

Scripted models make the outcome known: ``perfect`` always conforms (a clear pass), ``coin``
half the time (a clear fail), so both stop well before their maximum of 100 samples.
"""

from __future__ import annotations

import pytest

from .conftest import Project, junit_cases, suite_yaml

CLEAR = suite_yaml(
    "clear",
    """
    - {id: perfect, prompt: perfect answer, expect: [{equals: GOOD}]}
    - {id: coin, prompt: coin flip, expect: [{equals: GOOD}]}
    """,
    defaults="samples: 100",
)


def test_clear_cases_stop_early_and_report_what_they_saved(project: Project) -> None:
    project.suite("clear", CLEAR)
    result = project.run("--promptcheck-adaptive", "--junitxml=report.xml")
    result.assert_outcomes(passed=1, failed=1)
    cases = junit_cases(project.path / "report.xml")
    recorded = project.last_results()
    for name in ("perfect[demo]", "coin[demo]"):
        properties = cases[name]
        used = int(properties["promptcheck_samples_used"])
        assert properties["promptcheck_samples_max"] == "100"
        assert int(properties["promptcheck_samples_saved"]) == 100 - used
        assert used < 100
        assert len(recorded[name].samples) == used  # the store holds what was drawn
        assert recorded[name].properties["adaptive"]["used"] == used
    assert cases["perfect[demo]"]["promptcheck_verdict"] == "pass"
    assert cases["coin[demo]"]["promptcheck_verdict"] == "fail"
    used_total = sum(int(cases[n]["promptcheck_samples_used"]) for n in cases)
    result.stdout.fnmatch_lines(
        [
            "*coin on model 'demo': FAIL",
            "*sequential test stopped at*",
            "*adaptive: * of at most 100 samples drawn (* saved)",
            "*case*verdict*samples used*",
            f"*adaptive sampling: {used_total} of at most 200 samples drawn*",
        ]
    )


def test_adaptive_samples_are_the_first_samples_of_the_fixed_plan(project: Project) -> None:
    project.suite("clear", CLEAR)
    project.run("--promptcheck-adaptive", "--promptcheck-fresh")
    adaptive = project.last_results()
    project.run("--promptcheck-fresh")
    fixed = project.last_results()
    for name, result in adaptive.items():
        assert len(fixed[name].samples) == 100
        assert 0 < len(result.samples) < 100
        drawn = [(s.index, s.seed, s.output) for s in result.samples]
        assert drawn == [(s.index, s.seed, s.output) for s in fixed[name].samples[: len(drawn)]]


def test_without_the_switch_every_sample_is_drawn(project: Project) -> None:
    project.suite("clear", CLEAR)
    result = project.run("--junitxml=report.xml")
    assert {len(r.samples) for r in project.last_results().values()} == {100}
    assert "promptcheck_samples_used" not in junit_cases(project.path / "report.xml")["coin[demo]"]
    assert "adaptive sampling" not in result.stdout.str()


def test_the_ini_key_switches_it_on(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure(ini="promptcheck_adaptive = true")
    project.suite("clear", CLEAR)
    project.run()
    assert all(len(r.samples) < 100 for r in project.last_results().values())


def test_a_borderline_case_runs_to_its_maximum(project: Project) -> None:
    # 19 of 20 combinations conform: at threshold 0.95 neither hypothesis wins in 40 samples
    project.suite(
        "borderline",
        suite_yaml(
            "borderline",
            """
            - id: nineteen
              prompt: "item {{ i }}"
              vars: {i: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]}
              expect: [{equals: GOOD}]
            """,
            defaults="samples: 40",
        ),
    )
    result = project.run("--promptcheck-adaptive", "--promptcheck-fail-on", "undecided")
    result.assert_outcomes(failed=1)
    (recorded,) = project.last_results().values()
    assert len(recorded.samples) == 40
    assert recorded.properties["adaptive"]["saved"] == 0
    result.stdout.fnmatch_lines(["*38/40 after 40 of at most 40 samples cannot tell*"])


LIVE = suite_yaml(
    "live",
    """
    - {id: stable, prompt: stable, expect: [{equals: GOOD}]}
    - {id: broken, prompt: json broken, expect: [{equals: GOOD}]}
    """,
    defaults="samples: 150",
)


def test_a_live_comparison_stops_unchanged_cases_early(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure(
        {
            "old": {"backend": "scripted", "rules": [{"match": ".", "outputs": ["GOOD"]}]},
            "new": {
                "backend": "scripted",
                "rules": [
                    {"match": "^json", "outputs": ["GOOD", "BAD"]},
                    {"match": ".", "outputs": ["GOOD"]},
                ],
            },
        },
        default="new",
    )
    project.suite("live", LIVE)
    result = project.run(
        "--promptcheck-baseline", "old", "--promptcheck-adaptive", "--junitxml=report.xml"
    )
    result.assert_outcomes(passed=1, failed=1)
    cases = junit_cases(project.path / "report.xml")
    assert cases["broken[new]"]["promptcheck_change"] == "regressed"
    assert cases["stable[new]"]["promptcheck_change"] == "unchanged"
    assert int(cases["stable[new]"]["promptcheck_samples_used"]) < 150
    assert cases["broken[new]"]["promptcheck_samples_used"] == "150"
    runs = {run.model: run.id for run in project.runs()}
    baseline = project.results(runs["old"])["stable[old]"]
    assert len(baseline.samples) == int(cases["stable[new]"]["promptcheck_samples_used"])
    result.stdout.fnmatch_lines(["*stable*UNCHANGED*", "verdict: 1 case regressed"])


def test_offline_compare_of_an_adaptive_live_comparison_agrees_with_it(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    """The candidate's run records each case's sequential comparison against the baseline run;
    ``promptcheck compare`` of the two runs reads it back instead of treating the stopped counts
    as fixed samples, so the offline verdicts are the live gate's."""
    from promptcheck import cli

    project = Project(pytester)
    project.configure(
        {
            "old": {"backend": "scripted", "rules": [{"match": ".", "outputs": ["GOOD"]}]},
            "new": {
                "backend": "scripted",
                "rules": [
                    {"match": "^json", "outputs": ["GOOD", "BAD"]},
                    {"match": ".", "outputs": ["GOOD"]},
                ],
            },
        },
        default="new",
    )
    project.suite("live", LIVE)
    live = project.run("--promptcheck-baseline", "old", "--promptcheck-adaptive")
    section = live.stdout.str().split("= promptcheck comparison =")[1]
    live_rows = [line for line in section.splitlines() if line.startswith("  suites/")]
    runs = {run.model: run.id for run in project.runs()}
    stable = project.results(runs["new"])["stable[new]"]
    recorded = stable.properties["adaptive"]["comparison"]
    assert recorded["baseline_run"] == runs["old"]
    capsys.readouterr()
    assert cli.main(["compare", runs["old"], runs["new"]]) == 1
    offline = capsys.readouterr().out.splitlines()
    assert [line for line in offline if line.startswith("  suites/")] == live_rows
    assert not any("anytime-valid" in line for line in offline)
