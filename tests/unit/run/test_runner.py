"""The runner: sample plans and seeds, cache use, retries, errors, check failures, concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from promptcheck.backends.base import Generation, GenerationRequest, Message, SamplingParams
from promptcheck.checks.base import CheckContext, CheckResult, Status
from promptcheck.errors import BackendError
from promptcheck.project import ProjectConfig
from promptcheck.results import CaseResult
from promptcheck.run import runner as runner_module
from promptcheck.run.planning import PlannedSample, plan_samples
from promptcheck.run.runner import CaseJob, ComparisonJob, Runner
from promptcheck.stats import Outcome
from promptcheck.suite.loader import CaseSpec, Combination, CompiledCheck, ModelConfig, load_suite


class NoParams(BaseModel):
    pass


def make_model(name: str = "fake", **raw: Any) -> ModelConfig:
    return ModelConfig(name, "fake", NoParams(), raw, Path("."))


@dataclass
class Equals:
    """A minimal check: the output equals ``value``."""

    value: str = "GOOD"
    name: str = "equals"

    def evaluate(self, output: str, context: CheckContext) -> CheckResult:
        if output == self.value:
            return CheckResult.passed()
        return CheckResult.failed(f"expected {self.value!r}")


def make_case(
    *,
    prompts: Sequence[str] = ("p",),
    checks: Sequence[Any] = (),
    samples: int = 6,
    seed: int = 0,
    case_id: str = "case",
    temperature: float = 0.8,
) -> CaseSpec:
    combinations = tuple(
        Combination(index, {"v": index}, prompt, None) for index, prompt in enumerate(prompts)
    )
    compiled = tuple(
        CompiledCheck(index, getattr(check, "name", "check"), check)
        for index, check in enumerate(checks or (Equals(),))
    )
    return CaseSpec(
        id=case_id,
        suite="suite",
        path=Path("suite.yaml"),
        line=1,
        description="",
        combinations=combinations,
        checks=compiled,
        sampling=SamplingParams(temperature=temperature),
        samples=samples,
        seed=seed,
        threshold=0.95,
        tolerance=0.05,
    )


@dataclass
class FakeBackend:
    """Answers from ``answer(request)``; counts requests and the most requests ever in flight."""

    answer: Callable[[GenerationRequest], Sequence[Generation]] = field(
        default=lambda request: [Generation(text="GOOD") for _ in request.seeds]
    )
    max_samples_per_request: int = 1
    delay_s: float = 0.0
    requests: list[GenerationRequest] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0

    async def generate(self, request: GenerationRequest) -> Sequence[Generation]:
        self.requests.append(request)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
            return self.answer(request)
        finally:
            self.in_flight -= 1


@dataclass
class MemoryCache:
    entries: dict[str, Generation] = field(default_factory=dict)

    def cached_generations(self, keys: Sequence[str]) -> dict[str, Generation]:
        return {key: self.entries[key] for key in keys if key in self.entries}

    def cache_generations(self, items: Sequence[tuple[str, Generation]]) -> None:
        self.entries.update(items)


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., CaseResult]]:
    """``run(backend, case, samples=None, **runner_options)``: one case on a fake backend."""
    runners: list[Runner] = []
    monkeypatch.setattr(runner_module, "RETRY_BASE_DELAY_S", 0.0)

    def run_case(
        backend: Any, case: CaseSpec, samples: int | None = None, **options: Any
    ) -> CaseResult:
        runner = Runner(**options)
        runners.append(runner)
        monkeypatch.setattr(runner.backends, "get", lambda model: backend)
        return runner.run_case(case, make_model(), samples)

    yield run_case
    for runner in runners:
        runner.close()


# --- planning --------------------------------------------------------------------------------


def test_samples_go_round_robin_over_combinations() -> None:
    plan = plan_samples(make_case(prompts=("a", "b", "c")), make_model(), 7)
    assert [s.index for s in plan] == list(range(7))
    assert [s.combination.index for s in plan] == [0, 1, 2, 0, 1, 2, 0]
    assert [s.repeat for s in plan] == [0, 0, 0, 1, 1, 1, 2]


def test_every_combination_gets_at_least_one_sample() -> None:
    plan = plan_samples(make_case(prompts=tuple("abcde")), make_model(), 2)
    assert [s.combination.index for s in plan] == [0, 1, 2, 3, 4]


def test_seeds_are_stable_distinct_and_non_negative() -> None:
    case = make_case(prompts=("a", "b"))
    first = plan_samples(case, make_model(), 200)
    again = plan_samples(case, make_model(), 200)
    assert [s.seed for s in first] == [s.seed for s in again]
    assert [s.cache_key for s in first] == [s.cache_key for s in again]
    assert len({s.seed for s in first}) == 200
    assert len({s.cache_key for s in first}) == 200
    assert all(0 <= s.seed < 2**63 for s in first)


def test_more_samples_extend_the_plan_without_changing_it() -> None:
    case = make_case(prompts=("a", "b"))
    short, long = plan_samples(case, make_model(), 4), plan_samples(case, make_model(), 10)
    assert long[:4] == short


def test_seeds_depend_on_suite_seed_case_variables_and_model_not_on_the_prompt() -> None:
    def seeds(case: CaseSpec, model: ModelConfig | None = None, draw: str = "") -> list[int]:
        return [s.seed for s in plan_samples(case, model or make_model(), 4, draw=draw)]

    base = make_case()
    assert seeds(base) == seeds(make_case())
    assert seeds(base) == seeds(
        replace(base, combinations=(Combination(0, {"v": 0}, "changed", None),))
    )
    assert seeds(base) != seeds(replace(base, seed=1))
    assert seeds(base) != seeds(replace(base, id="other"))
    assert seeds(base) != seeds(replace(base, combinations=(Combination(0, {"v": 9}, "p", None),)))
    # a baseline and a candidate never share a sample's random numbers (the exact tests assume
    # their samples independent), and a new draw of a model is a new set of samples
    assert set(seeds(base)).isdisjoint(seeds(base, make_model("other", temperature=0)))
    assert set(seeds(base)).isdisjoint(seeds(base, draw="refresh-1"))
    assert seeds(base, draw="refresh-1") == seeds(base, draw="refresh-1")


def keys(case: CaseSpec, model: ModelConfig | None = None, fingerprint: str = "") -> list[str]:
    return [s.cache_key for s in plan_samples(case, model or make_model(), 4, fingerprint)]


def test_cache_keys_change_with_prompt_sampling_parameters_and_model() -> None:
    base = make_case()
    assert keys(base) == keys(make_case())
    assert keys(base) != keys(make_case(prompts=("other prompt",)))
    assert keys(base) != keys(make_case(temperature=0.2))
    assert keys(base) != keys(base, make_model(path="other-checkpoint"))
    assert keys(base) != keys(base, fingerprint="weights-v2")
    messages = (Message("system", "s"), Message("user", "p"))
    chat = replace(base, combinations=(Combination(0, {"v": 0}, None, messages),))
    assert keys(chat) != keys(base)


SUITE = """\
suite: s
defaults: {samples: 4}
cases:
  - id: a
    prompt: "answer {{ x }}"
    vars: {x: [1, 2]}
    expect: [{equals: GOOD}]
  - id: b
    prompt: PROMPT_B
    expect: [{equals: GOOD}]
