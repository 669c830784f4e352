"""pytest hooks only: options, collection, reports, session finish. The work is done elsewhere.

Importing this module is cheap (pytest imports it in every run through the entry point), and
nothing is collected unless ``--promptcheck`` is given (or ``promptcheck = true`` in the ini).
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from promptcheck.config import (
    COMPARISON_FAIL_ON,
    DEFAULT_DETECT,
    DEFAULT_POWER,
    DEFAULT_STORE,
    FAIL_ON,
    THRESHOLD_FAIL_ON,
    Options,
)

if TYPE_CHECKING:
    from promptcheck.collection import SuiteFile
    from promptcheck.report.github import Annotation
    from promptcheck.report.terminal import SummaryRow
    from promptcheck.session import PromptcheckSession

#: xdist modes that send a worker whole suite files, so it can sample a file's cases together.
GROUPING_DISTS = ("loadfile", "loadscope")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("promptcheck", "prompt regression tests (promptcheck)")
    group.addoption(
        "--promptcheck",
        action="store_true",
        dest="promptcheck",
        default=None,
        help="collect prompt suites (*.yaml with a top-level 'suite:') and run them.",
    )
    group.addoption(
        "--promptcheck-model",
        action="append",
        dest="promptcheck_model",
        default=None,
        metavar="NAME",
        help="model(s) to run on; repeat or comma-separate. "
        "Default: the suite's or project's default model.",
    )
    group.addoption(
        "--promptcheck-samples",
        type=int,
        dest="promptcheck_samples",
        default=None,
        metavar="N",
        help="samples per case, overriding the suites; with --promptcheck-baseline, overriding "
        "each case's planned budget (the summary says what a smaller one can detect).",
    )
    group.addoption(
        "--promptcheck-fresh",
        action="store_true",
        dest="promptcheck_fresh",
        default=None,
        help="ignore cached generations and sample again (results are still recorded).",
    )
    group.addoption(
        "--promptcheck-store",
        dest="promptcheck_store",
        default=None,
        metavar="PATH",
        help=f"SQLite run store (default {DEFAULT_STORE}).",
    )
    group.addoption(
        "--promptcheck-concurrency",
        type=int,
        dest="promptcheck_concurrency",
        default=None,
        metavar="N",
        help="requests in flight per model, shared by the cases running together "
        "(default: [tool.promptcheck] concurrency, else 8).",
    )
    group.addoption(
        "--promptcheck-label",
        dest="promptcheck_label",
        default=None,
        metavar="LABEL",
        help="label this session's runs in the store (e.g. 'baseline').",
    )
    group.addoption(
        "--promptcheck-fail-on",
        dest="promptcheck_fail_on",
        default=None,
        choices=FAIL_ON,
        help="threshold verdicts: 'fail' (default) fails only cases that fail on evidence, "
        "'undecided' also those the samples cannot decide. With --promptcheck-baseline: "
        "'regressed' (default) fails only regressed cases, 'inconclusive' also those.",
    )
    group.addoption(
        "--promptcheck-baseline",
        dest="promptcheck_baseline",
        default=None,
        metavar="BASELINE",
        help="compare the candidate (--promptcheck-model) with BASELINE: a model of "
        "[tool.promptcheck.models], run live, or a stored run id, id prefix or label, "
        "whose samples are reused. Items fail when their case regressed.",
    )
    group.addoption(
        "--promptcheck-baseline-refresh",
        action="store_true",
        dest="promptcheck_baseline_refresh",
        default=None,
        help="with --promptcheck-baseline naming a stored run: re-record it (its model sampled "
        "afresh, with new seeds), compare with the new run, which takes over the stored run's "
        "label.",
    )
    group.addoption(
        "--promptcheck-detect",
        type=float,
        dest="promptcheck_detect",
        default=None,
        metavar="DROP",
        help="with --promptcheck-baseline: the drop in conformance each case's samples are "
        f"planned to catch, and that 'unchanged' rules out (default {DEFAULT_DETECT:g}).",
    )
    group.addoption(
        "--promptcheck-power",
        type=float,
        dest="promptcheck_power",
        default=None,
        metavar="P",
        help="with --promptcheck-baseline: the chance of catching that drop on one case of the "
        f"suite that the plan buys (default {DEFAULT_POWER:g}).",
    )
    group.addoption(
        "--promptcheck-pairwise",
        dest="promptcheck_pairwise",
        default=None,
        metavar="JUDGE",
        help="with --promptcheck-baseline: ask JUDGE (a model of [tool.promptcheck.models]) "
        "whether each candidate output is at least as good as the baseline's for the same "
        "prompt, in both orders; one more check per case in the comparison (diagnosis only).",
    )
    group.addoption(
        "--promptcheck-pairwise-rubric",
        dest="promptcheck_pairwise_rubric",
        default=None,
        metavar="TEXT",
        help="what makes a response better, for the pairwise judge.",
    )
    group.addoption(
        "--promptcheck-pairwise-margin",
        type=float,
        dest="promptcheck_pairwise_margin",
        default=None,
        metavar="M",
        help="share of prompts the baseline may win on while the candidate passes the "
        "pairwise check (default 0.05).",
    )
    group.addoption(
        "--promptcheck-adaptive",
        action="store_true",
        dest="promptcheck_adaptive",
        default=None,
        help="sample in rounds and stop a case once its verdict is decided (at most the "
        "case's samples); anytime-valid tests keep the error rates.",
    )
    group.addoption(
        "--promptcheck-md",
        dest="promptcheck_md",
        default=None,
        metavar="PATH",
        help="write a Markdown summary (a comparison, or the run's cases) at the end.",
    )
    group.addoption(
        "--promptcheck-html",
        dest="promptcheck_html",
        default=None,
        metavar="PATH",
        help="write a self-contained HTML report at the end.",
    )
    group.addoption(
        "--promptcheck-github",
        action="store_true",
        dest="promptcheck_github",
        default=None,
        help="write annotations at each failed case's line, the job summary and step outputs "
        "for GitHub Actions (automatic when GITHUB_ACTIONS=true).",
    )
    group.addoption(
        "--promptcheck-no-progress",
        action="store_false",
        dest="promptcheck_progress",
        default=None,
        help="no progress bar, even on a terminal.",
    )
    parser.addini("promptcheck", "collect prompt suites without --promptcheck", type="bool")
    for name, help_text in (
        ("promptcheck_model", "default model name(s), comma-separated"),
        ("promptcheck_samples", "samples per case"),
        ("promptcheck_store", "SQLite run store path"),
        ("promptcheck_concurrency", "requests in flight per model"),
        ("promptcheck_fail_on", "fail or undecided (regressed or inconclusive in a comparison)"),
    ):
        parser.addini(name, help_text, default=None)
    parser.addini("promptcheck_adaptive", "sample adaptively (true/false)", type="bool")


def pytest_configure(config: pytest.Config) -> None:
    if not _enabled(config):
        return
    from promptcheck.errors import PromptcheckError
    from promptcheck.session import PromptcheckSession

    options = _options(config)
    worker_input: dict[str, Any] | None = getattr(config, "workerinput", None)
    dist = str(config.getoption("dist", "no"))
    if options.baseline and worker_input is None and dist != "no":
        raise pytest.UsageError(
            "promptcheck: --promptcheck-baseline decides across all the session's cases at "
            "once, so it runs in one process: drop -n (or pass -n 0 / -p no:xdist); the "
            "runner already overlaps every case's requests"
        )
    try:
        session = PromptcheckSession(root=config.rootpath, options=options)
    except PromptcheckError as exc:
        raise pytest.UsageError(f"promptcheck: {exc}") from None
    if worker_input and "promptcheck_session" in worker_input:
        session.session_id = worker_input["promptcheck_session"]
        # a worker sent items one by one cannot know the rest of a suite file's items
        session.grouped = worker_input.get("promptcheck_dist") in GROUPING_DISTS
    # Decided now, while pytest's capture is suspended: during a test, stderr is not the terminal.
    from dataclasses import replace

    from promptcheck.report.progress import wanted

    session.options = replace(session.options, progress=wanted(session.options.progress))
    session.announce = functools.partial(_announce, config)
    from promptcheck.collection import SESSION_KEY

    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(SessionHooks(config, session), "promptcheck-session")


def _announce(config: pytest.Config, message: str) -> None:
    """One line on pytest's terminal, written past its capture of the running test's output: a
    model built inside a test says so, or a CI log stays silent for minutes."""
    capture = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")
    suspended = capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()
    with suspended:
        if reporter is not None:
            reporter.write_line(f"promptcheck: {message}")
        else:
            print(f"promptcheck: {message}", file=sys.stderr, flush=True)


class SessionHooks:
    """Hooks that exist only when promptcheck is enabled; each hands off to the session."""

    def __init__(self, config: pytest.Config, session: PromptcheckSession) -> None:
        self.config = config
        self.session = session
        self.rows: list[SummaryRow] = []
        self.run_ids: set[str] = set()
        self.written: list[str] = []
        self.annotations: list[Annotation] = []
        #: The token of the stop-commands window opened at session start, while GitHub output is on.
        self.commands_token: str | None = None

    def _write_reports(self) -> list[str]:
        """The ``--promptcheck-md`` / ``--promptcheck-html`` files, once the runs are closed;
        lines saying where they went (or why not), for the terminal summary."""
        options = self.session.options
        if not (options.md or options.html) or not self.rows:
            return []
        from promptcheck.report.files import write_reports

        run_ids = sorted(self.run_ids | set(self.session.run_ids()))
        return write_reports(
            self.session.report,
            self.rows,
            run_ids,
            self.session.store_path,
            md=_path(self.config, options.md),
            html=_path(self.config, options.html),
        )

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Under GitHub output, stop the runner's workflow commands before any model output can
        reach the log; :meth:`_write_commands` resumes them for promptcheck's own."""
        if self._worker() or not self._github():
            return
        from promptcheck.report.github import new_token, stop_commands

        self.commands_token = new_token()
        self._write_line(stop_commands(self.commands_token))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Under GitHub output, a case's failure text (with its model outputs) has every line the
        runner could read as a command made inert, in case it reaches the log unguarded."""
        report = yield
        if isinstance(report.longrepr, str) and self._github():
            from promptcheck.collection import CaseItem
            from promptcheck.report.github import neutralise

            if isinstance(item, CaseItem):
                report.longrepr = neutralise(report.longrepr)
        return report

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> SuiteFile | None:
        from promptcheck.collection import SuiteFile
        from promptcheck.suite import is_suite_file

        if is_suite_file(file_path):
            return SuiteFile.from_parent(parent, path=file_path)
        return None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """pytest-xdist: every worker records into the controller's runs (one per model)."""
        node.workerinput["promptcheck_session"] = self.session.session_id
        node.workerinput["promptcheck_dist"] = str(self.config.getoption("dist", "no"))

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(
        self, report: pytest.TestReport | pytest.CollectReport
    ) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
        """A case nothing could score is an error of its item, not a failure: pytest counts and
        lists it under errors ("1 error", ``E``, ``ERROR``), as every promptcheck report calls it.
        Read from the item's properties, which also reach an xdist controller."""
        from promptcheck.config import NOTHING_SCORED

        if report.when != "call" or not report.failed:
            return None
        properties = dict(getattr(report, "user_properties", ()))
        if properties.get("promptcheck_verdict") != NOTHING_SCORED:
            return None
        return "error", "E", ("ERROR", {"red": True})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Gather verdicts from reports, which also reach an xdist controller from its workers."""
        if report.when != "call":
            return
        from promptcheck.report.terminal import row_from_properties

        properties = dict(report.user_properties)
        row, run_id = row_from_properties(properties)
        if row is not None and run_id is not None:
            self.rows.append(row)
            self.run_ids.add(run_id)
        path, line, _ = report.location
        if report.failed and Path(path).suffix in (".yaml", ".yml") and line is not None:
            from promptcheck.report.github import annotation

            where = self.config.rootpath / path
            self.annotations.append(annotation(where, line + 1, properties, report.longreprtext))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        drift: list[str] = []
        if self.rows:
            drift = self._summary(terminalreporter)
        for line in self.written:
            terminalreporter.write_line(line)
        if self.commands_token is not None:
            self._write_commands(terminalreporter, self.commands_token, drift)
            self.commands_token = None

    def _summary(self, terminalreporter: Any) -> list[str]:
        """The verdicts table, the usage, the comparison; the warnings that a model changed
        behind its name (a re-run's, the comparison's), for GitHub."""
        from promptcheck.report.terminal import drift_warnings, summary_lines

        terminalreporter.write_sep("=", "promptcheck summary")
        for line in summary_lines(self.rows):
            terminalreporter.write_line(line)
        for line in self.session.usage_lines:
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"runs recorded in {self.session.store_path}")
        drift = drift_warnings(self.rows)
        for warning in drift:
            terminalreporter.write_line(f"warning: {warning}", yellow=True)
        if self.session.report is not None:
            from promptcheck.comparison.drift import is_baseline_drift
            from promptcheck.report.comparison_text import text_lines

            terminalreporter.write_sep("=", "promptcheck comparison")
            for line in text_lines(self.session.report):
                terminalreporter.write_line(line)
            drift.extend(filter(is_baseline_drift, self.session.report.warnings))
        return drift

    def _write_commands(self, terminalreporter: Any, token: str, drift: list[str]) -> None:
        """Resume the runner's workflow commands, stopped since the session started, and write
        promptcheck's own: the annotations GitHub will show, then the warnings."""
        from promptcheck.config import MAX_ERROR_ANNOTATIONS
        from promptcheck.report.github import limited, resume_commands
        from promptcheck.report.github import warning as warning_command

        terminalreporter.write_line(resume_commands(token))
        shown, notice = limited(self.annotations, MAX_ERROR_ANNOTATIONS)
        for annotation in shown:
            terminalreporter.write_line(annotation.command())
        if notice is not None:
            terminalreporter.write_line(notice)
        for message in drift:
            terminalreporter.write_line(warning_command(message))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from promptcheck.errors import PromptcheckError

        worker = self._worker()
        interrupted = _interrupted(session, exitstatus)
        try:
            if worker:
                self.session.finish((), interrupted=interrupted)  # the controller closes the runs
            else:
                self.session.finish(sorted(self.run_ids), interrupted=interrupted)
        except PromptcheckError as exc:  # the results are recorded; only the end time is lost
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"promptcheck: could not close the runs: {exc}", red=True)
        if not worker:
            self.written = self._write_reports()
            if self._github():
                self.written.extend(self._write_github())

    def _worker(self) -> bool:
        return getattr(self.config, "workerinput", None) is not None

    def _write_line(self, line: str) -> None:
        """A line on pytest's terminal (standard output, which the runner reads)."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line, flush=True)

    def _github(self) -> bool:
        from promptcheck.report.github import enabled

        return enabled(bool(self.session.options.github))

    def _write_github(self) -> list[str]:
        """The job summary and the step outputs (the annotations go to the terminal)."""
        from promptcheck.errors import PromptcheckError
        from promptcheck.report.files import session_markdown
        from promptcheck.report.github import publish

        session, options = self.session, self.session.options
        markdown = session_markdown(session.report, self.rows, session.store_path)
        try:
            publish(
                markdown if self.rows else None,
                [row.outcome for row in self.rows],
                session.report.counts if session.report is not None else {},
                len(self.annotations),
                {
                    "markdown": _path(self.config, options.md),
                    "html": _path(self.config, options.html),
                },
            )
        except PromptcheckError as exc:
            return [f"promptcheck: {exc}"]
        return []


@pytest.fixture
def promptcheck(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Run a case of a suite from a Python test: ``promptcheck.run("suites/x.yaml", "case")``."""
    from promptcheck.api import CaseRunner

    runner = CaseRunner(root=request.config.rootpath, options=_options(request.config))
    yield runner
    runner.close()


