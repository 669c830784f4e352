"""Human review in the store (schema 4): raters, review sets, ratings, locks, judge calibrations.

A rating names its sample by the sample's natural key (run, suite path, case, model, sample
index) and the digest of the output it saw, so it survives the case being recorded again and
can be exported to and imported into another store. Ratings are only ever added: a change of
mind is a new rating and the latest counts, and the file's own triggers refuse an update, a
delete, or a rating for a locked set. A lock records the SHA-256 of the canonical JSON of the
set's ratings, so that a later edit of the file (with the triggers dropped) is detected.

Every write is one ``BEGIN IMMEDIATE`` transaction that checks the lock and inserts together, so
two raters writing at once both land, and a rating racing a lock is either in the digest or
refused. :class:`ReviewRecords` is the review half of :class:`~promptcheck.store.database.Store`.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from promptcheck.errors import StoreError

Verdict = Literal["pass", "fail"]
SetKind = Literal["run", "comparison"]


class ItemKey(NamedTuple):
    """A sample by its natural key: what a rating is about."""

    run_id: str
    suite_path: str
    case_id: str
    model: str
    sample: int


@dataclass(frozen=True)
class Rater:
    """A named rater; ``can_log_in`` is False for one known only from an imported file."""

    id: int
    name: str
    can_log_in: bool
    created_at: float


@dataclass(frozen=True)
class ReviewLock:
    """A locked set: when, by whom, how many ratings, and the digest of those ratings."""

    set_id: str
    locked_at: float
    locked_by: str
    ratings: int
    digest: str


@dataclass(frozen=True)
class ReviewSet:
    """The items of one run (``kind`` run) or of two runs side by side (``kind`` comparison);
    ``overlap`` is how many raters each item should get."""

    id: str
    kind: SetKind
    run_a: str
    run_b: str | None
    overlap: int
    created_at: float
    lock: ReviewLock | None = None

    @property
    def runs(self) -> tuple[str, ...]:
        return (self.run_a,) if self.run_b is None else (self.run_a, self.run_b)


@dataclass(frozen=True)
class Rating:
    """One rater's verdict on one sample's output, at one time; never changed afterwards."""

    set_id: str
    item: ItemKey
    output_sha256: str
    rater: str
    verdict: Verdict
    created_at: float
    label: str | None = None
    note: str | None = None
    id: int | None = field(default=None, compare=False)

    def canonical(self) -> dict[str, Any]:
        """The rating as the lock's digest and the exports see it (no store-local id)."""
        return {
            "set": self.set_id,
            **self.item._asdict(),
            "output_sha256": self.output_sha256,
            "rater": self.rater,
            "verdict": self.verdict,
            "label": self.label,
            "note": self.note,
            "created_at": self.created_at,
        }

    @classmethod
    def from_canonical(cls, data: Mapping[str, Any]) -> Rating:
        """Read :meth:`canonical` back; raises KeyError, ValueError or TypeError when malformed."""
        verdict = data["verdict"]
        if verdict not in ("pass", "fail"):
            raise ValueError(f"verdict must be pass or fail, not {verdict!r}")
        return cls(
            set_id=str(data["set"]),
            item=ItemKey(
                str(data["run_id"]),
                str(data["suite_path"]),
                str(data["case_id"]),
                str(data["model"]),
                int(data["sample"]),
            ),
            output_sha256=str(data["output_sha256"]),
            rater=str(data["rater"]),
            verdict=verdict,
            created_at=finite_time(data["created_at"]),
            label=_optional_text(data.get("label")),
            note=_optional_text(data.get("note")),
        )


def finite_time(value: Any) -> float:
    """A time read from a file: a finite number of seconds (inf or nan would sort every other
    rating before it, or compare false with all of them)."""
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ValueError(f"a time must be a finite number of seconds, not {value!r}")
    return seconds


