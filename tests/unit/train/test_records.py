"""The bad-data policy: every problem is reported with its line; skip and count, or stop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptcheck.train.records import DataError, Record, read_records, write_records

GOOD = {"instruction": "Say hi.", "context": "", "response": "Hi.", "category": "open_qa"}


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def line(obj: object) -> bytes:
    return json.dumps(obj).encode()


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """Seventeen lines: nine good, one blank, one of each of seven kinds of problem."""
    return write_lines(
        tmp_path / "messy.jsonl",
        [
            line(GOOD),  # 1
            line({"instruction": "No response here."}),  # 2 missing field
            line({**GOOD, "response": "   "}),  # 3 empty response
            b'{"instruction": "caf\xe9", "response": "x"}',  # 4 invalid UTF-8 (latin-1)
            b'{"instruction": "unterminated',  # 5 invalid JSON
            line(GOOD),  # 6
            b"",  # 7 blank: ignored, not a problem
            line({**GOOD, "response": "x" * 5000}),  # 8 oversized (limit 2000 below)
            line(["a", "list"]),  # 9 not an object
            line({**GOOD, "context": 3}),  # 10 wrong type
            line({"instruction": "Only two fields.", "response": "Fine."}),  # 11 good
            line(GOOD),  # 12
            line(GOOD),  # 13
            *[line(GOOD)] * 4,  # 14-17
        ],
    )


def test_skips_and_reports_each_problem_with_its_line(messy: Path) -> None:
    records, report = read_records(messy, max_line_bytes=2000)
    assert len(records) == 9
    assert report.line_numbers == [1, 6, 11, 12, 13, 14, 15, 16, 17]
    found = [(issue.line, issue.kind) for issue in report.issues]
    assert found == [
        (2, "missing-field"),
        (3, "empty-response"),
        (4, "invalid-utf8"),
        (5, "invalid-json"),
        (8, "oversized"),
        (9, "not-an-object"),
        (10, "wrong-type"),
    ]
    summary = report.summary(limit=3)
    assert "kept 9 of 17 lines" in summary
    assert f"{messy}:2: missing field(s): response" in summary
    assert "... and 4 more" in summary


def test_optional_fields_default_to_empty(messy: Path) -> None:
    records, _ = read_records(messy, max_line_bytes=2000)
    assert records[2] == Record("Only two fields.", "Fine.", context="", category="")


def test_strict_stops_at_the_first_problem_with_file_and_line(messy: Path) -> None:
    with pytest.raises(DataError) as caught:
        read_records(messy, strict=True)
    assert caught.value.line == 2
    assert str(caught.value).startswith(f"{messy}:2: missing field(s): response")


def test_a_mostly_bad_file_is_refused(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "csv.jsonl", [b"a,b,c", b"1,2,3", b"4,5,6", line(GOOD)])
    with pytest.raises(DataError, match="3 of 4 records are bad"):
        read_records(path)
    records, _ = read_records(path, max_bad_fraction=1.0)
    assert len(records) == 1


def test_a_file_without_any_good_record_is_refused(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "empty.jsonl", [b"", line({"instruction": "x"})])
    with pytest.raises(DataError, match="no usable records") as caught:
        read_records(path)
    assert f"{path}:2:" in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_records(tmp_path / "nope.jsonl")


def test_write_then_read_round_trips_unicode(tmp_path: Path) -> None:
    records = [Record("Übersetze: chat", "cat", "", "open_qa"), Record("a", "b", "ctx", "c")]
    path = tmp_path / "out.jsonl"
    assert write_records(path, records) == 2
    assert "Übersetze" in path.read_text(encoding="utf-8")
    assert read_records(path)[0] == records
