"""The check protocol: one call that scores one complete output, and the registry of check types.

A check type is registered under the key a suite uses in ``expect``. Its parameters are a pydantic
model, so a suite is validated (and the JSON Schema of the suite format is generated) before any
sample is drawn; ``build`` turns validated parameters into a ready :class:`Check`.
Aggregation across samples does not belong here: it lives in :mod:`promptcheck.stats.threshold`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from promptcheck.files import ProjectFiles
from promptcheck.importing import CodePolicy
from promptcheck.registry import Registry
from promptcheck.results import Status as Status  # re-exported: a check returns it

if TYPE_CHECKING:
    from promptcheck.backends.base import (
        Generation,
        GenerationRequest,
        SamplingParams,
        Tool,
        ToolCall,
    )


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What a check says of one output; ``reason`` is shown to the user next to the output."""

    status: Status
    reason: str = ""
    score: float | None = None
    #: A rewritten output (``self_critique`` in revise mode); the runner scores it with the
    #: case's format checks and reports its conformance apart from the original's.
    revision: str | None = None

    @classmethod
    def passed(cls, reason: str = "", score: float | None = None) -> CheckResult:
        return cls(Status.PASS, reason, score)

    @classmethod
    def failed(cls, reason: str, score: float | None = None) -> CheckResult:
        return cls(Status.FAIL, reason, score)

    @classmethod
    def unscored(cls, reason: str) -> CheckResult:
        return cls(Status.UNSCORED, reason)


@dataclass(frozen=True, slots=True)
class ModelTraits:
    """What a check that asks a model must know of it to word the question and read the answer.

    ``prompt_format`` is the format the backend renders prompts in (``dolly`` for a Dolly
    checkpoint, whose critique tasks have a fixed wording); ``response_format`` says whether the
    backend passes an OpenAI ``response_format`` through, so a verdict can be asked for as JSON.
    """

    prompt_format: str | None = None
    response_format: bool = False


class ModelAccess(Protocol):
    """How a check reaches a model: the runner's door, with its cache, retries and concurrency.

    ``model`` is a configured model's name, or None for the model under test. Checks never build
    backends themselves: the runner builds each model once per session and caches every answer.
    """

    def traits(self, model: str | None) -> ModelTraits: ...

    async def generate(
        self, model: str | None, request: GenerationRequest
    ) -> Sequence[Generation]: ...


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What a check may know besides the output: the rendered prompt, the case and its variables.

    ``seed`` is the sample's seed (a judge derives its own seeds from it, so its answers are
    reproducible and cacheable); ``sampling`` is how the case samples (a revision is sampled
    alike); ``models`` reaches the model under test and the configured judge models;
    ``tool_calls`` are the calls the output made (the output's text renders them too).
    """

    prompt: str
    variables: Mapping[str, Any] = field(default_factory=dict)
    case_id: str = ""
    model: str = ""
    seed: int = 0
    sampling: SamplingParams | None = None
    models: ModelAccess | None = None
    tool_calls: tuple[ToolCall, ...] = ()


@runtime_checkable
class Check(Protocol):
    """Scores one complete output. May return an awaitable (judges call a model).

    A check whose work can run long on a hostile output or parameter (a regular expression, a
    user's function, a JSON Schema) sets a class attribute ``blocking = True``: the runner then
    calls it in a worker thread with a time limit, off the event loop that every case shares.
    """

    name: str

    def evaluate(
        self, output: str, context: CheckContext
    ) -> CheckResult | Awaitable[CheckResult]: ...


#: ``agrees_with`` of a judging check: expect indexes, ``all`` (every format check), or nothing.
Pairing = tuple[int, ...] | Literal["all"] | None


@runtime_checkable
class JudgingCheck(Check, Protocol):
    """A check that asks a model (``judge``, ``self_critique``); the suite and the runner read
    these attributes to validate the judge model, pair the check with format checks and measure
    how far it can be trusted.

    ``judge_model`` is a configured model's name, or None for the model under test;
    ``agrees_with`` names the format checks that cover the same property; ``votes`` is how many
    answers are asked for each output.
    """

    judge_model: str | None
    agrees_with: Pairing
    votes: int


@dataclass(frozen=True, slots=True)
class BuildContext:
    """Where relative paths in check parameters (schemas, data files) are resolved from, which
    code the suite may make a check import (nothing, by default: see
    :class:`~promptcheck.importing.CodePolicy`), and the tools the case declares (a
    ``tool_call`` check validates arguments against them)."""

    base_dir: Path
    code: CodePolicy = field(default_factory=CodePolicy)
    #: Files checks may read (schemas); by default those under ``base_dir``.
    files: ProjectFiles | None = None
    tools: tuple[Tool, ...] = ()

    def project_files(self) -> ProjectFiles:
        return self.files if self.files is not None else ProjectFiles(root=self.base_dir)


@dataclass(slots=True)
class NotImportedCheck:
    """A check whose code was not imported because nothing may run (``promptcheck validate``):
    its module was found and is allowed, and that is all that is known."""

    name: str
    target: str

    def evaluate(self, output: str, context: CheckContext) -> CheckResult:
        return CheckResult.unscored(f"{self.target} was not imported (validate runs no code)")


P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class CheckType:
    """A registered kind of check: the ``expect`` key, its parameter model and its factory.

    ``shorthand`` is the JSON Schema of the short form a suite may write instead of the parameter
    mapping (``regex: "^A"``); the parameter model's own ``mode="before"`` validator accepts it.
    """

    name: str
    params: type[BaseModel]
    build: Callable[[Any, BuildContext], Check]
    shorthand: Mapping[str, Any] | None = None
    description: str = ""


CHECKS: Registry[CheckType] = Registry(
    "check",
    "promptcheck.checks",
    builtin_modules=("promptcheck.checks.format", "promptcheck.checks.judge"),
)


def register_check(
    name: str,
    params: type[P],
    *,
    shorthand: Mapping[str, Any] | None = None,
) -> Callable[[Callable[[P, BuildContext], Check]], Callable[[P, BuildContext], Check]]:
    """Register ``build(params, context) -> Check`` as the check type ``name``.

    The build function's docstring becomes the check's description in the suite JSON Schema.
    """

    def decorate(build: Callable[[P, BuildContext], Check]) -> Callable[[P, BuildContext], Check]:
        CHECKS.add(
            name,
            CheckType(
                name=name,
                params=params,
                build=build,
                shorthand=shorthand,
                description=(build.__doc__ or "").strip().split("\n\n")[0],
            ),
        )
        return build

    return decorate
