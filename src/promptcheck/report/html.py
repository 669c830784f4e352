"""The HTML report: every case on every run side by side, in one file a reviewer opens offline.

The file holds its CSS and script inline and names no URL outside itself, so it survives being
uploaded as a CI artifact and opened from a download folder. Model outputs are untrusted text:
the page is rendered from Jinja2 templates (``templates/``, package data) with autoescaping on,
so everything taken from a run is escaped, and a Content-Security-Policy lets only the page's own
script run, so an output holding ``<script>`` shows as text even if an escape were missed.

A comparison (one or more :class:`ComparisonReport` sharing a baseline) marks each candidate's
cells with the change against its baseline; without one, the grid shows each run's threshold
verdicts. Either way the filter keeps only the rows that need attention (a change, or a verdict
other than pass), and a cell shows a few distinct sampled outputs, failing ones first, with the
checks that failed on them. What the page shows is decided in :mod:`.html_view`; the templates
only lay it out.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from promptcheck.comparison.engine import ComparisonReport
from promptcheck.report.html_view import Limits, as_reports, build_page, column_runs
from promptcheck.report.output import write_report_file

if TYPE_CHECKING:
    from promptcheck.results import CaseResult
    from promptcheck.store.database import RunSummary, Store

__all__ = ["MAX_OUTPUT_CHARS", "MAX_SAMPLES", "render", "write_html"]

#: Distinct outputs shown per cell (failing first): enough to see how a case fails, while a
#: 500-case suite still makes a file a browser opens at once.
MAX_SAMPLES = 4
#: Characters of one output or prompt shown before it is cut.
MAX_OUTPUT_CHARS = 2_000

#: markupsafe writes the quotes it escapes as ``&#34;`` and ``&#39;``; the page keeps the
#: spelling of :func:`html.escape` it has always had, which readers of the file search for. The
#: swap cannot touch a model's text: an ``&`` in escaped text is written ``&amp;``, so these
#: entities in the page come from the escaping alone.
_QUOTE_ENTITIES = (("&#34;", "&quot;"), ("&#39;", "&#x27;"))


def write_html(
    path: Path,
    report: ComparisonReport | Sequence[ComparisonReport] | None,
    runs: Sequence[RunSummary],
    store: Store,
) -> None:
    """Write the report of ``runs`` (and of the comparison(s) ``report``) to ``path``.

    The comparison's baseline and candidate come first whether or not ``runs`` names them;
    ``runs`` adds columns (other models of the session) and is the whole grid without a
    comparison. Samples are read from ``store``. A file that cannot be written raises
    :class:`PromptcheckError`, which the command line and the plugin report as one line.
    """
    reports = as_reports(report)
    columns = column_runs(reports, runs)
    cases = {run.id: store.case_results(run.id) for run in columns}
    write_report_file("HTML report", path, render(reports, columns, cases))


def render(
    report: ComparisonReport | Sequence[ComparisonReport] | None,
    runs: Sequence[RunSummary],
    cases: Mapping[str, Sequence[CaseResult]],
) -> str:
    """The page as text; ``cases`` maps a run id to its case results (store-free, for tests)."""
    page = build_page(report, runs, cases, Limits(MAX_SAMPLES, MAX_OUTPUT_CHARS))
    environment = _environment()
    # The policy admits the page's one script by its digest: that of report.js as the page's
    # include renders it, byte for byte.
    script = environment.get_template("report.js").render()
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    text = environment.get_template("report.html.j2").render(page=page, script_digest=digest)
    for entity, spelling in _QUOTE_ENTITIES:
        text = text.replace(entity, spelling)
    return text


@functools.cache
def _environment() -> jinja2.Environment:
    """The templates' environment, built once: every value escaped, an unknown name an error."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("promptcheck.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
