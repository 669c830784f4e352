"""A live comparison: ``--promptcheck-baseline`` in a pytest session.

The baseline is a model run in the same session, or a stored run whose samples are reused. The
report is the :class:`~promptcheck.comparison.engine.ComparisonReport` that ``promptcheck
compare`` builds from two stored runs (same matching, same exact tests, same suite-level
false-alarm control), so the gate in pytest and the offline comparison agree. Only when the
samples were drawn adaptively are the per-case comparisons swapped for the sequential ones
(:mod:`promptcheck.stats.sequential`), which stay valid under the early stop, before the
suite-level decision.

:class:`LiveComparison` is the session's comparison: it is configured from the options, samples
the selected cases against the baseline through the runner and keeps the report. It receives a
narrow :class:`ComparisonContext` (the runner, the project, how runs are described), never the
session itself.

Each case draws the samples its plan asks (:mod:`promptcheck.comparison.budget`): enough to catch
the detectable drop with the planned power across the suite, unless ``--promptcheck-samples``
sets the budget, in which case the report says what that budget can detect. A stored baseline
shorter than the budget, or stopped early by adaptive sampling, is topped up by its model when
it is configured. ``--promptcheck-baseline-refresh`` re-records a stored baseline: its model is
sampled afresh (a new draw of seeds, so an unlucky baseline is not drawn again), the new run
takes over the stored run's label, and the candidate is compared with it.

With a pairwise judge (``--promptcheck-pairwise``), :func:`judge_report` adds each case's
pairwise check to the report; ``promptcheck compare --pairwise`` uses it too, through a runner
of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from promptcheck.comparison.adaptive import sampled_adaptively, with_record
from promptcheck.comparison.budget import Budget, CaseBudget, CaseInput, budget_for, kept_cuts
from promptcheck.comparison.engine import (
    CaseRow,
    CompareSettings,
    ComparisonReport,
    case_name,
    compare_results,
    report_warnings,
    with_pairwise,
)
from promptcheck.comparison.pairwise import (
    PairwiseCheck,
    PairwiseJudge,
    PairwiseParams,
    judge_case,
    pairwise_params,
)
from promptcheck.config import DEFAULT_DETECT, DEFAULT_POWER, Options
from promptcheck.errors import ConfigError, StoreError
from promptcheck.project import ProjectConfig
from promptcheck.registry import did_you_mean
from promptcheck.results import ADAPTIVE_KEY, CaseResult
from promptcheck.run.jobs import CaseJob, CaseRef, ComparisonJob, SampledCase
from promptcheck.run.model_access import CaseModels
from promptcheck.run.planning import DRAW_KEY
from promptcheck.run.runner import Runner, generate_with_retries
from promptcheck.stats import Comparison, decide
from promptcheck.store.database import RunSummary, Store
from promptcheck.store.provenance import RunFacts
from promptcheck.suite import find_model, model_named, stored_suite_path
from promptcheck.suite.records import ModelConfig


@dataclass(frozen=True)
class Baseline:
    """What ``--promptcheck-baseline`` named: a model to run live, or a stored run.

    ``run`` and ``cases`` are set for a stored run: its summary and its case results by
    (suite path, case id). A re-recorded stored run (``--promptcheck-baseline-refresh``) is
    live: its model is sampled with ``draw`` (fresh seeds), and its run takes ``label``.
    """

    ref: str
    model: str
    run: RunSummary | None = None
    cases: Mapping[tuple[str, str], CaseResult] = field(default_factory=dict)
    draw: str = ""
    label: str | None = None

    @property
    def live(self) -> bool:
        return self.run is None


def resolve_baseline(ref: str, models: Sequence[str], store_path: Path) -> Baseline:
    """A configured model name (run live), else a stored run id, id prefix or label.

    A model name wins over a label of the same spelling; a run id names the run unambiguously.
    Raises ConfigError saying what exists when neither matches.
    """
    if ref in models:
        return Baseline(ref, ref)
    known = f"defined models: {', '.join(sorted(models)) or 'none'}"
    if not store_path.is_file():
        raise ConfigError(
            f"baseline {ref!r} is neither a model of [tool.promptcheck.models] nor a stored run "
            f"(no run store at {store_path})",
            hint=known,
        )
    try:
        with Store(store_path) as store:
            run = store.run(ref)
            cases = store.case_results(run.id)
    except StoreError as exc:
        raise ConfigError(
            f"baseline {ref!r} is neither a model of [tool.promptcheck.models] nor a stored "
            f"run: {exc}",
            hint=known + "; list stored runs with `promptcheck runs`",
        ) from None
    by_key = {(case.suite_path, case.case_id): case for case in cases}
    return Baseline(ref, run.model, run, by_key)


def build_report(
    baseline_run: RunSummary,
    baseline_cases: Sequence[CaseResult],
    candidate_run: RunSummary,
    candidate_cases: Sequence[CaseResult],
    settings: CompareSettings,
    sequential: Mapping[str, Comparison] | None = None,
    notes: Sequence[str] = (),
    budget: Budget | None = None,
) -> ComparisonReport:
    """The offline comparison of these results; with ``sequential`` comparisons (by
    ``suite_path::case_id``, for cases sampled adaptively) the suite-level decision is taken on
    them instead of on the fixed-sample tests. ``notes`` are added to the report's warnings,
    and ``budget`` (the plan the samples were drawn to) is kept with it."""
    report = compare_results(baseline_run, baseline_cases, candidate_run, candidate_cases, settings)
    if sequential:
        comparisons = {row.name: sequential.get(row.name, row.comparison) for row in report.rows}
        critical = {row.name for row in report.rows if row.verdict.critical}
        verdicts = decide(comparisons, critical=critical, alpha=settings.alpha, beta=settings.beta)
        rows = tuple(
            dataclasses.replace(
                row,
                verdict=verdicts[row.name],
                detectable=None if row.name in sequential else row.detectable,
            )
            for row in report.rows
        )
        report = dataclasses.replace(report, rows=rows)
        report = dataclasses.replace(report, warnings=tuple(report_warnings(report)))
    if budget is not None:
        report = dataclasses.replace(report, budget=budget)
    if notes:
        report = dataclasses.replace(report, warnings=(*report.warnings, *notes))
    return report


def row_for(report: ComparisonReport, suite_path: str, case_id: str) -> CaseRow | None:
    """The report's row of one case (None: the case is in the candidate only)."""
    name = case_name(suite_path, case_id)
    return next((row for row in report.rows if row.name == name), None)


