"""One pytest session's promptcheck state: settings, suites, models, the store and the runner.

The pytest hooks hand everything to this object (syrupy's pattern), so the hooks stay a few lines
each and the logic can be used without pytest (the ``promptcheck`` fixture, the CLI).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from promptcheck import __version__
from promptcheck.config import ProjectConfig, load_project_config
from promptcheck.errors import ConfigError
from promptcheck.importing import import_module
from promptcheck.registry import did_you_mean
from promptcheck.results import CaseResult
from promptcheck.run.runner import CaseJob, ComparisonJob, Runner
from promptcheck.suite.loader import CaseSpec, ModelConfig, SuiteSpec, find_model, load_suite

if TYPE_CHECKING:
    from promptcheck.comparison.pairwise import PairwiseParams
    from promptcheck.stats.two_sample import Comparison
    from promptcheck.comparison.live import Baseline
    from promptcheck.comparison.engine import CaseRow, CompareSettings, MigrationReport
    from promptcheck.store.database import RunSummary, Store

DEFAULT_STORE = ".promptcheck/promptcheck.db"
#: ``--promptcheck-fail-on`` values: the first two for threshold verdicts, the last two for a
#: comparison with ``--promptcheck-baseline``.
FAIL_ON = ("fail", "undecided", "regressed", "inconclusive")
DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class Options:
    """The ``--promptcheck-*`` options (or their ini / pyproject equivalents), resolved."""

    models: tuple[str, ...] = ()
    samples: int | None = None
    fresh: bool = False
    store: str | None = None
    concurrency: int | None = None
    label: str | None = None
    fail_on: str = "fail"
    progress: bool = True
    adaptive: bool = False
    baseline: str | None = None
    md: str | None = None
    html: str | None = None
    pairwise: str | None = None
    pairwise_rubric: str | None = None
    pairwise_margin: float | None = None


@dataclass(frozen=True)
class CaseRef:
    """A case on a model as one pytest item asks for it; ``key`` is the item's node id."""

    key: str
    suite: SuiteSpec
    case: CaseSpec
    model: ModelConfig


@dataclass(frozen=True)
class CaseOutcome:
    """What an item reports: its run, its case's result and, in a comparison, its row."""

    run_id: str
    result: CaseResult
    row: CaseRow | None = None
    baseline_run: str | None = None


