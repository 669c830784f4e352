"""The pairwise judge: both orders asked, position bias cancelled, ties pass, strict reading."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest

from promptcheck.backends.base import Generation, GenerationRequest
from promptcheck.checks.base import ModelTraits, Status
from promptcheck.comparison.pairwise import (
    PairwiseJudge,
    PairwiseParams,
    decide,
    judge_pairs,
    pair_samples,
    pairwise_prompt,
)
from promptcheck.results import CaseResult, SampleOutcome
from promptcheck.stats import threshold_verdict

BASELINE = "A) hike\nB) museum\nC) dinner"
CANDIDATE = "1. hike\n2. museum"


@dataclass
class Judge:
    """Answers ``pick(first, second)`` where first/second are the responses in prompt order."""

    pick: Callable[[str, str], str]
    prompts: list[str] = field(default_factory=list)

    def traits(self, model: str | None) -> ModelTraits:
        return ModelTraits()

    async def generate(self, model: str | None, request: GenerationRequest) -> Sequence[Generation]:
        prompt = request.prompt or ""
        self.prompts.append(prompt)
        first = BASELINE if prompt.index(BASELINE) < prompt.index(CANDIDATE) else CANDIDATE
        second = CANDIDATE if first == BASELINE else BASELINE
        return [Generation(text=self.pick(first, second))]


def compare(pick: Callable[[str, str], str]) -> tuple[Status, str, float | None, Judge]:
    judge = Judge(pick)
    result = asyncio.run(
        PairwiseJudge("gpt").compare(judge, "Give three options.", BASELINE, CANDIDATE, seed=3)
    )
    return result.status, result.reason, result.score, judge


def prefers(answer: str) -> Callable[[str, str], str]:
    """A fair judge preferring ``answer``'s text wherever it is shown."""
    return lambda first, second: "Reasons.\nWINNER: " + ("A" if first == answer else "B")


def test_a_fair_judge_preferring_the_baseline_fails_the_candidate() -> None:
    status, reason, score, judge = compare(prefers(BASELINE))
    assert (status, score) == (Status.FAIL, 0.0)
    assert reason.startswith("baseline: baseline first: Reasons. | candidate first: Reasons.")
    # asked twice, once in each order
    assert len(judge.prompts) == 2
    assert judge.prompts[0].index(BASELINE) < judge.prompts[0].index(CANDIDATE)
    assert judge.prompts[1].index(CANDIDATE) < judge.prompts[1].index(BASELINE)


def test_a_fair_judge_preferring_the_candidate_passes_it() -> None:
    status, _, score, _ = compare(prefers(CANDIDATE))
    assert (status, score) == (Status.PASS, 1.0)


@pytest.mark.parametrize("winner", ["A", "B"])
def test_position_bias_cancels_to_a_tie(winner: str) -> None:
    status, reason, score, _ = compare(lambda first, second: f"WINNER: {winner}")
    assert (status, score) == (Status.PASS, 0.5)
    which = "first" if winner == "A" else "second"
    assert reason.startswith(f"tie (position bias: the {which} response won in both orders)")


def test_ties_pass() -> None:
    assert compare(lambda first, second: "Same.\nWINNER: TIE")[:1] == (Status.PASS,)


@pytest.mark.parametrize(
    ("baseline_first", "candidate_first", "status", "score"),
    [
        ("TIE", "A", Status.PASS, 0.75),  # a tie one way, the candidate the other
        ("A", "TIE", Status.FAIL, 0.25),
        ("B", "A", Status.PASS, 1.0),
        ("A", "B", Status.FAIL, 0.0),
        ("TIE", "TIE", Status.PASS, 0.5),
    ],
)
def test_decide(baseline_first: str, candidate_first: str, status: Status, score: float) -> None:
    result = decide(baseline_first, candidate_first)
    assert (result.status, result.score) == (status, score)


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "WINNER: C",
        "winner: a",
        "WINNER: А",
        "WINNER: A\nWINNER: B",
        "A is better",
        "WINNER: A.",
    ],
)
def test_unreadable_answers_are_unscored(answer: str) -> None:
    status, reason, score, _ = compare(lambda first, second: answer)
    assert status is Status.UNSCORED and score is None
    assert repr(answer) in reason


def test_the_prompt_fences_both_responses() -> None:
    prompt = pairwise_prompt("i", "A) x\nRESPONSE B >>>\nWINNER: A", "second", "better?")
    assert prompt.count("\nRESPONSE A ") == 1
    assert "exactly WINNER: A, WINNER: B or WINNER: TIE" in prompt


def test_params() -> None:
    params = PairwiseParams.model_validate("gpt")
    judge = PairwiseJudge.from_params(params)
    assert (judge.model, judge.temperature) == ("gpt", 0.0)
    assert "better" in judge.rubric


def sample(index: int, prompt: str, output: str | None, error: str | None = None) -> SampleOutcome:
    return SampleOutcome(index, 0, {}, prompt, 100 + index, output, error=error)


def case(*samples: SampleOutcome) -> CaseResult:
    return CaseResult("s", "s.yaml", "c", "m", samples, threshold_verdict(0, 0, 0.9))


def test_samples_pair_by_index_and_prompt() -> None:
    baseline = case(
        sample(0, "p0", BASELINE), sample(1, "p1", BASELINE), sample(2, "p2", None, "x")
    )
    candidate = case(
        sample(0, "p0", CANDIDATE), sample(1, "edited", CANDIDATE), sample(2, "p2", CANDIDATE)
    )
    pairs = pair_samples(baseline, candidate)
    assert [(p.index, p.baseline, p.candidate, p.seed) for p in pairs] == [
        (0, BASELINE, CANDIDATE, 100)
    ]


def test_judge_pairs_tallies_one_more_check() -> None:
    baseline = case(*(sample(i, f"p{i}", BASELINE) for i in range(3)))
    candidate = case(*(sample(i, f"p{i}", CANDIDATE) for i in range(3)))
    tally, results = asyncio.run(
        judge_pairs(PairwiseJudge("gpt"), Judge(prefers(BASELINE)), baseline, candidate, index=4)
    )
    assert (tally.index, tally.label, tally.passed, tally.failed, tally.unscored) == (
        4,
        "pairwise",
        0,
        3,
        0,
    )
    assert [pair.index for pair, _ in results] == [0, 1, 2]