"""


def test_editing_one_case_changes_only_its_own_plan(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"

    def plans() -> dict[str, list[PlannedSample]]:
        suite = load_suite(path, ProjectConfig(base_dir=tmp_path))
        return {case.id: plan_samples(case, make_model(), case.samples) for case in suite.cases}

    path.write_text(SUITE)
    before = plans()
    path.write_text(SUITE.replace("PROMPT_B", "a new prompt for b"))
    after = plans()
    assert [s.cache_key for s in after["a"]] == [s.cache_key for s in before["a"]]
    assert [s.seed for s in after["a"]] == [s.seed for s in before["a"]]
    assert [s.seed for s in after["b"]] == [s.seed for s in before["b"]]
    assert not {s.cache_key for s in after["b"]} & {s.cache_key for s in before["b"]}


# --- requests, retries, errors ---------------------------------------------------------------


def test_samples_of_a_combination_share_requests_up_to_the_backend_limit(
    run: Callable[..., CaseResult],
) -> None:
    backend = FakeBackend(max_samples_per_request=3)
    result = run(backend, make_case(prompts=("a", "b")), samples=10)
    assert result.verdict.k == 10
    sizes = sorted((r.prompt, r.n) for r in backend.requests)
    assert sizes == [("a", 2), ("a", 3), ("b", 2), ("b", 3)]
    plan = {s.seed: s for s in plan_samples(make_case(prompts=("a", "b")), make_model(), 10)}
    for request in backend.requests:
        assert {plan[seed].combination.prompt for seed in request.seeds} == {request.prompt}


def test_a_retryable_error_is_retried_until_success(run: Callable[..., CaseResult]) -> None:
    failures = iter([BackendError("rate limited", retryable=True)] * 2)

    def answer(request: GenerationRequest) -> list[Generation]:
        error = next(failures, None)
        if error is not None:
            raise error
        return [Generation(text="GOOD") for _ in request.seeds]

    backend = FakeBackend(answer, max_samples_per_request=100)
    result = run(backend, make_case(), samples=5)
    assert len(backend.requests) == 3
    assert result.errors == 0
    assert result.verdict.k == 5


def test_retries_give_up_after_max_attempts(run: Callable[..., CaseResult]) -> None:
    def answer(request: GenerationRequest) -> list[Generation]:
        raise BackendError("rate limited", retryable=True)

    backend = FakeBackend(answer, max_samples_per_request=100)
    result = run(backend, make_case(), samples=5)
    assert len(backend.requests) == runner_module.MAX_ATTEMPTS
    assert result.errors == 5
    assert {s.error for s in result.samples} == {"rate limited"}


def test_a_non_retryable_error_errors_every_sample_of_the_request(
    run: Callable[..., CaseResult],
) -> None:
    def answer(request: GenerationRequest) -> list[Generation]:
        if request.prompt == "bad":
            raise BackendError("context length exceeded")
        return [Generation(text="GOOD") for _ in request.seeds]

    backend = FakeBackend(answer, max_samples_per_request=100)
    result = run(backend, make_case(prompts=("good", "bad")), samples=6)
    assert len(backend.requests) == 2
    assert [s.status for s in result.samples] == ["pass", "error"] * 3
    assert {s.error for s in result.samples if s.status == "error"} == {"context length exceeded"}
    assert (result.verdict.k, result.verdict.n) == (3, 3)


def test_a_backend_bug_becomes_sample_errors(run: Callable[..., CaseResult]) -> None:
    def answer(request: GenerationRequest) -> list[Generation]:
        raise KeyError("oops")

    result = run(FakeBackend(answer), make_case(), samples=2)
    assert [s.error for s in result.samples] == ["KeyError: 'oops'"] * 2


@dataclass
class KeyedBackend(FakeBackend):
    """A hosted backend's shape: it knows its key and scrubs it from texts."""

    key: str = "hunter2-0123456789"

    def scrub(self, text: str) -> str:
        return text.replace(self.key, "<redacted>")