def _interrupted(session: pytest.Session, exitstatus: int) -> bool:
    """Whether the session was cut short (Ctrl-C, ``pytest.exit``, a plugin or signal handler
    setting ``session.shouldstop``), so that its runs are closed as interrupted.

    ``-x`` / ``--maxfail`` stop early on purpose: such a run is finished, with fewer cases.
    Under xdist they end the session as INTERRUPTED too, but only they set ``shouldfail``.
    """
    return exitstatus == pytest.ExitCode.INTERRUPTED and not session.shouldfail


def _path(config: pytest.Config, value: str | None) -> Path | None:
    """A report path from the command line, relative to where pytest was started."""
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else config.invocation_params.dir / path


def _enabled(config: pytest.Config) -> bool:
    flag = config.getoption("promptcheck")
    if flag is not None:
        return bool(flag)
    return bool(config.getini("promptcheck"))


def _options(config: pytest.Config) -> Options:
    def value(option: str) -> Any:
        given = config.getoption(option)
        return given if given is not None else config.getini(option)

    models: list[str] = []
    for entry in config.getoption("promptcheck_model") or [
        config.getini("promptcheck_model") or ""
    ]:
        models.extend(name.strip() for name in str(entry).split(",") if name.strip())
    baseline = config.getoption("promptcheck_baseline") or None
    fail_on = _fail_on(value("promptcheck_fail_on"), comparing=baseline is not None)
    adaptive = config.getoption("promptcheck_adaptive")
    if adaptive is None:
        adaptive = config.getini("promptcheck_adaptive")
    try:
        return Options(
            models=tuple(models),
            samples=_positive(value("promptcheck_samples"), "promptcheck_samples"),
            fresh=bool(config.getoption("promptcheck_fresh")),
            store=value("promptcheck_store") or None,
            concurrency=_positive(value("promptcheck_concurrency"), "promptcheck_concurrency"),
            label=config.getoption("promptcheck_label"),
            fail_on=fail_on,
            progress=config.getoption("promptcheck_progress") is not False,
            adaptive=bool(adaptive),
            baseline=baseline,
            md=config.getoption("promptcheck_md"),
            html=config.getoption("promptcheck_html"),
            pairwise=config.getoption("promptcheck_pairwise") or None,
            pairwise_rubric=config.getoption("promptcheck_pairwise_rubric"),
            pairwise_margin=config.getoption("promptcheck_pairwise_margin"),
            detect=config.getoption("promptcheck_detect"),
            power=config.getoption("promptcheck_power"),
            baseline_refresh=bool(config.getoption("promptcheck_baseline_refresh")),
            github=config.getoption("promptcheck_github"),
        )
    except ValueError as exc:
        raise pytest.UsageError(f"promptcheck: invalid option value: {exc}") from None