@dataclass(frozen=True)
class _Pending:
    """A case sampled with its group, waiting for its item to report (and record) it."""

    suite: SuiteSpec
    model: ModelConfig
    result: CaseResult
    baseline: CaseResult | None = None
    baseline_model: ModelConfig | None = None


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
    _store: Store | None = field(default=None, init=False)
    _runner: Runner | None = field(default=None, init=False)
    _runs: dict[str, str] = field(default_factory=dict, init=False)
    #: What each model cost this session (requests, tokens, price), shown under the summary.
    usage_lines: list[str] = field(default_factory=list, init=False)
    _registered: set[tuple[str, str]] = field(default_factory=set, init=False)
    _suites: dict[Path, SuiteSpec] = field(default_factory=dict, init=False)
    _pending: dict[str, _Pending] = field(default_factory=dict, init=False)
    #: Whether an item runs its whole group (suite file and model) at once; an xdist worker that
    #: is not sent whole files runs item by item (set by the plugin).
    grouped: bool = True
    baseline: Baseline | None = field(default=None, init=False)
    report: MigrationReport | None = field(default=None, init=False)
    started_at: float = field(default_factory=time.time, init=False)
    #: The pairwise judge of a comparison (``--promptcheck-pairwise``) and how it is asked.
    pairwise: PairwiseParams | None = field(default=None, init=False)
    pairwise_judge: ModelConfig | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.project = load_project_config(self.root)
        # plugins/ and the modules suites name live in the project, wherever pytest is run from
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        for module in self.project.plugins:
            import_module(module)
        if self.options.baseline:
            from promptcheck.comparison.live import resolve_baseline

            self.baseline = resolve_baseline(
                self.options.baseline, list(self.project.models), self.store_path
            )
            if len(self.options.models) > 1:
                raise ConfigError(
                    f"a comparison takes one candidate model, not {', '.join(self.options.models)}",
                    hint="name it with --promptcheck-model CANDIDATE",
                )
            same = self.options.models and self.options.models[0] == self.baseline.model
            if same and self.baseline.live:
                raise ConfigError(
                    f"the candidate and the baseline are both model {self.baseline.model!r}",
                    hint="compare two models: --promptcheck-model CANDIDATE "
                    "--promptcheck-baseline BASELINE",
                )
        self._configure_pairwise()

    def _configure_pairwise(self) -> None:
        """Check the pairwise judge's options before anything is sampled: it judges a
        comparison, and names a model of ``[tool.promptcheck.models]``."""
        from promptcheck.cli.compare import pairwise_params

        options = self.options
        params = pairwise_params(options.pairwise, options.pairwise_rubric, options.pairwise_margin)
        if params is None:
            return
        if self.baseline is None:
            raise ConfigError(
                "--promptcheck-pairwise judges a comparison's pairs of outputs",
                hint="add --promptcheck-baseline BASELINE",
            )
        from promptcheck.comparison.live import resolve_judge

        self.pairwise_judge = resolve_judge(params.model, self.project)
        self.pairwise = params

    @property
    def comparing(self) -> bool:
        """Whether items are judged against a baseline rather than against their thresholds."""
        return self.baseline is not None

    @functools.cached_property
    def compare_settings(self) -> CompareSettings:
        from promptcheck.comparison.engine import CompareSettings

        return CompareSettings()

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
            raise ConfigError(
                "no model to run on",
                hint="define models in [tool.promptcheck] of pyproject.toml or in the suite, "
                "and pick one with --promptcheck-model NAME",
            )
        return [self.model(name, suite) for name in names]

    def model(self, name: str, suite: SuiteSpec) -> ModelConfig:
        """A model by name, as the suite sees it (its own definitions shadow the project's).

        Judge models are found the same way when the suite is compiled (``CaseSpec.judges``);
        the runner builds their backends lazily, in its one pool, the first time one is asked.
        """
        found = find_model(name, suite.models, self.project)
        if found is None:
            known = sorted({*self.project.models, *suite.models})
            raise ConfigError(
                f"unknown model {name!r}",
                hint=did_you_mean(name, known) or f"defined models: {', '.join(known) or 'none'}",
            )
        return found

    # --- running ---------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is None:
            from promptcheck.store.database import Store

            self._store = Store(self.store_path)
        return self._store

    @property
    def store_path(self) -> Path:
        configured = self.options.store or self.project.store or DEFAULT_STORE
        path = Path(configured)
        return path if path.is_absolute() else self.root / path

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            self._runner = Runner(
                cache=self.store,
                concurrency=self.options.concurrency
                or self.project.concurrency
                or DEFAULT_CONCURRENCY,
                fresh=self.options.fresh,
                progress=lambda count: self.progress(count) if self.progress else None,
                announce=self.announce,
            )
        return self._runner

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
        """Samples the not-yet-sampled cases of ``refs`` may draw (for the progress bar)."""
        per_model = 2 if self.baseline is not None and self.baseline.live else 1
        return per_model * sum(
            max(self.options.samples or ref.case.samples, len(ref.case.combinations))
            for ref in refs
            if ref.key not in self._pending
        )

    def outcome(self, ref: CaseRef, group: Sequence[CaseRef]) -> CaseOutcome:
        """The outcome of ``ref``'s case, sampling its whole group first if it is not yet done.

        The group's cases run together, so their requests overlap; each is recorded only when
        its own item reports it, so ``-x`` stops with only the reported cases in the store.
        """
        if ref.key not in self._pending:
            todo = [r for r in group if r.key not in self._pending and r.key != ref.key]
            todo.insert(0, ref)
            if self.comparing:
                self._compare(todo)
            else:
                self._sample(todo)
        pending = self._pending.pop(ref.key)
        run_id = self.run_id(pending.suite, pending.model)
        self.store.record_case(run_id, pending.result)
        self.results.append(pending.result)
        baseline_run = None
        if self.baseline is not None and self.baseline.run is not None:
            baseline_run = self.baseline.run.id
        if pending.baseline is not None and pending.baseline_model is not None:
            baseline_run = self.run_id(pending.suite, pending.baseline_model, label=False)
            self.store.record_case(baseline_run, pending.baseline)
        row = None
        if self.report is not None:
            from promptcheck.comparison.live import row_for

            row = row_for(self.report, pending.result.suite_path, pending.result.case_id)
        return CaseOutcome(run_id, pending.result, row, baseline_run)

    def _sample(self, refs: Sequence[CaseRef]) -> None:
        jobs = [
            CaseJob(ref.case, ref.model, self.options.samples, self.options.adaptive)
            for ref in refs
        ]
        for ref, result in zip(refs, self.runner.run_cases(jobs), strict=True):
            self._pending[ref.key] = _Pending(ref.suite, ref.model, self._placed(ref, result))

    def _placed(self, ref: CaseRef, result: CaseResult) -> CaseResult:
        return dataclasses.replace(result, suite_path=self.relative(ref.suite.path))

    def _compare(self, refs: Sequence[CaseRef]) -> None:
        """Sample the candidate's cases against the baseline and decide them across the suite.

        A stored baseline case with fewer samples than the candidate's plan is topped up first
        (drawn to the full plan by its model, reusing the cached samples) when its model is
        configured; otherwise the report says it is short.
        """
        from promptcheck.comparison.live import build_report

        baseline = self.baseline
        assert baseline is not None
        settings = self.compare_settings
        against, topped, notes = self._against(refs)
        compare_jobs: list[ComparisonJob] = []
        compared_refs: list[CaseRef] = []
        alone: list[CaseRef] = []
        for ref in refs:
            if ref.key not in against:
                alone.append(ref)  # in the candidate only: judged on its threshold, listed
                continue
            compared_refs.append(ref)
            compare_jobs.append(
                ComparisonJob(
                    ref.case,
                    ref.model,
                    against[ref.key],
                    self.options.samples,
                    self.options.adaptive,
                    margin=settings.margin,
                    tolerance=settings.tolerance,
                    beta=settings.beta,
                )
            )
        compared = self.runner.compare_cases(compare_jobs)
        for ref, result in zip(
            alone,
            self.runner.run_cases(
                [
                    CaseJob(r.case, r.model, self.options.samples, self.options.adaptive)
                    for r in alone
                ]
            ),
            strict=True,
        ):
            self._pending[ref.key] = _Pending(ref.suite, ref.model, self._placed(ref, result))
        sequential: dict[str, Comparison] = {}
        baseline_results: list[CaseResult] = []
        for ref, outcome in zip(compared_refs, compared, strict=True):
            candidate = self._placed(ref, outcome.candidate)
            base = outcome.baseline
            base_model: ModelConfig | None = None
            if baseline.live:
                base = self._placed(ref, base)
                base_model = self.model(baseline.model, ref.suite)
            elif ref.key in topped:
                base, base_model = topped[ref.key]
            baseline_results.append(base)
            self._pending[ref.key] = _Pending(ref.suite, ref.model, candidate, base, base_model)
            if outcome.comparison is not None:
                from promptcheck.comparison.engine import case_name

                sequential[case_name(candidate.suite_path, candidate.case_id)] = outcome.comparison
        candidates = [self._pending[ref.key].result for ref in refs]
        if baseline.run is not None:
            base_cases = {**baseline.cases}
            for result in baseline_results:
                base_cases[(result.suite_path, result.case_id)] = result
            base_run: RunSummary = baseline.run
            base_list = list(base_cases.values())
        else:
            base_model = self.model(baseline.model, refs[0].suite) if refs else None
            base_run = self._summary(base_model, refs, baseline_results, label=False)
            base_list = baseline_results
        cand_model = refs[0].model if refs else None
        self.report = build_report(
            base_run,
            base_list,
            self._summary(cand_model, refs, candidates, label=True),
            candidates,
            settings,
            sequential,
            notes,
        )
        if self.pairwise is not None and self.pairwise_judge is not None:
            from promptcheck.comparison.live import judge_report

            self.report = judge_report(
                self.report, base_list, candidates, self.runner, self.pairwise_judge, self.pairwise
            )

    def _against(
        self, refs: Sequence[CaseRef]
    ) -> tuple[
        dict[str, ModelConfig | CaseResult], dict[str, tuple[CaseResult, ModelConfig]], list[str]
    ]:
        """What each case is compared with (by item key; absent: not in the baseline), the
        stored cases that were topped up (with the model that did it), and notes for the report.
        """
        from promptcheck.comparison.live import needs_top_up

        baseline = self.baseline
        assert baseline is not None
        against: dict[str, ModelConfig | CaseResult] = {}
        top_ups: list[tuple[CaseRef, ModelConfig]] = []
        for ref in refs:
            if baseline.live:
                against[ref.key] = self.model(baseline.model, ref.suite)
                continue
            stored = baseline.cases.get((self.relative(ref.suite.path), ref.case.id))
            if stored is None:
                continue
            plan = max(self.options.samples or ref.case.samples, len(ref.case.combinations))
            model = find_model(baseline.model, ref.suite.models, self.project)
            if needs_top_up(stored, plan) and model is not None:
                top_ups.append((ref, model))
            else:
                against[ref.key] = stored
        topped: dict[str, tuple[CaseResult, ModelConfig]] = {}
        if not top_ups:
            return against, topped, []
        jobs = [CaseJob(ref.case, model, self.options.samples) for ref, model in top_ups]
        for (ref, model), result in zip(top_ups, self.runner.run_cases(jobs), strict=True):
            placed = self._placed(ref, result)
            against[ref.key] = placed
            topped[ref.key] = (placed, model)
        note = (
            f"{len(top_ups)} baseline case(s) had fewer samples than the candidate's plan and "
            f"were topped up by model {baseline.model!r} (cached samples reused)"
        )
        return against, topped, [note]

    def _summary(
        self,
        model: ModelConfig | None,
        refs: Sequence[CaseRef],
        results: Sequence[CaseResult],
        *,
        label: bool,
    ) -> RunSummary:
        """This session's run of ``model`` as the comparison sees it (in memory, finished)."""
        from promptcheck.store.database import RunSummary, redact_secrets

        name = model.name if model is not None else "?"
        spec = {"backend": model.backend, **model.raw} if model is not None else {}
        return RunSummary(
            id=f"{self.session_id}-{name}",
            session=self.session_id,
            model=name,
            model_spec=redact_secrets(spec),
            started_at=self.started_at,
            label=self.options.label if label else None,
            git_commit=self.commit,
            versions=versions(),
            suites={self.relative(ref.suite.path): ref.suite.sha256 for ref in refs},
            finished_at=time.time(),
            cases=len(results),
            samples=sum(len(result.samples) for result in results),
        )

    def relative(self, path: Path) -> str:
        """A suite's path as stored: relative to the project root, so that runs made in other
        checkouts (a CI runner, a colleague's clone) name the same suite the same way."""
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path.resolve())

    def run_id(self, suite: SuiteSpec, model: ModelConfig, *, label: bool = True) -> str:
        """The store's run for this session and model, created on first use (idempotent).

        ``label=False`` for a live baseline's run: the label names the candidate's run.
        """
        from promptcheck.store.database import RunInfo

        run_id = f"{self.session_id}-{model.name}"
        if (run_id, str(suite.path)) in self._registered:
            return run_id
        self.store.create_run(
            RunInfo(
                id=run_id,
                session=self.session_id,
                model=model.name,
                model_spec={"backend": model.backend, **model.raw},
                started_at=time.time(),
                label=self.options.label if label else None,
                git_commit=self.commit,
                versions=versions(),
                suites={self.relative(suite.path): suite.sha256},
            )
        )
        self._registered.add((run_id, str(suite.path)))
        self._runs[model.name] = run_id  # only runs that exist are finished
        return run_id

    @functools.cached_property
    def commit(self) -> str | None:
        return git_commit(self.root)

    def run_ids(self) -> list[str]:
        """This process's runs (a live baseline's included)."""
        return sorted(set(self._runs.values()))

    def finish(self, run_ids: Sequence[str] = ()) -> None:
        """Close the runs of this session (and, from an xdist controller, those of its workers)."""
        if self._runner is not None:
            from promptcheck.store.usage import record_session_usage, usage_lines

            backends = self._runner.backends.built()  # read before closing empties the pool
            self.usage_lines = usage_lines(backends)
            if self._runs:
                record_session_usage(self.store, self._runs, backends)
            self._runner.close()
            self._runner = None
        ids = set(run_ids) | set(self._runs.values())
        if ids:
            for run_id in sorted(ids):
                self.store.finish_run(run_id, time.time())
        if self._store is not None:
            self._store.close()
            self._store = None


def git_commit(root: Path) -> str | None:
    """The checked-out commit, recorded with each run so results can be traced to code."""
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() or None if completed.returncode == 0 else None


def versions() -> dict[str, str]:
    """Versions that can change a model's outputs, recorded with each run."""
    found = {"promptcheck": __version__, "python": platform.python_version()}
    for name in ("torch", "transformers", "openai"):
        module = _loaded(name)
        if module is not None:
            found[name] = str(getattr(module, "__version__", "?"))
    return found


def _loaded(name: str) -> object | None:
    return sys.modules.get(name)


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() not in ("", "0", "false", "no")
