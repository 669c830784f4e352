"""What the ratings say: each item's human label, each case's human conformance rate, the raters'
agreement, and how many more ratings a case needs.

**The human label of a sample** is the majority of its raters' *latest* ratings: a rater who
changed their mind counts once, with their last word; a tie between raters gives no label (the
item is counted as split and left out of the rates, like an unscored sample). A rating made on an
output that is no longer the sample's (the case was recorded again with other outputs) is stale
and is left out.

The queue rates some kinds of output before others (disagreements, then failing and passing in
turns), so the rated outputs are no simple random sample: the human rate of a case weights each
stratum by its share of the case's outputs, and is decided against the case's own threshold and
tolerance with anytime-valid bounds (:mod:`promptcheck.stats.stratified`), which stay valid
however often the page is read; :func:`~promptcheck.stats.stratified.labels_needed` says how many
more outputs, labelled in queue order, would decide it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from promptcheck.review.items import ReviewItem, Stratum
from promptcheck.stats.agreement import (
    Estimate,
    binary_table,
    cohen_kappa,
    krippendorff_alpha,
    majority,
)
from promptcheck.stats.stratified import (
    StratifiedVerdict,
    StratumCount,
    labels_needed,
    stratified_verdict,
)
from promptcheck.store.reviews import ItemKey, Rating

#: Latest verdict (True: pass) of each rater, per sample.
Latest = dict[ItemKey, dict[str, bool]]


def latest_verdicts(ratings: Sequence[Rating], digests: Mapping[ItemKey, str]) -> Latest:
    """Each rater's last verdict on each sample whose output is still the one rated."""
    ordered = sorted(ratings, key=lambda r: (r.created_at, r.id or 0))
    latest: Latest = {}
    for rating in ordered:
        if digests.get(rating.item) != rating.output_sha256:
            continue
        latest.setdefault(rating.item, {})[rating.rater] = rating.verdict == "pass"
    return latest


def human_labels(latest: Latest) -> dict[ItemKey, bool | None]:
    """The majority of each sample's raters (None: a tie)."""
    return {item: majority(verdicts.values()) for item, verdicts in latest.items()}


def labels_of(latest: Latest, key: ItemKey) -> bool | None:
    """One sample's human label (None: unrated, or a tie)."""
    verdicts = latest.get(key)
    return majority(verdicts.values()) if verdicts else None


@dataclass(frozen=True)
class CaseFigures:
    """The human verdict on one case of one run, and what it would take to decide it."""

    run_id: str
    suite_path: str
    case_id: str
    items: int
    rated: int
    split: int
    passed: int
    verdict: StratifiedVerdict
    #: More outputs to label, in queue order, that would decide the verdict if each passed at
    #: its stratum's rate so far (0: decided; None: a stratum unlabelled, or not decidable
    #: from the outputs left).
    needed: int | None
    #: Each stratum of the queue with its outputs, labelled and passing ones.
    strata: tuple[tuple[Stratum, StratumCount], ...] = ()

    @property
    def labelled(self) -> int:
        return self.verdict.labelled

    @property
    def unrated(self) -> int:
        return self.items - self.rated


def case_figures(items: Sequence[ReviewItem], latest: Latest) -> list[CaseFigures]:
    """Per case and run (each side of a comparison is its own run): items, ratings, the human
    rate weighted by the queue's strata (:mod:`promptcheck.stats.stratified`) with its anytime
    verdict, and the outputs still to label. ``items`` are in queue order."""
    groups: dict[tuple[str, str, str], list[tuple[ItemKey, ReviewItem]]] = {}
    for item in items:
        for side in item.sides:
            key = (side.key.run_id, item.suite_path, item.case_id)
            groups.setdefault(key, []).append((side.key, item))
    order = list(Stratum)
    figures = []
    for (run_id, suite_path, case_id), members in groups.items():
        first = members[0][1]
        labels = [labels_of(latest, key) for key, _ in members]
        rated = sum(1 for key, _ in members if key in latest)
        split = sum(1 for key, _ in members if key in latest and labels_of(latest, key) is None)
        passed = sum(1 for label in labels if label is True)
        counts = {stratum: [0, 0, 0] for stratum in order}  # outputs, labelled, passed
        queue = []
        for (sample, item), label in zip(members, labels, strict=True):
            cell = counts[item.stratum]
            cell[0] += 1
            if label is not None:
                cell[1] += 1
                cell[2] += label
            elif sample not in latest:
                queue.append(order.index(item.stratum))
        strata = [StratumCount(*counts[stratum]) for stratum in order]
        verdict = stratified_verdict(strata, first.threshold, first.tolerance)
        needed = labels_needed(strata, queue, first.threshold, first.tolerance)
        figures.append(
            CaseFigures(
                run_id,
                suite_path,
                case_id,
                len(members),
                rated,
                split,
                passed,
                verdict,
                needed,
                tuple(
                    (stratum, count)
                    for stratum, count in zip(order, strata, strict=True)
                    if count.size
                ),
            )
        )
    return sorted(figures, key=lambda f: (f.suite_path, f.case_id, f.run_id))


@dataclass(frozen=True)
class Agreement:
    """How far the raters agree with each other: Cohen's kappa when exactly two raters rated
    (on the items both rated), Krippendorff's alpha (nominal) when more did."""

    method: str
    raters: tuple[str, ...]
    estimate: Estimate
    #: The share of pairable items on which every rater gave the same verdict.
    unanimous: float | None


def rater_agreement(latest: Latest) -> Agreement | None:
    """The agreement of the raters over the items at least two of them rated; None when no item
    was rated twice."""
    raters = tuple(sorted({rater for verdicts in latest.values() for rater in verdicts}))
    shared = [verdicts for verdicts in latest.values() if len(verdicts) >= 2]
    if not shared:
        return None
    unanimous = sum(1 for v in shared if len(set(v.values())) == 1) / len(shared)
    if len(raters) == 2:
        first, second = raters
        pairs = [(v[first], v[second]) for v in shared]
        return Agreement("cohen_kappa", raters, cohen_kappa(binary_table(pairs)), unanimous)
    units = [list(v.values()) for v in latest.values()]
    return Agreement("krippendorff_alpha", raters, krippendorff_alpha(units), unanimous)


@dataclass(frozen=True)
class Progress:
    """How far a set is: items, those with at least one rating, those with ``overlap`` raters,
    and what one rater has done."""

    items: int
    started: int
    complete: int
    overlap: int
    mine: int


def progress(
    items: Sequence[ReviewItem], raters_of: Mapping[str, set[str]], overlap: int, rater: str
) -> Progress:
    """``raters_of`` maps an item id to the raters who rated it."""
    started = complete = mine = 0
    for item in items:
        who = raters_of.get(item.id, set())
        started += bool(who)
        complete += len(who) >= overlap
        mine += rater in who
    return Progress(len(items), started, complete, overlap, mine)


def raters_by_item(items: Sequence[ReviewItem], ratings: Sequence[Rating]) -> dict[str, set[str]]:
    """Who rated each item (an item of a comparison counts as rated once its first side is)."""
    first_side = {item.sides[0].key: item.id for item in items}
    found: dict[str, set[str]] = {}
    for rating in ratings:
        item = first_side.get(rating.item)
        if item is not None:
            found.setdefault(item, set()).add(rating.rater)
    return found
