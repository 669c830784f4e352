"""The Markdown summary of a comparison: what a reviewer sees in a pull-request comment."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from promptcheck.comparison.engine import ComparisonReport, compare_results
from promptcheck.report import markdown

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fakes package

from fakes.case_results import case_result, run_summary

BASE = run_summary("20261126-base-old", "old", label="baseline", commit="63cbbe08c02fa7eb1f0b")
CAND = run_summary("20261127-cand-new", "new", started_at=2_000.0, commit="9d2e41b7aa01c3e5f001")


@pytest.fixture(scope="module")
def report() -> ComparisonReport:
    """One case of each change, one critical, one case on each side only, a short baseline."""
    baseline = [
        case_result("broken", 400, 400, tallies=[("json_schema", 400, 0), ("regex", 400, 0)]),
        case_result("better", 300, 400),
        case_result("same", 400, 400, tags=["critical"]),
        case_result("unsure", 30, 30, suite_path="suites/b.yaml"),
        case_result("gone", 400, 400),
    ]
    candidate = [
        case_result("broken", 90, 150, tallies=[("json_schema", 90, 60), ("regex", 150, 0)]),
        case_result("better", 150, 150),
        case_result("same", 150, 150),
        case_result("unsure", 130, 150, suite_path="suites/b.yaml"),
        case_result("new", 150, 150),
    ]
    return compare_results(BASE, baseline, CAND, candidate)


def test_headline_runs_and_counts_come_first(report: ComparisonReport) -> None:
    lines = markdown.render(report).splitlines()
    assert lines[0] == "## :x: promptcheck: 1 case regressed"
    head = "\n".join(lines[:8])
    assert "**Baseline:** `20261126-base-old` (model `old`, label `baseline`, commit " in head
    assert "`63cbbe08c02f`" in head and "`9d2e41b7aa01`" in head
    assert "4 cases compared: **1 regressed**, 1 improved, 1 inconclusive, 1 unchanged." in head


def test_changed_cases_come_first_then_inconclusive_then_unchanged_folded(
    report: ComparisonReport,
) -> None:
    text = markdown.render(report)
    order = [
        text.index("### Changed"),
        text.index("`suites/a.yaml::broken`"),
        text.index("`suites/a.yaml::better`"),
        text.index("### Inconclusive"),
        text.index("`suites/b.yaml::unsure`"),
        text.index("<summary>Unchanged (1)</summary>"),
        text.index("`suites/a.yaml::same` (critical)"),
        text.index("<summary>Not compared (2): in one run only</summary>"),
    ]
    assert order == sorted(order)
    folded = text[text.index("<details>") :]
    assert "broken" not in folded and "unsure" not in folded


def test_rows_show_rates_with_intervals_as_percentages(report: ComparisonReport) -> None:
    row = next(line for line in markdown.render(report).splitlines() if "::broken`" in line)
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[:2] == ["`suites/a.yaml::broken`", "**regressed**"]
    assert re.fullmatch(r"400/400 = 100\.0% \[99\.\d%-100\.0%\]", cells[2])
    assert re.fullmatch(r"90/150 = 60\.0% \[\d\d\.\d%-\d\d\.\d%\]", cells[3])
    assert re.fullmatch(r"-40\.0 pp \[-\d\d\.\d, -\d\d\.\d\]", cells[4])
    assert float(cells[5]) < 1e-6


def test_checks_that_moved_are_listed_as_diagnosis(report: ComparisonReport) -> None:
    text = markdown.render(report)
    assert "(diagnosis only, p-values not adjusted)" in text
    assert (
        "- `suites/a.yaml::broken` check `[0]` `json_schema`: passed 100.0% → 60.0% "
        "(400/400 → 90/150, **dropped**)"
    ) in text
    assert "`regex`" not in text  # passed everywhere: nothing to diagnose


def test_warnings_and_cases_in_one_run_only(report: ComparisonReport) -> None:
    text = markdown.render(report)
    warnings = text[text.index("> [!WARNING]") :].split("\n\n", 1)[0].splitlines()[1:]
    assert warnings == [f"> - {warning}" for warning in report.warnings]
    assert any("these samples can detect drops of" in w for w in warnings)
    # what the baseline is worth is stated under the counts
    assert "- **Baseline strength:** 400 scored samples a case (fewest 30), stored" in text
    assert "- only in the baseline: `suites/a.yaml::gone`" in text
    assert "- only in the candidate: `suites/a.yaml::new`" in text


def test_a_clean_comparison_says_so_without_empty_sections() -> None:
    same = [case_result("a", 400, 400)]
    text = markdown.render(compare_results(BASE, same, CAND, same))
    assert text.startswith("## :white_check_mark: promptcheck: no regression\n")
    for absent in ("### Changed", "### Inconclusive", "[!WARNING]", "Not compared"):
        assert absent not in text
    assert "<summary>Unchanged (1)</summary>" in text


def test_awkward_case_ids_cannot_break_the_table() -> None:
    awkward = "a|b `tick` *x*"
    text = markdown.render(
        compare_results(
            BASE, [case_result(awkward, 400, 400)], CAND, [case_result(awkward, 100, 150)]
        )
    )
    row = next(line for line in text.splitlines() if "tick" in line and line.startswith("|"))
    assert row.startswith("| ``suites/a.yaml::a\\|b `tick` *x*`` | **regressed** |")
    assert len(re.findall(r"(?<!\\)\|", row)) == 7  # six cells


def test_long_tables_share_one_row_budget_in_reading_order(
    monkeypatch: pytest.MonkeyPatch, report: ComparisonReport
) -> None:
    monkeypatch.setattr(markdown, "MAX_ROWS", 2)
    text = markdown.render(report)
    changed = text[text.index("### Changed") : text.index("### Inconclusive")]
    assert "::broken`" in changed and "::better`" in changed
    rest = text[text.index("### Inconclusive") :]
    assert "::unsure`" not in rest and "::same`" not in rest  # the budget went to the changes
    hint = "the HTML report or `promptcheck compare --json` has them all"
    assert f"1 case not shown: {hint}." in rest
    monkeypatch.setattr(markdown, "MAX_ROWS", 1)
    changed = markdown.render(report).split("### Inconclusive")[0]
    assert "::better` |" not in changed
    assert f"... and 1 more ({hint})" in changed


def test_a_huge_suite_still_fits_in_one_github_comment() -> None:
    names = [f"case-{i:02d}-" + "x" * 2_000 for i in range(40)]
    baseline = [case_result(name, 150, 150, tallies=[("regex", 150, 0)]) for name in names]
    candidate = [
        case_result(name, k, 150, tallies=[("regex", k, 150 - k)])
        for name, k in zip(names, [60, 150] * 20, strict=True)
    ]
    candidate += [case_result(f"added-{i}-" + "y" * 2_000, 150, 150) for i in range(40)]
    text = markdown.render(compare_results(BASE, baseline, CAND, candidate))
    assert len(text) <= markdown.MAX_CHARS < 65_536
    assert text.startswith("## :x: promptcheck: 20 cases regressed\n")
    assert "### Changed" in text and "more (the HTML report" in text
    assert "- ... and " in text  # the per-check diagnosis is cut too
    assert " more\n" in text[text.index("only in the candidate") :]  # and the names


def test_text_from_a_run_cannot_open_html_tags() -> None:
    path = "suites/<img src=x>&amp.yaml"
    text = markdown.render(
        compare_results(
            BASE,
            [case_result("a", 30, 30, suite_path=path)],
            CAND,
            [case_result("a", 130, 150, suite_path=path)],
        )
    )
    warnings = text[text.index("> [!WARNING]") :].split("\n\n", 1)[0]
    assert "suites/&lt;img src=x>&amp;amp.yaml::a" in warnings
    assert "<img" not in warnings
    assert "| `suites/<img src=x>&amp.yaml::a` |" in text  # code spans show text as it is


def test_errored_samples_are_counted_beside_the_rates() -> None:
    text = markdown.render(
        compare_results(
            BASE, [case_result("a", 400, 400)], CAND, [case_result("a", 90, 150, errors=7)]
        )
    )
    row = next(line for line in text.splitlines() if "::a`" in line)
    assert "| 90/150 = 60.0% [" in row and "], 7 errored |" in row
