"""The report files of a comparison or a session: ``--md`` / ``--html`` of ``promptcheck compare``
and ``--promptcheck-md`` / ``--promptcheck-html`` of a pytest session.

A comparison writes the same Markdown and HTML wherever it was made; a single-model session
writes its cases (:mod:`promptcheck.report.run_markdown`). The HTML report reads the samples from
the store, so a session writes it once its runs are closed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from promptcheck.comparison import ComparisonReport
from promptcheck.errors import PromptcheckError
from promptcheck.report import markdown, run_markdown
from promptcheck.report.html import write_html
from promptcheck.report.output import write_report_file
from promptcheck.report.terminal import SummaryRow
from promptcheck.store import Store


def write_comparison_files(
    report: ComparisonReport, *, md: Path | None, html: Path | None, store: Store
) -> None:
    """The comparison's Markdown summary and HTML report, where asked; raises
    PromptcheckError when one cannot be written."""
    if html is not None:
        write_html(html, report, (), store)
    if md is not None:
        write_report_file("Markdown summary", md, markdown.render(report))


def write_reports(
    report: ComparisonReport | None,
    rows: Sequence[SummaryRow],
    run_ids: Sequence[str],
    store_path: Path,
    *,
    md: Path | None,
    html: Path | None,
) -> list[str]:
    """A session's files, where asked (a comparison's when it compared, else its runs'); one
    line per file, saying where it went or why it did not."""
    lines = []
    if md is not None:
        text = session_markdown(report, rows, store_path)
        lines.append(
            _attempt(
                "Markdown summary", md, lambda: write_report_file("Markdown summary", md, text)
            )
        )
    if html is not None:
        lines.append(
            _attempt("HTML report", html, lambda: _html(report, run_ids, store_path, html))
        )
    return lines


def session_markdown(
    report: ComparisonReport | None, rows: Sequence[SummaryRow], store_path: Path
) -> str:
    """A session's Markdown: its comparison's when it compared, else its cases by verdict (the
    file of ``--promptcheck-md`` and the job summary on GitHub Actions)."""
    if report is not None:
        return markdown.render(report)
    return run_markdown.render(rows, str(store_path))


def _attempt(what: str, path: Path, write: Callable[[], None]) -> str:
    """Write one file; a failure is reported on the terminal rather than failing the session,
    whose verdicts are already decided and recorded."""
    try:
        write()
    except (PromptcheckError, OSError) as exc:
        return f"promptcheck: could not write the {what}: {exc}"
    return f"{what} written to {path}"


def _html(
    report: ComparisonReport | None, run_ids: Sequence[str], store_path: Path, path: Path
) -> None:
    with Store(store_path) as store:
        write_html(path, report, [store.run(run_id) for run_id in run_ids], store)
