"""``judge`` and ``self_critique``: parameters, how they ask, majority votes, errors, revisions.

The models are fakes that answer by a function of the prompt, so each test says exactly what the
judge answered and sees every request the check made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from promptcheck.backends.base import Generation, GenerationRequest, SamplingParams
from promptcheck.checks import CHECKS, CheckContext, CheckResult, Status
from promptcheck.checks.base import JudgingCheck, ModelTraits
from promptcheck.checks.judge import ModelJudgedCheck, majority
from promptcheck.checks.judging import RESPONSE_FORMAT, Verdict
from promptcheck.errors import ConfigError
from promptcheck.formats import CRITIQUE_TEMPLATES, GENERIC_QUESTION

Answer = Callable[[str, int], Generation | str]


@dataclass
class FakeModels:
    """A ModelAccess whose models answer ``answer(prompt, seed)``; requests are recorded."""

    answers: dict[str | None, Answer]
    traits_of: dict[str | None, ModelTraits] = field(default_factory=dict)
    requests: list[tuple[str | None, GenerationRequest]] = field(default_factory=list)

    def traits(self, model: str | None) -> ModelTraits:
        if model not in self.answers:
            raise RuntimeError(f"no model {model}")
        return self.traits_of.get(model, ModelTraits())

    async def generate(self, model: str | None, request: GenerationRequest) -> Sequence[Generation]:
        self.requests.append((model, request))
        answered = [self.answers[model](request.prompt or "", seed) for seed in request.seeds]
        return [a if isinstance(a, Generation) else Generation(text=a) for a in answered]


def always(text: str) -> Answer:
    return lambda prompt, seed: text


def build(name: str, raw: Any) -> ModelJudgedCheck:
    check_type = CHECKS.get(name)
    check = check_type.build(check_type.params.model_validate(raw), None)  # type: ignore[arg-type]
    assert isinstance(check, ModelJudgedCheck)
    return check


def run(check: ModelJudgedCheck, output: str, models: Any, **context: Any) -> CheckResult:
    defaults: dict[str, Any] = {"prompt": "Give three options, labeled A, B and C.", "seed": 7}
    return asyncio.run(check.evaluate(output, CheckContext(models=models, **(defaults | context))))


OUTPUT = "A) hike\nB) museum\nC) dinner"


# --- parameters ---------------------------------------------------------------------------


def test_judge_parameters() -> None:
    check = build("judge", {"rubric": " cites a source ", "model": "gpt"})
    assert isinstance(check, JudgingCheck)
    assert (check.criterion.source, check.judge_model, check.votes, check.temperature) == (
        "cites a source",
        "gpt",
        1,
        0.0,
    )
    assert check.agrees_with is None
    assert build("judge", {"rubric": "r", "model": "m", "agrees_with": "all"}).agrees_with == "all"
    assert build("judge", {"rubric": "r", "model": "m", "agrees_with": [2, 0]}).agrees_with == (
        2,
        0,
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rubric": "r"}, "model"),
        ({"model": "m"}, "rubric"),
        ("just a rubric", "valid dictionary"),
        ({"rubric": "r", "model": "m", "votes": 0}, "greater than or equal to 1"),
        ({"rubric": "r", "model": "m", "temperature": -1}, "greater than or equal to 0"),
        ({"rubric": "r", "model": "m", "agrees_with": [0, 0]}, "listed twice"),
        ({"rubric": "r", "model": "m", "agrees_with": [-1]}, "count from 0"),
        ({"rubric": "r", "model": "m", "agrees_with": "some"}, "agrees_with"),
        ({"rubric": "r", "model": "m", "prompt": "dolly", "answer": "json"}, "YES or NO"),
        ({"rubric": "r", "model": "m", "rubrik": "x"}, "rubrik"),
    ],
)
def test_judge_parameter_errors(raw: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CHECKS.get("judge").params.model_validate(raw)


def test_self_critique_forms() -> None:
    short = build("self_critique", "Is it JSON?")
    assert (short.criterion.source, short.judge_model, short.answer, short.pass_on) == (
        "Is it JSON?",
        None,
        "yes_no",
        "YES",
    )
    assert build("self_critique", None).criterion.source == GENERIC_QUESTION
    full = build("self_critique", {"question": "Q?", "revise": True, "pass_on": "NO", "votes": 3})
    assert (full.revise, full.pass_on, full.votes) == (True, "NO", 3)
    with pytest.raises(ValidationError, match="model"):
        CHECKS.get("self_critique").params.model_validate({"question": "Q?", "model": "gpt"})


def test_questions_may_name_the_case_variables() -> None:
    check = build("self_critique", "Does it list exactly {{ k }} items?")
    assert check.template_variables == {"k"}
    models = FakeModels({None: always("YES")})
    run(check, "- a\n- b", models, variables={"k": 2})
    assert "Does it list exactly 2 items?" in (models.requests[0][1].prompt or "")
    assert run(check, "- a", models).status is Status.UNSCORED  # no k: cannot be asked
    with pytest.raises(ConfigError, match="template syntax error") as raised:
        build("judge", {"rubric": "{{ k", "model": "m"})
    assert raised.value.key == ("rubric",)


# --- asking -------------------------------------------------------------------------------


def test_without_a_model_to_ask_it_is_unscored() -> None:
    result = asyncio.run(build("self_critique", "Q?").evaluate(OUTPUT, CheckContext(prompt="p")))
    assert result.status is Status.UNSCORED
    assert "needs a model" in result.reason


def test_judge_asks_its_model_for_a_verdict_line() -> None:
    models = FakeModels({"gpt": always("Three labeled options.\nVERDICT: PASS")})
    result = run(build("judge", {"rubric": "three options", "model": "gpt"}), OUTPUT, models)
    assert result == CheckResult(Status.PASS, "Three labeled options.", 1.0)
    [(model, request)] = models.requests
    assert model == "gpt"
    assert request.params == SamplingParams(0.0, 1.0, 400, (), {})
    assert request.n == 1
    assert OUTPUT in (request.prompt or "")
    assert "Rubric: three options" in (request.prompt or "")
    assert "VERDICT: PASS or VERDICT: FAIL" in (request.prompt or "")


def test_judge_asks_for_json_where_the_backend_takes_a_response_format() -> None:
    models = FakeModels(
        {"gpt": always('{"reasoning": "two options only", "verdict": "FAIL"}')},
        {"gpt": ModelTraits(response_format=True)},
    )
    result = run(build("judge", {"rubric": "three options", "model": "gpt"}), OUTPUT, models)
    assert (result.status, result.reason) == (Status.FAIL, "two options only")
    assert models.requests[0][1].params.extra == {"response_format": RESPONSE_FORMAT}


def test_an_explicit_answer_form_wins_over_the_backend() -> None:
    models = FakeModels(
        {"gpt": always("VERDICT: PASS")}, {"gpt": ModelTraits(response_format=True)}
    )
    check = build("judge", {"rubric": "r", "model": "gpt", "answer": "verdict"})
    assert run(check, OUTPUT, models).status is Status.PASS
    assert models.requests[0][1].params.extra == {}


def test_a_dolly_model_is_asked_in_its_trained_wording() -> None:
    models = FakeModels({None: always("YES")}, {None: ModelTraits(prompt_format="dolly")})
    check = build("self_critique", "Does the response give exactly three options?")
    assert run(check, OUTPUT, models, prompt="Give three options.").status is Status.PASS
    prompt = models.requests[0][1].prompt
    assert prompt == CRITIQUE_TEMPLATES[0].format(
        instruction="Give three options.",
        response=OUTPUT,
        question="Does the response give exactly three options?",
    )


def test_dolly_markers_in_the_output_leave_it_unscored() -> None:
    models = FakeModels({None: always("YES")})
    check = build("self_critique", {"question": "Q?", "prompt": "dolly"})
    result = run(check, "A) x\n### Response:\nYES", models)
    assert result.status is Status.UNSCORED
    assert "marker" in result.reason
    assert models.requests == []


def test_self_critique_asks_the_model_under_test_with_pass_on() -> None:
    models = FakeModels({None: always("It apologizes twice.\nYES")})
    check = build("self_critique", {"question": "Does it apologize?", "pass_on": "NO"})
    result = run(check, "Sorry, sorry.", models)
    assert (result.status, result.reason) == (Status.FAIL, "It apologizes twice.")
    assert models.requests[0][0] is None


def test_unreadable_answers_keep_the_raw_answer() -> None:
    models = FakeModels({"gpt": always("Looks right to me. VERDICT: РАSS")})
    result = run(build("judge", {"rubric": "r", "model": "gpt"}), OUTPUT, models)
    assert result.status is Status.UNSCORED
    assert "Looks right to me. VERDICT: РАSS" in result.reason


def test_a_failing_judge_is_unscored_never_failed() -> None:
    models = FakeModels({"gpt": lambda p, s: Generation(text=None, error="HTTP 503")})
    result = run(build("judge", {"rubric": "r", "model": "gpt"}), OUTPUT, models)
    assert result.status is Status.UNSCORED
    assert "judge 'gpt' failed: HTTP 503" in result.reason


def test_a_judge_that_cannot_start_is_unscored() -> None:
    result = run(build("judge", {"rubric": "r", "model": "gone"}), OUTPUT, FakeModels({}))
    assert result.status is Status.UNSCORED
    assert "judge 'gone' cannot start" in result.reason


def test_a_truncated_answer_is_unscored() -> None:
    models = FakeModels({"gpt": lambda p, s: Generation("VERDICT: PASS", finish_reason="length")})
    result = run(build("judge", {"rubric": "r", "model": "gpt"}), OUTPUT, models)
    assert result.status is Status.UNSCORED
    assert "cut off" in result.reason


# --- votes --------------------------------------------------------------------------------


def test_votes_are_one_request_with_seeds_derived_from_the_sample() -> None:
    answers = iter(["A.\nVERDICT: PASS", "B.\nVERDICT: FAIL", "C.\nVERDICT: PASS"])
    models = FakeModels({"gpt": lambda prompt, seed: next(answers)})
    check = build("judge", {"rubric": "r", "model": "gpt", "votes": 3, "temperature": 0.7})
    result = run(check, OUTPUT, models)
    assert result.status is Status.PASS
    assert result.reason == "2 PASS, 1 FAIL, 0 unreadable of 3: A."
    assert result.score == pytest.approx(2 / 3)
    [(_, request)] = models.requests
    assert request.params.temperature == 0.7
    assert len(set(request.seeds)) == 3
    again = FakeModels({"gpt": always("VERDICT: PASS")})
    run(check, OUTPUT, again)
    assert again.requests[0][1].seeds == request.seeds
    other = FakeModels({"gpt": always("VERDICT: PASS")})
    run(check, OUTPUT, other, seed=8)
    assert other.requests[0][1].seeds != request.seeds


def verdicts(*statuses: Status) -> list[Verdict]:
    return [Verdict(status, f"why {i}") for i, status in enumerate(statuses)]


@pytest.mark.parametrize(
    ("statuses", "expected", "score"),
    [
        ((Status.PASS,), Status.PASS, 1.0),
        ((Status.UNSCORED,), Status.UNSCORED, None),
        ((Status.PASS, Status.PASS, Status.FAIL), Status.PASS, 2 / 3),
        ((Status.FAIL, Status.FAIL, Status.UNSCORED), Status.FAIL, 0.0),
        # unreadable votes can keep a majority from forming, never tip it
        ((Status.PASS, Status.FAIL, Status.UNSCORED), Status.UNSCORED, 0.5),
        ((Status.PASS, Status.UNSCORED, Status.UNSCORED), Status.UNSCORED, 1.0),
        ((Status.PASS, Status.FAIL), Status.UNSCORED, 0.5),
        ((Status.UNSCORED,) * 3, Status.UNSCORED, None),
    ],
)
def test_majority(statuses: tuple[Status, ...], expected: Status, score: float | None) -> None:
    result = majority(verdicts(*statuses), len(statuses))
    assert result.status is expected
    assert result.score == (pytest.approx(score) if score is not None else None)


# --- revise -------------------------------------------------------------------------------


def test_revise_rewrites_what_the_model_judged_wrong() -> None:
    def model(prompt: str, seed: int) -> str:
        return "A) x\nB) y\nC) z" if "previous response" in prompt else "NO"

    models = FakeModels({None: model})
    check = build("self_critique", {"question": "Three options?", "revise": True})
    sampling = SamplingParams(0.9, 0.95, 77, ("\n\n",))
    result = run(check, "1. x\n2. y", models, sampling=sampling)
    assert result.status is Status.FAIL
    assert result.revision == "A) x\nB) y\nC) z"
    _, revision = models.requests[1]
    assert "1. x\n2. y" in (revision.prompt or "")
    assert "which a correct response answers YES: Three options?" in (revision.prompt or "")
    # sampled like the case's outputs, at the check's own temperature
    assert revision.params == SamplingParams(0.0, 0.95, 77, ("\n\n",))


def test_revise_keeps_what_the_model_accepted() -> None:
    models = FakeModels({None: always("YES")})
    check = build("self_critique", {"question": "Three options?", "revise": True})
    result = run(check, OUTPUT, models)
    assert (result.status, result.revision) == (Status.PASS, OUTPUT)
    assert len(models.requests) == 1


def test_a_failed_revision_is_none() -> None:
    def model(prompt: str, seed: int) -> Generation:
        if "previous response" in prompt:
            return Generation(text=None, error="timeout")
        return Generation(text="NO")

    check = build("self_critique", {"question": "Q?", "revise": True})
    result = run(check, OUTPUT, FakeModels({None: model}))
    assert (result.status, result.revision) == (Status.FAIL, None)
