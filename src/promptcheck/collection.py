"""Suite files and case items: pytest's YAML-collection example, grown up.

A suite file yields one item per case per model (``suites/x.yaml::case[model]``), so ``-k``,
``-x``, ``--lf``, ``-n`` and ``--junitxml`` work unchanged. Suite errors are collection errors
with the file and line, never tracebacks.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from promptcheck.config import FAILING, NOTHING_SCORED
from promptcheck.errors import PromptcheckError, SuiteError
from promptcheck.registry import did_you_mean
from promptcheck.report.escaping import printable
from promptcheck.report.progress import SampleProgress
from promptcheck.report.terminal import explain, explain_change, rate_text
from promptcheck.results import ADAPTIVE_KEY, CaseResult
from promptcheck.run import CaseRef
from promptcheck.session import PromptcheckSession
from promptcheck.suite import CaseSpec, ModelConfig, SuiteSpec

if TYPE_CHECKING:
    from promptcheck.comparison.engine import CaseRow

#: Where the plugin keeps the session, for the items (pytest's stash, not a private attribute).
SESSION_KEY = pytest.StashKey[PromptcheckSession]()


class CaseFailure(Exception):
    """Carries a failed case's result (and, in a comparison, its row) to ``repr_failure``."""

    def __init__(self, result: CaseResult, row: CaseRow | None = None) -> None:
        super().__init__(result.case_id)
        self.result = result
        self.row = row


class CaseError(Exception):
    """A case that could not be run at all (a model that cannot start, a store that failed)."""


class SuiteFile(pytest.File):
    """A suite YAML file; compiled when collected, so every suite error is a collection error."""

    def collect(self) -> Iterator[CaseItem]:
        session = self.config.stash[SESSION_KEY]
        try:
            suite = session.suite(self.path)
            models = session.models_for(suite)
            check_case_models(suite, {*session.project.known_models, *suite.models})
        except PromptcheckError as exc:
            raise self.CollectError(str(exc)) from None
        for case in suite.cases:
            for model in models:
                if case.models is not None and model.name not in case.models:
                    continue
                name = f"{case.id}[{model.name}]"
                item = CaseItem.from_parent(
                    self,
                    name=name,
                    # parsed from the string, as pytest parses the ids that --lf remembers (pytest
                    # 9 keeps "[model]" as params there but not in a child id built from name)
                    nodeid=f"{self.nodeid}::{name}",
                    suite=suite,
                    case=case,
                    model=model,
                )
                for tag in case.tags:
                    if tag.isidentifier():
                        self.config.addinivalue_line("markers", f"{tag}: promptcheck case tag")
                        item.add_marker(tag)
                yield item


def check_case_models(suite: SuiteSpec, known: set[str]) -> None:
    """A case's ``models:`` must name defined models: a typo would silently skip the case."""
    for index, case in enumerate(suite.cases):
        for name in case.models or ():
            if name not in known:
                raise SuiteError(
                    f"unknown model {name!r}",
                    path=suite.path,
                    line=case.line,
                    key=f"cases[{index}].models",
                    hint=did_you_mean(name, sorted(known))
                    or f"defined models: {', '.join(sorted(known)) or 'none'}",
                )


class CaseItem(pytest.Item):
    """One case on one model: sample it, score it, decide it."""

    def __init__(
        self, *, suite: SuiteSpec, case: CaseSpec, model: ModelConfig, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.case = case
        self.model = model

    @property
    def ref(self) -> CaseRef:
        return CaseRef(self.nodeid, self.suite, self.case, self.model)

    def group(self) -> list[CaseRef]:
        """The items sampled together with this one: in a comparison every case of the session
        (the suite-level decision needs them all), else the session's items of this suite file
        and model; just this one on an xdist worker that is not sent whole files."""
        session = self.config.stash[SESSION_KEY]
        items = [item for item in self.session.items if isinstance(item, CaseItem)]
        if session.comparing:
            return [item.ref for item in items]
        if not session.grouped:
            return [self.ref]
        return [
            item.ref
            for item in items
            if item.path == self.path and item.model.name == self.model.name
        ]

    def runtest(self) -> None:
        session = self.config.stash[SESSION_KEY]
        group = self.group()
        total = session.planned(group)
        label = self.nodeid if len(group) == 1 else f"{self.path.name} [{self.model.name}]"
        with (
            self._terminal(session.options.progress and total > 0),
            SampleProgress(label, total, session.options.progress and total > 0) as progress,
        ):
            session.progress = progress.advance
            try:
                outcome = session.outcome(self.ref, group)
            except PromptcheckError as exc:
                raise CaseError(str(exc)) from None
            finally:
                session.progress = None
        result = outcome.result
        self.user_properties.extend(properties(outcome.run_id, result))
        failing = FAILING[session.options.fail_on]
        if result.status == NOTHING_SCORED:
            # samples were drawn and none could be scored (every one errored or no check could
            # tell): whatever --promptcheck-fail-on says, the case was not judged, and the item
            # is an error with the reason (SessionHooks.pytest_report_teststatus), in a
            # comparison too, whose change can only be inconclusive then
            raise CaseFailure(result)
        if outcome.row is not None:
            self.user_properties.extend(comparison_properties(outcome.row, outcome.baseline_run))
            if outcome.row.change in failing:
                raise CaseFailure(result, outcome.row)
            return
        if result.verdict.outcome in failing:
            raise CaseFailure(result)

    def _terminal(self, progress: bool) -> contextlib.AbstractContextManager[object]:
        """Suspend pytest's output capture while a progress bar is drawn, else it never shows."""
        capture = self.config.pluginmanager.getplugin("capturemanager")
        if capture is None or not progress:
            return contextlib.nullcontext()
        suspended: contextlib.AbstractContextManager[object] = capture.global_and_fixture_disabled()
        return suspended

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailure):
            if excinfo.value.row is not None:
                return explain_change(excinfo.value.row, excinfo.value.result)
            return explain(excinfo.value.result)
        if isinstance(excinfo.value, CaseError):
            return printable(
                f"{self.case.suite}::{self.case.id} on model {self.model.name!r}: {excinfo.value}"
            )
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"{self.case.suite}::{self.name}"