def needs_top_up(stored: CaseResult, planned: int) -> bool:
    """A stored baseline case with fewer samples than the candidate's budget limits what the
    comparison can detect, and one that adaptive sampling stopped is not a fixed sample: either
    is topped up when its model is configured, else reported (and a stopped one is bounded
    anytime-validly)."""
    return len(stored.samples) < planned or sampled_adaptively(stored)


def top_up_size(stored: CaseResult, planned: int) -> int:
    """How far to top a stored case up: to the budget, or for a case that adaptive sampling
    stopped, to its fixed maximum if that is larger (a size fixed before any sample was seen,
    so the topped-up count is a fixed-size sample again)."""
    adaptive = stored.properties.get(ADAPTIVE_KEY)
    maximum = adaptive.get("max") if isinstance(adaptive, Mapping) else None
    return max(planned, maximum if isinstance(maximum, int) else 0)


def resolve_judge(name: str, project: ProjectConfig) -> ModelConfig:
    """The pairwise judge: a model of ``[tool.promptcheck.models]``; a typo is a ConfigError
    naming what exists, raised before anything is sampled or judged."""
    found = find_model(name, {}, project)
    if found is None:
        known = project.known_models
        raise ConfigError(
            f"unknown pairwise judge model {name!r}",
            hint=did_you_mean(name, known) or f"defined models: {', '.join(known) or 'none'}",
        )
    return found


