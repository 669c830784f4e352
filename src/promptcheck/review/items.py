"""What a rater is shown: the items of a review set, their strata and their order.

An item is one sampled output of a run, or, in a comparison, the two runs' outputs for the same
prompt (the same case and sample index, hence the same seed and variables). Items are ordered so
that the ones most worth a human's minute come first: those where a judge and the format checks
disagree, then failing and passing outputs taken in turns (so a rater keeps seeing both kinds and
the rates per stratum fill evenly), each stratum in an order shuffled by the set's id, the same for
every rater so that overlapping ratings accumulate on the same items.
"""

from __future__ import annotations

import enum
import hashlib
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from promptcheck.results import CaseResult, CheckOutcome, SampleOutcome, Status
from promptcheck.run.judge_gates import DIAGNOSTIC_KEY
from promptcheck.store.reviews import ItemKey, ReviewSet


class Stratum(enum.StrEnum):
    """Why an item is where it is in the queue."""

    DISAGREEMENT = "disagreement"  # a judge and the format checks said different things
    FAILING = "failing"
    PASSING = "passing"


@dataclass(frozen=True)
class Shown:
    """One output as the review shows it, with the automatic verdicts kept for after rating."""

    key: ItemKey
    output: str
    output_sha256: str
    status: str
    checks: tuple[CheckOutcome, ...]
    #: Verdicts of judges below the calibration floor: (label, status, reason), diagnosis only.
    diagnostic: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class ReviewItem:
    """One thing to rate: a prompt and one output (a run) or two (a comparison)."""

    id: str
    suite: str
    suite_path: str
    case_id: str
    prompt: str
    variables: Mapping[str, Any]
    sides: tuple[Shown, ...]
    stratum: Stratum
    threshold: float
    tolerance: float

    @property
    def case_key(self) -> tuple[str, str]:
        return self.suite_path, self.case_id


def item_id(keys: Iterable[ItemKey]) -> str:
    """A short, stable, URL-safe id for an item."""
    text = "\0".join("\x1f".join(map(str, key)) for key in keys)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def judging_indexes(case: CaseResult) -> frozenset[int]:
    """The check indexes of a case's judges (those that gated and those that did not)."""
    found = {figures.index for figures in case.judges}
    found.update(int(entry["index"]) for entry in case.properties.get(DIAGNOSTIC_KEY) or ())
    return frozenset(found)


def diagnostic_verdicts(case: CaseResult) -> dict[int, list[tuple[int, str, str, str]]]:
    """Non-gating judges' verdicts by sample index: (check index, label, status, reason)."""
    found: dict[int, list[tuple[int, str, str, str]]] = {}
    for entry in case.properties.get(DIAGNOSTIC_KEY) or ():
        for sample, (status, reason) in (entry.get("verdicts") or {}).items():
            found.setdefault(int(sample), []).append(
                (int(entry["index"]), str(entry["label"]), str(status), str(reason))
            )
    return found


def disagrees(sample: SampleOutcome, judges: frozenset[int], extra: Sequence[str] = ()) -> bool:
    """Whether a judge said PASS where the format checks said FAIL, or the other way round.

    ``extra`` holds the statuses of judges that did not gate (kept apart from the sample)."""
    formats = [c.status for c in sample.checks if c.index not in judges]
    verdicts = [c.status.value for c in sample.checks if c.index in judges] + list(extra)
    if not formats or not verdicts:
        return False
    format_pass = Status.FAIL not in formats and Status.UNSCORED not in formats
    format_fail = Status.FAIL in formats
    return any(
        (verdict == "pass" and format_fail) or (verdict == "fail" and format_pass)
        for verdict in verdicts
    )


