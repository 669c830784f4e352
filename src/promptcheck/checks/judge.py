"""Checks that ask a model: ``judge`` (a configured model grades against a rubric) and
``self_critique`` (the model under test answers a yes/no question about its own output).

Both see the *complete* output, which the model under test could not see while writing it: a
model that loses count of its options halfway can still count them afterwards. Both ask through
the runner (:class:`~promptcheck.checks.base.ModelAccess`), which builds each model once, retries,
bounds concurrency and caches every answer apart from the generations; the prompt wording and the
strict reading of answers live in :mod:`promptcheck.checks.judging`.

An answer that cannot be read, or a judge model that errs, makes the sample *unscored*: a judge's
trouble is never the model's failure. Whether a judge can be trusted is measured, not assumed:
``agrees_with`` pairs it with the format checks that cover the same property, and the runner
reports its agreement with them and its consistency across votes (:mod:`promptcheck.run.agreement`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator, model_validator

from promptcheck.backends.base import Generation, GenerationRequest, SamplingParams
from promptcheck.checks.base import (
    BuildContext,
    CheckContext,
    CheckResult,
    ModelAccess,
    ModelTraits,
    Pairing,
    Status,
    register_check,
)
from promptcheck.checks.judging import (
    RESPONSE_FORMAT,
    AnswerForm,
    Verdict,
    delimited_prompt,
    dolly_critique_prompt,
    parse_answer,
    revision_prompt,
)
from promptcheck.checks.params import CheckParams
from promptcheck.errors import ConfigError
from promptcheck.formats import GENERIC_QUESTION
from promptcheck.templating import Template

PromptStyle = Literal["auto", "dolly", "delimited"]
_AGREES_DOC = (
    "Indexes (from 0) of this case's format checks that cover the same property, or `all` for "
    "every format check of the case: the judge's agreement with them is reported."
)
_PROMPT_DOC = (
    "`delimited` fences the instruction and output in marker lines the output cannot forge; "
    "`dolly` asks in the wording Dolly-format models learned critique tasks in; `auto` picks "
    "dolly for a model that renders Dolly's format, else delimited."
)


class ModelCheckParams(CheckParams):
    """What every check that asks a model takes: votes, sampling, prompt style, pairing."""

    votes: int = Field(
        1, ge=1, le=25, description="Answers asked for each output; the majority decides."
    )
    temperature: float = Field(
        0.0,
        ge=0.0,
        le=2.0,
        description="Sampling temperature of the answers (0: greedy; raise it for votes to vary).",
    )
    max_tokens: int = Field(400, ge=1, le=32_768, description="Longest answer, in tokens.")
    prompt: PromptStyle = Field("auto", description=_PROMPT_DOC)
    agrees_with: list[int] | Literal["all"] | None = Field(None, description=_AGREES_DOC)

    @field_validator("agrees_with")
    @classmethod
    def _distinct(cls, value: list[int] | str | None) -> list[int] | str | None:
        if isinstance(value, list):
            if any(index < 0 for index in value):
                raise ValueError("expect indexes count from 0")
            if len(set(value)) != len(value):
                raise ValueError("an expect index is listed twice")
        return value


class JudgeParams(ModelCheckParams):
    """``judge: {rubric: ..., model: NAME}``: a configured model grades each output."""

    rubric: str = Field(min_length=1, description="What a passing output does, in plain words.")
    model: str = Field(
        min_length=1, description="The judge: a model defined in the suite or [tool.promptcheck]."
    )
    answer: Literal["auto", "json", "verdict", "yes_no"] = Field(
        "auto",
        description="How the verdict is asked for: `json` (through response_format), `verdict` "
        "(a final line VERDICT: PASS or VERDICT: FAIL), `yes_no` (a final line YES or NO; the "
        "rubric is then a question); `auto`: json where the backend takes a response_format, "
        "yes_no in the dolly prompt style, else verdict.",
    )

    @model_validator(mode="after")
    def _dolly_answers_yes_or_no(self) -> JudgeParams:
        if self.prompt == "dolly" and self.answer not in ("auto", "yes_no"):
            raise ValueError("the dolly prompt style is answered YES or NO: use answer: yes_no")
        return self


class SelfCritiqueParams(ModelCheckParams):
    """``self_critique: "Does the response ...?"``: the model under test judges its own output."""

    short_field = "question"

    question: str = Field(
        GENERIC_QUESTION,
        min_length=1,
        description="A yes/no question about the output; YES means it passes (see pass_on).",
    )
    pass_on: Literal["YES", "NO"] = Field(
        "YES", description="The answer that passes the output (NO for 'Does it apologize?')."
    )
    revise: bool = Field(
        False,
        description="Also ask the model to rewrite an output it judged wrong, and report how "
        "many revised outputs conform to the format checks, as a separate rate.",
    )
    max_tokens: int = Field(256, ge=1, le=32_768, description="Longest answer, in tokens.")


@dataclass(slots=True)
class ModelJudgedCheck:
    """Asks a model about one output ``votes`` times and decides by majority.

    ``judge_model`` None asks the model under test (self-critique). Answers are requested with
    seeds derived from the sample's seed, so they are reproducible and cached.
    """

    name: str
    criterion: Template
    judge_model: str | None
    agrees_with: Pairing
    votes: int
    temperature: float
    max_tokens: int
    prompt_style: PromptStyle
    answer: Literal["auto", "json", "verdict", "yes_no"]
    pass_on: Literal["YES", "NO"] = "YES"
    revise: bool = False

    @property
    def template_variables(self) -> frozenset[str]:
        """The case variables the rubric or question names (``{{ k }}``), checked at collection."""
        return self.criterion.variables

    async def evaluate(self, output: str, context: CheckContext) -> CheckResult:
        models = context.models
        if models is None:
            return CheckResult.unscored(
                f"{self.name} needs a model to ask; it runs inside promptcheck's runner"
            )
        try:
            criterion = self.criterion.render(context.variables).strip()
        except ConfigError as exc:
            return CheckResult.unscored(f"the {self.name} text cannot be rendered: {exc}")
        try:
            traits = models.traits(self.judge_model)
        except Exception as exc:  # a judge model that cannot start is the judge's trouble
            return CheckResult.unscored(f"{self._who()} cannot start: {exc}")
        style, form = self._style_and_form(traits)
        if style == "dolly":
            prompt = dolly_critique_prompt(context.prompt, output, criterion)
            if prompt is None:
                return CheckResult.unscored(
                    "the output or prompt holds one of Dolly's marker strings (### End, "
                    "### Instruction:, ### Response:), which the critique prompt cannot show"
                )
        else:
            prompt = delimited_prompt(context.prompt, output, criterion, form)
        extra = {"response_format": RESPONSE_FORMAT} if form == "json" else {}
        request = GenerationRequest(
            prompt=prompt,
            messages=None,
            params=SamplingParams(self.temperature, 1.0, self.max_tokens, (), extra),
            seeds=self._seeds(context.seed, criterion, "verdict", self.votes),
        )
        answers = await models.generate(self.judge_model, request)
        verdicts = [self._read(answer, form) for answer in answers]
        result = majority(verdicts, self.votes)
        if self.revise:
            revision = await self._revision(models, output, criterion, context, result.status)
            result = CheckResult(result.status, result.reason, result.score, revision)
        return result

    def _who(self) -> str:
        return "the model under test" if self.judge_model is None else f"judge {self.judge_model!r}"

    def _style_and_form(self, traits: ModelTraits) -> tuple[PromptStyle, AnswerForm]:
        style = self.prompt_style
        if style == "auto":
            style = "dolly" if traits.prompt_format == "dolly" else "delimited"
        if self.answer != "auto":
            return style, self.answer
        if style == "dolly":
            return style, "yes_no"
        return style, "json" if traits.response_format else "verdict"

    def _read(self, answer: Generation, form: AnswerForm) -> Verdict:
        if answer.error is not None or answer.text is None:
            return Verdict(Status.UNSCORED, f"{self._who()} failed: {answer.error}")
        return parse_answer(
            answer.text, form, finish_reason=answer.finish_reason, pass_on=self.pass_on
        )

    def _seeds(self, seed: int, criterion: str, purpose: str, count: int) -> tuple[int, ...]:
        seeds = []
        for vote in range(count):
            key = f"{seed}\0{self.name}\0{purpose}\0{criterion}\0{vote}".encode()
            digest = hashlib.blake2b(key, digest_size=8).digest()
            seeds.append(int.from_bytes(digest, "big") & 0x7FFF_FFFF_FFFF_FFFF)
        return tuple(seeds)

    async def _revision(
        self,
        models: ModelAccess,
        output: str,
        criterion: str,
        context: CheckContext,
        status: Status,
    ) -> str | None:
        """The output rewritten when the model judged it wrong; kept as it is otherwise.

        A revision is sampled like the case's own outputs (its max_tokens and stop strings) at
        this check's temperature, so its format is checked on equal terms.
        """
        if status is not Status.FAIL:
            return output
        sampling = context.sampling or SamplingParams()
        request = GenerationRequest(
            prompt=revision_prompt(context.prompt, output, criterion, self.pass_on),
            messages=None,
            params=SamplingParams(
                self.temperature, sampling.top_p, sampling.max_tokens, sampling.stop
            ),
            seeds=self._seeds(context.seed, criterion, "revision", 1),
        )
        [revised] = await models.generate(self.judge_model, request)
        return revised.text if revised.error is None else None


def majority(verdicts: Sequence[Verdict], votes: int) -> CheckResult:
    """PASS or FAIL when more than half of all ``votes`` say so, else UNSCORED.

    Counting against all votes, not the readable ones, means that unreadable answers can only
    keep a verdict from being reached, never tip it. ``score`` is the share of readable votes
    that said PASS: the runner reads the judge's self-consistency from it.
    """
    passed = [v for v in verdicts if v.status is Status.PASS]
    failed = [v for v in verdicts if v.status is Status.FAIL]
    readable = len(passed) + len(failed)
    score = len(passed) / readable if readable else None
    if len(verdicts) == 1:
        only = verdicts[0]
        return CheckResult(only.status, only.reasoning, score)
    tally = f"{len(passed)} PASS, {len(failed)} FAIL, {votes - readable} unreadable of {votes}"
    if len(passed) * 2 > votes:
        return CheckResult(Status.PASS, f"{tally}: {passed[0].reasoning}", score)
    if len(failed) * 2 > votes:
        return CheckResult(Status.FAIL, f"{tally}: {failed[0].reasoning}", score)
    unread = next((v.reasoning for v in verdicts if v.status is Status.UNSCORED), "")
    return CheckResult(
        Status.UNSCORED, f"no majority ({tally})" + (f"; {unread}" if unread else ""), score
    )


def _pairing(value: list[int] | str | None) -> Pairing:
    if value is None:
        return None
    if value == "all":
        return "all"
    return tuple(int(index) for index in value)


def _template(text: str, field_name: str) -> Template:
    """A rubric or question may name the case's variables (``exactly {{ k }} items``)."""
    try:
        return Template(text.strip())
    except ConfigError as exc:
        raise ConfigError(exc.message, key=(field_name,), hint=exc.hint) from None