@dataclass(frozen=True)
class JudgeCalibrationRecord:
    """What the locked ratings say of one judging check of one case, and whether it gates."""

    suite: str
    case_id: str
    check_index: int
    judge: str
    label: str
    figures: Mapping[str, Any]
    gates: bool
    reason: str
    recorded_at: float


def _optional_text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def run_set_id(run_id: str) -> str:
    return f"run:{run_id}"


def comparison_set_id(run_a: str, run_b: str) -> str:
    return f"comparison:{run_a}:{run_b}"


def ratings_digest(ratings: Sequence[Rating]) -> str:
    """SHA-256 of the canonical JSON of ``ratings``: sorted keys, no spaces, ASCII, in the
    order of (time, rater, item), so that the same ratings give the same digest in any store."""
    records = sorted(
        (rating.canonical() for rating in ratings),
        key=lambda r: (r["created_at"], r["rater"], r["run_id"], r["suite_path"], r["case_id"],
                       r["model"], r["sample"], r["verdict"], r["label"] or "", r["note"] or ""),
    )  # fmt: skip
    text = json.dumps(records, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


_RATING_COLUMNS = (
    "r.id, r.set_id, r.run_id, r.suite_path, r.case_id, r.model, r.sample, r.output_sha256,"
    " t.name, r.verdict, r.label, r.note, r.created_at"
)


def _rating(row: Sequence[Any]) -> Rating:
    return Rating(
        set_id=row[1],
        item=ItemKey(row[2], row[3], row[4], row[5], row[6]),
        output_sha256=row[7],
        rater=row[8],
        verdict=row[9],
        label=row[10],
        note=row[11],
        created_at=row[12],
        id=row[0],
    )


class ReviewRecords:
    """The review half of the store: mixed into :class:`~promptcheck.store.database.Store`,
    whose connection, lock and transactions it uses."""

    path: Path

    def _transaction(
        self, action: str, mode: str = "IMMEDIATE"
    ) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # provided by Store

    # -- raters -------------------------------------------------------------------------------

    def save_rater(self, name: str, token_sha256: str | None, created_at: float) -> Rater:
        """Add a rater, or give an existing one a new token (the old one stops working);
        ``token_sha256`` None keeps the token a rater has (an import names raters only)."""
        if not name.strip():
            raise StoreError(f"{self.path}: a rater needs a name")
        with self._transaction(f"saving rater {name!r}") as connection:
            connection.execute(
                "INSERT INTO raters (name, token_sha256, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET"
                " token_sha256 = coalesce(excluded.token_sha256, raters.token_sha256)",
                (name, token_sha256, created_at),
            )
            return _rater(
                connection.execute(
                    "SELECT id, name, token_sha256, created_at FROM raters WHERE name = ?", (name,)
                ).fetchone()
            )

    def raters(self) -> list[Rater]:
        with self._transaction("listing raters", "DEFERRED") as connection:
            rows = connection.execute(
                "SELECT id, name, token_sha256, created_at FROM raters ORDER BY name"
            ).fetchall()
        return [_rater(row) for row in rows]

    def rater_for_token(self, token_sha256: str) -> Rater | None:
        """The rater whose token hashes to ``token_sha256`` (tokens themselves are not kept)."""
        with self._transaction("looking up a rater", "DEFERRED") as connection:
            row = connection.execute(
                "SELECT id, name, token_sha256, created_at FROM raters WHERE token_sha256 = ?",
                (token_sha256,),
            ).fetchone()
        return None if row is None else _rater(row)

    # -- review sets --------------------------------------------------------------------------

    def open_review_set(
        self,
        kind: SetKind,
        run_a: str,
        run_b: str | None,
        overlap: int,
        created_at: float,
    ) -> ReviewSet:
        """The review set of a run or of a comparison, created on first use (its overlap is
        then kept: raters already worked to it)."""
        if overlap < 1:
            raise StoreError(f"{self.path}: the overlap of a review set is at least 1")
        set_id = run_set_id(run_a) if run_b is None else comparison_set_id(run_a, run_b)
        with self._transaction(f"opening review set {set_id!r}") as connection:
            for run in (run_a, run_b):
                if (
                    run is not None
                    and connection.execute("SELECT 1 FROM runs WHERE id = ?", (run,)).fetchone()
                    is None
                ):
                    raise StoreError(f"{self.path}: no run {run!r} to review")
            connection.execute(
                "INSERT OR IGNORE INTO review_sets (id, kind, run_a, run_b, overlap, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (set_id, kind, run_a, run_b, overlap, created_at),
            )
            return _review_sets(connection, set_id)[0]

    def review_sets(self) -> list[ReviewSet]:
        """Every review set, newest first."""
        with self._transaction("listing review sets", "DEFERRED") as connection:
            return _review_sets(connection, None)

    def review_set(self, set_id: str) -> ReviewSet:
        with self._transaction(f"reading review set {set_id!r}", "DEFERRED") as connection:
            found = _review_sets(connection, set_id)
        if not found:
            raise StoreError(f"{self.path}: no review set {set_id!r}")
        return found[0]

    # -- ratings ------------------------------------------------------------------------------

    def add_ratings(self, ratings: Sequence[Rating]) -> list[Rating]:
        """Store ratings (the two sides of a comparison item together) in one transaction, with
        the check that their set is not locked; their raters must exist. Returns them with
        their ids."""
        if not ratings:
            return []
        what = f"recording {len(ratings)} rating(s) in {ratings[0].set_id!r}"
        with self._transaction(what) as connection:
            return [_insert_rating(connection, self.path, rating) for rating in ratings]

    def ratings(self, set_id: str | None = None) -> list[Rating]:
        """The ratings of one set (or of every set), oldest first."""
        where, params = ("WHERE r.set_id = ?", (set_id,)) if set_id is not None else ("", ())
        with self._transaction("reading ratings", "DEFERRED") as connection:
            rows = connection.execute(
                f"SELECT {_RATING_COLUMNS} FROM ratings AS r JOIN raters AS t"
                f" ON t.id = r.rater_id {where} ORDER BY r.created_at, r.id",
                params,
            ).fetchall()
        return [_rating(row) for row in rows]

    # -- locks --------------------------------------------------------------------------------

    def lock_review_set(self, set_id: str, locked_by: str, locked_at: float) -> ReviewLock:
        """Lock a set: no further ratings; the digest of its ratings is kept. Locking a locked
        set is refused (the first lock's digest stays the record)."""
        with self._transaction(f"locking review set {set_id!r}") as connection:
            if not _review_sets(connection, set_id):
                raise StoreError(f"{self.path}: no review set {set_id!r}")
            if _lock(connection, set_id) is not None:
                raise StoreError(f"{self.path}: review set {set_id!r} is locked already")
            ratings = _set_ratings(connection, set_id)
            lock = ReviewLock(set_id, locked_at, locked_by, len(ratings), ratings_digest(ratings))
            connection.execute(
                "INSERT INTO review_locks (set_id, locked_at, locked_by, ratings, digest)"
                " VALUES (?, ?, ?, ?, ?)",
                (lock.set_id, lock.locked_at, lock.locked_by, lock.ratings, lock.digest),
            )
        return lock

    def current_digest(self, set_id: str) -> tuple[int, str]:
        """(ratings, digest) of a set's ratings as they are now, to set against its lock."""
        with self._transaction(f"reading review set {set_id!r}", "DEFERRED") as connection:
            ratings = _set_ratings(connection, set_id)
        return len(ratings), ratings_digest(ratings)

    def import_review(
        self, review_set: ReviewSet, ratings: Sequence[Rating], created_at: float
    ) -> int:
        """Take in an exported set: the set (created if missing), its raters (by name, without
        tokens), the ratings not already here, and its lock, whose digest must match the
        ratings. All or nothing, in one transaction. Returns how many ratings were added."""
        with self._transaction(f"importing review set {review_set.id!r}") as connection:
            for run in review_set.runs:
                if connection.execute("SELECT 1 FROM runs WHERE id = ?", (run,)).fetchone() is None:
                    raise StoreError(
                        f"{self.path}: the review set {review_set.id!r} rates run {run!r}, which "
                        "this store does not hold; import into the store that recorded it"
                    )
            connection.execute(
                "INSERT OR IGNORE INTO review_sets (id, kind, run_a, run_b, overlap, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    review_set.id,
                    review_set.kind,
                    review_set.run_a,
                    review_set.run_b,
                    review_set.overlap,
                    review_set.created_at,
                ),
            )
            existing = {_identity(r) for r in _set_ratings(connection, review_set.id)}
            added = 0
            for rating in ratings:
                if rating.set_id != review_set.id:
                    raise StoreError(
                        f"{self.path}: a rating of set {rating.set_id!r} in the file of set "
                        f"{review_set.id!r}"
                    )
                if _identity(rating) in existing:
                    continue
                connection.execute(
                    "INSERT OR IGNORE INTO raters (name, token_sha256, created_at)"
                    " VALUES (?, NULL, ?)",
                    (rating.rater, created_at),
                )
                _insert_rating(connection, self.path, rating)
                added += 1
            lock = review_set.lock
            here = _lock(connection, review_set.id)
            if lock is not None and here is None:
                stored = _set_ratings(connection, review_set.id)
                digest = ratings_digest(stored)
                if digest != lock.digest or len(stored) != lock.ratings:
                    raise StoreError(
                        f"{self.path}: the file's lock of {review_set.id!r} does not match its "
                        f"ratings ({len(stored)} ratings, digest {digest[:12]}; the lock says "
                        f"{lock.ratings}, {lock.digest[:12]}): the file was changed after the lock"
                    )
                connection.execute(
                    "INSERT INTO review_locks (set_id, locked_at, locked_by, ratings, digest)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (lock.set_id, lock.locked_at, lock.locked_by, lock.ratings, lock.digest),
                )
        return added

    # -- what was rated -----------------------------------------------------------------------

    def output_digests(self, run_id: str) -> dict[ItemKey, str]:
        """The SHA-256 of each sample's full output in a run (samples with an output only)."""
        with self._transaction(f"reading the outputs of run {run_id!r}", "DEFERRED") as connection:
            rows = connection.execute(
                "SELECT c.suite_path, c.case_id, c.model, s.idx, t.sha256 FROM samples AS s"
                " JOIN cases AS c ON c.id = s.case_pk JOIN texts AS t ON t.id = s.output_id"
                " WHERE c.run_id = ?",
                (run_id,),
            ).fetchall()
        return {ItemKey(run_id, row[0], row[1], row[2], row[3]): row[4] for row in rows}

    # -- judge calibrations -------------------------------------------------------------------

    def record_judge_calibrations(self, records: Sequence[JudgeCalibrationRecord]) -> None:
        """Replace the recorded calibration of each judging check given."""
        with self._transaction("recording judge calibrations") as connection:
            connection.executemany(
                "INSERT OR REPLACE INTO judge_calibrations (suite, case_id, check_index, judge,"
                " label, figures, gates, reason, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.suite,
                        r.case_id,
                        r.check_index,
                        r.judge,
                        r.label,
                        json.dumps(dict(r.figures), separators=(",", ":"), default=str),
                        int(r.gates),
                        r.reason,
                        r.recorded_at,
                    )
                    for r in records
                ],
            )

    def judge_calibrations(self) -> list[JudgeCalibrationRecord]:
        with self._transaction("reading judge calibrations", "DEFERRED") as connection:
            rows = connection.execute(
                "SELECT suite, case_id, check_index, judge, label, figures, gates, reason,"
                " recorded_at FROM judge_calibrations ORDER BY suite, case_id, check_index, judge"
            ).fetchall()
        return [
            JudgeCalibrationRecord(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                json.loads(row[5]),
                bool(row[6]),
                row[7],
                row[8],
            )
            for row in rows
        ]

    def ungated_judges(self, suite: str, case_id: str) -> dict[tuple[int, str], str]:
        """The judging checks of a case whose recorded calibration is below the floor, by
        (check index, judge), with why: their verdicts are reported, and do not gate."""
        with self._transaction("reading judge calibrations", "DEFERRED") as connection:
            rows = connection.execute(
                "SELECT check_index, judge, reason FROM judge_calibrations"
                " WHERE suite = ? AND case_id = ? AND gates = 0",
                (suite, case_id),
            ).fetchall()
        return {(row[0], row[1]): row[2] for row in rows}