def build_items(
    review_set: ReviewSet,
    cases: Mapping[str, Sequence[CaseResult]],
    digests: Mapping[ItemKey, str],
) -> list[ReviewItem]:
    """The set's items in queue order. ``cases`` maps a run id to its case results and
    ``digests`` gives each sample's output SHA-256. Samples without an output (errors) are not
    rated; in a comparison only cases and samples both runs hold are."""
    first = {(c.suite_path, c.case_id): c for c in cases[review_set.run_a]}
    second = (
        {(c.suite_path, c.case_id): c for c in cases[review_set.run_b]}
        if review_set.run_b is not None
        else None
    )
    items = []
    for case_key, case in first.items():
        other = None
        if second is not None:
            other = second.get(case_key)
            if other is None:
                continue
        other_samples = {s.index: s for s in other.samples} if other is not None else {}
        for sample in case.samples:
            pair = [(review_set.run_a, case, sample)]
            if other is not None:
                match = other_samples.get(sample.index)
                if match is None:
                    continue
                pair.append((str(review_set.run_b), other, match))
            sides = [_shown(run, found, shown, digests) for run, found, shown in pair]
            if any(side is None for side in sides):
                continue
            shown_sides = tuple(side for side in sides if side is not None)
            items.append(
                ReviewItem(
                    id=item_id(side.key for side in shown_sides),
                    suite=case.suite,
                    suite_path=case.suite_path,
                    case_id=case.case_id,
                    prompt=sample.prompt,
                    variables=sample.variables,
                    sides=shown_sides,
                    stratum=_stratum(pair),
                    threshold=case.verdict.threshold,
                    tolerance=case.verdict.tolerance,
                )
            )
    return queue_order(items, review_set.id)


def _shown(
    run_id: str, case: CaseResult, sample: SampleOutcome, digests: Mapping[ItemKey, str]
) -> Shown | None:
    key = ItemKey(run_id, case.suite_path, case.case_id, case.model, sample.index)
    digest = digests.get(key)
    if sample.output is None or sample.status == "error" or digest is None:
        return None
    diagnostic = tuple(
        (label, status, reason)
        for _, label, status, reason in diagnostic_verdicts(case).get(sample.index, ())
    )
    return Shown(key, sample.output, digest, sample.status, sample.checks, diagnostic)


def sample_stratum(case: CaseResult, sample: SampleOutcome) -> Stratum:
    """The stratum of one output on its own (the queue of a run set puts it there)."""
    return _stratum([("", case, sample)])


def _stratum(pair: Sequence[tuple[str, CaseResult, SampleOutcome]]) -> Stratum:
    statuses = set()
    for _, case, sample in pair:
        judges = judging_indexes(case)
        extra = [status for _, _, status, _ in diagnostic_verdicts(case).get(sample.index, ())]
        if disagrees(sample, judges, extra):
            return Stratum.DISAGREEMENT
        statuses.add(sample.status)
    return Stratum.FAILING if "fail" in statuses else Stratum.PASSING


def queue_order(items: Sequence[ReviewItem], seed: str) -> list[ReviewItem]:
    """Disagreements first, then failing and passing items in turns; each stratum shuffled by
    ``seed`` (the set's id), so every rater of a set sees the same order."""
    rng = random.Random(hashlib.sha256(seed.encode("utf-8", "surrogatepass")).digest())
    strata: dict[Stratum, list[ReviewItem]] = {stratum: [] for stratum in Stratum}
    for item in items:
        strata[item.stratum].append(item)
    for members in strata.values():
        rng.shuffle(members)
    alternating = [
        item
        for pair in zip_longest(strata[Stratum.FAILING], strata[Stratum.PASSING])
        for item in pair
        if item is not None
    ]
    return strata[Stratum.DISAGREEMENT] + alternating


def side_order(rater: str, set_id: str, item: ReviewItem) -> tuple[int, ...]:
    """The order a rater sees a comparison's two outputs in: random, but fixed per rater and
    item (a reload shows the same), so that neither model is always on the left."""
    if len(item.sides) < 2:
        return tuple(range(len(item.sides)))
    digest = hashlib.sha256(
        f"{rater}\0{set_id}\0{item.id}".encode("utf-8", "surrogatepass")
    ).digest()
    return (1, 0) if digest[0] & 1 else (0, 1)
