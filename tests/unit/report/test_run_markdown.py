"""A single-model run's Markdown summary: headline, order, folding, escaping."""

from __future__ import annotations

import pytest

from promptcheck.report import run_markdown
from promptcheck.report.run_markdown import MAX_CHARS, MAX_ROWS, render
from promptcheck.report.terminal import SummaryRow


def row(case_id: str, k: int, n: int, outcome: str, **extra: object) -> SummaryRow:
    fields: dict[str, object] = {
        "suite": "s",
        "case_id": case_id,
        "model": "m",
        "k": k,
        "n": n,
        "low": 0.5,
        "high": 1.0,
        "threshold": 0.95,
        "outcome": outcome,
        "errors": 0,
    }
    fields.update(extra)
    return SummaryRow(**fields)  # type: ignore[arg-type]


def test_failures_lead_and_passes_fold() -> None:
    text = render([row("ok", 20, 20, "pass"), row("bad", 5, 20, "fail")], "db.sqlite")
    assert text.startswith("## :x: promptcheck: 1 case failed\n")
    assert text.index("`bad`") < text.index("<summary>Passing (1)</summary>") < text.index("`ok`")
    assert "| `bad` | **fail** | 5/20 = 25.0% [50.0%-100.0%] | 95.0% |  |" in text
    assert "`db.sqlite`" in text and text.endswith("\n")


def test_all_passing_and_undecided_headlines() -> None:
    assert render([row("a", 20, 20, "pass")]).startswith(
        "## :white_check_mark: promptcheck: all 1 case pass"
    )
    undecided = render([row("a", 19, 20, "undecided"), row("b", 20, 20, "pass")])
    assert undecided.startswith("## :warning: promptcheck: no failure; 1 case undecided")


def test_adaptive_usage_and_escaping() -> None:
    text = render([row("a|b", 0, 0, "undecided", used=30, maximum=100, errors=3)])
    assert "Adaptive sampling drew 30 of at most 100 samples (70 saved)." in text
    assert "| `a\\|b` | undecided | no scored samples | 95.0% | 30/100 | 3 |" in text


def test_a_large_run_fits_a_comment_with_its_failures_listed_first() -> None:
    rows = [
        row(f"case-{n:03d}-{'x' * 20}", 20, 20, "fail" if n < 3 else "pass", suite=s, model=m)
        for s in ("alpha", "beta", "gamma", "delta")
        for m in ("model-a", "model-b")
        for n in range(120)
    ]
    text = render(rows, "db.sqlite")
    assert len(text) <= MAX_CHARS < 65_536
    assert "## :x: promptcheck: 24 cases failed" in text
    # every failing row is listed; the passing ones share what the budget leaves
    assert text.count("| **fail** |") == 24
    assert text.count("| pass |") == MAX_ROWS - 24
    # 176 passing rows: the first table's 117, 59 of the second's, none of the six others
    assert "... and 58 more (`promptcheck show` or the HTML report has them all)" in text
    assert text.count("117 cases not listed") == 6


def test_a_budget_too_large_for_the_characters_is_halved(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [row(f"c{n}", 20, 20, "pass") for n in range(40)]
    monkeypatch.setattr(run_markdown, "MAX_CHARS", len(render(rows[:12])) + 200)
    text = render(rows)
    assert len(text) <= run_markdown.MAX_CHARS
    assert "| pass |" in text and "more (" in text


def test_a_case_nothing_scored_is_an_error_with_its_reason_after_the_failures() -> None:
    reason = "no sample was scored: HTTP 503 | down `now`"
    rows = [
        row("ok", 20, 20, "pass"),
        row("down", 0, 0, "error", errors=20, reason=reason),
        row("bad", 5, 20, "fail"),
    ]
    text = render(rows)
    assert text.startswith("## :x: promptcheck: 1 case failed, 1 error\n")
    assert "3 cases: 1 pass, 1 fail, 0 undecided, 1 error." in text
    assert "error means no sample could be scored" in text
    assert "| `down` | **error** | `` no sample was scored: HTTP 503 \\| down `now` `` |" in text
    assert text.index("`bad`") < text.index("`down`") < text.index("`ok`")
    assert render([rows[1]]).startswith("## :x: promptcheck: 1 error\n")
