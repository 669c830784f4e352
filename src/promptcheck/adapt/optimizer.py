"""Rewrites proposed by a model: the optimizer's question and the reading of its reply.

Any configured model can be the optimizer (``--optimizer NAME``). It is shown the case's main
template with its variable names, what the checks require (in words, :mod:`.requirements`),
outputs of the candidate that failed with the reasons, and outputs of the baseline that
conformed; all of them from the *search* values only, so nothing it writes can be fitted to the
held-out values. Its reply is taken as the new template: the text of the first fenced code block
if there is one, else the whole reply. It is asked through the runner's pool, retries and cache
(``judge:`` keys, :mod:`promptcheck.run.model_access`), so a re-run asks nothing again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from promptcheck.adapt.templates import PromptTemplate
from promptcheck.backends.base import Backend, Generation, GenerationRequest, SamplingParams
from promptcheck.run.model_access import AnswerCache, CaseModels, answer_key
from promptcheck.suite.records import ModelConfig

#: An opening fence line (CommonMark): three or more backticks or tildes, then an info string.
_OPENING = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*$")
#: Longest output or reason shown to the optimizer, in characters.
_SHOWN_CHARS = 400


@dataclass(frozen=True, slots=True)
class OptimizerBrief:
    """Everything the optimizer is shown about one case."""

    template: PromptTemplate
    variables: tuple[str, ...]
    requirements: tuple[str, ...]
    failing: tuple[tuple[str, str], ...]
    passing: tuple[str, ...]


def optimizer_prompt(brief: OptimizerBrief) -> str:
    """The question asked of the optimizer model."""
    variables = ", ".join(f"{{{{ {name} }}}}" for name in brief.variables) or "none"
    parts = [
        "You rewrite prompt templates so that a new language model's answers pass automatic "
        "format checks, as the previous model's answers did.",
        "The template below is Jinja2. Keep every variable exactly as it is written "
        f"({variables}) and add no other variable.",
        f"Template:\n{_fence_for(brief.template.main)}\n{brief.template.main}\n"
        f"{_fence_for(brief.template.main)}",
    ]
    if brief.template.system is not None:
        fence = _fence_for(brief.template.system)
        parts.append(f"It is sent after this system message (keep it in mind, do not repeat "
                     f"it):\n{fence}\n{brief.template.system}\n{fence}")  # fmt: skip
    if brief.requirements:
        parts.append(
            "Every answer must satisfy:\n" + "\n".join(f"- {r}" for r in brief.requirements)
        )
    if brief.failing:
        shown = [
            f"{i}. {_clip(output)}\n   Why it failed: {_clip(reason)}"
            for i, (output, reason) in enumerate(brief.failing, 1)
        ]
        parts.append("Answers of the new model that failed the checks:\n" + "\n".join(shown))
    if brief.passing:
        shown = [f"{i}. {_clip(output)}" for i, output in enumerate(brief.passing, 1)]
        parts.append("Answers of the previous model that passed:\n" + "\n".join(shown))
    parts.append("Reply with the new template only, in one fenced code block.")
    return "\n\n".join(parts)


def template_from_reply(reply: str) -> str:
    """The new template in a reply: the first fenced code block's text, else the whole reply.

    Fences follow CommonMark: the block closes at a line of the same character at least as long
    as the opening run, so a template holding a shorter fence of its own is kept whole; a block
    never closed runs to the end of the reply.
    """
    lines = reply.split("\n")
    for start, line in enumerate(lines):
        opening = _OPENING.match(line)
        if opening is None or (opening.group(1)[0] == "`" and "`" in line[opening.end(1) :]):
            continue
        fence = opening.group(1)
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        body = []
        for inner in lines[start + 1 :]:
            if closing.match(inner):
                break
            body.append(inner)
        return "\n".join(body).strip()
    return reply.strip()


def _fence_for(text: str) -> str:
    """A backtick fence longer than any run of backticks in ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def call_seed(case_key: str, call: int) -> int:
    """The seed of the optimizer's ``call``-th answer for a case: fixed, so that its answers
    are reproducible and found in the cache on a re-run."""
    digest = hashlib.blake2b(f"adapt-optimizer\0{case_key}\0{call}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") & 0x7FFF_FFFF_FFFF_FFFF


def optimizer_request(
    brief: OptimizerBrief, case_key: str, calls: int, params: SamplingParams
) -> GenerationRequest:
    """The request for ``calls`` answers of the optimizer to one case (one seed each)."""
    return GenerationRequest(
        prompt=optimizer_prompt(brief),
        messages=None,
        params=params,
        seeds=tuple(call_seed(case_key, call) for call in range(calls)),
    )


def cached_answers(
    cache: AnswerCache | None, model: ModelConfig, backend: Backend, request: GenerationRequest
) -> int:
    """How many of the request's answers the cache already holds (they cost nothing)."""
    if cache is None:
        return 0
    keys = [answer_key(model, backend, request, seed) for seed in request.seeds]
    return len(cache.cached_generations(keys))


async def ask_optimizer(models: CaseModels, request: GenerationRequest) -> list[Generation]:
    """The optimizer's answers, through the runner's cache, retries and concurrency bound."""
    return list(await models.generate(None, request))


def proposed_template(original: PromptTemplate, reply: str) -> PromptTemplate:
    """The original templates with the main text replaced by the reply's template."""
    return original.with_main(template_from_reply(reply))


def brief_variables(template: PromptTemplate) -> tuple[str, ...]:
    """The case's variables in a stable order, for the optimizer's question."""
    return tuple(sorted(template.variables()))


def failing_examples(outputs: Sequence[tuple[str, str]], limit: int) -> tuple[tuple[str, str], ...]:
    """Up to ``limit`` distinct failing outputs with their reasons, in sample order."""
    seen: dict[str, str] = {}
    for output, reason in outputs:
        if output not in seen:
            seen[output] = reason
        if len(seen) >= limit:
            break
    return tuple(seen.items())
