"""``promptcheck adapt``, the whole of it: diagnose, rewrite, race, confirm, record.

1. **Diagnosis.** Every selected case runs on the candidate against the baseline exactly as the
   gate runs it (:class:`~promptcheck.comparison.live.LiveComparison`: a live model or a stored
   run, the same engine and suite-level decision). A case is adapted when it *regressed* or
   *fails its threshold* on the candidate; every other case is left alone.
2. **Rewrites** of each such case's templates: the deterministic operators
   (:mod:`.operators`), and the optimizer model's proposals when one is named
   (:mod:`.optimizer`); a rewrite that cannot be tried is kept with the reason (:mod:`.rewrites`).
3. **Search.** The case's combinations are split, seeded, into search and held-out values
   (:mod:`.split`); the rewrites race on the search values (:mod:`.search`).
4. **Confirmation.** The winner is tested on the held-out values with new samples
   (:mod:`.confirmation`). Only a confirmed winner adapts the case.
5. **Records.** Every sample is recorded in the store, the diagnosis under the cases' own ids
   and each rewrite under ``CASE@REWRITE`` (``CASE@REWRITE:held-out`` for its confirmation) in
   the candidate's run, and the optimizer's answers under ``CASE@optimizer`` in the optimizer's
   run; the generation cache makes a re-run free.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptcheck.adapt.budget import cost_exhausted, spent_cost
from promptcheck.adapt.confirmation import (
    ConfirmationOutcome,
    Goal,
    confirm_rewrite,
    sample_baseline,
)
from promptcheck.adapt.operators import OPERATORS, OperatorInput
from promptcheck.adapt.optimizer import (
    OptimizerBrief,
    ask_optimizer,
    brief_variables,
    cached_answers,
    failing_examples,
    optimizer_request,
    proposed_template,
)
from promptcheck.adapt.patches import patch_suite
from promptcheck.adapt.records import (
    AdaptReport,
    CaseAdaptation,
    CaseStatus,
    Rate,
    Spend,
    SuitePatch,
    Trial,
)
from promptcheck.adapt.requirements import describe_requirements
from promptcheck.adapt.rewrites import Rewrite, rejection
from promptcheck.adapt.search import RaceSetup, race_rewrites
from promptcheck.adapt.settings import (
    OPTIMIZER_EXAMPLES,
    OPTIMIZER_MAX_TOKENS,
    OPTIMIZER_TEMPERATURE,
    AdaptSettings,
)
from promptcheck.adapt.split import Split, confirmation_seed, split_combinations
from promptcheck.adapt.templates import (
    CaseSource,
    PromptTemplate,
    case_source,
    read_case_sources,
)
from promptcheck.backends.base import SamplingParams
from promptcheck.comparison.engine import CompareSettings, ComparisonReport
from promptcheck.comparison.live import (
    Baseline,
    ComparisonContext,
    LiveComparison,
    resolve_baseline,
    row_for,
)
from promptcheck.errors import ConfigError
from promptcheck.project import ProjectConfig
from promptcheck.results import CaseResult, CheckOutcome, SampleOutcome, Status
from promptcheck.run.jobs import CaseRef, SampledCase
from promptcheck.run.model_access import CaseModels
from promptcheck.run.runner import Runner, generate_with_retries
from promptcheck.stats import Change, Outcome, ThresholdVerdict, clopper_pearson
from promptcheck.stats.racing import RaceResult
from promptcheck.store.database import Store
from promptcheck.store.provenance import RunFacts
from promptcheck.suite import find_model, model_named, stored_suite_path
from promptcheck.suite.records import ModelConfig, SuiteSpec

#: Key of what adapt adds to a recorded case's properties (which case, rewrite, part).
ADAPT_KEY = "adapt"


@dataclass
class AdaptContext:
    """What ``adapt`` needs from the command that runs it: the runner that samples, the project
    whose models and files it uses, the root suite paths are stored relative to, the facts its
    runs record, and the store they go to."""

    runner: Runner
    project: ProjectConfig
    root: Path
    facts: RunFacts
    store: Store
    runs: dict[str, str] = field(default_factory=dict)

    def run_id(self, model: ModelConfig, suite: SuiteSpec, *, labelled: bool) -> str:
        """The store's run of ``model`` in this ``adapt`` (created on first use)."""
        run_id = self.facts.run_id(model.name)
        suites = {stored_suite_path(suite.path, self.root): suite.sha256}
        self.store.create_run(self.facts.info(model.name, model.spec, suites, labelled=labelled))
        self.runs[model.name] = run_id
        return run_id


