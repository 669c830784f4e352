"""The HTML report's content: what the page holds, escaped, bounded and marked for the filter.

The page's behaviour in a browser (the filter hiding rows, no console errors) is tested in
tests/e2e/test_html_report.py; here the markup is read with the standard library's parser.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import sys
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path

import pytest

from promptcheck.checks.base import Status
from promptcheck.comparison.engine import ComparisonReport, compare_results
from promptcheck.errors import PromptcheckError
from promptcheck.report import html as html_report
from promptcheck.results import CaseResult, CheckOutcome, CheckTally, SampleOutcome
from promptcheck.stats import threshold_verdict
from promptcheck.store.database import RunInfo, RunStatus, Store

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fakes package

from fakes.case_results import run_summary

BASE = run_summary("20261126-base-old", "old", label="baseline", commit="63cbbe08c02fa7eb1f0b")
CAND = run_summary("20261127-cand-new", "new", started_at=2_000.0)
GOOD = '{"category": "bug"}'
HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"> & "quotes"'


def sampled_case(
    case_id: str,
    k: int,
    n: int,
    *,
    bad: Sequence[str] = ("not json",),
    suite_path: str = "suites/a.yaml",
    tags: Sequence[str] = (),
) -> CaseResult:
    """``k`` samples answering GOOD, then ``n - k`` cycling through ``bad``, with the checks
    that judged them: json_schema fails on a bad output, max_words passes everywhere."""
    samples = []
    for i in range(n):
        ok = i < k
        samples.append(
            SampleOutcome(
                index=i,
                combination=0,
                variables={},
                prompt=f"Classify <{case_id}>",
                seed=100 + i,
                output=GOOD if ok else bad[(i - k) % len(bad)],
                checks=(
                    CheckOutcome(
                        0,
                        "json_schema",
                        Status.PASS if ok else Status.FAIL,
                        "" if ok else "Expecting value: <line 1>",
                    ),
                    CheckOutcome(1, "max_words", Status.PASS),
                ),
            )
        )
    return CaseResult(
        suite=suite_path.rsplit("/", 1)[-1].split(".")[0],
        suite_path=suite_path,
        case_id=case_id,
        model="m",
        samples=tuple(samples),
        verdict=threshold_verdict(k, n, 0.95),
        tallies=(CheckTally(0, "json_schema", k, n - k), CheckTally(1, "max_words", n, 0)),
        tags=tuple(tags),
    )


BASELINE_CASES = [
    sampled_case("broken", 200, 200),
    sampled_case("better", 150, 200),
    sampled_case("same", 200, 200, tags=["critical"]),
    sampled_case("unsure", 30, 30, suite_path="suites/b.yaml"),
    sampled_case("gone", 200, 200),
]
CANDIDATE_CASES = [
    sampled_case("broken", 90, 150, bad=[HOSTILE, "plain text"]),
    sampled_case("better", 150, 150),
    sampled_case("same", 150, 150),
    sampled_case("unsure", 130, 150, suite_path="suites/b.yaml"),
    sampled_case("new", 150, 150),
]
CASES = {BASE.id: BASELINE_CASES, CAND.id: CANDIDATE_CASES}


class Page(HTMLParser):
    """The parts of the page the tests look at: grid rows, cells and every script."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}  # case name -> attributes of its <tr>
        self.cells: dict[str, list[str]] = {}  # case name -> class of each <td>
        self.scripts: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self._row: dict[str, str] | None = None
        self._cells: list[str] = []
        self._in_name = False
        self._name = ""
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs}
        self.attributes.extend(found.items())
        if tag == "tr" and "case" in found.get("class", "").split():
            self._row, self._cells, self._name = found, [], ""
        elif tag == "th" and self._row is not None and "name" in found.get("class", ""):
            self._in_name = True
        elif tag == "td" and self._row is not None:
            self._cells.append(found.get("class", ""))
        elif tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._in_name = False
        elif tag == "script":
            self._in_script = False
        elif tag == "tr" and self._row is not None:
            self.rows[self._name] = self._row
            self.cells[self._name] = self._cells
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._in_name and not self._name:
            self._name = data
        if self._in_script:
            self.scripts[-1] += data


