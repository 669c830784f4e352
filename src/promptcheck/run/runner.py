"""Sample a case on a model: plan seeds, reuse cached generations, call the backend, run the checks.

The runner owns everything between a compiled case and its result: which samples to draw, with
which seeds, how many requests at once, what to retry, what the cache already has. Backends only
generate and checks only score; the verdict comes from :mod:`promptcheck.stats.threshold`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from promptcheck.backends.base import (
    BACKENDS,
    Backend,
    BackendContext,
    Generation,
    GenerationRequest,
)
from promptcheck.errors import BackendError, PromptcheckError
from promptcheck.redaction import scrub_text
from promptcheck.results import ADAPTIVE_KEY, CaseResult, SampleOutcome
from promptcheck.run.jobs import CaseJob, ComparedCase, ComparisonJob
from promptcheck.run.judge_gates import diagnostic_checks
from promptcheck.run.model_access import CaseModels
from promptcheck.run.planning import DRAW_KEY, PlannedSample, plan_samples
from promptcheck.run.scoring import Revisions, SetAside, sample_outcome, score_samples, summarize
from promptcheck.stats import ComparisonMonitor, Decision, ThresholdMonitor, ThresholdVerdict
from promptcheck.suite import CaseSpec, ModelConfig

T = TypeVar("T")

#: Attempts for a request whose failure the backend marks retryable (rate limits, timeouts).
MAX_ATTEMPTS = 3
RETRY_BASE_DELAY_S = 0.5


class GenerationCache(Protocol):
    """The part of the store the runner needs: generations by content key."""

    def cached_generations(self, keys: Sequence[str]) -> dict[str, Generation]: ...

    def cache_generations(self, items: Sequence[tuple[str, Generation]]) -> None: ...


class BackendPool:
    """Backends built once per session and shared by every case: a model is loaded once."""

    def __init__(self, announce: Callable[[str], None] | None = None) -> None:
        self._backends: dict[tuple[str, str], Backend] = {}
        self._announce = announce

    def get(self, model: ModelConfig) -> Backend:
        key = (model.name, str(model.base_dir))
        backend = self._backends.get(key)
        if backend is None:
            backend_type = BACKENDS.get(model.backend)
            context = BackendContext(base_dir=model.base_dir, announce=self._announce)
            backend = backend_type.build(model.params, context)
            self._backends[key] = backend
        return backend

    def built(self) -> Mapping[tuple[str, str], Backend]:
        return dict(self._backends)

    async def aclose(self) -> None:
        for backend in self._backends.values():
            close: Callable[[], Awaitable[None]] | None = getattr(backend, "aclose", None)
            if close is not None:
                await close()
        self._backends.clear()


#: Samples per round when sampling adaptively: small enough to stop soon after a verdict is
#: decided, large enough that a round keeps the backend busy (cases overlap anyway).
ROUND_SIZE = 10


class CaseSampler:
    """One case on one model, drawn a prefix of its plan at a time.

    Sample i is the plan's sample i whether it is drawn in one go or in rounds, so an adaptive run
    draws exactly the first samples a fixed run would, and both share the cache.
    """

    def __init__(
        self,
        runner: Runner,
        case: CaseSpec,
        model: ModelConfig,
        samples: int | None,
        draw: str = "",
    ) -> None:
        self.runner = runner
        self.case = case
        self.model = model
        self.seed_draw = draw
        self.outcomes: list[SampleOutcome] = []
        self.revisions: Revisions = {}
        #: Judging checks below the calibration floor (by index, with why), and their outcomes.
        self.diagnostic = diagnostic_checks(runner.cache, case, model)
        self.set_aside: SetAside = {}
        self._error: str | None = None
        self._backend: Backend | None = None
        try:
            self._backend = runner.backends.get(model)
        except PromptcheckError as exc:
            self._error = f"cannot start model {model.name!r}: {exc}"
        fingerprint = str(getattr(self._backend, "fingerprint", ""))
        self.planned = plan_samples(case, model, samples or case.samples, fingerprint, draw)
        self._models: CaseModels | None = None
        if self._backend is not None and any(check.judging for check in case.checks):
            self._models = CaseModels(
                under_test=model,
                judges=case.judges,
                build=runner.backends.get,
                generate=generate_with_retries,
                cache=runner.cache,
                fresh=runner.fresh,
                concurrency=runner.concurrency,
            )

    @property
    def size(self) -> int:
        """The per-case maximum: every sample of the plan."""
        return len(self.planned)

    @property
    def drawn(self) -> int:
        return len(self.outcomes)

    @property
    def remaining(self) -> int:
        return self.size - self.drawn

    def counts(self) -> tuple[int, int]:
        """(conforming, scored) over the samples drawn so far: what the monitors are fed."""
        conforming = scored = 0
        for outcome in self.outcomes:
            status = outcome.status
            if status == "pass":
                conforming += 1
                scored += 1
            elif status == "fail":
                scored += 1
        return conforming, scored

    async def draw(self, count: int) -> None:
        """Draw and score the next ``count`` samples of the plan."""
        batch = self.planned[self.drawn : self.drawn + max(0, count)]
        if not batch:
            return
        if self._backend is None:
            failed = (Generation(text=None, error=self._error), False)
            self.outcomes.extend(sample_outcome(sample, failed, ()) for sample in batch)
            return
        generations = await self.runner._generations(self._backend, self.case, self.model, batch)
        self.outcomes.extend(
            await score_samples(
                self.case,
                self.model,
                batch,
                generations,
                self._models,
                self.revisions,
                self.diagnostic,
                self.set_aside,
            )
        )

    def result(
        self, verdict: ThresholdVerdict | None = None, adaptive: Mapping[str, Any] | None = None
    ) -> CaseResult:
        """The case's result so far; ``verdict`` replaces the fixed-sample one (a monitor's)."""
        result = summarize(
            self.case,
            self.model.name,
            self.outcomes,
            self.revisions,
            self.set_aside,
            self.diagnostic,
        )
        if self.seed_draw:
            # a later top-up must draw the same samples: the draw goes with the result
            properties = {**result.properties, DRAW_KEY: self.seed_draw}
            result = dataclasses.replace(result, properties=properties)
        if verdict is not None:
            result = dataclasses.replace(result, verdict=verdict)
        if adaptive is not None:
            properties = {**result.properties, ADAPTIVE_KEY: dict(adaptive)}
            result = dataclasses.replace(result, properties=properties)
        return result

    def usage(self, decision: Decision | None) -> dict[str, Any]:
        """What adaptive sampling spent on this case, as kept in ``properties['adaptive']``."""
        return adaptive_usage(
            self.drawn,
            self.size,
            decision.reason if decision is not None else "",
            bool(decision and decision.stopped_early),
        )


def adaptive_usage(used: int, maximum: int, reason: str, early: bool) -> dict[str, Any]:
    """Samples used and saved against the per-case maximum, and why sampling stopped."""
    return {
        "used": used,
        "max": maximum,
        "saved": max(0, maximum - used),
        "stopped_early": early,
        "reason": reason,
    }


class Runner:
    """Runs cases on one event loop that lives as long as the runner (backends keep loop state).

    The concurrency bound is per model and shared by every case running on it, so cases that run
    together (:meth:`run_cases`) overlap and only the bound limits the requests in flight.
    """

    def __init__(
        self,
        *,
        cache: GenerationCache | None = None,
        concurrency: int = 8,
        fresh: bool = False,
        progress: Callable[[int], None] | None = None,
        round_size: int = ROUND_SIZE,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        self.cache = cache
        self.concurrency = concurrency
        self.fresh = fresh
        self.progress = progress
        self.round_size = round_size
        self.backends = BackendPool(announce)
        self._loop = asyncio.new_event_loop()
        self._limits: dict[str, asyncio.Semaphore] = {}

    def run_case(
        self,
        case: CaseSpec,
        model: ModelConfig,
        samples: int | None = None,
        adaptive: bool = False,
    ) -> CaseResult:
        """Sample and score one case on one model. Backend failures become sample errors."""
        return self._loop.run_until_complete(self.arun_case(case, model, samples, adaptive))

    def run_cases(self, jobs: Sequence[CaseJob]) -> list[CaseResult]:
        """Run many cases at once, so that their requests overlap; results in job order."""

        async def every() -> list[CaseResult]:
            return list(
                await asyncio.gather(
                    *(self.arun_case(j.case, j.model, j.samples, j.adaptive, j.draw) for j in jobs)
                )
            )

        return self._loop.run_until_complete(every())

    def compare_cases(self, jobs: Sequence[ComparisonJob]) -> list[ComparedCase]:
        """Run many comparisons at once (candidate and live baseline overlapping)."""

        async def every() -> list[ComparedCase]:
            return list(await asyncio.gather(*(self.acompare_case(job) for job in jobs)))

        return self._loop.run_until_complete(every())

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run other work that asks this runner's backends (the pairwise judge) on its loop:
        backends keep per-loop state (an HTTP client, a local model's batcher)."""
        return self._loop.run_until_complete(work)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.run_until_complete(self.backends.aclose())
        self._loop.close()

    def sampler(
        self, case: CaseSpec, model: ModelConfig, samples: int | None, draw: str = ""
    ) -> CaseSampler:
        return CaseSampler(self, case, model, samples, draw)

    async def arun_case(
        self,
        case: CaseSpec,
        model: ModelConfig,
        samples: int | None = None,
        adaptive: bool = False,
        draw: str = "",
    ) -> CaseResult:
        sampler = self.sampler(case, model, samples, draw)
        if not adaptive or not 0.0 < case.tolerance < 1.0:
            # with no tolerance, no number of samples separates the hypotheses: draw them all
            await sampler.draw(sampler.size)
            return sampler.result()
        monitor = ThresholdMonitor(
            case.threshold,
            tolerance=case.tolerance,
            max_samples=sampler.size,
            round_size=self.round_size,
        )
        first = len(case.combinations)
        while True:
            # the first round samples every combination once, as a fixed run would
            take = min(max(monitor.next_round(), first), sampler.remaining)
            first = 0
            if take <= 0:
                decision = monitor.finish(*sampler.counts())
                break
            await sampler.draw(take)
            found = monitor.update(*sampler.counts())
            if found is not None:
                decision = found
                break
        return sampler.result(monitor.verdict(), sampler.usage(decision))

    async def acompare_case(self, job: ComparisonJob) -> ComparedCase:
        """A case on the candidate against its baseline, in rounds when adaptive."""
        candidate = self.sampler(job.case, job.candidate, job.samples)
        live = (
            self.sampler(job.case, job.baseline, job.samples, job.baseline_draw)
            if isinstance(job.baseline, ModelConfig)
            else None
        )
        if not job.adaptive:
            await asyncio.gather(
                candidate.draw(candidate.size), *([live.draw(live.size)] if live else [])
            )
            return ComparedCase(candidate.result(), live.result() if live else _pinned(job))
        pinned = None if live is not None else _pinned(job)
        monitor = ComparisonMonitor(
            baseline=None if pinned is None else (pinned.verdict.k, pinned.verdict.n),
            margin=job.margin,
            tolerance=job.tolerance,
            beta=job.beta,
            max_samples=candidate.size,
            round_size=self.round_size,
            baseline_stopped=job.baseline_stopped,
        )
        first = len(job.case.combinations)
        decision: Decision | None = None
        while decision is None:
            want = max(monitor.next_round(), first)
            first = 0
            take = min(want, candidate.remaining)
            take_base = min(want, live.remaining) if live is not None else 0
            if take <= 0 and take_base <= 0:
                decision = monitor.finish(*candidate.counts(), *_live_counts(live))
                break
            await asyncio.gather(
                candidate.draw(take), *([live.draw(take_base)] if live is not None else [])
            )
            decision = monitor.update(*candidate.counts(), *_live_counts(live))
        comparison = monitor.comparison()
        cand_result = candidate.result(adaptive=candidate.usage(decision))
        if live is not None:
            base_result = live.result(adaptive=live.usage(decision))
        else:
            assert pinned is not None
            base_result = pinned
        return ComparedCase(cand_result, base_result, comparison)

    async def _generations(
        self,
        backend: Backend,
        case: CaseSpec,
        model: ModelConfig,
        planned: Sequence[PlannedSample],
    ) -> dict[int, tuple[Generation, bool]]:
        """Every planned sample's generation, and whether it came from the cache."""
        found: dict[int, tuple[Generation, bool]] = {}
        missing = list(planned)
        if self.cache is not None and not self.fresh:
            cached = self.cache.cached_generations([sample.cache_key for sample in planned])
            missing = []
            for sample in planned:
                hit = cached.get(sample.cache_key)
                if hit is None:
                    missing.append(sample)
                else:
                    found[sample.index] = (hit, True)
            if self.progress and found:
                self.progress(len(found))
        chunk = max(1, int(getattr(backend, "max_samples_per_request", 1)))
        groups: dict[int, list[PlannedSample]] = {}
        for sample in missing:
            groups.setdefault(sample.combination.index, []).append(sample)
        batches = [
            group[start : start + chunk]
            for group in groups.values()
            for start in range(0, len(group), chunk)
        ]
        limit = self._limit(model)

        async def fetch(batch: list[PlannedSample]) -> None:
            async with limit:
                results = await _request(backend, case, batch)
            fresh = []
            for sample, generation in zip(batch, results, strict=True):
                generation = generation.escaped()
                found[sample.index] = (generation, False)
                if generation.error is None:
                    fresh.append((sample.cache_key, generation))
            # cached as each request returns, so an interrupted run resumes with every finished
            # sample, also those of the case that was in flight
            if self.cache is not None and fresh:
                self.cache.cache_generations(fresh)
            if self.progress:
                self.progress(len(batch))

        await asyncio.gather(*(fetch(batch) for batch in batches))
        return found

    def _limit(self, model: ModelConfig) -> asyncio.Semaphore:
        """The model's bound on requests in flight, shared by all its cases."""
        key = f"{model.name}\0{model.base_dir}"
        limit = self._limits.get(key)
        if limit is None:
            limit = self._limits[key] = asyncio.Semaphore(self.concurrency)
        return limit