def _fail_on(raw: object, *, comparing: bool) -> str:
    """``--promptcheck-fail-on`` checked against the kind of run: threshold verdicts take
    fail|undecided, a comparison with a baseline takes regressed|inconclusive."""
    allowed = COMPARISON_FAIL_ON if comparing else THRESHOLD_FAIL_ON
    if raw is None or raw == "":
        return allowed[0]
    given = str(raw)
    if given in allowed:
        return given
    if given in FAIL_ON:
        what = (
            "a comparison (--promptcheck-baseline) fails on 'regressed' or 'inconclusive'"
            if comparing
            else f"{given!r} applies to comparisons: add --promptcheck-baseline BASELINE, or "
            "use 'fail' or 'undecided' for threshold verdicts"
        )
        raise pytest.UsageError(f"promptcheck: --promptcheck-fail-on {given}: {what}")
    raise pytest.UsageError(
        f"promptcheck: promptcheck_fail_on must be one of {', '.join(allowed)}, not {given!r}"
    )


def _positive(raw: object, name: str) -> int | None:
    """A count from the command line or the ini (a string there); a count below 1 is an error."""
    if raw is None or raw == "":
        return None
    try:
        number = int(str(raw))
    except ValueError:
        number = 0
    if number < 1:
        option = "--" + name.replace("_", "-")
        raise pytest.UsageError(f"{option} (ini {name}) must be a whole number >= 1, not {raw!r}")
    return number
