"""Plain records of what a run produced: per check, per sample, per case.

The runner builds them, the store persists them, stats and reports read them. They hold no
behaviour beyond small derived properties, so every layer can share them without cycles.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from promptcheck.config import MAX_REASON_CHARS, NOTHING_SCORED
from promptcheck.redaction import scrub_text
from promptcheck.stats import ThresholdVerdict


class Status(enum.StrEnum):
    """Outcome of one check on one output. UNSCORED means 'could not tell', never 'bad output'."""

    PASS = "pass"
    FAIL = "fail"
    UNSCORED = "unscored"


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """One check's result on one sample. ``label`` is the check's ``expect`` key (``regex``)."""

    index: int
    label: str
    status: Status
    reason: str = ""
    score: float | None = None


@dataclass(frozen=True, slots=True)
class SampleOutcome:
    """One sample: what was asked, what came back, and what each check said of it.

    ``status`` is 'error' when no output came back (never counted against conformance),
    'fail' when any check failed, 'unscored' when none failed but one could not tell, else 'pass'.
    """

    index: int
    combination: int
    variables: Mapping[str, Any]
    prompt: str
    seed: int
    output: str | None
    checks: tuple[CheckOutcome, ...] = ()
    error: str | None = None
    formatted_prompt: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    cached: bool = False
    cache_key: str = ""
    #: What the API said served this sample (:class:`ServedCount` counts them per case; not
    #: stored per sample).
    served_model: str | None = None
    served_fingerprint: str | None = None

    @property
    def status(self) -> str:
        if self.error is not None or self.output is None:
            return "error"
        statuses = {check.status for check in self.checks}
        if Status.FAIL in statuses:
            return "fail"
        if Status.UNSCORED in statuses:
            return "unscored"
        return "pass"


@dataclass(frozen=True, slots=True)
class CheckTally:
    """How often one check passed, failed or could not tell, over the scored samples of a case."""

    index: int
    label: str
    passed: int = 0
    failed: int = 0
    unscored: int = 0


@dataclass(frozen=True)
class JudgeFigures:
    """How far one judging check of one case can be trusted, from that case's samples.

    The confusion matrix sets the judge's verdict against its paired format checks' (``pairs``;
    a sample is PASS for them when all pass); samples where either could not tell are left out
    and counted. ``unanimous`` of ``voted`` samples got the same verdict from every readable
    vote. ``revised`` counts revised outputs that could be scored (revise mode), of which
    ``revised_conforming`` conform, against ``original_conforming`` of the same samples before.
    """

    index: int
    label: str
    judge: str
    pairs: tuple[int, ...] | None = None
    both_pass: int = 0
    judge_pass_checks_fail: int = 0
    judge_fail_checks_pass: int = 0
    both_fail: int = 0
    judge_unscored: int = 0
    checks_unscored: int = 0
    votes: int = 1
    voted: int = 0
    unanimous: int = 0
    revised: int | None = None
    revised_conforming: int = 0
    original_conforming: int = 0

    @property
    def compared(self) -> int:
        return (
            self.both_pass
            + self.judge_pass_checks_fail
            + self.judge_fail_checks_pass
            + (self.both_fail)
        )

    @property
    def agreed(self) -> int:
        return self.both_pass + self.both_fail

    def as_dict(self) -> dict[str, Any]:
        """The JSON form kept in ``CaseResult.properties['judges']``, with derived rates."""
        data: dict[str, Any] = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["pairs"] = None if self.pairs is None else list(self.pairs)
        data["agreement"] = self.agreed / self.compared if self.compared else None
        data["consistency"] = self.unanimous / self.voted if self.voted else None
        if self.revised:
            data["revised_rate"] = self.revised_conforming / self.revised
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JudgeFigures:
        """Read back :meth:`as_dict` (derived rates are recomputed, unknown keys ignored)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if known.get("pairs") is not None:
            known["pairs"] = tuple(known["pairs"])
        return cls(**known)


_SUMMED = (
    "both_pass",
    "judge_pass_checks_fail",
    "judge_fail_checks_pass",
    "both_fail",
    "judge_unscored",
    "checks_unscored",
    "voted",
    "unanimous",
    "revised_conforming",
    "original_conforming",
)


def combine(figures: Iterable[JudgeFigures], label: str = "all", judge: str = "") -> JudgeFigures:
    """The figures of many cases (or checks) added up, for a suite's or a model's total."""
    total = JudgeFigures(index=-1, label=label, judge=judge)
    for item in figures:
        # one vote is always unanimous: only checks that vote several times show consistency
        summed = [n for n in _SUMMED if item.votes > 1 or n not in ("voted", "unanimous")]
        sums = {name: getattr(total, name) + getattr(item, name) for name in summed}
        revised = total.revised
        if item.revised is not None:
            revised = (revised or 0) + item.revised
        paired = () if total.pairs is not None or item.pairs is not None else None
        total = dataclasses.replace(
            total,
            **sums,
            revised=revised,
            pairs=paired,
            votes=max(total.votes, item.votes),
        )
    return total


