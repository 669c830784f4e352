"""pytest hooks only: options, collection, reports, session finish. The work is done elsewhere.

Importing this module is cheap (pytest imports it in every run through the entry point), and
nothing is collected unless ``--promptcheck`` is given (or ``promptcheck = true`` in the ini).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from promptcheck.collection import SuiteFile
    from promptcheck.report.terminal import SummaryRow
    from promptcheck.session import PromptcheckSession

SESSION_KEY = pytest.StashKey["PromptcheckSession"]()


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
        help="samples per case, overriding the suites.",
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
        help="SQLite run store (default .promptcheck/promptcheck.db).",
    )
    group.addoption(
        "--promptcheck-concurrency",
        type=int,
        dest="promptcheck_concurrency",
        default=None,
        metavar="N",
        help="requests in flight per case (default: [tool.promptcheck] concurrency, else 8).",
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
        choices=("fail", "undecided"),
        help="'fail' (default): only cases that fail on evidence fail; "
        "'undecided': cases the samples cannot decide fail too.",
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
        ("promptcheck_concurrency", "requests in flight per case"),
        ("promptcheck_fail_on", "fail or undecided"),
    ):
        parser.addini(name, help_text, default=None)


def pytest_configure(config: pytest.Config) -> None:
    if not _enabled(config):
        return
    from promptcheck.errors import PromptcheckError
    from promptcheck.session import PromptcheckSession

    try:
        session = PromptcheckSession(root=config.rootpath, options=_options(config))
    except PromptcheckError as exc:
        raise pytest.UsageError(f"promptcheck: {exc}") from None
    worker_input: dict[str, Any] | None = getattr(config, "workerinput", None)
    if worker_input and "promptcheck_session" in worker_input:
        session.session_id = worker_input["promptcheck_session"]
    # Decided now, while pytest's capture is suspended: during a test, stderr is not the terminal.
    from dataclasses import replace

    from promptcheck.report.progress import wanted

    session.options = replace(session.options, progress=wanted(session.options.progress))
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(SessionHooks(config, session), "promptcheck-session")


class SessionHooks:
    """Hooks that exist only when promptcheck is enabled; each hands off to the session."""

    def __init__(self, config: pytest.Config, session: PromptcheckSession) -> None:
        self.config = config
        self.session = session
        self.rows: list[SummaryRow] = []
        self.run_ids: set[str] = set()

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> SuiteFile | None:
        from promptcheck.collection import SuiteFile, is_suite_file

        if is_suite_file(file_path):
            return SuiteFile.from_parent(parent, path=file_path)
        return None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """pytest-xdist: every worker records into the controller's runs (one per model)."""
        node.workerinput["promptcheck_session"] = self.session.session_id

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Gather verdicts from reports, which also reach an xdist controller from its workers."""
        if report.when != "call":
            return
        from promptcheck.report.terminal import row_from_properties

        row, run_id = row_from_properties(dict(report.user_properties))
        if row is not None and run_id is not None:
            self.rows.append(row)
            self.run_ids.add(run_id)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.rows:
            return
        from promptcheck.report.terminal import summary_lines

        terminalreporter.write_sep("=", "promptcheck summary")
        for line in summary_lines(self.rows):
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"runs recorded in {self.session.store_path}")

    def pytest_sessionfinish(self) -> None:
        from promptcheck.errors import PromptcheckError

        try:
            if getattr(self.config, "workerinput", None) is not None:
                self.session.finish(())  # the controller closes the runs
            else:
                self.session.finish(sorted(self.run_ids))
        except PromptcheckError as exc:  # the results are recorded; only the end time is lost
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"promptcheck: could not close the runs: {exc}", red=True)


@pytest.fixture
def promptcheck(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Run a case of a suite from a Python test: ``promptcheck.run("suites/x.yaml", "case")``."""
    from promptcheck.api import CaseRunner

    runner = CaseRunner(root=request.config.rootpath, options=_options(request.config))
    yield runner
    runner.close()


def _enabled(config: pytest.Config) -> bool:
    flag = config.getoption("promptcheck")
    if flag is not None:
        return bool(flag)
    return bool(config.getini("promptcheck"))


def _options(config: pytest.Config) -> Any:
    from promptcheck.session import FAIL_ON, Options

    def value(option: str) -> Any:
        given = config.getoption(option)
        return given if given is not None else config.getini(option)

    models: list[str] = []
    for entry in config.getoption("promptcheck_model") or [
        config.getini("promptcheck_model") or ""
    ]:
        models.extend(name.strip() for name in str(entry).split(",") if name.strip())
    fail_on = value("promptcheck_fail_on") or "fail"
    if fail_on not in FAIL_ON:
        raise pytest.UsageError(f"promptcheck_fail_on must be one of {', '.join(FAIL_ON)}")
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
        )
    except ValueError as exc:
        raise pytest.UsageError(f"promptcheck: invalid option value: {exc}") from None


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
