"""A single-model run's Markdown summary: headline, order, folding, escaping."""

from __future__ import annotations

from promptcheck.report.run_markdown import render
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