def test_a_backend_bug_quoting_the_key_is_scrubbed_with_the_backends_secrets(
    run: Callable[..., CaseResult],
) -> None:
    def answer(request: GenerationRequest) -> list[Generation]:
        raise RuntimeError("Illegal header value b'hunter2-0123456789'")

    result = run(KeyedBackend(answer), make_case(), samples=2)
    assert [s.error for s in result.samples] == [
        "RuntimeError: Illegal header value b'<redacted>'"
    ] * 2


def test_a_backend_bug_quoting_a_key_shaped_token_is_scrubbed_without_a_scrub_method(
    run: Callable[..., CaseResult],
) -> None:
    def answer(request: GenerationRequest) -> list[Generation]:
        raise RuntimeError("header Authorization: Bearer abcdefghijklmnop")

    result = run(FakeBackend(answer), make_case(), samples=1)
    assert result.samples[0].error == "RuntimeError: header Authorization: Bearer <redacted>"


def test_a_backend_returning_the_wrong_count_errors(run: Callable[..., CaseResult]) -> None:
    backend = FakeBackend(lambda request: [Generation(text="GOOD")], max_samples_per_request=4)
    result = run(backend, make_case(), samples=4)
    assert result.errors == 4
    assert result.samples[0].error == "backend returned 1 generations for 4 seeds"
    assert result.verdict.n == 0
    assert result.verdict.outcome is Outcome.UNDECIDED


