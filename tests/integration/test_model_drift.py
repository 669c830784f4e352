"""A hosted model changing behind its name (issue 18): the fake OpenAI server answers as one
model and fingerprint on the first run and as another on the second, and promptcheck says so
in a cached re-run and in a comparison with the stored baseline, suggesting
``--promptcheck-fresh``; when nothing changed it says nothing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the fakes package

from fakes.openai_server import FakeOpenAI, fake_server

from promptcheck import cli
from tests.integration.conftest import Project, suite_yaml

pytest.importorskip("openai")

SUITE = suite_yaml(
    "drift",
    """
    - id: says-good
      prompt: Say GOOD.
      expect: [{equals: GOOD}]
    """,
    defaults="samples: 10",
)

OLD, NEW = "gpt-test-2024-05-13", "gpt-test-2024-08-06"


def good(body: dict[str, Any], index: int) -> str:
    return "GOOD"


def hosted_project(pytester: pytest.Pytester, server: FakeOpenAI) -> Project:
    project = Project(pytester)
    project.configure(
        {"gpt": {"backend": "openai", "model": "gpt-test", "base_url": server.url}},
        default="gpt",
    )
    project.suite("drift", SUITE)
    return project


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-drift-test")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def test_a_re_run_warns_when_fresh_samples_come_from_another_model(
    pytester: pytest.Pytester,
) -> None:
    with fake_server(answer=good, served_model=OLD, system_fingerprint="fp_a") as server:
        project = hosted_project(pytester, server)
        project.run().assert_outcomes(passed=1)
        server.served_model = NEW
        # Ten samples come from the cache (served by OLD), ten are drawn now from NEW.
        result = project.run("--promptcheck-samples", "20")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"warning: model 'gpt' is served by '{NEW}', not '{OLD}' as in the 10 cached "
            "sample(s) this run reused: they may no longer be what the model answers; run "
            "again with --promptcheck-fresh"
        ]
    )
    assert "::warning" not in result.stdout.str()  # not in GitHub Actions
    [_, second] = project.runs()
    [case] = project.results(second.id).values()
    served = {(c.model, c.fingerprint): (c.fresh, c.cached) for c in case.served}
    assert served == {(OLD, "fp_a"): (0, 10), (NEW, "fp_a"): (10, 0)}


def test_a_new_fingerprint_alone_warns_and_reaches_github(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_server(answer=good, served_model=OLD, system_fingerprint="fp_a") as server:
        project = hosted_project(pytester, server)
        project.run().assert_outcomes(passed=1)
        server.system_fingerprint = "fp_b"
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(project.path / "summary.md"))
        monkeypatch.setenv("GITHUB_OUTPUT", str(project.path / "outputs.txt"))
        result = project.run("--promptcheck-samples", "20")
    message = (
        "model 'gpt' answers with system fingerprint 'fp_b', not 'fp_a' as in the 10 cached "
        "sample(s) this run reused"
    )
    result.stdout.fnmatch_lines(
        [f"warning: {message}*", f"::warning title=promptcheck::{message}*"]
    )


def test_nothing_is_said_when_the_model_did_not_change(pytester: pytest.Pytester) -> None:
    with fake_server(answer=good, served_model=OLD, system_fingerprint="fp_a") as server:
        project = hosted_project(pytester, server)
        project.run("--promptcheck-label", "baseline").assert_outcomes(passed=1)
        rerun = project.run("--promptcheck-samples", "20")
        compared = project.run("--promptcheck-baseline", "baseline", "--promptcheck-fresh")
    for result in (rerun, compared):
        assert "is served by" not in result.stdout.str()
        assert "system fingerprint" not in result.stdout.str()


def test_a_comparison_with_the_stored_baseline_warns_in_every_report(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_server(answer=good, served_model=OLD) as server:
        project = hosted_project(pytester, server)
        project.run("--promptcheck-label", "baseline").assert_outcomes(passed=1)
        server.served_model = NEW
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(project.path / "summary.md"))
        monkeypatch.setenv("GITHUB_OUTPUT", str(project.path / "outputs.txt"))
        result = project.run(
            "--promptcheck-baseline",
            "baseline",
            "--promptcheck-fresh",
            "--promptcheck-md",
            "report.md",
        )
    [baseline, candidate] = project.runs()
    capsys.readouterr()
    cli.main(["compare", baseline.id, candidate.id])
    offline = capsys.readouterr().out
    message = (
        f"model 'gpt' is served by '{NEW}', not '{OLD}' as in the baseline's samples: the "
        "comparison may measure the provider's change rather than the suite's; record the "
        "baseline again with --promptcheck-fresh"
    )
    result.stdout.fnmatch_lines([f"warning: {message}", f"::warning title=promptcheck::{message}"])
    assert message in (project.path / "report.md").read_text(encoding="utf-8")
    assert message in (project.path / "summary.md").read_text(encoding="utf-8")
    assert message in " ".join(offline.split())


def test_a_pull_request_pointing_the_name_at_another_model_is_not_drift(
    pytester: pytest.Pytester,
) -> None:
    with fake_server(answer=good, served_model=OLD) as server:
        project = hosted_project(pytester, server)
        project.run("--promptcheck-label", "baseline").assert_outcomes(passed=1)
        # the pull request moves [tool.promptcheck.models.gpt] to another model: the gate's subject
        project.configure(
            {"gpt": {"backend": "openai", "model": "gpt-other", "base_url": server.url}},
            default="gpt",
        )
        server.served_model = "gpt-other-2025-01-01"
        result = project.run("--promptcheck-baseline", "baseline")
    result.assert_outcomes(passed=1)
    assert "is served by" not in result.stdout.str()
    assert "--promptcheck-fresh" not in result.stdout.str()