def judge_report(
    report: ComparisonReport,
    baseline_cases: Sequence[CaseResult],
    candidate_cases: Sequence[CaseResult],
    runner: Runner,
    judge: ModelConfig,
    params: PairwiseParams,
) -> ComparisonReport:
    """The report with the pairwise check of every compared case.

    The judge is asked through :class:`~promptcheck.run.model_access.CaseModels` on the runner's
    backends and loop, so its answers are retried and cached (``judge:`` keys) like a ``judge``
    check's, and a backend it shares with a compared model is built once. Every case's pairs
    are in flight together, bounded by the runner's concurrency. A pair whose judge errs or
    answers unreadably is unscored; nothing here fails the comparison.
    """
    base = {case_name(c.suite_path, c.case_id): c for c in baseline_cases}
    cand = {case_name(c.suite_path, c.case_id): c for c in candidate_cases}
    names = [row.name for row in report.rows if row.name in base and row.name in cand]
    models = CaseModels(
        under_test=judge,
        judges={params.model: judge},
        build=runner.backends.get,
        generate=generate_with_retries,
        cache=runner.cache,
        fresh=runner.fresh,
        concurrency=runner.concurrency,
    )
    asker = PairwiseJudge.from_params(params)

    async def every() -> list[PairwiseCheck]:
        return list(
            await asyncio.gather(
                *(judge_case(asker, models, base[n], cand[n], params.margin) for n in names)
            )
        )

    checks = runner.run(every())
    return with_pairwise(report, dict(zip(names, checks, strict=True)))


@dataclass(frozen=True)
class ComparisonContext:
    """What a live comparison needs from the session that runs it, and nothing more: the runner
    that samples, the project whose models it names, the root that suite paths are stored
    relative to, how this session's runs are described, and the sampling options."""

    runner: Runner
    project: ProjectConfig
    root: Path
    facts: RunFacts
    samples: int | None = None
    adaptive: bool = False
    #: Where plans keep the exact test's cut-offs between sessions (beside the run store).
    cache_dir: Path | None = None

    def place(self, ref: CaseRef, result: CaseResult) -> CaseResult:
        """``result`` with its suite path as stored."""
        return dataclasses.replace(result, suite_path=stored_suite_path(ref.suite.path, self.root))

    def name(self, ref: CaseRef) -> str:
        """``suite_path::case_id`` of a case, as reports name it."""
        return case_name(stored_suite_path(ref.suite.path, self.root), ref.case.id)

    def summary(
        self,
        model: ModelConfig | None,
        refs: Sequence[CaseRef],
        results: Sequence[CaseResult],
        *,
        labelled: bool,
    ) -> RunSummary:
        """This session's run of ``model`` as the comparison sees it (in memory, finished)."""
        return self.facts.summary(
            model.name if model is not None else "?",
            model.spec if model is not None else {},
            {stored_suite_path(ref.suite.path, self.root): ref.suite.sha256 for ref in refs},
            [len(result.samples) for result in results],
            labelled=labelled,
        )


