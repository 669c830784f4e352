"""The report files a pytest session writes at its end: ``--promptcheck-md`` and ``--html``.

A comparison writes the same Markdown as ``promptcheck compare --md``; a single-model run writes
its cases (:mod:`promptcheck.report.run_markdown`). The HTML report reads the samples from the
store, so it is written once the runs are closed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from promptcheck.errors import PromptcheckError

if TYPE_CHECKING:
    from promptcheck.report.terminal import SummaryRow
    from promptcheck.session import PromptcheckSession


def write_reports(
    session: PromptcheckSession,
    rows: Sequence[SummaryRow],
    run_ids: Sequence[str],
    *,
    md: Path | None,
    html: Path | None,
) -> list[str]:
    """Write the files asked for; one line per file, saying where it went or why it did not."""
    lines = []
    if md is not None:
        lines.append(_attempt("Markdown summary", md, lambda: _markdown(session, rows, md)))
    if html is not None:
        lines.append(_attempt("HTML report", html, lambda: _html(session, run_ids, html)))
    return lines


def _attempt(what: str, path: Path, write: Callable[[], None]) -> str:
    """Write one file; a failure is reported on the terminal rather than failing the session,
    whose verdicts are already decided and recorded."""
    try:
        write()
    except (PromptcheckError, OSError) as exc:
        return f"promptcheck: could not write the {what}: {exc}"
    return f"{what} written to {path}"


def _markdown(session: PromptcheckSession, rows: Sequence[SummaryRow], path: Path) -> None:
    if session.report is not None:
        from promptcheck.report.markdown import render

        text = render(session.report)
    else:
        from promptcheck.report.run_markdown import render as render_run

        text = render_run(rows, str(session.store_path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _html(session: PromptcheckSession, run_ids: Sequence[str], path: Path) -> None:
    from promptcheck.report.html import write_html
    from promptcheck.store.database import Store

    with Store(session.store_path) as store:
        runs = [store.run(run_id) for run_id in run_ids]
        write_html(path, session.report, runs, store)