def _pinned(job: ComparisonJob) -> CaseResult:
    assert isinstance(job.baseline, CaseResult)
    return job.baseline


def _live_counts(sampler: CaseSampler | None) -> tuple[int, int] | tuple[()]:
    return sampler.counts() if sampler is not None else ()


async def _request(
    backend: Backend, case: CaseSpec, batch: Sequence[PlannedSample]
) -> Sequence[Generation]:
    """One backend request for samples of one combination, retried while the backend says so."""
    combination = batch[0].combination
    request = GenerationRequest(
        prompt=combination.prompt,
        messages=combination.messages,
        params=case.sampling,
        seeds=tuple(sample.seed for sample in batch),
    )
    return await generate_with_retries(backend, request)


async def generate_with_retries(
    backend: Backend, request: GenerationRequest
) -> Sequence[Generation]:
    """One request, retried while the backend says so; error generations once retries are spent.

    Judges' questions go through here too (through :class:`CaseModels`), so they are retried
    like samples, and a judge that keeps failing leaves its verdict unscored, never failed.
    """
    message = ""
    for attempt in range(MAX_ATTEMPTS):
        try:
            generations = list(await backend.generate(request))
        except BackendError as exc:
            message = _scrubbed(backend, str(exc))
            if not exc.retryable or attempt == MAX_ATTEMPTS - 1:
                break
            await asyncio.sleep(RETRY_BASE_DELAY_S * 2**attempt * (0.5 + random.random()))
            continue
        except Exception as exc:  # a backend bug must not lose the other cases' samples
            message = _scrubbed(backend, f"{type(exc).__name__}: {exc}")
            break
        if len(generations) != request.n:
            message = f"backend returned {len(generations)} generations for {request.n} seeds"
            break
        return generations
    return [Generation(text=None, error=message) for _ in request.seeds]


def _scrubbed(backend: Backend, text: str) -> str:
    """``text`` without the backend's own secrets (a hosted backend knows its key and offers
    ``scrub``) nor any key-shaped token: an unexpected exception may quote a request header."""
    scrub: Callable[[str], str] | None = getattr(backend, "scrub", None)
    return scrub(text) if scrub is not None else scrub_text(text)
