"""``promptcheck compare RUN_A RUN_B``: two real runs in a real store, compared offline.

The models are scripted, so which case regressed is known: ``old`` conforms on every case,
``new`` answers the JSON case correctly half the time and every other case always.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from promptcheck import cli
from promptcheck.config import ExitCode

from .conftest import MIGRATION_MODELS, Project, suite_yaml

MODELS = MIGRATION_MODELS
MAIN = suite_yaml(
    "main",
    """
    - id: stable-one
      prompt: stable one
      expect: [{equals: GOOD}]
    - id: stable-two
      prompt: stable two
      expect: [{equals: GOOD}]
    - id: json-case
      prompt: json please
      expect: [{ends_with: D}, {equals: GOOD}]  # GOOD and BAD both end with D
    """,
    defaults="samples: 40",
)
EXTRA = suite_yaml(
    "extra",
    """
    - id: only-new
      prompt: a case added later
      expect: [{equals: GOOD}]
    """,
    defaults="samples: 40",
)

Compare = Callable[..., tuple[int, str, str]]


@pytest.fixture
def compare(capsys: pytest.CaptureFixture[str]) -> Compare:
    """Run ``promptcheck compare ARGS`` in-process: (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(["compare", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def migrated(project: Project) -> Project:
    """A labelled baseline run of ``old`` on main.yaml; then ``new`` on a changed case set:
    ``stable-two`` deselected, extra.yaml added."""
    project.configure(MODELS, default=None)
    project.suite("main", MAIN)
    project.run("--promptcheck-model", "old", "--promptcheck-label", "baseline")
    project.suite("extra", EXTRA)
    project.run("--promptcheck-model", "new", "-k", "not stable-two")
    return project


def test_the_broken_case_and_only_it_regresses(migrated: Project, compare: Compare) -> None:
    old, new = migrated.runs()
    code, out, err = compare(old.id, new.id)
    assert code == ExitCode.FAILED, err
    lines = out.splitlines()
    assert lines[0].startswith(f"baseline  {old.id} (model old, label baseline")
    assert lines[1].startswith(f"candidate {new.id} (model new")
    table = {line.split()[0]: line.split()[1] for line in lines if line.startswith("  suites/")}
    assert table == {
        "suites/main.yaml::json-case": "REGRESSED",
        "suites/main.yaml::stable-one": "UNCHANGED",
    }
    assert "check [1] equals: passed 100.0% -> " in out  # diagnosis names the check that moved
    assert "ends_with" not in out  # it never failed: nothing to diagnose
    assert lines[-1] == "verdict: 1 case regressed"


def test_case_sets_that_differ_are_compared_on_their_intersection(
    migrated: Project, compare: Compare
) -> None:
    code, out, _ = compare("baseline", migrated.runs()[1].id[:-2], "--json")
    assert code == ExitCode.FAILED
    document = json.loads(out)
    assert document["format_version"] == 2
    assert [case["name"] for case in document["cases"]] == [
        "suites/main.yaml::json-case",
        "suites/main.yaml::stable-one",
    ]
    assert document["only_in_baseline"] == ["suites/main.yaml::stable-two"]
    assert document["only_in_candidate"] == ["suites/extra.yaml::only-new"]
    warnings = "\n".join(document["warnings"])
    assert "compared on the 2 cases both runs hold; 2 other(s) listed" in warnings
    assert "these samples can detect drops of" in warnings
    strength = document["baseline_strength"]
    assert (strength["fewest_samples"], strength["stored"]) == (40, True)


def test_markdown_summary_is_written(migrated: Project, compare: Compare) -> None:
    old, new = migrated.runs()
    target = migrated.path / "out" / "comparison.md"
    code, _, _ = compare(old.id, new.id, "--md", str(target))
    assert code == ExitCode.FAILED
    text = target.read_text(encoding="utf-8")
    assert text.startswith("## :x: promptcheck: 1 case regressed\n")
    assert f"**Baseline:** `{old.id}` (model `old`, label `baseline`" in text
    assert "| `suites/main.yaml::json-case` | **regressed** | 40/40 = 100.0% [" in text, [
        line for line in text.splitlines() if "json-case" in line
    ]


def test_html_and_markdown_reports_are_written_together(
    migrated: Project, compare: Compare
) -> None:
    old, new = migrated.runs()
    html_path, md_path = migrated.path / "out" / "report.html", migrated.path / "report.md"
    code, out, _ = compare(old.id, new.id, "--html", str(html_path), "--md", str(md_path))
    assert code == ExitCode.FAILED
    assert out.splitlines()[-1] == "verdict: 1 case regressed"  # the table is still printed
    assert md_path.read_text(encoding="utf-8").startswith("## :x: promptcheck: 1 case regressed")
    page = html_path.read_text(encoding="utf-8")
    assert "<title>promptcheck: 1 case regressed</title>" in page
    rows = re.findall(r'<tr class="[^"]*" data-change="([^"]+)"[^>]* id="case-([^"]+)"', page)
    assert rows == [
        ("regressed", "suites_main.yaml__json-case"),
        ("unchanged", "suites_main.yaml__stable-one"),
        ("not-compared", "suites_extra.yaml__only-new"),
        ("not-compared", "suites_main.yaml__stable-two"),
    ]
    assert page.index(old.id) < page.index(new.id)  # baseline column first
    assert '<pre class="output">BAD</pre>' in page  # the sampled outputs, from the store


def test_an_unwritable_html_path_is_a_usage_error(migrated: Project, compare: Compare) -> None:
    blocker = migrated.path / "blocker"
    blocker.write_text("", encoding="utf-8")
    code, out, err = compare("baseline", migrated.runs()[1].id, "--html", str(blocker / "r.html"))
    assert code == ExitCode.USAGE
    assert err.startswith("promptcheck: error: cannot write the HTML report to ")
    assert "Traceback" not in err and out == ""


def test_inconclusive_fails_only_when_asked(project: Project, compare: Compare) -> None:
    project.configure(MODELS, default=None)
    project.suite("main", MAIN)
    project.run("--promptcheck-model", "old,new", "--promptcheck-samples", "10", "-k", "stable")
    runs = {run.model: run.id for run in project.runs()}
    code, out, _ = compare(runs["old"], runs["new"])
    assert code == ExitCode.OK
    assert out.splitlines()[-1] == "verdict: no regression found; 2 cases inconclusive"
    code, _, _ = compare(runs["old"], runs["new"], "--fail-on", "inconclusive")
    assert code == ExitCode.FAILED


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-run", "baseline"], "no run id, id prefix or label matches 'no-such-run'"),
        (
            ["baseline", "baseline", "--margin", "0.2"],
            "the drop to detect must be above the margin",
        ),
        (["baseline", "baseline", "--detect", "1"], "the drop to detect must be above"),
        (["baseline", "baseline", "--power", "0"], "power must be in (0, 1)"),
        (["baseline", "baseline", "--alpha", "1"], "alpha must be in (0, 1)"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    migrated: Project, compare: Compare, args: list[str], message: str
) -> None:
    code, out, err = compare(*args)
    assert code == ExitCode.USAGE
    assert err.startswith("promptcheck: error: ") and message in err
    assert "Traceback" not in err and out == ""


def test_runs_without_a_common_case_are_refused(project: Project, compare: Compare) -> None:
    project.configure(MODELS, default=None)
    project.suite("main", MAIN)
    project.run("--promptcheck-model", "old", "-k", "stable-one")
    project.run("--promptcheck-model", "new", "-k", "stable-two")
    first, second = project.runs()
    code, _, err = compare(first.id, second.id)
    assert code == ExitCode.USAGE
    assert "have no case in common" in err


def test_a_missing_store_is_a_usage_error(project: Project, compare: Compare) -> None:
    code, _, err = compare("a", "b")
    assert code == ExitCode.USAGE
    assert "no run store at" in err


def test_the_store_comes_from_the_option_or_the_project(
    migrated: Project, compare: Compare
) -> None:
    moved = migrated.path / "elsewhere.db"
    migrated.store_path.rename(moved)
    assert compare("baseline", "baseline")[0] == ExitCode.USAGE
    assert compare("baseline", "baseline", "--store", str(moved))[0] == ExitCode.OK
    pyproject = migrated.path / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(
        text.replace("[tool.promptcheck]\n", '[tool.promptcheck]\nstore = "elsewhere.db"\n', 1),
        encoding="utf-8",
    )
    code, out, _ = compare("baseline", "baseline")
    assert code == ExitCode.OK
    assert "is compared with itself" in out


def test_an_adaptive_run_compared_offline_uses_anytime_valid_bounds(
    project: Project, compare: Compare
) -> None:
    """Cases its adaptive sampling stopped are not read as fixed samples: their comparison uses
    anytime-valid bounds, and the report says so, through the store (which keeps each case's
    adaptive figures)."""
    project.configure(MODELS, default=None)
    project.suite(
        "main",
        suite_yaml(
            "main",
            "- {id: steady, prompt: stable one, expect: [{equals: GOOD}]}",
            defaults="samples: 100",
        ),
    )
    project.run("--promptcheck-model", "old", "--promptcheck-label", "baseline")
    project.run("--promptcheck-model", "old", "--promptcheck-adaptive", "--promptcheck-fresh")
    old, adaptive = project.runs()
    _, out, _ = compare(old.id, adaptive.id)
    assert (
        "warning: adaptive sampling drew suites/main.yaml::steady in one of the runs; their "
        "stopped counts are compared with anytime-valid bounds" in out
    )
    _, text, _ = compare(old.id, adaptive.id, "--json")
    (case,) = json.loads(text)["cases"]
    assert case["method"] == "anytime"
    assert case["candidate"]["n"] < 100  # stopped early: a perfect case passes at 30


def test_editing_a_file_the_suite_reads_is_reported_as_a_changed_suite(
    project: Project, compare: Compare
) -> None:
    project.configure(MODELS, default=None)
    project.write("suites/prompts/ask.j2", "stable one")
    project.write("suites/data/names.jsonl", '{"name": "a"}\n')
    project.suite(
        "main",
        suite_yaml(
            "main",
            """
            - id: from-files
              prompt: {file: prompts/ask.j2}
              vars: {row: {file: data/names.jsonl}}
              expect: [{equals: GOOD}]
            """,
            defaults="samples: 5",
        ),
    )
    for edit in (
        None,
        ("suites/prompts/ask.j2", "stable one, reworded"),
        ("suites/data/names.jsonl", '{"name": "b"}\n'),
    ):
        if edit is not None:
            project.write(*edit)
        project.run("--promptcheck-model", "old")
    project.run("--promptcheck-model", "old")  # nothing edited since the last run
    first, prompt_edited, data_edited, again = (run.id for run in project.runs())

    def warnings(baseline: str, candidate: str) -> str:
        _, out, _ = compare(baseline, candidate, "--json")
        return "\n".join(json.loads(out)["warnings"])

    changed = "suite file(s) changed between the runs: suites/main.yaml"
    assert changed in warnings(first, prompt_edited)
    assert changed in warnings(prompt_edited, data_edited)
    assert "changed between the runs" not in warnings(data_edited, again)
