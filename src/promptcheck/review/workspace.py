"""The review over one store: sets, their items and queue, ratings, locks, and the figures.

The web app and the command line both go through :class:`ReviewWorkspace`, so a rating made in
a browser and one imported from a file are the same record, and a lock taken from the command
line stops the browser at once (the store refuses, whoever asks). A finished run never changes,
so its cases are read once and kept; a run still being recorded is read again each time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from promptcheck.config import DEFAULT_REVIEW_OVERLAP, JudgeFloor
from promptcheck.errors import StoreError
from promptcheck.results import CaseResult
from promptcheck.review.calibration import CalibrationRow, record_calibration, store_calibration
from promptcheck.review.figures import (
    Agreement,
    CaseFigures,
    Progress,
    case_figures,
    latest_verdicts,
    progress,
    rater_agreement,
    raters_by_item,
)
from promptcheck.review.items import ReviewItem, build_items, side_order
from promptcheck.store import RunSummary, Store
from promptcheck.store.reviews import (
    ItemKey,
    Rating,
    ReviewLock,
    ReviewSet,
    SetKind,
    Verdict,
    run_set_id,
)

#: Longest label and note a rater may give, in characters.
MAX_LABEL_CHARS = 100
MAX_NOTE_CHARS = 4_000


@dataclass(frozen=True)
class LockCheck:
    """A locked set's digest as recorded, and as its ratings give it now."""

    lock: ReviewLock
    ratings_now: int
    digest_now: str

    @property
    def intact(self) -> bool:
        return self.digest_now == self.lock.digest and self.ratings_now == self.lock.ratings


@dataclass(frozen=True)
class SetOverview:
    """Everything the set's page shows above the queue."""

    review_set: ReviewSet
    progress: Progress
    cases: tuple[CaseFigures, ...]
    agreement: Agreement | None
    calibration: tuple[CalibrationRow, ...]
    lock_check: LockCheck | None
    labels: tuple[str, ...]