def _identity(rating: Rating) -> str:
    """A rating as an import compares it: everything but the store-local id."""
    return json.dumps(rating.canonical(), sort_keys=True)


def _rater(row: Sequence[Any]) -> Rater:
    return Rater(row[0], row[1], row[2] is not None, row[3])


def _lock(connection: sqlite3.Connection, set_id: str) -> ReviewLock | None:
    row = connection.execute(
        "SELECT set_id, locked_at, locked_by, ratings, digest FROM review_locks WHERE set_id = ?",
        (set_id,),
    ).fetchone()
    return None if row is None else ReviewLock(*tuple(row))


def _review_sets(connection: sqlite3.Connection, set_id: str | None) -> list[ReviewSet]:
    where, params = ("WHERE s.id = ?", (set_id,)) if set_id is not None else ("", ())
    rows = connection.execute(
        "SELECT s.id, s.kind, s.run_a, s.run_b, s.overlap, s.created_at, l.locked_at,"
        " l.locked_by, l.ratings, l.digest FROM review_sets AS s"
        f" LEFT JOIN review_locks AS l ON l.set_id = s.id {where}"
        " ORDER BY s.created_at DESC, s.id",
        params,
    ).fetchall()
    return [
        ReviewSet(
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            None if row[6] is None else ReviewLock(row[0], row[6], row[7], row[8], row[9]),
        )
        for row in rows
    ]