#: Key of the served models' counts in ``CaseResult.properties`` (:class:`ServedCount`).
SERVED_KEY = "served"


@dataclass(frozen=True, slots=True)
class ServedCount:
    """How many of a case's samples one served model and fingerprint answered: ``fresh`` ones
    drawn in this run, ``cached`` ones reused from the cache (and served when first drawn)."""

    model: str | None
    fingerprint: str | None
    fresh: int = 0
    cached: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: object) -> ServedCount | None:
        """Read back :meth:`as_dict`; None for anything else (a store edited by hand)."""
        if not isinstance(data, Mapping):
            return None
        model, fingerprint = data.get("model"), data.get("fingerprint")
        fresh, cached = data.get("fresh", 0), data.get("cached", 0)
        if not all(value is None or isinstance(value, str) for value in (model, fingerprint)):
            return None
        if type(fresh) is not int or type(cached) is not int:
            return None
        return cls(model, fingerprint, fresh, cached)


def served_counts(samples: Iterable[SampleOutcome]) -> tuple[ServedCount, ...]:
    """The served models and fingerprints of the samples that report one, counted."""
    counts: dict[tuple[str | None, str | None], list[int]] = {}
    for sample in samples:
        if sample.served_model is None and sample.served_fingerprint is None:
            continue
        tally = counts.setdefault((sample.served_model, sample.served_fingerprint), [0, 0])
        tally[1 if sample.cached else 0] += 1
    return tuple(
        ServedCount(model, fingerprint, fresh, cached)
        for (model, fingerprint), (fresh, cached) in counts.items()
    )


def case_status(outcome: str, scored: int, drawn: int) -> str:
    """The word every report gives a case: its threshold verdict's outcome (``pass``, ``fail``,
    ``undecided``), or :data:`NOTHING_SCORED` when samples were drawn and none could be scored
    (every one errored, or no check could tell). Such a case was never judged: its verdict says
    undecided on no evidence, and the pytest item is an error with the reason, whatever
    ``--promptcheck-fail-on`` says. A case with no sample drawn keeps its outcome."""
    return NOTHING_SCORED if drawn and not scored else outcome


def nothing_scored_reason(samples: Iterable[SampleOutcome], fallback: str) -> str:
    """Why no sample of a case was scored, in words: the first sample's error, or its first
    check that could not tell, with its reason; ``fallback`` (the verdict's explanation) when no
    sample says. Scrubbed of secrets and cut to :data:`~promptcheck.config.MAX_REASON_CHARS`."""
    first = fallback
    for sample in samples:
        if sample.status == "error":
            first = sample.error or "no output"
            break
        unsure = [check for check in sample.checks if check.status is Status.UNSCORED]
        if unsure:
            check = unsure[0]
            first = f"{check.label} unscored" + (f": {check.reason}" if check.reason else "")
            break
    reason = scrub_text(f"no sample was scored: {first}")
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 3] + "..."
    return reason


#: Key of the adaptive-sampling figures in ``CaseResult.properties`` (the runner's
#: ``adaptive_usage``: used, max, saved, stopped_early, reason).
ADAPTIVE_KEY = "adaptive"


@dataclass(frozen=True)
class CaseResult:
    """All samples of one case on one model, with the threshold verdict."""

    suite: str
    suite_path: str
    case_id: str
    model: str
    samples: tuple[SampleOutcome, ...]
    verdict: ThresholdVerdict
    tallies: tuple[CheckTally, ...] = ()
    tags: tuple[str, ...] = ()
    properties: Mapping[str, Any] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(1 for sample in self.samples if sample.status == status)

    @property
    def served(self) -> tuple[ServedCount, ...]:
        """The served models and fingerprints of its samples, from ``properties`` (as recorded,
        or read back); empty for backends that report none and for runs recorded before."""
        found = self.properties.get(SERVED_KEY)
        if not isinstance(found, list):
            return ()
        return tuple(c for c in map(ServedCount.from_dict, found) if c is not None)

    @property
    def judges(self) -> tuple[JudgeFigures, ...]:
        """The judging checks' figures, from ``properties`` (as recorded, or read back)."""
        found = self.properties.get("judges") or ()
        return tuple(JudgeFigures.from_dict(item) for item in found)

    @property
    def errors(self) -> int:
        return self.count("error")

    @property
    def status(self) -> str:
        """What every report calls the case (:func:`case_status`)."""
        return case_status(self.verdict.outcome.value, self.verdict.n, len(self.samples))

    @property
    def reason(self) -> str | None:
        """Why nothing was scored, when :attr:`status` is :data:`NOTHING_SCORED`; else None."""
        if self.status != NOTHING_SCORED:
            return None
        return nothing_scored_reason(self.samples, self.verdict.explanation)
