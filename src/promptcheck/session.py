"""One pytest session's promptcheck state: settings, suites, models, the store and the runner.

The pytest hooks hand everything to this object (syrupy's pattern), so the hooks stay a few lines
each and the logic can be used without pytest (the ``promptcheck`` fixture, the CLI). It holds
state and hands work out: sampling to the runner, a comparison to
:class:`~promptcheck.comparison.live.LiveComparison`, recording to the store.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from promptcheck.comparison import ComparisonContext, ComparisonReport, LiveComparison, row_for
from promptcheck.comparison.engine import CaseRow
from promptcheck.config import Options, concurrency, store_path
from promptcheck.importing import import_project_plugins
from promptcheck.project import DEFAULT_MODEL, ProjectConfig, load_project_config
from promptcheck.results import CaseResult
from promptcheck.run import CaseJob, CaseRef, Runner, SampledCase
from promptcheck.store import RunStatus, Store, usage_lines
from promptcheck.store.provenance import RunFacts, git_commit
from promptcheck.suite import (
    CaseSpec,
    ModelConfig,
    SuiteSpec,
    load_suite,
    model_named,
    stored_suite_path,
)


@dataclass(frozen=True)
class CaseOutcome:
    """What an item reports: its run, its case's result and, in a comparison, its row."""

    run_id: str
    result: CaseResult
    row: CaseRow | None = None
    baseline_run: str | None = None