@dataclass(frozen=True)
class _Target:
    """A case to adapt and what the diagnosis found."""

    ref: CaseRef
    suite_path: str
    candidate: CaseResult
    baseline: CaseResult | None
    why: tuple[str, ...]
    #: The model that can sample the baseline again (None: a stored run whose model is gone).
    baseline_model: ModelConfig | None = None


class Adapter:
    """One ``promptcheck adapt``: a candidate, a baseline, an optional optimizer, settings."""

    def __init__(
        self,
        context: AdaptContext,
        *,
        candidate: str,
        baseline: str,
        optimizer: str | None = None,
        settings: AdaptSettings | None = None,
        compare: CompareSettings | None = None,
    ) -> None:
        self.context = context
        self.candidate = candidate
        self.baseline_ref = baseline
        self.optimizer = optimizer
        self.settings = settings or AdaptSettings()
        self.compare_settings = compare or CompareSettings()
        #: What the gate's report warned of (short or topped-up baselines, low power, drift).
        self.diagnosis_warnings: list[str] = []
        self.spend = Spend(
            budget_samples=self.settings.budget_samples,
            budget_calls=self.settings.budget_calls,
            budget_cost=self.settings.budget_cost,
        )

    def adapt(self, suites: Sequence[SuiteSpec]) -> AdaptReport:
        """Diagnose every case of ``suites`` and adapt those that need it."""
        project = self.context.project
        names = sorted({*project.known_models, *(n for s in suites for n in s.models)})
        baseline = resolve_baseline(self.baseline_ref, names, self.context.store.path)
        if baseline.live and baseline.model == self.candidate:
            raise ConfigError(
                f"the candidate and the baseline are both model {self.candidate!r}",
                hint="adapt a suite from one model to another: --model CANDIDATE "
                "--baseline BASELINE",
            )
        optimizers = {
            suite.path: model_named(self.optimizer, suite, project)
            for suite in suites
            if self.optimizer is not None
        }
        refs, statuses = self._cases(suites)
        targets, diagnosed = self._diagnose(refs, baseline)
        errored: list[str] = []
        for ref in refs:
            result = diagnosed[ref.key].result
            verdict = result.verdict
            detail = f"{verdict.k}/{verdict.n} on the candidate ({verdict.outcome.value})"
            # not adapted, and not shown to conform either: too few scored samples to tell
            status = "conforms" if verdict.outcome == Outcome.PASS else "undecided"
            statuses[(self._path(ref), ref.case.id)] = CaseStatus(
                self._path(ref), ref.case.id, status, detail
            )
            if result.errors:
                errored.append(f"{ref.case.id} ({result.errors} of {len(result.samples)})")
        cases = []
        for target in targets:
            adaptation = self._adapt_case(target, optimizers.get(target.ref.suite.path))
            cases.append(adaptation)
            key = (target.suite_path, target.ref.case.id)
            status = "adapted" if adaptation.adapted else "not adapted"
            statuses[key] = CaseStatus(*key, status, " and ".join(target.why))
        self.spend.cost = spent_cost(self.context.runner)
        return AdaptReport(
            candidate=self.candidate,
            baseline=baseline.ref,
            baseline_live=baseline.live,
            optimizer=self.optimizer,
            statuses=tuple(statuses.values()),
            cases=tuple(cases),
            spend=self.spend,
            patches=tuple(self._patches(suites, cases)),
            runs=tuple(sorted(set(self.context.runs.values()))),
            warnings=tuple(self._warnings(baseline, errored)),
        )

    def _cases(
        self, suites: Sequence[SuiteSpec]
    ) -> tuple[list[CaseRef], dict[tuple[str, str], CaseStatus]]:
        """The cases to diagnose, and a status for every case in suite order (``skipped`` for a
        case that does not run on the candidate; the others are filled in as they are decided)."""
        statuses: dict[tuple[str, str], CaseStatus] = {}
        refs: list[CaseRef] = []
        for suite in suites:
            model = model_named(self.candidate, suite, self.context.project)
            path = stored_suite_path(suite.path, self.context.root)
            for case in suite.cases:
                if case.models is not None and self.candidate not in case.models:
                    why = "not run on this model"
                    statuses[(path, case.id)] = CaseStatus(path, case.id, "skipped", why)
                else:
                    statuses[(path, case.id)] = CaseStatus(path, case.id, "conforms")
                    refs.append(CaseRef(f"{path}::{case.id}[{model.name}]", suite, case, model))
        return refs, statuses

    # --- diagnosis ----------------------------------------------------------------------------

    def _diagnose(
        self, refs: Sequence[CaseRef], baseline: Baseline
    ) -> tuple[list[_Target], dict[str, SampledCase]]:
        """Run the gate on every case; the cases to adapt, and what was sampled by item key."""
        context = self.context
        comparison = LiveComparison(baseline, settings=self.compare_settings)
        gate = ComparisonContext(
            runner=context.runner,
            project=context.project,
            root=context.root,
            facts=context.facts,
            samples=self.settings.samples,
        )
        sampled = comparison.compare(refs, gate) if refs else {}
        report = comparison.report
        warned = report.warnings if report is not None else ()
        self.diagnosis_warnings = [f"diagnosis: {warning}" for warning in warned]
        targets = []
        for ref in refs:
            got = sampled[ref.key]
            self._record(ref.suite, ref.model, got.result, labelled=True)
            self.spend.diagnosis += len(got.result.samples)
            self.spend.cached += sum(1 for s in got.result.samples if s.cached)
            base = got.baseline
            if base is not None and got.baseline_model is not None:
                self._record(ref.suite, got.baseline_model, base, labelled=False)
                self.spend.diagnosis += len(base.samples)
                self.spend.cached += sum(1 for s in base.samples if s.cached)
            if base is None and baseline.run is not None:
                base = baseline.cases.get((self._path(ref), ref.case.id))
            why = _why(report, self._path(ref), ref.case.id, got.result)
            if why:
                again = got.baseline_model or self._baseline_model(baseline, ref)
                targets.append(_Target(ref, self._path(ref), got.result, base, why, again))
        return targets, sampled

    def _baseline_model(self, baseline: Baseline, ref: CaseRef) -> ModelConfig | None:
        """A stored baseline's model, when it is still configured, as the gate tops up: never
        the candidate's own (a stored run of the candidate is its past, which today's model
        cannot stand in for)."""
        if baseline.model == ref.model.name:
            return None
        return find_model(baseline.model, ref.suite.models, self.context.project)

    # --- one case -----------------------------------------------------------------------------

    def _adapt_case(self, target: _Target, optimizer: ModelConfig | None) -> CaseAdaptation:
        case, settings = target.ref.case, self.settings
        files = self.context.project.project_files()
        source = case_source(target.ref.suite.path, case.id, files)
        requirements = describe_requirements(
            source.expect, case.checks, target.ref.suite.path.parent, files
        )
        split = split_combinations(case, settings.held_out_share, settings.seed)
        search_keys = {_variables_key(c.variables) for c in split.search}
        base_search = _on(target.baseline, search_keys)
        example = next((s.output for s in base_search if s.status == "pass" and s.output), None)
        rewrites = [
            Rewrite(operator.name, "operator", rewritten, operator.description)
            for operator in OPERATORS
            if (rewritten := operator.apply(source.template, OperatorInput(requirements, example)))
            is not None
        ]
        if optimizer is not None:
            rewrites += self._proposals(target, source, requirements, split, optimizer)
        trials: dict[str, Trial] = {}
        valid: list[Rewrite] = []
        for rewrite in rewrites:
            why = rejection(
                rewrite.template,
                source.template,
                case.combinations,
                [(r.name, r.template) for r in valid],
            )
            if why is None:
                valid.append(rewrite)
            else:
                trials[rewrite.name] = _trial(rewrite, "discarded", why)
        goal = self._goal(target)
        planned = max(settings.confirm_samples or case.samples, len(split.held_out))
        goal_note = ""
        if goal.kind == "baseline" and valid:
            goal, goal_note = self._baseline_on_held_out(
                target, source.template, split, goal, planned
            )
        candidate_rate = _rate(target.candidate)
        assert candidate_rate is not None
        common = CaseAdaptation(
            suite_path=target.suite_path,
            suite=case.suite,
            case_id=case.id,
            why=target.why,
            goal=goal.kind,
            threshold=case.threshold,
            tolerance=case.tolerance,
            original=source.template,
            baseline=_rate(target.baseline),
            candidate=candidate_rate,
            search_values=len(split.search),
            held_out_values=len(split.held_out),
            shared_values=split.shared,
            requirements=requirements,
            trials=tuple(trials[r.name] for r in rewrites if r.name in trials),
            race_reason="no rewrite could be tried",
            note=goal_note,
        )
        if not valid:
            return common
        floor = _floor(goal)
        setup = RaceSetup(
            floor=floor,
            alpha=settings.race_alpha,
            max_samples=max(settings.search_samples or case.samples, len(split.search)),
            round_size=settings.round_size,
            reserve=planned,
        )
        runner, model = self.context.runner, target.ref.model
        outcome = runner.run(
            race_rewrites(runner, case, model, valid, split.search, setup, self.spend)
        )
        for rewrite in valid:
            self._record_trial(target, rewrite, outcome.results[rewrite.name], "search")
            trials[rewrite.name] = _raced(rewrite, outcome.race)
        ordered = tuple(trials[r.name] for r in rewrites)
        winner = next((r for r in valid if r.name == outcome.race.winner), None)
        if winner is None:
            return dataclasses.replace(common, trials=ordered, race_reason=outcome.race.reason)
        named = {r.name: r for r in valid}
        # Each contender's test is paid in full before it starts: no more contenders than the
        # budget left can test, decided (like their number) before any held-out sample.
        left = self.spend.samples_left()
        affordable = settings.contenders if left is None else max(left // planned, 1)
        could = [named[name] for name in outcome.race.contenders(settings.contenders, floor)]
        contenders = could[: max(affordable, 1)]
        for rewrite in could[len(contenders) :]:
            trials[rewrite.name] = dataclasses.replace(
                trials[rewrite.name],
                status="not tested",
                reason=f"a contender, but the budget left ({left} samples) pays for "
                f"{len(contenders)} held-out test(s) of {planned}",
            )
        # The number of held-out tests is fixed before any is drawn, and the level split
        # between them: the chance that any useless contender passes stays at confirm_level.
        level = goal.level / len(contenders)
        tested = dataclasses.replace(goal, level=level)
        first: tuple[Rewrite, ConfirmationOutcome] | None = None
        fixed: tuple[Rewrite, ConfirmationOutcome] | None = None
        for rewrite in contenders:
            confirmed = runner.run(
                confirm_rewrite(
                    runner,
                    case,
                    model,
                    rewrite,
                    split.held_out,
                    tested,
                    planned,
                    settings.round_size,
                    confirmation_seed(case),
                    self.spend,
                )
            )
            if confirmed.result is not None:
                self._record_trial(target, rewrite, confirmed.result, "held-out")
            first = first or (rewrite, confirmed)
            decision = confirmed.confirmation
            if decision is not None and decision.fixed:
                fixed = (rewrite, confirmed)
                if rewrite is not contenders[0]:
                    trials[rewrite.name] = dataclasses.replace(
                        trials[rewrite.name],
                        status="chosen",
                        reason=f"confirmed on the held-out values after {contenders[0].name} "
                        "was refused there",
                    )
                break
            if decision is None:  # the budget could not pay for the test: stop here
                break
            trials[rewrite.name] = dataclasses.replace(
                trials[rewrite.name],
                status="refused",
                reason=f"held-out {decision.k}/{decision.n}: {decision.reason}",
            )
        assert first is not None
        shown, confirmed = fixed or first
        ordered = tuple(trials[r.name] for r in rewrites)
        decision = confirmed.confirmation
        adapted = fixed is not None
        notes = [note for note in (goal_note, confirmed.reason) if note]
        if len(contenders) > 1:
            names = " and ".join(r.name for r in contenders)
            notes.append(
                f"{names} could not be told apart on the search values, so each may go to "
                f"the held-out test in turn, at level {level:g} ({goal.level:g} split between "
                "them)"
            )
        if split.shared:
            notes.append(
                "one variable combination: confirmed on new samples of it, not on new values"
            )
        return dataclasses.replace(
            common,
            trials=ordered,
            race_reason=outcome.race.reason,
            winner=shown.name,
            confirmation=decision,
            adapted=adapted,
            chosen=shown.template if adapted else None,
            note="; ".join(notes),
        )

    def _goal(self, target: _Target) -> Goal:
        """The threshold, unless the case regressed from a baseline that itself misses it:
        then the baseline's rate on the held-out values, less the tolerance (measured by
        :meth:`_baseline_on_held_out`)."""
        case, settings = target.ref.case, self.settings
        base = target.baseline
        if "regressed" in target.why and base is not None and base.verdict.outcome != Outcome.PASS:
            return Goal("baseline", case.threshold, case.tolerance, settings.confirm_level)
        return Goal("threshold", case.threshold, case.tolerance, settings.confirm_level)

    def _baseline_on_held_out(
        self, target: _Target, template: PromptTemplate, split: Split, goal: Goal, planned: int
    ) -> tuple[Goal, str]:
        """The baseline's rate on the held-out values, from ``planned`` new samples of its
        model, and a note when it could not be measured.

        The diagnosis's samples there are never used: they were looked at to choose this goal
        (a baseline that looked bad), so a test against them would not hold its level, and they
        are too few. Without a model to sample (the candidate's own stored run, or a model no
        longer configured) or budget for it, the goal falls back to the threshold, which needs
        no baseline sample and is stricter; the note says so.
        """
        model, case = target.baseline_model, target.ref.case
        threshold = dataclasses.replace(goal, kind="threshold")
        left = self.spend.samples_left()
        if model is None:
            why = "the baseline's model cannot be sampled again (a stored run of the candidate, or "
            why += "a model no longer configured)"
            return threshold, f"{why}: the goal is the threshold"
        if (left is not None and left < 2 * planned) or cost_exhausted(
            self.spend, self.context.runner
        ):
            return threshold, (
                "no budget to sample the baseline on the held-out values: the goal is the threshold"
            )
        outcome = self.context.runner.run(
            sample_baseline(
                self.context.runner,
                case,
                model,
                template,
                split.held_out,
                planned,
                confirmation_seed(case),
                self.spend,
            )
        )
        self._record_baseline(target, model, outcome)
        k, n = (
            sum(1 for s in outcome.samples if s.status == status) for status in ("pass", "fail")
        )
        if not k + n:
            return threshold, (
                "no sample of the baseline on the held-out values could be scored: the goal is the "
                "threshold"
            )
        counts = f"{k}/{k + n}"
        note = f"the baseline's original prompt on the held-out values: {counts} new samples"
        return dataclasses.replace(goal, baseline=(k, k + n)), note

    def _proposals(
        self,
        target: _Target,
        source: CaseSource,
        requirements: tuple[str, ...],
        split: Split,
        optimizer: ModelConfig,
    ) -> list[Rewrite]:
        """Ask the optimizer for rewrites (within the call budget) and record its answers."""
        left = self.spend.calls_left()
        calls = (
            self.settings.optimizer_rewrites
            if left is None
            else min(left, self.settings.optimizer_rewrites)
        )
        if calls <= 0:
            if self.settings.optimizer_rewrites:
                self.spend.exhausted.append(f"{target.ref.case.id}: no optimizer call left")
            return []
        if cost_exhausted(self.spend, self.context.runner):
            self.spend.exhausted.append(f"{target.ref.case.id}: no cost budget left to ask")
            return []
        keys = {_variables_key(c.variables) for c in split.search}
        failing = [
            (s.output or "", "; ".join(c.reason for c in s.checks if c.status is Status.FAIL))
            for s in _on(target.candidate, keys)
            if s.status == "fail"
        ]
        passing = tuple(
            dict.fromkeys(
                s.output for s in _on(target.baseline, keys) if s.status == "pass" and s.output
            )
        )[:OPTIMIZER_EXAMPLES]
        brief = OptimizerBrief(
            source.template,
            brief_variables(source.template),
            requirements,
            failing_examples(failing, OPTIMIZER_EXAMPLES),
            passing,
        )
        runner = self.context.runner
        models = CaseModels(
            under_test=optimizer,
            judges={},
            build=runner.backends.get,
            generate=generate_with_retries,
            cache=runner.cache,
            fresh=runner.fresh,
            concurrency=runner.concurrency,
        )
        params = SamplingParams(temperature=OPTIMIZER_TEMPERATURE, max_tokens=OPTIMIZER_MAX_TOKENS)
        key = f"{target.suite_path}::{target.ref.case.id}"
        request = optimizer_request(brief, key, calls, params)
        cached = 0
        if not runner.fresh:
            backend = runner.backends.get(optimizer)
            cached = cached_answers(runner.cache, optimizer, backend, request)
        answers = runner.run(ask_optimizer(models, request))
        question = request.prompt or ""
        self.spend.calls += len(answers)
        self.spend.cached_calls += cached
        rewrites, samples = [], []
        for number, answer in enumerate(answers, 1):
            name = f"optimizer-{number}"
            usable = answer.error is None and answer.text is not None
            if usable and answer.text is not None:
                template = proposed_template(source.template, answer.text)
                rewrites.append(
                    Rewrite(name, "optimizer", template, f"proposed by {optimizer.name}")
                )
            reason = answer.error or "the reply is the rewrite"
            samples.append(
                SampleOutcome(
                    index=number - 1,
                    combination=0,
                    variables={},
                    prompt=question,
                    seed=0,
                    output=answer.text,
                    checks=(
                        CheckOutcome(0, "reply", Status.PASS if usable else Status.FAIL, reason),
                    ),
                    error=answer.error,
                )
            )
        self._record_optimizer(target, optimizer, samples)
        return rewrites

    # --- recording ----------------------------------------------------------------------------

    def _record(
        self, suite: SuiteSpec, model: ModelConfig, result: CaseResult, *, labelled: bool
    ) -> None:
        run_id = self.context.run_id(model, suite, labelled=labelled)
        self.context.store.record_case(run_id, result)

    def _record_trial(
        self, target: _Target, rewrite: Rewrite, result: CaseResult, part: str
    ) -> None:
        case_id = f"{target.ref.case.id}@{rewrite.name}"
        if part == "held-out":
            case_id += ":held-out"
        properties: dict[str, Any] = {
            **result.properties,
            ADAPT_KEY: {"case": target.ref.case.id, "rewrite": rewrite.name, "part": part},
        }
        placed = dataclasses.replace(
            result, suite_path=target.suite_path, case_id=case_id, properties=properties
        )
        self._record(target.ref.suite, target.ref.model, placed, labelled=True)

    def _record_baseline(self, target: _Target, model: ModelConfig, result: CaseResult) -> None:
        properties: dict[str, Any] = {
            **result.properties,
            ADAPT_KEY: {"case": target.ref.case.id, "part": "baseline held-out"},
        }
        placed = dataclasses.replace(
            result,
            suite_path=target.suite_path,
            case_id=f"{target.ref.case.id}@baseline:held-out",
            properties=properties,
        )
        self._record(target.ref.suite, model, placed, labelled=False)

    def _record_optimizer(
        self, target: _Target, optimizer: ModelConfig, samples: Sequence[SampleOutcome]
    ) -> None:
        usable = sum(1 for s in samples if s.status == "pass")
        # Not a conformance verdict: how many answers could be used as rewrites, with no threshold.
        verdict = ThresholdVerdict(
            Outcome.PASS if usable else Outcome.UNDECIDED,
            usable,
            len(samples),
            0.0,
            0.0,
            clopper_pearson(usable, len(samples)),
            f"{usable} of {len(samples)} optimizer answers usable as rewrites (not scored)",
        )
        result = CaseResult(
            suite=target.ref.case.suite,
            suite_path=target.suite_path,
            case_id=f"{target.ref.case.id}@optimizer",
            model=optimizer.name,
            samples=tuple(samples),
            verdict=verdict,
            properties={ADAPT_KEY: {"case": target.ref.case.id, "part": "optimizer"}},
        )
        labelled = optimizer.name == self.candidate
        self._record(target.ref.suite, optimizer, result, labelled=labelled)

    # --- helpers ------------------------------------------------------------------------------

    def _path(self, ref: CaseRef) -> str:
        return stored_suite_path(ref.suite.path, self.context.root)

    def _patches(
        self, suites: Sequence[SuiteSpec], cases: Sequence[CaseAdaptation]
    ) -> Iterable[SuitePatch]:
        files = self.context.project.project_files()
        for suite in suites:
            path = stored_suite_path(suite.path, self.context.root)
            chosen = {c.case_id: c.chosen for c in cases if c.suite_path == path and c.chosen}
            if not chosen:
                continue
            text = files.read_text(suite.path, "suite")
            sources = read_case_sources(suite.path, files)
            changes = {sources[case_id].index: template for case_id, template in chosen.items()}
            patched = patch_suite(text, changes, path)
            yield SuitePatch(path, text, patched, tuple(chosen))

    def _warnings(self, baseline: Baseline, errored: Sequence[str]) -> list[str]:
        warnings = [*self.diagnosis_warnings, *self.spend.exhausted]
        if errored:
            warnings.append(
                f"the candidate's samples errored in {', '.join(errored)}: errored samples are "
                "not counted, so those cases may be undecided rather than adapted; see "
                "`promptcheck show` of the candidate's run for the errors"
            )
        if self.spend.budget_cost is not None and self.spend.cost is None:
            warnings.append(
                "no model reported a price, so --budget-cost could not apply (configure "
                "price_per_1k_input / price_per_1k_output on an openai model)"
            )
        if baseline.run is not None:
            warnings.append(f"baseline: the stored run {baseline.run.id} ({baseline.model})")
        return warnings


def _why(
    report: ComparisonReport | None, suite_path: str, case_id: str, result: CaseResult
) -> tuple[str, ...]:
    why = []
    row = row_for(report, suite_path, case_id) if report is not None else None
    if row is not None and row.change == Change.REGRESSED:
        why.append("regressed")
    if result.verdict.outcome == Outcome.FAIL:
        why.append("below threshold")
    return tuple(why)


def _variables_key(variables: Mapping[str, Any]) -> str:
    """A combination's identity across runs: its variables as canonical JSON (a stored run
    reads tuples back as lists, so they are written as lists here too)."""
    return json.dumps(json.loads(json.dumps(dict(variables), default=str)), sort_keys=True)


def _on(result: CaseResult | None, keys: set[str]) -> list[SampleOutcome]:
    """The samples of ``result`` drawn on the combinations with these variables."""
    if result is None:
        return []
    return [s for s in result.samples if _variables_key(s.variables) in keys]


def _rate(result: CaseResult | None) -> Rate | None:
    if result is None:
        return None
    verdict = result.verdict
    return Rate(verdict.k, verdict.n, clopper_pearson(verdict.k, verdict.n))


def _floor(goal: Goal) -> float:
    if goal.kind == "baseline" and goal.baseline is not None and goal.baseline[1]:
        return max(goal.baseline[0] / goal.baseline[1] - goal.tolerance, 0.0)
    return max(goal.threshold - goal.tolerance, 0.0)


def _trial(rewrite: Rewrite, status: str, reason: str) -> Trial:
    return Trial(
        rewrite.name, rewrite.origin, rewrite.description, rewrite.template, status, reason
    )


def _raced(rewrite: Rewrite, race: RaceResult) -> Trial:
    arm = race.arm(rewrite.name)
    if not arm.alive:
        status = "eliminated"
    elif race.winner == rewrite.name:
        status = "winner"
    elif race.winner is None:
        status = "stopped"
    else:
        status = "not chosen"
    search = Rate(arm.k, arm.n, (arm.lower, arm.upper))
    return Trial(
        rewrite.name,
        rewrite.origin,
        rewrite.description,
        rewrite.template,
        status,
        arm.reason,
        search,
    )