def test_errors_are_never_conformance_failures(run: Callable[..., CaseResult]) -> None:
    def answer(request: GenerationRequest) -> list[Generation]:
        return [
            Generation(text="GOOD") if seed % 10 == 0 else Generation(text=None, error="timeout")
            for seed in request.seeds
        ]

    result = run(FakeBackend(answer, max_samples_per_request=1000), make_case(), samples=200)
    assert result.errors > 100
    assert result.verdict.k == result.verdict.n == 200 - result.errors
    assert result.verdict.outcome is not Outcome.FAIL
    assert result.tallies[0].failed == 0


def test_a_model_that_cannot_start_errors_every_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = Runner()

    def refuse(model: ModelConfig) -> Any:
        raise BackendError("no checkpoint at models/x")

    monkeypatch.setattr(runner.backends, "get", refuse)
    try:
        result = runner.run_case(make_case(), make_model(), 3)
    finally:
        runner.close()
    assert [s.error for s in result.samples] == [
        "cannot start model 'fake': no checkpoint at models/x"
    ] * 3


# --- checks ----------------------------------------------------------------------------------


@dataclass
class Raising:
    name: str = "raising"

    def evaluate(self, output: str, context: CheckContext) -> CheckResult:
        raise ValueError("plugin bug")


@dataclass
class AsyncContains:
    text: str
    name: str = "async_contains"
    contexts: list[CheckContext] = field(default_factory=list)

    async def evaluate(self, output: str, context: CheckContext) -> CheckResult:
        await asyncio.sleep(0)
        self.contexts.append(context)
        return CheckResult.passed() if self.text in output else CheckResult.failed("missing")


@dataclass
class WrongType:
    name: str = "wrong"

    def evaluate(self, output: str, context: CheckContext) -> Any:
        return True


def test_a_check_that_raises_leaves_the_sample_unscored(run: Callable[..., CaseResult]) -> None:
    result = run(FakeBackend(), make_case(checks=[Equals(), Raising()]), samples=3)
    assert [s.status for s in result.samples] == ["unscored"] * 3
    check = result.samples[0].checks[1]
    assert check.status is Status.UNSCORED
    assert check.reason == "check raised ValueError: plugin bug"
    assert result.verdict.n == 0
    assert result.tallies[1].unscored == 3
    assert result.tallies[0].passed == 3


def test_a_check_returning_something_else_is_unscored(run: Callable[..., CaseResult]) -> None:
    result = run(FakeBackend(), make_case(checks=[WrongType()]), samples=1)
    assert result.samples[0].checks[0].reason == "check returned bool, not a CheckResult"


