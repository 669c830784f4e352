"""Judge figures in words and tables: sums over cases, the summary, properties round trips."""

from __future__ import annotations

import json

from promptcheck.report.terminal import (
    SummaryRow,
    judge_sentence,
    row_from_properties,
    summary_lines,
)
from promptcheck.results import JudgeFigures, combine

CRITIC = JudgeFigures(2, "self_critique", "self", (0, 1), 20, 1, 2, 1, 0, 0, 1, 24, 24, 24, 23, 21)
JUDGE = JudgeFigures(3, "judge", "gpt", (0,), 10, 0, 1, 1, 2, 0, 3, 12, 9)
UNPAIRED = JudgeFigures(1, "judge", "gpt", None, voted=5, unanimous=5)


def test_combine_adds_counts_and_keeps_unanimity_to_voting_judges() -> None:
    total = combine([CRITIC, JUDGE, UNPAIRED])
    assert (total.both_pass, total.agreed, total.compared) == (30, 32, 36)
    assert (total.voted, total.unanimous, total.votes) == (12, 9, 3)
    assert (total.revised, total.revised_conforming, total.original_conforming) == (24, 23, 21)
    assert total.pairs == ()
    assert combine([UNPAIRED]).pairs is None
    assert combine([]).compared == 0


def test_judge_sentence() -> None:
    assert judge_sentence(CRITIC) == (
        "[2] self_critique: agrees with the format checks on 21/24 = 87.5% (judge PASS/checks "
        "FAIL 1, judge FAIL/checks PASS 2); revised outputs conform 23/24 = 95.8% (originals 21/24)"
    )
    assert judge_sentence(JUDGE).endswith("unanimous on 9/12 = 75.0%; 2 unreadable")
    assert judge_sentence(UNPAIRED) == "[1] judge: not paired with a format check"


def row(case_id: str, *judges: JudgeFigures) -> SummaryRow:
    return SummaryRow("s", case_id, "m", 3, 4, 0.2, 0.9, 0.95, "undecided", 0, judges)


def test_summary_has_a_judge_table_and_a_total_per_model() -> None:
    lines = summary_lines([row("b", JUDGE), row("a", CRITIC), row("c")])
    start = lines.index("  judges (P/F: judge PASS, format checks FAIL; agreement = P/P + F/F)")
    assert [" ".join(line.split()) for line in lines[start + 1 : start + 5]] == [
        "case check agreement P/P P/F F/P F/F unread unanimous revised",
        "a [2] self_critique:self 21/24 = 87.5% 20 1 2 1 0 - 23/24 = 95.8% (was 21/24)",
        "b [3] judge:gpt 11/12 = 91.7% 10 0 1 1 2 9/12 = 75.0% -",
        "all 32/36 = 88.9% 30 1 3 2 2 9/12 = 75.0% 23/24 = 95.8% (was 21/24)",
    ]
    assert lines[-1].startswith("judges on m, all suites: judges: agrees with the format checks on")
    assert not any("judges" in line for line in summary_lines([row("c")]))


def test_rows_carry_judges_through_report_properties() -> None:
    properties = {
        "promptcheck_run": "r",
        "promptcheck_suite": "s",
        "promptcheck_case": "c",
        "promptcheck_model": "m",
        "promptcheck_conforming": 3,
        "promptcheck_scored": 4,
        "promptcheck_ci_low": 0.2,
        "promptcheck_ci_high": 0.9,
        "promptcheck_threshold": 0.95,
        "promptcheck_verdict": "undecided",
        "promptcheck_errors": 0,
    }
    plain, _ = row_from_properties(dict(properties))
    assert plain is not None and plain.judges == ()
    properties["promptcheck_judges"] = json.dumps([CRITIC.as_dict(), JUDGE.as_dict()])
    judged, run = row_from_properties(dict(properties))
    assert judged is not None and judged.judges == (CRITIC, JUDGE)
    assert run == "r"