@dataclass
class PromptcheckSession:
    """Shared by every item of a session; builds the store and runner on first use."""

    root: Path
    options: Options
    session_id: str = field(
        default_factory=lambda: time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    )
    project: ProjectConfig = field(init=False)
    results: list[CaseResult] = field(default_factory=list)
    progress: Callable[[int], None] | None = None
    #: Writes a line past pytest's output capture (the plugin's), for a backend's long work.
    announce: Callable[[str], None] | None = None
    #: What each model cost this session (requests, tokens, price), shown under the summary.
    usage_lines: list[str] = field(default_factory=list, init=False)
    #: Whether an item runs its whole group (suite file and model) at once; an xdist worker that
    #: is not sent whole files runs item by item (set by the plugin).
    grouped: bool = True
    #: The comparison against ``--promptcheck-baseline`` (None: items meet their thresholds).
    comparison: LiveComparison | None = field(default=None, init=False)
    started_at: float = field(default_factory=time.time, init=False)
    _store: Store | None = field(default=None, init=False)
    _runner: Runner | None = field(default=None, init=False)
    _runs: dict[str, str] = field(default_factory=dict, init=False)
    _registered: set[tuple[str, str]] = field(default_factory=set, init=False)
    _suites: dict[Path, SuiteSpec] = field(default_factory=dict, init=False)
    _sampled: dict[str, SampledCase] = field(default_factory=dict, init=False)
    _told_default: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.project = load_project_config(self.root)
        import_project_plugins(self.root, self.project.plugins)
        self.comparison = LiveComparison.configure(self.options, self.project, self.store_path)

    @property
    def comparing(self) -> bool:
        """Whether items are judged against a baseline rather than against their thresholds."""
        return self.comparison is not None

    @property
    def report(self) -> ComparisonReport | None:
        """The comparison's report, once its cases are sampled."""
        return self.comparison.report if self.comparison is not None else None

    # --- suites and models -------------------------------------------------------------------

    def suite(self, path: Path) -> SuiteSpec:
        """Load (once) and compile a suite; raises SuiteError."""
        resolved = path.resolve()
        if resolved not in self._suites:
            self._suites[resolved] = load_suite(path, self.project)
        return self._suites[resolved]

    def models_for(self, suite: SuiteSpec) -> list[ModelConfig]:
        """The models a suite runs on: the options', else the default model, else all defined."""
        names: Sequence[str] = self.options.models
        if not names:
            default = suite.default_model or self.project.model
            names = (default,) if default else sorted({*self.project.models, *suite.models})
        if not names:
            names = (DEFAULT_MODEL,)
            if not self._told_default:
                self._told_default = True
                self._say(
                    f"no model configured: running on the built-in {DEFAULT_MODEL!r} "
                    "(choose one with [tool.promptcheck] model or --promptcheck-model)"
                )
        return [self.model(name, suite) for name in names]

    def _say(self, message: str) -> None:
        """One line for the user, past pytest's capture when the plugin gave a way."""
        if self.announce is not None:
            self.announce(message)
        else:
            print(f"promptcheck: {message}", file=sys.stderr, flush=True)

    def model(self, name: str, suite: SuiteSpec) -> ModelConfig:
        """A model by name, as the suite sees it (its own definitions shadow the project's).

        Judge models are found the same way when the suite is compiled (``CaseSpec.judges``);
        the runner builds their backends lazily, in its one pool, the first time one is asked.
        """
        return model_named(name, suite, self.project)

    # --- running ---------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.store_path, max_output_chars=self.project.max_stored_output)
        return self._store

    @property
    def store_path(self) -> Path:
        return store_path(self.root, self.options.store, self.project.store)

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            self._runner = Runner(
                cache=self.store,
                concurrency=concurrency(self.options.concurrency, self.project.concurrency),
                fresh=self.options.fresh,
                progress=lambda count: self.progress(count) if self.progress else None,
                announce=self.announce,
            )
        return self._runner

    @functools.cached_property
    def facts(self) -> RunFacts:
        """What every run of this session records about where it came from."""
        return RunFacts(self.session_id, self.started_at, self.options.label, git_commit(self.root))

    def run_case(
        self, suite: SuiteSpec, case: CaseSpec, model: ModelConfig, samples: int | None = None
    ) -> tuple[str, CaseResult]:
        """Run and record one case; returns the run id it was recorded under.

        ``samples`` overrides the option and the suite for this call only.
        """
        run_id = self.run_id(suite, model)
        result = self.runner.run_case(
            case, model, samples or self.options.samples, self.options.adaptive
        )
        result = dataclasses.replace(result, suite_path=self.relative(suite.path))
        self.store.record_case(run_id, result)
        self.results.append(result)
        return run_id, result

    # --- a group of cases at once ----------------------------------------------------------

    def planned(self, refs: Sequence[CaseRef]) -> int:
        """Samples the not-yet-sampled cases of ``refs`` may draw (for the progress bar); in a
        comparison, the planned budget of each case (the comparison's plan)."""
        todo = [ref for ref in refs if ref.key not in self._sampled]
        if self.comparison is not None:
            return self.comparison.planned_samples(todo, self._comparison_context())
        return sum(
            max(self.options.samples or ref.case.samples, len(ref.case.combinations))
            for ref in todo
        )

    def outcome(self, ref: CaseRef, group: Sequence[CaseRef]) -> CaseOutcome:
        """The outcome of ``ref``'s case, sampling its whole group first if it is not yet done.

        The group's cases run together, so their requests overlap; each is recorded only when
        its own item reports it, so ``-x`` stops with only the reported cases in the store.
        """
        if ref.key not in self._sampled:
            todo = [ref, *(r for r in group if r.key not in self._sampled and r.key != ref.key)]
            if self.comparison is not None:
                self._sampled.update(self.comparison.compare(todo, self._comparison_context()))
            else:
                self._sample(todo)
        sampled = self._sampled.pop(ref.key)
        run_id = self.run_id(sampled.suite, sampled.model)
        self.store.record_case(run_id, sampled.result)
        self.results.append(sampled.result)
        baseline_run = None
        if self.comparison is not None and self.comparison.baseline.run is not None:
            baseline_run = self.comparison.baseline.run.id
        if sampled.baseline is not None and sampled.baseline_model is not None:
            # a re-recorded baseline takes over the stored run's label; a live one has none
            label = self.comparison.baseline.label if self.comparison is not None else None
            baseline_run = self.run_id(sampled.suite, sampled.baseline_model, label=label or False)
            self.store.record_case(baseline_run, sampled.baseline)
        row = None
        if self.report is not None:
            row = row_for(self.report, sampled.result.suite_path, sampled.result.case_id)
        return CaseOutcome(run_id, sampled.result, row, baseline_run)

    def _sample(self, refs: Sequence[CaseRef]) -> None:
        jobs = [
            CaseJob(ref.case, ref.model, self.options.samples, self.options.adaptive)
            for ref in refs
        ]
        for ref, result in zip(refs, self.runner.run_cases(jobs), strict=True):
            placed = dataclasses.replace(result, suite_path=self.relative(ref.suite.path))
            self._sampled[ref.key] = SampledCase(ref.suite, ref.model, placed)

    def _comparison_context(self) -> ComparisonContext:
        return ComparisonContext(
            runner=self.runner,
            project=self.project,
            root=self.root,
            facts=self.facts,
            samples=self.options.samples,
            adaptive=self.options.adaptive,
            cache_dir=self.store_path.parent,
        )

    def relative(self, path: Path) -> str:
        """A suite's path as stored (relative to the project root)."""
        return stored_suite_path(path, self.root)

    def run_id(self, suite: SuiteSpec, model: ModelConfig, *, label: bool | str = True) -> str:
        """The store's run for this session and model, created on first use (idempotent).

        ``label=False`` for a live baseline's run: the label names the candidate's run; a string
        labels the run with it (a re-recorded baseline keeps the stored run's label).
        """
        run_id = self.facts.run_id(model.name)
        if (run_id, str(suite.path)) in self._registered:
            return run_id
        suites = {self.relative(suite.path): suite.sha256}
        info = self.facts.info(model.name, model.spec, suites, labelled=label is True)
        if isinstance(label, str):
            info = dataclasses.replace(info, label=label)
        self.store.create_run(info)
        self._registered.add((run_id, str(suite.path)))
        self._runs[model.name] = run_id  # only runs that exist are finished
        return run_id

    def run_ids(self) -> list[str]:
        """This process's runs (a live baseline's included)."""
        return sorted(set(self._runs.values()))

    def finish(self, run_ids: Sequence[str] = (), *, interrupted: bool = False) -> None:
        """Close the runs of this session (and, from an xdist controller, those of its workers),
        as interrupted when the pytest session was cut short, else as finished."""
        if self._runner is not None:
            backends = self._runner.backends.built()  # read before closing empties the pool
            self.usage_lines = usage_lines(backends)
            if self._runs:
                self.store.record_session_usage(self._runs, backends)
            self._runner.close()
            self._runner = None
        ids = set(run_ids) | set(self._runs.values())
        if ids:
            for run_id in sorted(ids):
                status = RunStatus.INTERRUPTED if interrupted else RunStatus.FINISHED
                self.store.finish_run(run_id, time.time(), status)
        if self._store is not None:
            self._store.close()
            self._store = None