def test_async_checks_are_awaited_with_the_sample_context(run: Callable[..., CaseResult]) -> None:
    check = AsyncContains("OO")
    backend = FakeBackend(lambda r: [Generation(text="GOOD" if r.prompt == "a" else "BAD")] * r.n)
    result = run(backend, make_case(prompts=("a", "b"), checks=[check]), samples=4)
    assert [s.status for s in result.samples] == ["pass", "fail", "pass", "fail"]
    assert [c.prompt for c in check.contexts] == ["a", "b", "a", "b"]
    assert check.contexts[1].variables == {"v": 1}
    assert (check.contexts[0].case_id, check.contexts[0].model) == ("case", "fake")


# --- cache and concurrency -------------------------------------------------------------------


def test_cached_generations_are_reused_and_errors_are_not_cached(
    run: Callable[..., CaseResult],
) -> None:
    cache = MemoryCache()

    def answer(request: GenerationRequest) -> list[Generation]:
        return [
            Generation(text=f"out-{seed}") if seed % 2 else Generation(text=None, error="e")
            for seed in request.seeds
        ]

    backend = FakeBackend(answer, max_samples_per_request=100)
    first = run(backend, make_case(), samples=10, cache=cache)
    assert not any(s.cached for s in first.samples)
    assert len(cache.entries) == 10 - first.errors
    second = run(backend, make_case(), samples=10, cache=cache)
    assert [s.output for s in second.samples] == [s.output for s in first.samples]
    assert [s.cached for s in second.samples] == [s.error is None for s in first.samples]
    assert backend.requests[-1].n == first.errors
    fresh = run(backend, make_case(), samples=10, cache=cache, fresh=True)
    assert not any(s.cached for s in fresh.samples)
    assert backend.requests[-1].n == 10


def test_progress_counts_every_sample_once(run: Callable[..., CaseResult]) -> None:
    counted: list[int] = []
    cache = MemoryCache()
    run(FakeBackend(), make_case(), samples=5, cache=cache, progress=counted.append)
    run(FakeBackend(), make_case(), samples=8, cache=cache, progress=counted.append)
    assert sum(counted) == 13
    assert counted[5] == 5  # the cached samples of the second run, at once


@pytest.mark.parametrize("concurrency", [1, 3])
def test_requests_in_flight_stay_within_the_concurrency_bound(
    run: Callable[..., CaseResult], concurrency: int
) -> None:
    backend = FakeBackend(delay_s=0.001)
    result = run(backend, make_case(prompts=("a", "b")), samples=12, concurrency=concurrency)
    assert len(backend.requests) == 12
    assert backend.peak == concurrency
    assert result.verdict.k == 12


# --- several cases at once, adaptive sampling, comparisons -----------------------------------


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> Iterator[Runner]:
    """A runner whose every model is answered by ``runner.fake`` (set by the test)."""
    created = Runner()
    monkeypatch.setattr(created.backends, "get", lambda model: backends[model.name])
    backends: dict[str, Any] = {}
    created.fake = backends  # type: ignore[attr-defined]
    yield created
    created.close()


def rate_backend(rate: float) -> FakeBackend:
    """Conforms on a fixed share of seeds (deterministic per seed)."""
    return FakeBackend(
        answer=lambda request: [
            Generation(text="GOOD" if (seed % 1000) < rate * 1000 else "BAD")
            for seed in request.seeds
        ]
    )


def test_cases_run_together_share_the_model_bound_and_overlap(runner: Runner) -> None:
    backend = FakeBackend(delay_s=0.001)
    runner.fake["fake"] = backend  # type: ignore[attr-defined]
    runner.concurrency = 5
    jobs = [CaseJob(make_case(case_id=f"c{i}"), make_model(), 2) for i in range(4)]
    results = runner.run_cases(jobs)
    assert [r.case_id for r in results] == ["c0", "c1", "c2", "c3"]
    assert backend.peak == 5  # more than one case's 2 requests, never more than the bound


