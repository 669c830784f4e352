"""Scoring: a sample's checks, a revising judge's revision, and a case's tally and verdict.

The runner obtains generations; everything here is what happens to one once it is in hand, so
it is the same whether the sample came from a backend or from the cache.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from promptcheck.backends.base import Generation
from promptcheck.backends.tool_calls import calls_of
from promptcheck.checks.base import CheckContext, CheckResult, Status
from promptcheck.config import CHECK_TIMEOUT_S
from promptcheck.results import (
    SERVED_KEY,
    CaseResult,
    CheckOutcome,
    CheckTally,
    SampleOutcome,
    served_counts,
)
from promptcheck.run.agreement import judge_figures
from promptcheck.run.bounded import run_bounded
from promptcheck.run.judge_gates import DIAGNOSTIC_KEY, judge_name
from promptcheck.run.model_access import CaseModels
from promptcheck.run.planning import PlannedSample
from promptcheck.stats import threshold_verdict
from promptcheck.suite import CaseSpec, CompiledCheck, ModelConfig

#: Whether each revising check's revised output conforms, by (sample index, check index).
Revisions = dict[tuple[int, int], bool | None]
#: The outcomes of judging checks that do not gate (run/judge_gates.py), by (sample index,
#: check index): kept apart from the sample's checks, so that they cannot change its status.
SetAside = dict[tuple[int, int], CheckOutcome]
#: Why a sample whose every check is a judge below the calibration floor is unscored.
NO_GATING_CHECK = (
    "no check gates this output: the case's only checks are judges below the calibration floor "
    "(diagnostic), so nothing decides whether it conforms"
)


async def score_samples(
    case: CaseSpec,
    model: ModelConfig,
    batch: Sequence[PlannedSample],
    generations: Mapping[int, tuple[Generation, bool]],
    models: CaseModels | None,
    revisions: Revisions | None = None,
    diagnostic: Mapping[int, str] | None = None,
    set_aside: SetAside | None = None,
) -> list[SampleOutcome]:
    """The outcomes of a batch of samples: their checks that can run long first, all in one
    worker thread (:func:`~promptcheck.run.bounded.run_bounded`), then the rest on the loop;
    with judges the samples are scored together, so that their questions are in flight at once
    (bounded by CaseModels) and a local model batches them. The outcomes of the ``diagnostic``
    checks (judges below the calibration floor, by index) go into ``set_aside`` instead of into
    the samples."""
    aside = (diagnostic or {}, set_aside if set_aside is not None else {})
    contexts = {
        sample.index: _context(case, model, sample, models, generations[sample.index])
        for sample in batch
        if _output(generations[sample.index]) is not None
    }
    threaded = await _blocking_results(case.checks, batch, generations, contexts)
    if models is None:
        return [
            await _score(case, sample, generations[sample.index], contexts, threaded, None, aside)
            for sample in batch
        ]
    return list(
        await asyncio.gather(
            *(
                _score(
                    case,
                    sample,
                    generations[sample.index],
                    contexts,
                    threaded,
                    revisions,
                    aside,
                )
                for sample in batch
            )
        )
    )


def _output(generation: tuple[Generation, bool]) -> str | None:
    return generation[0].text if generation[0].error is None else None


def _context(
    case: CaseSpec,
    model: ModelConfig,
    sample: PlannedSample,
    models: CaseModels | None,
    generation: tuple[Generation, bool],
) -> CheckContext:
    return CheckContext(
        prompt=sample.combination.display_prompt,
        variables=sample.combination.variables,
        case_id=case.id,
        model=model.name,
        seed=sample.seed,
        sampling=case.sampling,
        models=models,
        tool_calls=calls_of(generation[0]),
    )


async def _score(
    case: CaseSpec,
    sample: PlannedSample,
    generation: tuple[Generation, bool],
    contexts: Mapping[int, CheckContext],
    threaded: Mapping[tuple[int, int], CheckResult],
    revisions: Revisions | None,
    aside: tuple[Mapping[int, str], SetAside],
) -> SampleOutcome:
    """A sample's outcome: each of the case's checks on its output (none for an error); the
    outcome of a check that does not gate (``aside``: the diagnostic check indexes, and where
    their outcomes go) is kept apart."""
    output = _output(generation)
    if output is None:
        return sample_outcome(sample, generation, ())
    context = contexts[sample.index]
    checks = []
    for compiled in case.checks:
        result = threaded.get((sample.index, compiled.index)) or _evaluate(
            compiled.check, output, context
        )
        if not isinstance(result, CheckResult):  # sync checks stay off the await path
            result = await _settle(result)
        outcome = CheckOutcome(
            compiled.index, compiled.label, result.status, result.reason, result.score
        )
        revising = compiled.judging and getattr(compiled.check, "revise", False) is True
        if revisions is not None and revising:
            outcome, conforms = await _revised(case, compiled, outcome, result.revision, context)
            revisions[sample.index, compiled.index] = conforms
        diagnostic, set_aside = aside
        if compiled.index in diagnostic:
            set_aside[sample.index, compiled.index] = outcome
            continue
        checks.append(outcome)
    if case.checks and not checks:
        # every check was set aside: nothing decides whether this output conforms, so it is
        # unscored (it must not count as a pass); the set-aside outcome replaces it in tallies
        first = case.checks[0]
        checks.append(CheckOutcome(first.index, first.label, Status.UNSCORED, NO_GATING_CHECK))
    return sample_outcome(sample, generation, tuple(checks))


async def _check(compiled: CompiledCheck, output: str, context: CheckContext) -> CheckResult:
    result = _evaluate(compiled.check, output, context)
    return result if isinstance(result, CheckResult) else await _settle(result)


async def _revised(
    case: CaseSpec,
    compiled: CompiledCheck,
    outcome: CheckOutcome,
    revision: str | None,
    context: CheckContext,
) -> tuple[CheckOutcome, bool | None]:
    """A revising check's outcome with its revision scored and shown after its reason, and
    whether the revision conforms (None: there is none, or a check could not tell).

    The revision is scored by the format checks the judge is paired with (all of the case's
    format checks when it is not paired); judges never score revisions, so a revision costs
    no further model calls and cannot be approved by the model that wrote it.
    """
    if revision is None:
        return dataclasses.replace(outcome, reason=f"{outcome.reason}\nrevision: none"), None
    scorers = compiled.pairs
    if scorers is None:
        scorers = tuple(c.index for c in case.checks if not c.judging)
    failures = []
    unscored = False
    for scorer in (c for c in case.checks if c.index in scorers):
        scored = await _check(scorer, revision, context)
        if scored.status is Status.FAIL:
            failures.append(f"[{scorer.index}] {scorer.label}: {scored.reason}")
        elif scored.status is Status.UNSCORED:
            unscored = True
    conforms = False if failures else (None if unscored else True)
    said = {True: "conforms", False: "fails " + "; ".join(failures), None: "could not be scored"}
    reason = f"{outcome.reason}\nrevision {said[conforms]}: {revision!r}"
    return dataclasses.replace(outcome, reason=reason), conforms


def _evaluate(check: Any, output: str, context: CheckContext) -> CheckResult | Awaitable[Any]:
    """A synchronous check's result (the common case, kept off the await path) or an awaitable:
    an asynchronous check's, or a blocking check's run in a worker thread."""
    if _is_blocking(check):
        return _off_loop(check, output, context)
    try:
        result = check.evaluate(output, context)
    except Exception as exc:  # a check's bug is reported on the sample, not as a lost run
        return CheckResult(Status.UNSCORED, f"check raised {type(exc).__name__}: {exc}")
    if type(result) is CheckResult or inspect.isawaitable(result):
        return result
    return _not_a_result(result)


def _is_blocking(check: Any) -> bool:
    return getattr(check, "blocking", False) is True


async def _blocking_results(
    checks: Sequence[CompiledCheck],
    batch: Sequence[PlannedSample],
    generations: Mapping[int, tuple[Generation, bool]],
    contexts: Mapping[int, CheckContext],
) -> dict[tuple[int, int], CheckResult]:
    """The results of the batch's synchronous blocking checks by (sample, check) index, each
    within ``CHECK_TIMEOUT_S``: one that overruns is unscored, with the reason."""
    blocking = [
        c
        for c in checks
        if _is_blocking(c.check) and not inspect.iscoroutinefunction(c.check.evaluate)
    ]
    pieces: list[tuple[int, CompiledCheck, str]] = []
    for sample in batch:
        output = _output(generations[sample.index])
        if output is not None:
            pieces.extend((sample.index, compiled, output) for compiled in blocking)
    if not pieces:
        return {}

    def piece(index: int, compiled: CompiledCheck, output: str) -> Callable[[], CheckResult]:
        def evaluate() -> CheckResult:
            try:
                result = compiled.check.evaluate(output, contexts[index])
            except Exception as exc:
                return CheckResult(Status.UNSCORED, f"check raised {type(exc).__name__}: {exc}")
            return result if isinstance(result, CheckResult) else _not_a_result(result)

        return evaluate

    results = await run_bounded(
        [piece(*item) for item in pieces],
        CHECK_TIMEOUT_S,
        lambda position: _given_up(pieces[position][1].check),
    )
    return {
        (index, compiled.index): result
        for (index, compiled, _), result in zip(pieces, results, strict=True)
    }


def _given_up(check: Any) -> CheckResult:
    return CheckResult(
        Status.UNSCORED,
        f"{getattr(check, 'name', 'the check')} took longer than {CHECK_TIMEOUT_S:g} s on this "
        "output and was given up",
    )


async def _off_loop(check: Any, output: str, context: CheckContext) -> CheckResult:
    """A check that can run long, in a worker thread and at most ``CHECK_TIMEOUT_S`` (an async
    one on the loop, under the same limit): past it the sample is unscored for this check."""
    if inspect.iscoroutinefunction(check.evaluate):
        try:
            result = await asyncio.wait_for(check.evaluate(output, context), CHECK_TIMEOUT_S)
        except TimeoutError:
            return _given_up(check)
        except Exception as exc:
            return CheckResult(Status.UNSCORED, f"check raised {type(exc).__name__}: {exc}")
        return result if isinstance(result, CheckResult) else _not_a_result(result)

    def call() -> CheckResult:
        try:
            found = check.evaluate(output, context)
        except Exception as exc:
            return CheckResult(Status.UNSCORED, f"check raised {type(exc).__name__}: {exc}")
        return found if isinstance(found, CheckResult) else _not_a_result(found)

    return (await run_bounded([call], CHECK_TIMEOUT_S, lambda _: _given_up(check)))[0]


async def _settle(pending: Awaitable[Any]) -> CheckResult:
    """Await an asynchronous check (a judge), turning its exceptions into UNSCORED."""
    try:
        result = await pending
    except Exception as exc:
        return CheckResult(Status.UNSCORED, f"check raised {type(exc).__name__}: {exc}")
    return result if isinstance(result, CheckResult) else _not_a_result(result)


def _not_a_result(result: object) -> CheckResult:
    return CheckResult(
        Status.UNSCORED, f"check returned {type(result).__name__}, not a CheckResult"
    )


def sample_outcome(
    sample: PlannedSample, generation: tuple[Generation, bool], checks: tuple[CheckOutcome, ...]
) -> SampleOutcome:
    produced, cached = generation
    return SampleOutcome(
        index=sample.index,
        combination=sample.combination.index,
        variables=sample.combination.variables,
        prompt=sample.combination.display_prompt,
        seed=sample.seed,
        output=produced.text,
        checks=checks,
        error=produced.error,
        formatted_prompt=produced.formatted_prompt,
        prompt_tokens=produced.prompt_tokens,
        completion_tokens=produced.completion_tokens,
        latency_s=produced.latency_s,
        cached=cached,
        cache_key=sample.cache_key,
        served_model=produced.served_model,
        served_fingerprint=produced.served_fingerprint,
    )


def summarize(
    case: CaseSpec,
    model: str,
    outcomes: Sequence[SampleOutcome],
    revisions: Mapping[tuple[int, int], bool | None] | None = None,
    set_aside: SetAside | None = None,
    diagnostic: Mapping[int, str] | None = None,
) -> CaseResult:
    """Tally the checks and decide the case against its threshold; measure its judges.

    ``revisions`` maps (sample index, check index) to whether that revising check's revised
    output conforms, for the revised rate; it is not kept per sample beyond the check's reason.
    ``set_aside`` holds the outcomes of the judging checks that do not gate (``diagnostic``:
    check index -> why): they are tallied and measured like the others, and reported under
    ``properties["diagnostic_checks"]``, but the verdict counts the gating checks only.
    """
    gating = outcomes
    if set_aside:
        outcomes = [_with_set_aside(outcome, set_aside) for outcome in outcomes]
    passed = [0] * len(case.checks)
    failed = [0] * len(case.checks)
    unscored = [0] * len(case.checks)
    conforming = scored = 0
    for outcome, gated in zip(outcomes, gating, strict=True):
        status = gated.status
        if status == "error":
            continue
        for check in outcome.checks:
            if check.status is Status.PASS:
                passed[check.index] += 1
            elif check.status is Status.FAIL:
                failed[check.index] += 1
            else:
                unscored[check.index] += 1
        if status == "pass":
            conforming += 1
            scored += 1
        elif status == "fail":
            scored += 1
    tallies = tuple(
        CheckTally(check.index, check.label, passed[i], failed[i], unscored[i])
        for i, check in enumerate(case.checks)
    )
    verdict = threshold_verdict(conforming, scored, case.threshold, tolerance=case.tolerance)
    if diagnostic and case.checks and all(c.index in diagnostic for c in case.checks):
        verdict = dataclasses.replace(
            verdict,
            explanation="no check gates: every check of the case is a judge below the "
            "calibration floor (reported, not gating); calibrate it again with locked ratings "
            "(promptcheck review calibrate) or add a check that gates",
        )
    figures = judge_figures(case.checks, outcomes, revisions or {})
    properties: dict[str, Any] = {"judges": [f.as_dict() for f in figures]} if figures else {}
    if served := served_counts(outcomes):
        properties[SERVED_KEY] = [count.as_dict() for count in served]
    if diagnostic:
        properties[DIAGNOSTIC_KEY] = _diagnostic(case, model, diagnostic, set_aside or {})
    return CaseResult(
        suite=case.suite,
        suite_path=str(case.path),
        case_id=case.id,
        model=model,
        samples=tuple(gating),
        verdict=verdict,
        tallies=tallies,
        tags=case.tags,
        properties=properties,
    )


def _with_set_aside(outcome: SampleOutcome, set_aside: SetAside) -> SampleOutcome:
    """A sample with its set-aside checks back in place (for tallies and judge figures)."""
    extra = [check for (sample, _), check in set_aside.items() if sample == outcome.index]
    if not extra:
        return outcome
    replaced = {check.index for check in extra}  # the stand-in of a sample with no gating check
    kept = [check for check in outcome.checks if check.index not in replaced]
    checks = tuple(sorted((*kept, *extra), key=lambda check: check.index))
    return dataclasses.replace(outcome, checks=checks)


def _diagnostic(
    case: CaseSpec, model: str, diagnostic: Mapping[int, str], set_aside: SetAside
) -> list[dict[str, Any]]:
    """What each non-gating judge said of each sample: ``[status, reason]`` by sample index."""
    found = []
    for compiled in case.checks:
        why = diagnostic.get(compiled.index)
        if why is None:
            continue
        verdicts = {
            str(sample): [outcome.status.value, outcome.reason]
            for (sample, index), outcome in sorted(set_aside.items())
            if index == compiled.index
        }
        found.append(
            {
                "index": compiled.index,
                "label": compiled.label,
                "judge": judge_name(compiled.check, model),
                "why": why,
                "verdicts": verdicts,
            }
        )
    return found