class ReviewWorkspace:
    """Review sets over a store, for one process (the web app's handlers share it)."""

    def __init__(
        self,
        store: Store,
        *,
        floor: JudgeFloor | None = None,
        overlap: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.floor = floor or JudgeFloor()
        self.overlap = overlap or DEFAULT_REVIEW_OVERLAP
        self.clock = clock
        self._lock = threading.Lock()
        self._cases: dict[str, list[CaseResult]] = {}
        self._digests: dict[str, dict[ItemKey, str]] = {}
        self._items: dict[str, list[ReviewItem]] = {}

    # -- runs and sets ------------------------------------------------------------------------

    def runs(self, limit: int = 50) -> list[RunSummary]:
        return self.store.runs(limit)

    def sets(self) -> list[ReviewSet]:
        return self.store.review_sets()

    def open_set(self, run_a: str, run_b: str | None = None) -> ReviewSet:
        """The review set of a run (or of two runs compared), created on first use; run
        references may be ids, id prefixes or labels."""
        first = self.store.run(run_a).id
        second = self.store.run(run_b).id if run_b else None
        if second == first:
            raise StoreError("a comparison needs two different runs")
        kind: SetKind = "run" if second is None else "comparison"
        return self.store.open_review_set(kind, first, second, self.overlap, self.clock())

    def review_set(self, ref: str) -> ReviewSet:
        """A set by its id, or the set of a run named by id, prefix or label."""
        known = {s.id: s for s in self.sets()}
        if ref in known:
            return known[ref]
        run = self.store.run(ref)
        found = known.get(run_set_id(run.id))
        if found is None:
            raise StoreError(f"run {run.id!r} has no review set yet; open it with the review page")
        return found

    # -- items --------------------------------------------------------------------------------

    def case_results(self, run_id: str) -> list[CaseResult]:
        with self._lock:
            cached = self._cases.get(run_id)
        if cached is not None:
            return cached
        results = self.store.case_results(run_id)
        if self.store.run(run_id).finished_at is not None:
            with self._lock:
                self._cases[run_id] = results
        return results

    def digests(self, run_id: str) -> dict[ItemKey, str]:
        with self._lock:
            cached = self._digests.get(run_id)
        if cached is not None:
            return cached
        found = self.store.output_digests(run_id)
        if self.store.run(run_id).finished_at is not None:
            with self._lock:
                self._digests[run_id] = found
        return found

    def items(self, review_set: ReviewSet) -> list[ReviewItem]:
        with self._lock:
            cached = self._items.get(review_set.id)
        if cached is not None:
            return cached
        cases = {run: self.case_results(run) for run in review_set.runs}
        digests: dict[ItemKey, str] = {}
        for run in review_set.runs:
            digests.update(self.digests(run))
        found = build_items(review_set, cases, digests)
        if all(run in self._cases for run in review_set.runs):
            with self._lock:
                self._items[review_set.id] = found
        return found

    def item(self, review_set: ReviewSet, item_id: str) -> ReviewItem | None:
        return next((item for item in self.items(review_set) if item.id == item_id), None)

    def next_item(
        self, review_set: ReviewSet, rater: str, case: tuple[str, str] | None = None
    ) -> ReviewItem | None:
        """The rater's next item: the first in queue order (of ``case`` only, when given) that
        they have not rated and that has fewer than ``overlap`` raters; None when none is left."""
        raters_of = raters_by_item(self.items(review_set), self.store.ratings(review_set.id))
        for item in self.items(review_set):
            if case is not None and item.case_key != case:
                continue
            who = raters_of.get(item.id, set())
            if rater not in who and len(who) < review_set.overlap:
                return item
        return None

    # -- ratings ------------------------------------------------------------------------------

    def rate(
        self,
        review_set: ReviewSet,
        item: ReviewItem,
        rater: str,
        verdicts: Sequence[Verdict],
        label: str | None = None,
        note: str | None = None,
    ) -> list[Rating]:
        """Record a rater's verdict on each side of an item (in the item's side order), all in
        one transaction; a locked set refuses (StoreError)."""
        if len(verdicts) != len(item.sides):
            raise StoreError(f"an item with {len(item.sides)} output(s) needs as many verdicts")
        label = (label or "").strip()[:MAX_LABEL_CHARS] or None
        note = (note or "").strip()[:MAX_NOTE_CHARS] or None
        now = self.clock()
        ratings = [
            Rating(review_set.id, side.key, side.output_sha256, rater, verdict, now, label, note)
            for side, verdict in zip(item.sides, verdicts, strict=True)
        ]
        return self.store.add_ratings(ratings)

    def my_ratings(self, review_set: ReviewSet, item: ReviewItem, rater: str) -> list[Rating]:
        """The rater's ratings of an item's sides, oldest first."""
        keys = {side.key for side in item.sides}
        return [
            rating
            for rating in self.store.ratings(review_set.id)
            if rating.rater == rater and rating.item in keys
        ]

    def sides_for(self, review_set: ReviewSet, item: ReviewItem, rater: str) -> tuple[int, ...]:
        return side_order(rater, review_set.id, item)

    # -- figures ------------------------------------------------------------------------------

    def progress(self, review_set: ReviewSet, rater: str) -> Progress:
        items = self.items(review_set)
        ratings = self.store.ratings(review_set.id)
        return progress(items, raters_by_item(items, ratings), review_set.overlap, rater)

    def overview(self, review_set: ReviewSet, rater: str) -> SetOverview:
        items = self.items(review_set)
        ratings = self.store.ratings(review_set.id)
        digests: dict[ItemKey, str] = {}
        for run in review_set.runs:
            digests.update(self.digests(run))
        latest = latest_verdicts(ratings, digests)
        calibration = store_calibration(
            self.store, self.floor, review_set.runs, case_results=self.case_results
        )
        labels = sorted({r.label for r in ratings if r.label})
        return SetOverview(
            review_set,
            progress(items, raters_by_item(items, ratings), review_set.overlap, rater),
            tuple(case_figures(items, latest)),
            rater_agreement(latest),
            tuple(calibration),
            self.check_lock(review_set),
            tuple(labels),
        )

    # -- locks --------------------------------------------------------------------------------

    def lock(self, review_set: ReviewSet, by: str) -> ReviewLock:
        """Lock the set, then record every judge's calibration from the locked ratings (which
        decides, against the floor, whether each judge's verdicts gate in later runs)."""
        lock = self.store.lock_review_set(review_set.id, by, self.clock())
        self.calibrate()
        return lock

    def calibrate(self) -> list[CalibrationRow]:
        """Record the calibration of every judge from the locked ratings, against the floor."""
        record_calibration(self.store, self.floor, self.clock(), self.case_results)
        return store_calibration(
            self.store, self.floor, locked_only=True, case_results=self.case_results
        )

    def check_lock(self, review_set: ReviewSet) -> LockCheck | None:
        """The set's lock set against its ratings now (None: not locked)."""
        current = self.store.review_set(review_set.id)
        if current.lock is None:
            return None
        count, digest = self.store.current_digest(review_set.id)
        return LockCheck(current.lock, count, digest)