@pytest.fixture(scope="module")
def report() -> ComparisonReport:
    return compare_results(BASE, BASELINE_CASES, CAND, CANDIDATE_CASES)


@pytest.fixture(scope="module")
def text(report: ComparisonReport) -> str:
    return html_report.render(report, [], CASES)


def test_model_text_is_escaped_and_only_the_page_script_runs(text: str) -> None:
    page = Page(text)
    assert len(page.scripts) == 1 and "only-changed" in page.scripts[0]
    assert "window.pwned" not in page.scripts[0]
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in text
    assert "onerror=&quot;window.pwned = 2&quot;" in text
    assert not any(name.startswith("on") for name, _ in page.attributes)
    assert "Expecting value: &lt;line 1&gt;" in text  # check reasons too
    assert "Classify &lt;broken&gt;" in text  # and prompts


def test_the_content_security_policy_admits_exactly_the_page_script(text: str) -> None:
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text)
    assert policy is not None
    digest = base64.b64encode(hashlib.sha256(Page(text).scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy.group(1)
    assert "default-src 'none'" in policy.group(1)


def test_nothing_is_fetched_from_outside_the_file(text: str) -> None:
    for name, value in Page(text).attributes:
        if name in ("src", "href", "action"):
            assert value.startswith(("#", "data:")), (name, value)
    assert '<link rel="stylesheet"' not in text and "@import" not in text


def test_rows_are_marked_for_the_changed_cases_filter(text: str) -> None:
    page = Page(text)
    marks = {name: (row["data-change"], row["data-attention"]) for name, row in page.rows.items()}
    assert marks == {
        "suites/a.yaml::broken": ("regressed", "1"),
        "suites/a.yaml::better": ("improved", "1"),
        "suites/b.yaml::unsure": ("inconclusive", "1"),
        "suites/a.yaml::same": ("unchanged", "0"),
        "suites/a.yaml::gone": ("not-compared", "0"),
        "suites/a.yaml::new": ("not-compared", "0"),
    }
    assert list(marks)[:4] == [  # worst news first, as in the other reports
        "suites/a.yaml::broken",
        "suites/a.yaml::better",
        "suites/b.yaml::unsure",
        "suites/a.yaml::same",
    ]
    assert '<input type="checkbox" id="only-changed">' in text
    assert "Only changed cases (regressed, improved, inconclusive)" in text
    assert '<span id="shown" aria-live="polite">6 of 6 cases shown</span>' in text


def test_a_regressed_case_is_highlighted_with_its_evidence_open(text: str) -> None:
    page = Page(text)
    assert "change-regressed" in page.rows["suites/a.yaml::broken"]["class"].split()
    change, baseline, candidate = page.cells["suites/a.yaml::broken"]
    assert change == "change"
    assert "change-regressed" not in baseline.split()
    assert {"outcome-fail", "change-regressed"} <= set(candidate.split())
    row = text[text.index('id="case-suites_a.yaml__broken"') :]
    row = row[: row.index("</tr>")]
    candidate_cell = row[row.index('class="cell outcome-fail change-regressed"') :]
    assert "90/150 = 60.0% [" in candidate_cell
    assert "-40.0 pp [" in candidate_cell
    assert "[0] json_schema: passed 100.0% → 60.0% (200/200 → 90/150) <b>dropped</b>" in row
    assert '<details class="samples" open>' in candidate_cell
    assert 'class="check check-fail">✗ [0] json_schema: Expecting value' in candidate_cell
    assert 'class="check check-pass">✓ [1] max_words' in candidate_cell


def test_cells_show_bounded_distinct_outputs_failing_first() -> None:
    bad = [f"wrong answer {i}" for i in range(10)]
    case = sampled_case("many", 20, 40, bad=bad)
    page = html_report.render(None, [CAND], {CAND.id: [case]})
    outputs = re.findall(r'<pre class="output">([^<]*)</pre>', page)
    assert len(outputs) == html_report.MAX_SAMPLES
    assert all(output.startswith("wrong answer") for output in outputs)
    assert "40 samples: 4 of 11 distinct outputs shown" in page
    assert "×2 " in page  # 20 bad samples over 10 distinct outputs


def test_long_outputs_are_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(html_report, "MAX_OUTPUT_CHARS", 50)
    page = html_report.render(None, [CAND], {CAND.id: [sampled_case("long", 0, 1, bad=["x" * 80])]})
    assert "x" * 50 + "… (30 more characters)" in page
    assert "x" * 51 not in page


def test_a_single_run_shows_threshold_verdicts_without_a_change_column() -> None:
    cases = [sampled_case("fine", 150, 150), sampled_case("bad", 90, 150)]
    text = html_report.render(None, [CAND], {CAND.id: cases})
    page = Page(text)
    assert '<th scope="row"' in text and "<th>change</th>" not in text
    assert {name: row["data-attention"] for name, row in page.rows.items()} == {
        "suites/a.yaml::bad": "1",
        "suites/a.yaml::fine": "0",
    }
    assert page.cells["suites/a.yaml::bad"] == ["cell outcome-fail"]
    assert "Only cases that did not pass (failed, error, undecided)" in text
    assert "<title>promptcheck: 1 case failed</title>" in text
    assert "adj. p" not in text


def test_several_candidates_against_one_baseline_each_get_their_change() -> None:
    other = run_summary("20261128-cand-other", "other", started_at=3_000.0)
    base = [sampled_case("a", 200, 200)]
    worse, same = [sampled_case("a", 80, 150)], [sampled_case("a", 150, 150)]
    reports = [compare_results(BASE, base, CAND, worse), compare_results(BASE, base, other, same)]
    text = html_report.render(reports, [], {BASE.id: base, CAND.id: worse, other.id: same})
    page = Page(text)
    assert page.cells["suites/a.yaml::a"][1:] == [
        "cell outcome-pass",
        "cell outcome-fail change-regressed",
        "cell outcome-pass change-unchanged",
    ]
    assert text.index(BASE.id) < text.index(CAND.id) < text.index(other.id)
    assert "<title>promptcheck: 1 case regressed</title>" in text


def test_write_html_reads_the_samples_from_the_store(tmp_path: Path) -> None:
    with Store(tmp_path / "store.db") as store:
        for run, cases in ((BASE, BASELINE_CASES), (CAND, CANDIDATE_CASES)):
            store.create_run(RunInfo(run.id, run.session, run.model, {}, run.started_at))
            for case in cases:
                store.record_case(run.id, case)
            store.finish_run(run.id, run.started_at + 1)
        report = compare_results(
            store.run(BASE.id),
            store.case_results(BASE.id),
            store.run(CAND.id),
            store.case_results(CAND.id),
        )
        target = tmp_path / "out" / "report.html"
        html_report.write_html(target, report, [], store)
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in text
    assert set(Page(text).rows) == {
        f"suites/{name}" for name in ("a.yaml::broken", "a.yaml::better", "b.yaml::unsure")
    } | {f"suites/a.yaml::{name}" for name in ("same", "gone", "new")}


def test_an_unwritable_path_is_a_promptcheck_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with Store(tmp_path / "store.db") as store:
        store.create_run(RunInfo(CAND.id, CAND.session, CAND.model, {}, CAND.started_at))
        with pytest.raises(PromptcheckError, match="cannot write the HTML report to"):
            html_report.write_html(blocker / "report.html", None, [store.run(CAND.id)], store)


def test_every_case_gets_its_own_anchor() -> None:
    cases = [sampled_case("a b", 150, 150), sampled_case("a_b", 150, 150)]
    text = html_report.render(None, [CAND], {CAND.id: cases})
    ids = re.findall(r'<tr [^>]*id="([^"]+)"', text)
    assert ids == ["case-suites_a.yaml__a_b", "case-suites_a.yaml__a_b_"]
    assert all(f'href="#{anchor}"' in text for anchor in ids)


def test_an_interrupted_or_unfinished_run_says_so_in_the_header() -> None:
    cases = [sampled_case("fine", 150, 150)]
    interrupted = dataclasses.replace(CAND, status=RunStatus.INTERRUPTED)
    unfinished = run_summary("20261128-open-new", "new", finished=False)
    text = html_report.render(None, [interrupted, unfinished], {CAND.id: cases, unfinished.id: []})
    assert '<span class="warn">interrupted</span>' in text
    assert text.count('<span class="warn">never finished</span>') == 1