@dataclass
class LiveComparison:
    """The session's comparison against ``--promptcheck-baseline``: what the baseline is, how
    cases are judged against it, and, once the selected cases are sampled, the report."""

    baseline: Baseline
    settings: CompareSettings = field(default_factory=CompareSettings)
    pairwise: PairwiseParams | None = None
    pairwise_judge: ModelConfig | None = None
    report: ComparisonReport | None = None
    _budgets: dict[tuple[str, ...], Budget] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def configure(
        cls, options: Options, project: ProjectConfig, store: Path
    ) -> LiveComparison | None:
        """The comparison the options ask for (None without ``--promptcheck-baseline``); every
        inconsistency is a ConfigError raised before anything is sampled."""
        params = pairwise_params(options.pairwise, options.pairwise_rubric, options.pairwise_margin)
        if not options.baseline:
            for given, what in (
                (params is not None, "--promptcheck-pairwise judges a comparison's pairs"),
                (options.baseline_refresh, "--promptcheck-baseline-refresh re-records a baseline"),
                (
                    options.detect is not None or options.power is not None,
                    "--promptcheck-detect and --promptcheck-power plan a comparison",
                ),
            ):
                if given:
                    raise ConfigError(what, hint="add --promptcheck-baseline BASELINE")
            return None
        settings = CompareSettings(
            detect=options.detect if options.detect is not None else DEFAULT_DETECT,
            power=options.power if options.power is not None else DEFAULT_POWER,
        )
        baseline = resolve_baseline(options.baseline, project.known_models, store)
        if options.baseline_refresh:
            baseline = refreshed(baseline, project)
        if len(options.models) > 1:
            raise ConfigError(
                f"a comparison takes one candidate model, not {', '.join(options.models)}",
                hint="name it with --promptcheck-model CANDIDATE",
            )
        if options.models and options.models[0] == baseline.model and baseline.live:
            raise ConfigError(
                f"the candidate and the baseline are both model {baseline.model!r}",
                hint="compare two models: --promptcheck-model CANDIDATE "
                "--promptcheck-baseline BASELINE",
            )
        judge = resolve_judge(params.model, project) if params is not None else None
        return cls(baseline, settings, pairwise=params, pairwise_judge=judge)

    @property
    def live(self) -> bool:
        """Whether the baseline is sampled in this session (a model), not read from the store."""
        return self.baseline.live

    def compare(
        self, refs: Sequence[CaseRef], context: ComparisonContext
    ) -> dict[str, SampledCase]:
        """Sample the candidate's cases against the baseline and decide them across the suite;
        the sampled cases by item key, for their items to report.

        Every compared case draws its budget (its plan, unless ``--promptcheck-samples`` sets
        it). A stored baseline case shorter than its budget, or stopped by adaptive sampling, is
        topped up first (drawn to the full size by its model, reusing the cached samples) when
        its model is configured; otherwise the report says what that limits.
        """
        runner, settings = context.runner, self.settings
        stored = self._stored(refs, context)
        compared_refs = [ref for ref in refs if self.live or ref.key in stored]
        budget = self._budget(compared_refs, stored, context)
        planned = {case.name: case for case in budget.cases}
        by_key = {ref.key: planned[context.name(ref)] for ref in compared_refs}
        against, topped, notes = self._against(compared_refs, stored, by_key, context)
        alone = [ref for ref in refs if ref.key not in against]  # judged on their thresholds
        compared_refs = [ref for ref in compared_refs if ref.key in against]
        cases = max(1, len(compared_refs))
        compared = runner.compare_cases(
            [
                ComparisonJob(
                    ref.case,
                    ref.model,
                    against[ref.key],
                    by_key[ref.key].samples,
                    context.adaptive,
                    margin=settings.margin,
                    tolerance=settings.detect,
                    beta=settings.beta / cases,
                    baseline_stopped=_stopped(against[ref.key]),
                    baseline_draw=self.baseline.draw,
                )
                for ref in compared_refs
            ]
        )
        sampled: dict[str, SampledCase] = {}
        alone_jobs = [CaseJob(r.case, r.model, context.samples, context.adaptive) for r in alone]
        for ref, result in zip(alone, runner.run_cases(alone_jobs), strict=True):
            sampled[ref.key] = SampledCase(ref.suite, ref.model, context.place(ref, result))
        base_run = self._baseline_run(refs, context)
        sequential: dict[str, Comparison] = {}
        baseline_results: list[CaseResult] = []
        for ref, outcome in zip(compared_refs, compared, strict=True):
            candidate = context.place(ref, outcome.candidate)
            base = outcome.baseline
            base_model: ModelConfig | None = None
            if self.live:
                base = context.place(ref, base)
                base_model = model_named(self.baseline.model, ref.suite, context.project)
            elif ref.key in topped:
                base, base_model = topped[ref.key]
            if outcome.comparison is not None:
                sequential[context.name(ref)] = outcome.comparison
                candidate = with_record(candidate, outcome.comparison, base_run.id)
            baseline_results.append(base)
            sampled[ref.key] = SampledCase(ref.suite, ref.model, candidate, base, base_model)
        candidates = [sampled[ref.key].result for ref in refs]
        if self.baseline.run is not None:
            base_cases = dict(self.baseline.cases)
            for result in baseline_results:
                base_cases[(result.suite_path, result.case_id)] = result
            base_list = list(base_cases.values())
        else:
            base_run = dataclasses.replace(
                base_run,
                cases=len(baseline_results),
                samples=sum(len(result.samples) for result in baseline_results),
            )
            base_list = baseline_results
        candidate_model = refs[0].model if refs else None
        report = build_report(
            base_run,
            base_list,
            context.summary(candidate_model, refs, candidates, labelled=True),
            candidates,
            settings,
            sequential,
            notes,
            budget,
        )
        if self.pairwise is not None and self.pairwise_judge is not None:
            report = judge_report(
                report, base_list, candidates, runner, self.pairwise_judge, self.pairwise
            )
        self.report = report
        return sampled

    def _baseline_run(self, refs: Sequence[CaseRef], context: ComparisonContext) -> RunSummary:
        """The baseline's run as the report names it: the stored run, or this session's run
        of the baseline model (its counts are filled in once sampled)."""
        if self.baseline.run is not None:
            return self.baseline.run
        model = model_named(self.baseline.model, refs[0].suite, context.project) if refs else None
        run = context.summary(model, refs, [], labelled=False)
        return dataclasses.replace(run, label=self.baseline.label)

    def _stored(self, refs: Sequence[CaseRef], context: ComparisonContext) -> dict[str, CaseResult]:
        """The stored baseline's case of each ref that has one (by item key); empty when live."""
        if self.live:
            return {}
        found = {}
        for ref in refs:
            case = self.baseline.cases.get(
                (stored_suite_path(ref.suite.path, context.root), ref.case.id)
            )
            if case is not None:
                found[ref.key] = case
        return found

    def planned_samples(self, refs: Sequence[CaseRef], context: ComparisonContext) -> int:
        """Samples the comparison of ``refs`` may draw (for the progress bar): each compared
        case's budget, twice when the baseline is sampled live, and the threshold budget of the
        cases the baseline lacks."""
        stored = self._stored(refs, context)
        compared = [ref for ref in refs if self.live or ref.key in stored]
        budget = self._budget(compared, stored, context)
        per_model = 2 if self.live else 1
        alone = sum(
            max(context.samples or ref.case.samples, len(ref.case.combinations))
            for ref in refs
            if not (self.live or ref.key in stored)
        )
        return per_model * sum(case.samples for case in budget.cases) + alone

    def _budget(
        self,
        refs: Sequence[CaseRef],
        stored: Mapping[str, CaseResult],
        context: ComparisonContext,
    ) -> Budget:
        """Each compared case's plan, for a suite of as many cases as are compared (computed
        once per set of cases: the progress bar asks before the comparison samples)."""
        key = tuple(sorted(ref.key for ref in refs))  # the same cases, whatever their order
        if key in self._budgets:
            return self._budgets[key]
        with kept_cuts(context.cache_dir):
            budget = self._plan_budget(refs, stored, context)
        self._budgets[key] = budget
        return budget

    def _plan_budget(
        self,
        refs: Sequence[CaseRef],
        stored: Mapping[str, CaseResult],
        context: ComparisonContext,
    ) -> Budget:
        inputs = [
            CaseInput(
                context.name(ref),
                ref.case.threshold,
                max(ref.case.samples, len(ref.case.combinations)),
                stored.get(ref.key),
                ref.key not in stored or self._top_up_model(ref, context) is not None,
            )
            for ref in refs
        ]
        return budget_for(inputs, self.settings.targets, context.samples)

    def _top_up_model(self, ref: CaseRef, context: ComparisonContext) -> ModelConfig | None:
        """The model that may top up a stored baseline case: the baseline's, when configured,
        and never the candidate's own (that would mix its past samples with its present ones,
        hiding the very change a comparison with its stored run is for, and the drift check)."""
        if self.baseline.model == ref.model.name:
            return None
        return find_model(self.baseline.model, ref.suite.models, context.project)

    def _against(
        self,
        refs: Sequence[CaseRef],
        stored: Mapping[str, CaseResult],
        budget: Mapping[str, CaseBudget],
        context: ComparisonContext,
    ) -> tuple[
        dict[str, ModelConfig | CaseResult], dict[str, tuple[CaseResult, ModelConfig]], list[str]
    ]:
        """What each case is compared with (by item key), the stored cases that were topped up
        (with the model that did it), and notes for the report."""
        baseline = self.baseline
        against: dict[str, ModelConfig | CaseResult] = {}
        top_ups: list[tuple[CaseRef, ModelConfig, CaseResult]] = []
        for ref in refs:
            if baseline.live:
                against[ref.key] = model_named(baseline.model, ref.suite, context.project)
                continue
            case = stored[ref.key]
            model = self._top_up_model(ref, context)
            target = budget[ref.key].baseline_target
            if target is not None and needs_top_up(case, target) and model is not None:
                top_ups.append((ref, model, case))
            else:
                against[ref.key] = case
        topped: dict[str, tuple[CaseResult, ModelConfig]] = {}
        if not top_ups:
            return against, topped, []
        jobs = [
            CaseJob(
                ref.case,
                model,
                top_up_size(case, budget[ref.key].baseline_target or 0),
                draw=str(case.properties.get(DRAW_KEY, "")),
            )
            for ref, model, case in top_ups
        ]
        for (ref, model, _), result in zip(top_ups, context.runner.run_cases(jobs), strict=True):
            placed = context.place(ref, result)
            against[ref.key] = placed
            topped[ref.key] = (placed, model)
        note = (
            f"{len(top_ups)} baseline case(s) had fewer samples than the candidate's budget (or "
            f"were stopped by adaptive sampling) and were topped up by model "
            f"{baseline.model!r} (cached samples reused)"
        )
        return against, topped, [note]


def _stopped(baseline: ModelConfig | CaseResult) -> bool:
    """Whether a pinned baseline's count was stopped by adaptive sampling."""
    return isinstance(baseline, CaseResult) and sampled_adaptively(baseline)


def refreshed(baseline: Baseline, project: ProjectConfig) -> Baseline:
    """``--promptcheck-baseline-refresh``: the stored run's model, sampled afresh in this
    session with a new draw of seeds; the new run takes over the stored run's label."""
    run = baseline.run
    if run is None:
        raise ConfigError(
            f"--promptcheck-baseline-refresh re-records a stored run; {baseline.ref!r} is a "
            "model, which a comparison samples afresh anyway",
            hint="name the stored baseline run (its id or label)",
        )
    if baseline.model not in project.known_models:
        raise ConfigError(
            f"cannot re-record baseline run {run.id}: its model {baseline.model!r} is not "
            "configured",
            hint=f"defined models: {', '.join(project.known_models) or 'none'}",
        )
    import hashlib

    draw = hashlib.blake2b(f"refresh\0{run.id}\0{time.time_ns()}".encode(), digest_size=8)
    return Baseline(baseline.ref, baseline.model, draw=draw.hexdigest(), label=run.label)