def test_adaptive_sampling_stops_a_clear_case_at_a_prefix_of_the_plan(runner: Runner) -> None:
    runner.fake["fake"] = FakeBackend()  # type: ignore[attr-defined]
    case = make_case(samples=100)
    adaptive = runner.run_case(case, make_model(), adaptive=True)
    fixed = runner.run_case(case, make_model())
    used = len(adaptive.samples)
    assert used % runner.round_size == 0 and 0 < used < 100
    assert [s.seed for s in adaptive.samples] == [s.seed for s in fixed.samples[:used]]
    assert adaptive.verdict.outcome == Outcome.PASS
    assert adaptive.properties["adaptive"] == {
        "used": used,
        "max": 100,
        "saved": 100 - used,
        "stopped_early": True,
        "reason": adaptive.verdict.explanation,
    }
    assert "adaptive" not in fixed.properties


def test_adaptive_first_round_samples_every_combination(runner: Runner) -> None:
    runner.fake["fake"] = FakeBackend()  # type: ignore[attr-defined]
    prompts = [f"p{i}" for i in range(13)]
    result = runner.run_case(make_case(prompts=prompts, samples=60), make_model(), adaptive=True)
    assert {s.combination for s in result.samples} == set(range(13))


def test_adaptive_with_errors_stops_at_the_end_of_the_plan(runner: Runner) -> None:
    runner.fake["fake"] = FakeBackend(  # type: ignore[attr-defined]
        answer=lambda request: [Generation(text=None, error="down") for _ in request.seeds]
    )
    result = runner.run_case(make_case(samples=30), make_model(), adaptive=True)
    assert len(result.samples) == 30
    assert result.verdict.outcome == Outcome.UNDECIDED
    assert result.properties["adaptive"]["saved"] == 0


def test_a_fixed_comparison_draws_both_models_in_full(runner: Runner) -> None:
    runner.fake["old"] = FakeBackend()  # type: ignore[attr-defined]
    runner.fake["new"] = rate_backend(0.5)  # type: ignore[attr-defined]
    (compared,) = runner.compare_cases(
        [ComparisonJob(make_case(samples=30), make_model("new"), make_model("old"))]
    )
    assert compared.comparison is None
    assert (len(compared.candidate.samples), len(compared.baseline.samples)) == (30, 30)
    assert compared.baseline.model == "old" and compared.candidate.model == "new"


def test_an_adaptive_live_comparison_stops_an_unchanged_case_early(runner: Runner) -> None:
    runner.fake["old"] = FakeBackend()  # type: ignore[attr-defined]
    runner.fake["new"] = FakeBackend()  # type: ignore[attr-defined]
    job = ComparisonJob(make_case(samples=200), make_model("new"), make_model("old"), adaptive=True)
    (compared,) = runner.compare_cases([job])
    assert compared.comparison is not None
    assert compared.comparison.method == "sequential"
    used = len(compared.candidate.samples)
    assert used < 200 and len(compared.baseline.samples) == used
    assert compared.candidate.properties["adaptive"]["stopped_early"] is True
    assert compared.comparison.p_noninferior <= job.beta


def test_an_adaptive_comparison_against_a_pinned_result_draws_only_the_candidate(
    runner: Runner,
) -> None:
    runner.fake["old"] = FakeBackend()  # type: ignore[attr-defined]
    pinned = runner.run_case(make_case(samples=150), make_model("old"))
    runner.fake["old"] = FakeBackend(  # type: ignore[attr-defined]
        answer=lambda request: pytest.fail("the pinned baseline must not be sampled")
    )
    runner.fake["new"] = rate_backend(0.5)  # type: ignore[attr-defined]
    job = ComparisonJob(make_case(samples=150), make_model("new"), pinned, adaptive=True)
    (compared,) = runner.compare_cases([job])
    assert compared.baseline is pinned
    assert compared.comparison is not None
    assert len(compared.candidate.samples) == 150  # a drop is decided only at the maximum
    assert compared.comparison.p_regressed < 1e-6
