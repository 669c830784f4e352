"""Review sets to files and back: every text exactly as it was, no cell a spreadsheet runs."""

from __future__ import annotations

import csv
import io

import pytest

from promptcheck.errors import StoreError
from promptcheck.review.transfer import export_csv, export_jsonl, read_review
from promptcheck.store.reviews import ItemKey, Rating, ReviewLock, ReviewSet, ratings_digest

NOTES = [
    None,
    '=HYPERLINK("http://x")',
    "'quoted already",
    "-1 + 2",
    "@cmd",
    "\ttabbed",
    "two\nlines, and a comma",
    'a "quote"',
    "naïve 🔥",
]


def ratings() -> list[Rating]:
    return [
        Rating(
            "comparison:r1:r2",
            ItemKey("r1" if i % 2 else "r2", "suites/a.yaml", "=case", "m", i),
            f"{i:064x}",
            "+alice" if i == 3 else "bob",
            "pass" if i % 3 else "fail",
            1_733_550_000.123456 + i / 7,
            label=None if i % 2 else "wrong-key",
            note=note,
        )
        for i, note in enumerate(NOTES)
    ]


SET = ReviewSet("comparison:r1:r2", "comparison", "r1", "r2", 3, 1_733_540_000.5)


@pytest.mark.parametrize("form", ["jsonl", "csv"])
def test_a_set_round_trips(form: str) -> None:
    original = ratings()
    text = (export_jsonl if form == "jsonl" else export_csv)(SET, original)
    review_set, found = read_review(text, form, "set.x")
    assert review_set == SET
    assert found == original
    assert ratings_digest(found) == ratings_digest(original)


def test_jsonl_carries_the_lock() -> None:
    lock = ReviewLock(SET.id, 5.0, "lead", 9, ratings_digest(ratings()))
    locked = ReviewSet(SET.id, SET.kind, SET.run_a, SET.run_b, SET.overlap, SET.created_at, lock)
    review_set, _ = read_review(export_jsonl(locked, ratings()), "jsonl", "x")
    assert review_set.lock == lock


def test_csv_cells_never_start_a_formula() -> None:
    rows = list(csv.reader(io.StringIO(export_csv(SET, ratings()))))
    header, body = rows[0], rows[1:]
    text_columns = [header.index(name) for name in ("case_id", "rater", "note", "label")]
    for row in body:
        for column in text_columns:
            assert not row[column].startswith(("=", "+", "-", "@", "\t")), row[column]
    assert body[1][header.index("note")] == '\'=HYPERLINK("http://x")'
    assert body[2][header.index("note")] == "''quoted already"


@pytest.mark.parametrize(
    ("text", "form", "message"),
    [
        ("", "jsonl", "empty file"),
        ('{"kind": "other"}\n', "jsonl", "not a promptcheck review export"),
        ('{"kind": "promptcheck.review", "format_version": 9}\n', "jsonl", "format 9"),
        ("set,run_id\nx,y\n", "csv", "missing column"),
        ("a\n", "xlsx", "unknown format 'xlsx'"),
    ],
)
def test_bad_files_are_refused_with_a_reason(text: str, form: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        read_review(text, form, "f")


def test_a_bad_verdict_is_refused() -> None:
    text = export_jsonl(SET, ratings()[:1]).replace('"verdict": "fail"', '"verdict": "maybe"')
    with pytest.raises(StoreError, match="verdict must be pass or fail"):
        read_review(text, "jsonl", "f")


@pytest.mark.parametrize("first_line", ["[1, 2]", "null", '"text"', "3"])
def test_a_jsonl_whose_lines_are_not_objects_is_refused_by_name(first_line: str) -> None:
    with pytest.raises(StoreError, match=r"f\.jsonl: not a promptcheck review export"):
        read_review(first_line + "\n", "jsonl", "f.jsonl")
    header = export_jsonl(ReviewSet("run:r1", "run", "r1", None, 2, 1.0), []).splitlines()[0]
    with pytest.raises(StoreError, match=r"f\.jsonl: line 2 is not a rating"):
        read_review(header + "\n" + first_line + "\n", "jsonl", "f.jsonl")


@pytest.mark.parametrize("when", ["1e400", "-1e400", "NaN", "Infinity"])
def test_a_rating_time_that_is_not_finite_is_refused(when: str) -> None:
    (rating,) = ratings()[:1]
    header, line = export_jsonl(
        ReviewSet("comparison:r1:r2", "comparison", "r1", "r2", 2, 1.0), [rating]
    ).splitlines()[:2]
    bad = line.replace(f'"created_at": {rating.created_at!r}', f'"created_at": {when}')
    assert bad != line
    with pytest.raises(StoreError, match="finite number of seconds"):
        read_review(header + "\n" + bad + "\n", "jsonl", "f.jsonl")
