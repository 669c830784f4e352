"""A live comparison: ``--promptcheck-baseline`` in a pytest session.

The baseline is a model run in the same session, or a stored run whose samples are reused. The
report is the :class:`~promptcheck.comparison.engine.MigrationReport` that ``promptcheck compare`` builds
from two stored runs (same matching, same exact tests, same suite-level false-alarm control), so
the gate in pytest and the offline comparison agree. Only when the samples were drawn adaptively
are the per-case comparisons swapped for the sequential ones (:mod:`promptcheck.stats.sequential`),
which stay valid under the early stop, before the suite-level decision.

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
from typing import TYPE_CHECKING

from promptcheck.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from promptcheck.comparison.pairwise import PairwiseCheck, PairwiseParams
    from promptcheck.stats.two_sample import Comparison
    from promptcheck.config import ProjectConfig
    from promptcheck.comparison.engine import CaseRow, CompareSettings, MigrationReport
    from promptcheck.results import CaseResult
    from promptcheck.run.runner import Runner
    from promptcheck.store.database import RunSummary
    from promptcheck.suite.loader import ModelConfig

#: What ``--promptcheck-fail-on`` may say in a comparison run, and its default there.
COMPARE_FAIL_ON = ("regressed", "inconclusive")


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
    from promptcheck.store.database import Store

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
) -> MigrationReport:
    """The offline comparison of these results; with ``sequential`` comparisons (by
    ``suite_path::case_id``, for cases sampled adaptively) the suite-level decision is taken on
    them instead of on the fixed-sample tests. ``notes`` are added to the report's warnings."""
    from promptcheck.stats.two_sample import decide
    from promptcheck.comparison.engine import compare_results, report_warnings

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


def row_for(report: MigrationReport, suite_path: str, case_id: str) -> CaseRow | None:
    """The report's row of one case (None: the case is in the candidate only)."""
    from promptcheck.comparison.engine import case_name

    name = case_name(suite_path, case_id)
    return next((row for row in report.rows if row.name == name), None)


def needs_top_up(stored: CaseResult, planned: int) -> bool:
    """A stored baseline case with fewer samples than the candidate's plan limits what the
    comparison can detect: it is topped up when its model is configured, else reported."""
    return len(stored.samples) < planned


def resolve_judge(name: str, project: ProjectConfig) -> ModelConfig:
    """The pairwise judge: a model of ``[tool.promptcheck.models]``; a typo is a ConfigError
    naming what exists, raised before anything is sampled or judged."""
    from promptcheck.registry import did_you_mean
    from promptcheck.suite.loader import find_model

    found = find_model(name, {}, project)
    if found is None:
        known = sorted(project.models)
        raise ConfigError(
            f"unknown pairwise judge model {name!r}",
            hint=did_you_mean(name, known) or f"defined models: {', '.join(known) or 'none'}",
        )
    return found


def judge_report(
    report: MigrationReport,
    baseline_cases: Sequence[CaseResult],
    candidate_cases: Sequence[CaseResult],
    runner: Runner,
    judge: ModelConfig,
    params: PairwiseParams,
) -> MigrationReport:
    """The report with the pairwise check of every compared case.

    The judge is asked through :class:`~promptcheck.run.model_access.CaseModels` on the runner's
    backends and loop, so its answers are retried and cached (``judge:`` keys) like a ``judge``
    check's, and a backend it shares with a compared model is built once. Every case's pairs
    are in flight together, bounded by the runner's concurrency. A pair whose judge errs or
    answers unreadably is unscored; nothing here fails the comparison.
    """
    from promptcheck.comparison.pairwise import PairwiseJudge, judge_case
    from promptcheck.comparison.engine import case_name, with_pairwise
    from promptcheck.run.model_access import CaseModels
    from promptcheck.run.runner import generate_with_retries

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
