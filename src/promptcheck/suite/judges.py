"""Compiling the checks that ask a model: their pairing with format checks, their judge models,
the variables their questions name, and rendering those questions once per combination.

Part of compiling a suite (:mod:`promptcheck.suite.loader`), kept apart because it is about how
checks relate to each other and to the defined models rather than about one check. Every problem
is a :class:`~promptcheck.errors.ConfigError` whose ``key`` starts at the case's ``expect`` list, so
the suite loader reports it at the check's line; nothing here can fail at run time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from promptcheck.checks.base import JudgingCheck
from promptcheck.errors import ConfigError
from promptcheck.registry import did_you_mean
from promptcheck.templating import RenderBudget, Template

if TYPE_CHECKING:
    from promptcheck.suite.records import CompiledCheck, ModelConfig

_PAIRING_HINT = (
    "list the indexes (from 0) of this case's format checks that cover the same property, "
    "or write 'all'"
)


def pair_judges(checks: Sequence[CompiledCheck]) -> tuple[CompiledCheck, ...]:
    """Mark the checks that ask a model and resolve ``agrees_with`` to format checks' indexes.

    A judge is paired with format checks only: agreement with another judge would measure
    nothing a reviewer could trust, and ``all`` means every format check of the case.
    """
    judging = {c.index for c in checks if isinstance(c.check, JudgingCheck)}
    formats = tuple(c.index for c in checks if c.index not in judging)
    paired = []
    for compiled in checks:
        if compiled.index not in judging:
            paired.append(compiled)
            continue
        pairing = getattr(compiled.check, "agrees_with", None)
        where = (compiled.index, compiled.label, "agrees_with")
        pairs: tuple[int, ...] | None = None
        if pairing == "all":
            if not formats:
                raise _pairing_error("the case has no format checks to agree with", where)
            pairs = formats
        elif pairing is not None:
            pairs = tuple(pairing)
            for position, target in enumerate(pairs):
                if target == compiled.index:
                    problem = f"expect[{target}] is this check itself"
                elif target in judging:
                    problem = f"expect[{target}] asks a model too; pair judges with format checks"
                elif target not in formats:
                    problem = f"the case has no expect[{target}] (it has {len(checks)} checks)"
                else:
                    continue
                raise _pairing_error(problem, (*where, position))
        paired.append(dataclasses.replace(compiled, judging=True, pairs=pairs))
    return tuple(paired)


def _pairing_error(problem: str, key: tuple[str | int, ...]) -> ConfigError:
    return ConfigError(f"agrees_with: {problem}", key=key, hint=_PAIRING_HINT)


def judge_models(
    checks: Sequence[CompiledCheck],
    find: Callable[[str], ModelConfig | None],
    known: Sequence[str],
) -> dict[str, ModelConfig]:
    """The judge models the checks name, each a defined model: a typo is a collection error.

    Only found and validated here; their backends are built the first time a check asks one.
    """
    judges: dict[str, ModelConfig] = {}
    for compiled in checks:
        name = getattr(compiled.check, "judge_model", None) if compiled.judging else None
        if name is None or name in judges:
            continue
        where = (compiled.index, compiled.label, "model")
        try:
            found = find(name)
        except ConfigError as exc:
            raise ConfigError(exc.message, key=where, hint=exc.hint) from None
        if found is None:
            hint = (
                did_you_mean(name, list(known)) or f"defined models: {', '.join(known) or 'none'}"
            )
            raise ConfigError(f"unknown judge model {name!r}", key=where, hint=hint)
        judges[name] = found
    return judges


def check_variables(checks: Sequence[CompiledCheck], declared: Collection[str]) -> None:
    """A rubric or question may name only variables the case declares."""
    for compiled in checks:
        named: frozenset[str] = getattr(compiled.check, "template_variables", frozenset())
        missing = sorted(set(named) - set(declared))
        if missing:
            raise ConfigError(
                f"undefined template variable {missing[0]!r}",
                key=(compiled.index, compiled.label),
                hint=f"declared: {', '.join(sorted(declared)) or 'none'}",
            )


def render_criteria(
    checks: Sequence[CompiledCheck],
    combinations: Sequence[Mapping[str, Any]],
    budget: RenderBudget,
) -> None:
    """Render each rubric or question with every combination, within the suite's render
    budget: one that cannot be rendered (or takes too long) is found at collection, not as
    unscored samples."""
    for compiled in checks:
        criterion = getattr(compiled.check, "criterion", None)
        if not isinstance(criterion, Template):
            continue
        for variables in combinations:
            try:
                criterion.render(variables, budget)
            except ConfigError as exc:
                raise ConfigError(
                    exc.message, key=(compiled.index, compiled.label), hint=exc.hint
                ) from None
