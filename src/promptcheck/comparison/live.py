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

With a pairwise judge (``--promptcheck-pairwise``), :func:`judge_report` adds each case's
pairwise check to the report; ``promptcheck compare --pairwise`` uses it too, through a runner
of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
from promptcheck.config import Options
from promptcheck.errors import ConfigError, StoreError
from promptcheck.project import ProjectConfig
from promptcheck.registry import did_you_mean
from promptcheck.results import CaseResult
from promptcheck.run.jobs import CaseJob, CaseRef, ComparisonJob, SampledCase
from promptcheck.run.model_access import CaseModels
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
    (suite path, case id).
    """

    ref: str
    model: str
    run: RunSummary | None = None
    cases: Mapping[tuple[str, str], CaseResult] = field(default_factory=dict)

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
) -> ComparisonReport:
    """The offline comparison of these results; with ``sequential`` comparisons (by
    ``suite_path::case_id``, for cases sampled adaptively) the suite-level decision is taken on
    them instead of on the fixed-sample tests. ``notes`` are added to the report's warnings."""
    report = compare_results(baseline_run, baseline_cases, candidate_run, candidate_cases, settings)
    if sequential:
        comparisons = {row.name: sequential.get(row.name, row.comparison) for row in report.rows}
        critical = {row.name for row in report.rows if row.verdict.critical}
        verdicts = decide(comparisons, critical=critical, alpha=settings.alpha)
        rows = tuple(dataclasses.replace(row, verdict=verdicts[row.name]) for row in report.rows)
        report = dataclasses.replace(report, rows=rows)
        report = dataclasses.replace(report, warnings=tuple(report_warnings(report)))
    if notes:
        report = dataclasses.replace(report, warnings=(*report.warnings, *notes))
    return report


def row_for(report: ComparisonReport, suite_path: str, case_id: str) -> CaseRow | None:
    """The report's row of one case (None: the case is in the candidate only)."""
    name = case_name(suite_path, case_id)
    return next((row for row in report.rows if row.name == name), None)


def needs_top_up(stored: CaseResult, planned: int) -> bool:
    """A stored baseline case with fewer samples than the candidate's plan limits what the
    comparison can detect: it is topped up when its model is configured, else reported."""
    return len(stored.samples) < planned


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

    def place(self, ref: CaseRef, result: CaseResult) -> CaseResult:
        """``result`` with its suite path as stored."""
        return dataclasses.replace(result, suite_path=stored_suite_path(ref.suite.path, self.root))

    def plan(self, ref: CaseRef) -> int:
        """The samples a case is planned to draw (at least one per variable combination)."""
        return max(self.samples or ref.case.samples, len(ref.case.combinations))

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

    @classmethod
    def configure(
        cls, options: Options, project: ProjectConfig, store: Path
    ) -> LiveComparison | None:
        """The comparison the options ask for (None without ``--promptcheck-baseline``); every
        inconsistency is a ConfigError raised before anything is sampled."""
        params = pairwise_params(options.pairwise, options.pairwise_rubric, options.pairwise_margin)
        if not options.baseline:
            if params is not None:
                raise ConfigError(
                    "--promptcheck-pairwise judges a comparison's pairs of outputs",
                    hint="add --promptcheck-baseline BASELINE",
                )
            return None
        baseline = resolve_baseline(options.baseline, project.known_models, store)
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
        return cls(baseline, pairwise=params, pairwise_judge=judge)

    @property
    def live(self) -> bool:
        """Whether the baseline is sampled in this session (a model), not read from the store."""
        return self.baseline.live

    def compare(
        self, refs: Sequence[CaseRef], context: ComparisonContext
    ) -> dict[str, SampledCase]:
        """Sample the candidate's cases against the baseline and decide them across the suite;
        the sampled cases by item key, for their items to report.

        A stored baseline case with fewer samples than the candidate's plan is topped up first
        (drawn to the full plan by its model, reusing the cached samples) when its model is
        configured; otherwise the report says it is short.
        """
        runner, settings = context.runner, self.settings
        against, topped, notes = self._against(refs, context)
        compared_refs = [ref for ref in refs if ref.key in against]
        alone = [ref for ref in refs if ref.key not in against]  # judged on their thresholds
        compared = runner.compare_cases(
            [
                ComparisonJob(
                    ref.case,
                    ref.model,
                    against[ref.key],
                    context.samples,
                    context.adaptive,
                    margin=settings.margin,
                    tolerance=settings.tolerance,
                    beta=settings.beta,
                )
                for ref in compared_refs
            ]
        )
        sampled: dict[str, SampledCase] = {}
        alone_jobs = [CaseJob(r.case, r.model, context.samples, context.adaptive) for r in alone]
        for ref, result in zip(alone, runner.run_cases(alone_jobs), strict=True):
            sampled[ref.key] = SampledCase(ref.suite, ref.model, context.place(ref, result))
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
            baseline_results.append(base)
            sampled[ref.key] = SampledCase(ref.suite, ref.model, candidate, base, base_model)
            if outcome.comparison is not None:
                name = case_name(candidate.suite_path, candidate.case_id)
                sequential[name] = outcome.comparison
        candidates = [sampled[ref.key].result for ref in refs]
        if self.baseline.run is not None:
            base_cases = dict(self.baseline.cases)
            for result in baseline_results:
                base_cases[(result.suite_path, result.case_id)] = result
            base_run: RunSummary = self.baseline.run
            base_list = list(base_cases.values())
        else:
            model = (
                model_named(self.baseline.model, refs[0].suite, context.project) if refs else None
            )
            base_run = context.summary(model, refs, baseline_results, labelled=False)
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
        )
        if self.pairwise is not None and self.pairwise_judge is not None:
            report = judge_report(
                report, base_list, candidates, runner, self.pairwise_judge, self.pairwise
            )
        self.report = report
        return sampled

    def _against(
        self, refs: Sequence[CaseRef], context: ComparisonContext
    ) -> tuple[
        dict[str, ModelConfig | CaseResult], dict[str, tuple[CaseResult, ModelConfig]], list[str]
    ]:
        """What each case is compared with (by item key; absent: not in the baseline), the
        stored cases that were topped up (with the model that did it), and notes for the report.
        """
        baseline = self.baseline
        against: dict[str, ModelConfig | CaseResult] = {}
        top_ups: list[tuple[CaseRef, ModelConfig]] = []
        for ref in refs:
            if baseline.live:
                against[ref.key] = model_named(baseline.model, ref.suite, context.project)
                continue
            stored = baseline.cases.get(
                (stored_suite_path(ref.suite.path, context.root), ref.case.id)
            )
            if stored is None:
                continue
            model = find_model(baseline.model, ref.suite.models, context.project)
            if needs_top_up(stored, context.plan(ref)) and model is not None:
                top_ups.append((ref, model))
            else:
                against[ref.key] = stored
        topped: dict[str, tuple[CaseResult, ModelConfig]] = {}
        if not top_ups:
            return against, topped, []
        jobs = [CaseJob(ref.case, model, context.samples) for ref, model in top_ups]
        for (ref, model), result in zip(top_ups, context.runner.run_cases(jobs), strict=True):
            placed = context.place(ref, result)
            against[ref.key] = placed
            topped[ref.key] = (placed, model)
        note = (
            f"{len(top_ups)} baseline case(s) had fewer samples than the candidate's plan and "
            f"were topped up by model {baseline.model!r} (cached samples reused)"
        )
        return against, topped, [note]
