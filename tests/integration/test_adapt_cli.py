"""``promptcheck adapt`` from the command line, on scripted models, against the gate itself.

``old`` answers every ticket prompt in JSON; ``new`` only when the ticket comes before the
instruction. A baseline run of ``old`` is recorded by pytest; ``adapt`` is pointed at it; after
``--write`` the suite passes on ``new`` through ``pytest --promptcheck``: the fix holds where it
matters, in the gate.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from promptcheck import cli
from promptcheck.config import ExitCode

from .conftest import Project, suite_yaml

JSON = '{"category": "billing", "priority": "P2"}'
MODELS = {
    "old": {
        "backend": "scripted",
        "rules": [
            {"match": "^Give", "outputs": ["A) x\nB) y\nC) z"]},
            {"match": ".", "outputs": [JSON]},
        ],
    },
    "new": {
        "backend": "scripted",
        "rules": [
            {"match": "^Give", "outputs": ["A) x\nB) y\nC) z"]},
            {"match": "^Ticket:", "outputs": [JSON]},
            {"match": ".", "outputs": ["category: billing"]},
        ],
    },
}
SUITE = suite_yaml(
    "triage",
    """
    # the router reads this JSON
    - id: ticket-json
      prompt: |-
        Classify this support ticket. Reply with JSON only.

        Ticket: {{ ticket }}
      vars:
        ticket: [a, b, c, d, e, f]
      expect: [json]
    - id: options
      prompt: Give three options for {{ topic }}, labeled A, B and C.
      vars: {topic: [x, y]}
      expect:
        - options: [A, B, C]
    """,
    defaults="samples: 30",
)

Adapt = Callable[..., tuple[int, str, str]]


@pytest.fixture
def adapt(capsys: pytest.CaptureFixture[str]) -> Adapt:
    """``promptcheck adapt ARGS`` in-process: (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(["adapt", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def recorded(project: Project) -> Project:
    project.configure(MODELS, default=None)
    project.suite("triage", SUITE)
    project.run("--promptcheck-model", "old", "--promptcheck-label", "baseline")
    return project


def test_a_stored_baseline_run_and_a_diff(recorded: Project, adapt: Adapt) -> None:
    code, out, err = adapt("suites", "--model", "new", "--baseline", "baseline", "--diff")
    assert code == ExitCode.OK, err
    assert out.startswith("--- a/suites/triage.yaml\n+++ b/suites/triage.yaml\n")
    removed = [
        line for line in out.splitlines() if line.startswith("-") and not line.startswith("---")
    ]
    added = [
        line for line in out.splitlines() if line.startswith("+") and not line.startswith("+++")
    ]
    prompt_lines = {
        "",
        "Classify this support ticket. Reply with JSON only.",
        "Ticket: {{ ticket }}",
    }
    assert removed and added
    assert {line[1:].strip() for line in removed + added} <= prompt_lines  # the prompt only
    assert "+      Ticket: {{ ticket }}" in added
    assert "stored run" in err and "1 adapted, 0 not adapted" in err
    assert (recorded.path / "suites" / "triage.yaml").read_text() == SUITE  # nothing written
    # the stored 30 samples are shorter than the gate's plan: model old tops them up, as in the
    # gate, into a run of its own; the stored baseline run itself is left as it was
    runs = {(run.model, run.label) for run in recorded.runs()}
    assert runs == {("old", "baseline"), ("new", "adapt"), ("old", None)}
    assert "topped up by model 'old'" in err


def test_write_then_the_gate_passes_on_the_new_model(recorded: Project, adapt: Adapt) -> None:
    before = recorded.run("--promptcheck-model", "new")
    before.assert_outcomes(passed=1, failed=1)
    code, out, _ = adapt("suites", "--model", "new", "--baseline", "old", "--write")
    assert code == ExitCode.OK
    assert "(model, run live)" in out
    text = (recorded.path / "suites" / "triage.yaml").read_text()
    assert "# the router reads this JSON" in text and text != SUITE
    after = recorded.run("--promptcheck-model", "new")
    after.assert_outcomes(passed=2)


def test_copies_reports_and_json(recorded: Project, adapt: Adapt) -> None:
    md, html = recorded.path / "out" / "adapt.md", recorded.path / "out" / "adapt.html"
    code, out, _ = adapt(
        "suites/triage.yaml",
        "--model",
        "new",
        "--baseline",
        "old",
        "--json",
        "--out",
        "patched",
        "--md",
        str(md),
        "--html",
        str(html),
    )
    assert code == ExitCode.OK
    document = json.loads(out)
    [case] = document["cases"]
    assert case["adapted"] and case["race"]["winner"] == "after-data"
    [patch] = document["patches"]
    copy = recorded.path / "patched" / "suites" / "triage.yaml"
    assert patch["written"] == str(copy) and copy.read_text().count("Ticket: {{ ticket }}") == 1
    assert (recorded.path / "suites" / "triage.yaml").read_text() == SUITE
    assert "**adapted**" in md.read_text()
    assert "after-data" in html.read_text()


def test_a_case_that_cannot_be_adapted_fails_the_command(recorded: Project, adapt: Adapt) -> None:
    broken = dict(MODELS)
    broken["new"] = {
        "backend": "scripted",
        "rules": [
            {"match": "^Give", "outputs": ["A) x\nB) y\nC) z"]},
            {"match": ".", "outputs": ["nope"]},
        ],
    }
    recorded.configure(broken, default=None)
    code, out, _ = adapt("suites", "--model", "new", "--baseline", "old", "--samples", "20")
    assert code == ExitCode.FAILED
    assert "NOT ADAPTED" in out and "best seen:" in out
    assert not (recorded.path / ".promptcheck" / "adapted").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "new", "--baseline", "new"], "both model 'new'"),
        (["--model", "nobody", "--baseline", "old"], "unknown model 'nobody'"),
        (["--model", "new", "--baseline", "nothing-of-that-name"], "neither a model"),
        (["--model", "new", "--baseline", "old", "--optimizer", "ghost"], "unknown model 'ghost'"),
        (["--model", "new", "--baseline", "old", "--samples", "0"], "--samples must be at least 1"),
        (["--model", "new", "--baseline", "old", "--held-out", "1.5"], "--held-out must be in"),
    ],
)
def test_usage_errors_are_one_line(
    recorded: Project, adapt: Adapt, args: list[str], message: str
) -> None:
    code, _, err = adapt("suites", *args)
    assert code == ExitCode.USAGE
    assert message in err and "Traceback" not in err


def test_missing_suites_are_a_usage_error(recorded: Project, adapt: Adapt) -> None:
    code, _, err = adapt("nowhere", "--model", "new", "--baseline", "old")
    assert code == ExitCode.USAGE and "no suite file or folder at nowhere" in err
