"""Workflow commands, job summary and step outputs, as GitHub Actions reads them."""

from __future__ import annotations

from pathlib import Path

from promptcheck.report.github import (
    Annotation,
    annotation,
    enabled,
    limited,
    neutralise,
    new_token,
    publish,
    repository_path,
    resume_commands,
    stop_commands,
)


def test_an_annotation_escapes_what_github_would_read_as_syntax() -> None:
    note = Annotation("suites/a,b.yaml", 7, "x: y, z", "line one\nline two 50% done\r")
    assert note.command() == (
        "::error file=suites/a%2Cb.yaml,line=7,title=x%3A y%2C z::line one%0Aline two 50%25 done%0D"
    )


def test_enabled_by_the_environment_or_the_option() -> None:
    assert enabled(False, {"GITHUB_ACTIONS": "true"})
    assert not enabled(False, {"GITHUB_ACTIONS": "false"}) and not enabled(False, {})
    assert enabled(True, {})


def test_paths_are_relative_to_the_workspace(tmp_path: Path) -> None:
    suite = tmp_path / "repo" / "suites" / "x.yaml"
    environment = {"GITHUB_WORKSPACE": str(tmp_path / "repo")}
    assert repository_path(suite, environment) == "suites/x.yaml"


def test_publish_appends_the_summary_and_one_line_outputs(tmp_path: Path) -> None:
    summary, output = tmp_path / "summary.md", tmp_path / "output.txt"
    summary.write_text("earlier step\n")
    environment = {
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_WORKSPACE": str(tmp_path),
    }
    publish(
        "# report\nline",
        ["pass", "fail", "pass", "error"],
        {"regressed": 1},
        2,
        {"markdown": tmp_path / "out" / "r.md", "html": None},
        environment,
    )
    assert summary.read_text() == "earlier step\n# report\nline\n"
    assert output.read_text().splitlines() == [
        "pass=2",
        "fail=1",
        "undecided=0",
        "error=1",
        "regressed=1",
        "improved=0",
        "unchanged=0",
        "inconclusive=0",
        "failed_items=2",
        "markdown=out/r.md",
        "html=",
    ]


def test_neutralise_makes_every_command_like_line_inert() -> None:
    text = "BAD\n  \u3000::error file=a,line=1::x\n::stop-commands::t\nsee ##[error]y\nok :: z"
    assert neutralise(text) == (
        "BAD\n  \u3000\\x3a:error file=a,line=1::x\n\\x3a:stop-commands::t\n"
        "see \\x23#[error]y\nok :: z"
    )


def test_commands_stop_and_resume_with_an_unguessable_token() -> None:
    first, second = new_token(), new_token()
    assert first != second and len(first) == 32
    assert stop_commands(first) == f"::stop-commands::{first}"
    assert resume_commands(first) == f"::{first}::"


def test_annotations_rank_regressions_first_and_count_the_rest() -> None:
    suite = Path("suites/s.yaml")
    compared = {"promptcheck_suite": "s", "promptcheck_case": "c", "promptcheck_model": "m"}
    regressed = annotation(suite, 3, {**compared, "promptcheck_change": "regressed"}, "")
    inconclusive = annotation(suite, 5, {**compared, "promptcheck_change": "inconclusive"}, "")
    failed = annotation(suite, 7, {**compared, "promptcheck_verdict": "fail"}, "s::c: FAIL")
    shown, notice = limited([inconclusive, failed, regressed], 2)
    assert shown == [regressed, failed]
    assert notice == (
        "::notice title=promptcheck::1 more failed case(s) not annotated (GitHub shows 2 error "
        "annotations per step): the job summary and the test log list them all"
    )
    assert limited([failed], 2) == ([failed], None)


def test_a_case_nothing_scored_is_annotated_with_error_and_its_reason() -> None:
    reason = "no sample was scored: HTTP 503: api_key=<redacted> refused"
    properties = {"promptcheck_suite": "s", "promptcheck_case": "c", "promptcheck_model": "m",
                  "promptcheck_verdict": "error", "promptcheck_reason": reason}  # fmt: skip
    note = annotation(Path("suites/s.yaml"), 4, properties, "s::c on model 'm': ERROR")
    assert note.title == "promptcheck: s::c ERROR on m"
    assert note.message == f"c: {reason}" and note.rank == 1
    # in a comparison too: the change (inconclusive, on no evidence) is not what went wrong
    compared = {**properties, "promptcheck_change": "inconclusive"}
    assert annotation(Path("suites/s.yaml"), 4, compared, "").title == note.title