@register_check("judge", JudgeParams)
def build_judge(params: JudgeParams, context: BuildContext) -> ModelJudgedCheck:
    """A configured model grades each output against a rubric (LLM-as-judge).

    The judge sees the instruction and the complete output as fenced data, answers at
    temperature 0 by default, and its verdict is read strictly: an answer in any other form is
    unscored, with the raw answer kept. See docs/judges.md.
    """
    return ModelJudgedCheck(
        name="judge",
        criterion=_template(params.rubric, "rubric"),
        judge_model=params.model,
        agrees_with=_pairing(params.agrees_with),
        votes=params.votes,
        temperature=params.temperature,
        max_tokens=params.max_tokens,
        prompt_style=params.prompt,
        answer=params.answer,
    )


@register_check("self_critique", SelfCritiqueParams, shorthand={"type": "string", "minLength": 1})
def build_self_critique(params: SelfCritiqueParams, context: BuildContext) -> ModelJudgedCheck:
    """The model under test answers a yes/no question about its own complete output.

    With ``revise: true`` it also rewrites the outputs it judged wrong, and the conformance of
    the revised outputs is reported as a separate rate. See docs/judges.md.
    """
    return ModelJudgedCheck(
        name="self_critique",
        criterion=_template(params.question, "question"),
        judge_model=None,
        agrees_with=_pairing(params.agrees_with),
        votes=params.votes,
        temperature=params.temperature,
        max_tokens=params.max_tokens,
        prompt_style=params.prompt,
        answer="yes_no",
        pass_on=params.pass_on,
        revise=params.revise,
    )