def _set_ratings(connection: sqlite3.Connection, set_id: str) -> list[Rating]:
    return [
        _rating(row)
        for row in connection.execute(
            f"SELECT {_RATING_COLUMNS} FROM ratings AS r JOIN raters AS t ON t.id = r.rater_id"
            " WHERE r.set_id = ? ORDER BY r.created_at, r.id",
            (set_id,),
        )
    ]


def _insert_rating(connection: sqlite3.Connection, path: Path, rating: Rating) -> Rating:
    if _lock(connection, rating.set_id) is not None:
        raise StoreError(f"{path}: review set {rating.set_id!r} is locked: it takes no ratings")
    rater = connection.execute("SELECT id FROM raters WHERE name = ?", (rating.rater,)).fetchone()
    if rater is None:
        raise StoreError(f"{path}: no rater {rating.rater!r}")
    if not _review_sets(connection, rating.set_id):
        raise StoreError(f"{path}: no review set {rating.set_id!r}")
    row_id = connection.execute(
        "INSERT INTO ratings (set_id, run_id, suite_path, case_id, model, sample, output_sha256,"
        " rater_id, verdict, label, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            rating.set_id,
            *rating.item,
            rating.output_sha256,
            rater[0],
            rating.verdict,
            rating.label,
            rating.note,
            rating.created_at,
        ),
    ).lastrowid
    return Rating(
        rating.set_id,
        rating.item,
        rating.output_sha256,
        rating.rater,
        rating.verdict,
        rating.created_at,
        rating.label,
        rating.note,
        row_id,
    )
