"""A review set as a file: JSON Lines (the set, its lock and every rating) or CSV (a row per
rating, for a spreadsheet), and back.

JSONL is the faithful form: its first line is a header (``kind``, ``format_version``, the set
and its lock), then one rating per line, each exactly as the lock's digest sees it, so an import
verifies the lock against the ratings it brings. CSV holds the ratings and the set's columns on
every row, but no lock: a CSV import is an unlocked set. A spreadsheet runs a cell that starts
with ``=``, ``+``, ``-``, ``@`` (and some with a tab or carriage return): such a text cell is
written with a leading ``'``, as is one that starts with ``'`` itself, and the import takes one
leading ``'`` off, so every text comes back as it was and none runs as a formula.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from promptcheck.errors import StoreError
from promptcheck.store.reviews import Rating, ReviewLock, ReviewSet, finite_time

KIND = "promptcheck.review"
FORMAT_VERSION = 1
FORMATS = ("jsonl", "csv")

_SET_COLUMNS = ("set_kind", "set_run_a", "set_run_b", "set_overlap", "set_created_at")
_RATING_COLUMNS = (
    "set",
    "run_id",
    "suite_path",
    "case_id",
    "model",
    "sample",
    "output_sha256",
    "rater",
    "verdict",
    "label",
    "note",
    "created_at",
)
_TEXT_COLUMNS = frozenset(
    {"set", "run_id", "suite_path", "case_id", "model", "rater", "label", "note", "set_run_a",
     "set_run_b"}
)  # fmt: skip
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def _set_dict(review_set: ReviewSet) -> dict[str, Any]:
    return {
        "id": review_set.id,
        "kind": review_set.kind,
        "run_a": review_set.run_a,
        "run_b": review_set.run_b,
        "overlap": review_set.overlap,
        "created_at": review_set.created_at,
    }


def export_jsonl(review_set: ReviewSet, ratings: Sequence[Rating]) -> str:
    lock = review_set.lock
    header = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "set": _set_dict(review_set),
        "lock": None if lock is None else {
            "locked_at": lock.locked_at,
            "locked_by": lock.locked_by,
            "ratings": lock.ratings,
            "digest": lock.digest,
        },
    }  # fmt: skip
    lines = [json.dumps(header, ensure_ascii=False, sort_keys=True)]
    lines.extend(
        json.dumps(rating.canonical(), ensure_ascii=False, sort_keys=True) for rating in ratings
    )
    return "\n".join(lines) + "\n"


def export_csv(review_set: ReviewSet, ratings: Sequence[Rating]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((*_RATING_COLUMNS, *_SET_COLUMNS))
    set_values = {
        "set_kind": review_set.kind,
        "set_run_a": review_set.run_a,
        "set_run_b": review_set.run_b,
        "set_overlap": review_set.overlap,
        "set_created_at": review_set.created_at,
    }
    for rating in ratings:
        row = {**rating.canonical(), **set_values}
        writer.writerow(_cell(name, row[name]) for name in (*_RATING_COLUMNS, *_SET_COLUMNS))
    return out.getvalue()


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float
    text = str(value)
    if name in _TEXT_COLUMNS and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def _uncell(name: str, text: str) -> str | None:
    if name in _TEXT_COLUMNS and text.startswith("'"):
        return text[1:]
    return text or None


def read_review(text: str, form: str, where: str) -> tuple[ReviewSet, list[Rating]]:
    """Parse an exported file (``form`` jsonl or csv); ``where`` names it in errors."""
    try:
        if form == "jsonl":
            return _read_jsonl(text, where)
        if form == "csv":
            return _read_csv(text, where)
    except (KeyError, ValueError, TypeError) as exc:
        raise StoreError(f"{where}: not a promptcheck review export: {exc!r}") from None
    raise StoreError(f"{where}: unknown format {form!r}; use one of {', '.join(FORMATS)}")


def _read_jsonl(text: str, where: str) -> tuple[ReviewSet, list[Rating]]:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise StoreError(f"{where}: empty file")
    header = json.loads(lines[0])
    if not isinstance(header, dict):
        raise StoreError(f"{where}: not a promptcheck review export (its first line is no object)")
    if header.get("kind") != KIND:
        raise StoreError(f"{where}: not a promptcheck review export (kind {header.get('kind')!r})")
    if header.get("format_version") != FORMAT_VERSION:
        raise StoreError(
            f"{where}: review export format {header.get('format_version')!r}; this promptcheck "
            f"reads format {FORMAT_VERSION}"
        )
    review_set = _review_set(header["set"], header.get("lock"))
    ratings = []
    for number, line in enumerate(lines[1:], start=2):
        data = json.loads(line)
        if not isinstance(data, dict):
            raise StoreError(f"{where}: line {number} is not a rating (a JSON object)")
        ratings.append(Rating.from_canonical(data))
    return review_set, ratings


def _review_set(data: Mapping[str, Any], lock: Mapping[str, Any] | None) -> ReviewSet:
    kind = data["kind"]
    if kind not in ("run", "comparison"):
        raise ValueError(f"set kind {kind!r}")
    return ReviewSet(
        id=str(data["id"]),
        kind=kind,
        run_a=str(data["run_a"]),
        run_b=None if data.get("run_b") is None else str(data["run_b"]),
        overlap=int(data["overlap"]),
        created_at=finite_time(data["created_at"]),
        lock=None
        if lock is None
        else ReviewLock(
            str(data["id"]),
            finite_time(lock["locked_at"]),
            str(lock["locked_by"]),
            int(lock["ratings"]),
            str(lock["digest"]),
        ),
    )


def _read_csv(text: str, where: str) -> tuple[ReviewSet, list[Rating]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise StoreError(f"{where}: no ratings in the file")
    missing = [c for c in (*_RATING_COLUMNS, *_SET_COLUMNS) if c not in rows[0]]
    if missing:
        raise StoreError(f"{where}: missing column(s) {', '.join(missing)}")
    parsed = [{name: _uncell(name, value or "") for name, value in row.items()} for row in rows]
    first = parsed[0]
    review_set = _review_set(
        {
            "id": first["set"],
            "kind": first["set_kind"],
            "run_a": first["set_run_a"],
            "run_b": first["set_run_b"],
            "overlap": first["set_overlap"],
            "created_at": first["set_created_at"],
        },
        None,
    )
    return review_set, [Rating.from_canonical(row) for row in parsed]
