"""Is a judge right? Its agreement with format checks, its consistency, what revision rescues.

A judge's verdict is only worth its reliability, and that is measured where it can be: when a
format check covers the same property (``agrees_with``), the check is the ground truth of that
property and every sample is a labelled example of the judge at work. Tallies here are plain
counts per case; :func:`combine` adds them over cases for a suite or a model, which is the figure
that matters (a single case is too few samples to say much).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from promptcheck.checks.base import Status
from promptcheck.results import CheckOutcome, JudgeFigures, SampleOutcome
from promptcheck.suite import CompiledCheck


def paired_status(checks: Sequence[CheckOutcome], pairs: Sequence[int]) -> Status:
    """What the paired format checks say of a sample together: FAIL if any fails, UNSCORED if
    any could not tell, else PASS."""
    statuses = {check.status for check in checks if check.index in pairs}
    if Status.FAIL in statuses:
        return Status.FAIL
    if Status.UNSCORED in statuses or not statuses:
        return Status.UNSCORED
    return Status.PASS


def judge_figures(
    checks: Sequence[CompiledCheck],
    outcomes: Sequence[SampleOutcome],
    revisions: Mapping[tuple[int, int], bool | None],
) -> list[JudgeFigures]:
    """One :class:`JudgeFigures` per judging check of a case, from its scored samples and, for
    a revising check, whether each sample's revision conforms (by sample and check index)."""
    figures = []
    formats = tuple(c.index for c in checks if not c.judging)
    for compiled in checks:
        if not compiled.judging:
            continue
        model = getattr(compiled.check, "judge_model", None)
        votes = getattr(compiled.check, "votes", 1)
        counts = _Counts()
        for outcome in outcomes:
            if outcome.status == "error":
                continue
            judged = next((c for c in outcome.checks if c.index == compiled.index), None)
            if judged is None:
                continue
            revised = revisions.get((outcome.index, compiled.index))
            counts.add(judged, outcome.checks, compiled.pairs, formats, revised)
        figures.append(
            JudgeFigures(
                index=compiled.index,
                label=compiled.label,
                judge="self" if model is None else str(model),
                pairs=compiled.pairs,
                votes=votes if isinstance(votes, int) else 1,
                revised=counts.revised,
                **counts.as_fields(),
            )
        )
    return figures


class _Counts:
    """Running tallies of one judging check over a case's samples."""

    def __init__(self) -> None:
        self.cells = {"both_pass": 0, "judge_pass_checks_fail": 0}
        self.cells |= {"judge_fail_checks_pass": 0, "both_fail": 0}
        self.judge_unscored = self.checks_unscored = 0
        self.voted = self.unanimous = 0
        self.revised: int | None = None
        self.revised_conforming = self.original_conforming = 0

    def add(
        self,
        judged: CheckOutcome,
        checks: Sequence[CheckOutcome],
        pairs: tuple[int, ...] | None,
        formats: tuple[int, ...],
        revised: bool | None,
    ) -> None:
        if judged.score is not None:
            self.voted += 1
            self.unanimous += judged.score in (0.0, 1.0)
        if revised is not None:
            self.revised = (self.revised or 0) + 1
            self.revised_conforming += revised
            before = paired_status(checks, pairs if pairs is not None else formats)
            self.original_conforming += before is Status.PASS
        if pairs is None:
            return
        truth = paired_status(checks, pairs)
        if judged.status is Status.UNSCORED:
            self.judge_unscored += 1
        elif truth is Status.UNSCORED:
            self.checks_unscored += 1
        else:
            judge = "pass" if judged.status is Status.PASS else "fail"
            name = {
                ("pass", True): "both_pass",
                ("pass", False): "judge_pass_checks_fail",
                ("fail", True): "judge_fail_checks_pass",
                ("fail", False): "both_fail",
            }[(judge, truth is Status.PASS)]
            self.cells[name] += 1

    def as_fields(self) -> dict[str, int]:
        return {
            **self.cells,
            "judge_unscored": self.judge_unscored,
            "checks_unscored": self.checks_unscored,
            "voted": self.voted,
            "unanimous": self.unanimous,
            "revised_conforming": self.revised_conforming,
            "original_conforming": self.original_conforming,
        }