def properties(run_id: str, result: CaseResult) -> list[tuple[str, object]]:
    """What goes into JUnit XML and reaches an xdist controller: the numbers of the verdict."""
    verdict = result.verdict
    return [
        ("promptcheck_run", run_id),
        ("promptcheck_suite", result.suite),
        ("promptcheck_case", result.case_id),
        ("promptcheck_model", result.model),
        ("promptcheck_conforming", verdict.k),
        ("promptcheck_scored", verdict.n),
        ("promptcheck_rate", round(verdict.rate, 6)),
        ("promptcheck_ci_low", round(verdict.interval[0], 6)),
        ("promptcheck_ci_high", round(verdict.interval[1], 6)),
        ("promptcheck_threshold", verdict.threshold),
        ("promptcheck_verdict", result.status),
        *([("promptcheck_reason", result.reason)] if result.reason is not None else []),
        ("promptcheck_errors", result.errors),
        ("promptcheck_summary", rate_text(result)),
        *adaptive_properties(result),
        *(
            [("promptcheck_judges", json.dumps(list(result.properties["judges"])))]
            if result.properties.get("judges")
            else []
        ),
        *(
            [("promptcheck_served", json.dumps([count.as_dict() for count in result.served]))]
            if result.served
            else []
        ),
    ]


def adaptive_properties(result: CaseResult) -> list[tuple[str, object]]:
    """Samples used and saved by adaptive sampling (nothing when the case was not adaptive)."""
    usage = result.properties.get(ADAPTIVE_KEY)
    if not usage:
        return []
    return [
        ("promptcheck_samples_used", usage["used"]),
        ("promptcheck_samples_max", usage["max"]),
        ("promptcheck_samples_saved", usage["saved"]),
    ]


def comparison_properties(row: CaseRow, baseline_run: str | None) -> list[tuple[str, object]]:
    """The comparison's numbers for JUnit XML: both rates, the difference, the change."""
    c = row.comparison
    return [
        ("promptcheck_baseline_run", baseline_run or ""),
        ("promptcheck_baseline_conforming", c.k_baseline),
        ("promptcheck_baseline_scored", c.n_baseline),
        ("promptcheck_baseline_rate", round(c.baseline_rate, 6)),
        ("promptcheck_candidate_rate", round(c.candidate_rate, 6)),
        ("promptcheck_difference", round(c.difference, 6)),
        ("promptcheck_difference_low", round(c.interval[0], 6)),
        ("promptcheck_difference_high", round(c.interval[1], 6)),
        ("promptcheck_change", row.change.value),
        ("promptcheck_p_adjusted", float(f"{row.p_adjusted:.6g}")),
        ("promptcheck_critical", row.verdict.critical),
        *pairwise_properties(row),
    ]


def pairwise_properties(row: CaseRow) -> list[tuple[str, object]]:
    """The pairwise judge's figures for JUnit XML, when the comparison asked a judge."""
    check = row.pairwise
    if check is None:
        return []
    tally = check.tally
    return [
        ("promptcheck_pairwise_judge", check.judge),
        ("promptcheck_pairwise", check.outcome.value),
        ("promptcheck_pairwise_at_least_as_good", tally.passed),
        ("promptcheck_pairwise_baseline_better", tally.failed),
        ("promptcheck_pairwise_ties", check.ties),
        ("promptcheck_pairwise_unscored", tally.unscored),
    ]
