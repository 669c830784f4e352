"""A rewrite of a case's prompt, and whether it may be tried at all.

A rewrite comes from an operator or from the optimizer model. Before any sample is spent on it,
it must compile, use exactly the case's variables (one that drops a variable answers another
question; one that invents a variable cannot be rendered), render with every combination of
values, and differ from the original and from every rewrite before it. A rewrite that fails is
kept in the report with the reason, never sampled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from promptcheck.adapt.templates import PromptTemplate
from promptcheck.errors import ConfigError
from promptcheck.suite.records import CaseSpec, Combination


@dataclass(frozen=True, slots=True)
class Rewrite:
    """A candidate replacement of a case's templates; ``origin`` is ``operator`` or
    ``optimizer``, ``description`` says what was changed (or asked)."""

    name: str
    origin: str
    template: PromptTemplate
    description: str = ""


def rejection(
    rewrite: PromptTemplate,
    original: PromptTemplate,
    combinations: Sequence[Combination],
    earlier: Sequence[tuple[str, PromptTemplate]] = (),
) -> str | None:
    """Why ``rewrite`` cannot be tried (None: it can)."""
    try:
        used = rewrite.variables()
    except ConfigError as exc:
        return f"does not compile: {exc.message}"
    wanted = original.variables()
    dropped = sorted(wanted - used)
    invented = sorted(used - wanted)
    if dropped:
        return f"drops the variable(s) {', '.join(dropped)}"
    if invented:
        return f"uses variable(s) the case does not define: {', '.join(invented)}"
    if not any(text.strip() for text in rewrite.texts()):
        return "is empty"
    for combination in combinations:
        try:
            rewrite.render(combination.index, combination.variables)
        except ConfigError as exc:
            return f"does not render with combination {combination.index}: {exc.message}"
    if rewrite == original:
        return "is the original prompt"
    for name, template in earlier:
        if template == rewrite:
            return f"is the same as {name}"
    return None


def rendered_case(
    case: CaseSpec,
    template: PromptTemplate,
    combinations: Sequence[Combination],
    *,
    seed: int | None = None,
) -> CaseSpec:
    """``case`` on ``combinations`` only, rendered with ``template`` (and another seed root, for
    samples that must be new)."""
    rendered = tuple(template.render(c.index, c.variables) for c in combinations)
    changed = dataclasses.replace(case, combinations=rendered)
    return changed if seed is None else dataclasses.replace(changed, seed=seed)
