"""The adapt reports (terminal, Markdown, HTML, JSON): what they say, and that hostile prompts,
reasons and outputs are shown as text everywhere."""

from __future__ import annotations

import dataclasses
import json

from promptcheck.adapt.records import (
    AdaptReport,
    CaseAdaptation,
    CaseStatus,
    Rate,
    Spend,
    SuitePatch,
    Trial,
)
from promptcheck.adapt.templates import PromptTemplate
from promptcheck.report import adapt_html, adapt_json, adapt_markdown, adapt_text
from promptcheck.stats.racing import confirm_threshold

HOSTILE = "<script>alert(1)</script> | `tick` \x1b[31mred\u202e"
ORIGINAL = PromptTemplate(prompt=f"Classify {HOSTILE}\n\nTicket: {{{{ ticket }}}}")
CHOSEN = PromptTemplate(prompt=f"Ticket: {{{{ ticket }}}}\n\nClassify {HOSTILE}")


def report() -> AdaptReport:
    confirmation = confirm_threshold(100, 100, 100, threshold=0.95, tolerance=0.05)
    trials = (
        Trial(
            "after-data",
            "operator",
            "moved",
            CHOSEN,
            "winner",
            "lower bound 0.91 > 0.9",
            Rate(60, 60, (0.91, 1.0)),
        ),
        Trial(
            "format-reminder",
            "operator",
            "reminder",
            ORIGINAL,
            "eliminated",
            f"upper bound 0.458 < lower bound 0.542 of after-data {HOSTILE}",
            Rate(0, 10, (0.0, 0.458)),
        ),
        Trial(
            "optimizer-1",
            "optimizer",
            "proposed",
            ORIGINAL,
            "discarded",
            "drops the variable(s) ticket",
        ),
    )
    adapted = CaseAdaptation(
        suite_path="suites/triage.yaml",
        suite="support-triage",
        case_id="ticket-json",
        why=("regressed",),
        goal="threshold",
        threshold=0.95,
        tolerance=0.05,
        original=ORIGINAL,
        baseline=Rate(96, 100, (0.9, 0.99)),
        candidate=Rate(0, 100, (0.0, 0.04)),
        search_values=4,
        held_out_values=4,
        shared_values=False,
        requirements=(f"The answer is JSON {HOSTILE}.",),
        trials=trials,
        race_reason="lower bound 0.91 > 0.9",
        winner="after-data",
        confirmation=confirmation,
        adapted=True,
        chosen=CHOSEN,
    )
    failed = dataclasses.replace(
        adapted,
        case_id="contact-json",
        adapted=False,
        chosen=None,
        winner=None,
        confirmation=None,
        race_reason="no rewrite can reach 0.9",
    )
    return AdaptReport(
        candidate="new",
        baseline="old",
        baseline_live=True,
        optimizer=None,
        statuses=(
            CaseStatus("suites/triage.yaml", "ticket-json", "adapted", "regressed"),
            CaseStatus("suites/triage.yaml", "contact-json", "not adapted", "regressed"),
            CaseStatus("suites/lists.yaml", "summary", "conforms", "40/40 on the candidate (pass)"),
        ),
        cases=(adapted, failed),
        spend=Spend(diagnosis=400, search=90, confirmation=100, cached=10, budget_samples=1000),
        patches=(SuitePatch("suites/triage.yaml", "a", "b", ("ticket-json",), "/tmp/x.yaml"),),
        runs=("s-new", "s-old"),
        warnings=(f"warn {HOSTILE}",),
    )


def test_the_terminal_report_escapes_controls_and_says_what_happened() -> None:
    text = "\n".join(adapt_text.text_lines(report()))
    assert "\x1b" not in text and "\u202e" not in text and "\\x1b[31m" in text
    assert "2 to adapt: 1 adapted, 1 not adapted" in text
    assert "suites/triage.yaml::ticket-json: ADAPTED (regressed)" in text
    assert "original prompt: baseline 96/100 = 96.0% [90.0%-99.0%], candidate 0/100" in text
    assert "after-data on new held-out samples: 100/100 = 100.0%" in text
    assert "    | Ticket: {{ ticket }}" in text
    assert "discarded: drops the variable(s) ticket" in text
    assert "best seen: best search rate 60/60" in text
    assert "samples: diagnosis 400, race 90, held-out tests 100 (10 of all from the cache)" in text
    assert "budget 190/1000" in text
    assert "patched suites/triage.yaml (ticket-json) -> /tmp/x.yaml" in text


def test_markdown_escapes_html_pipes_and_fences() -> None:
    text = adapt_markdown.render(report())
    assert text.startswith("## :warning: promptcheck adapt: 3 case(s) examined, 2 to adapt")
    rows = [line for line in text.splitlines() if line.startswith("| `format-reminder`")]
    assert rows and "<script>" not in rows[0] and "&lt;script>" in rows[0]
    assert "\\| `tick`" in rows[0]  # a pipe in a cell is escaped
    fenced = text.split("```")
    outside = "".join(fenced[0::2])  # what is not inside a code fence
    assert "<script>" not in outside
    assert "```\nTicket: {{ ticket }}\n\nClassify <script>" in text  # inside a fence: literal
    assert "| `suites/triage.yaml::ticket-json` | regressed |" in text
    assert "**adapted**" in text and "**not adapted**" in text
    assert "<summary>suites/triage.yaml::contact-json: not adapted</summary>" in text


def test_html_escapes_everything_and_runs_no_script() -> None:
    page = adapt_html.render(report())
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "script-src" not in page and "default-src 'none'" in page
    assert "http://" not in page and "https://" not in page
    assert "Ticket: {{ ticket }}" in page and "not adapted" in page


def test_json_holds_the_decisions() -> None:
    data = json.loads(adapt_json.json_text(report()))
    assert data["format_version"] == 1
    first = data["cases"][0]
    assert first["adapted"] and first["chosen"]["prompt"].startswith("Ticket: {{ ticket }}")
    assert first["confirmation"]["k"] == 100 and first["confirmation"]["fixed"]
    assert [t["status"] for t in first["trials"]] == ["winner", "eliminated", "discarded"]
    assert data["spend"]["rewrite_samples"] == 190
    assert data["statuses"][2] == {
        "suite_path": "suites/lists.yaml",
        "case_id": "summary",
        "status": "conforms",
        "detail": "40/40 on the candidate (pass)",
    }


def test_every_report_carries_the_case_note() -> None:
    """The split level of several contenders, or why the goal fell back, is said everywhere."""
    original = report()
    noted = dataclasses.replace(
        original.cases[0], note=f"after-data and input-section could not be told apart {HOSTILE}"
    )
    with_note = dataclasses.replace(original, cases=(noted, *original.cases[1:]))
    text = "\n".join(adapt_text.text_lines(with_note))
    assert "note: after-data and input-section could not be told apart" in text
    markdown = adapt_markdown.render(with_note)
    [line] = [line for line in markdown.splitlines() if line.startswith("Note: ")]
    assert "could not be told apart" in line and "<script>" not in line
    html = adapt_html.render(with_note)
    assert "Note: after-data and input-section could not be told apart &lt;script&gt;" in html
