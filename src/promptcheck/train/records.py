"""Instruction records in databricks-dolly-15k format, and the policy for bad lines.

A dolly-15k file is JSON lines with ``instruction``, ``context``, ``response`` and ``category``.
Real instruction sets are messy, so reading never stops at the first bad line: each problem is
recorded with its line number, the line is skipped, and the caller prints one summary. ``strict``
turns the first problem into an error instead, for pipelines that must not lose a record silently.
A file whose bad lines outnumber ``max_bad_fraction`` is refused even when not strict: that is a
wrong file or a wrong format, not a few bad records.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptcheck.errors import PromptcheckError

#: A line longer than this is reported as oversized before it is even parsed.
DEFAULT_MAX_LINE_BYTES = 1 << 20

REQUIRED_FIELDS = ("instruction", "response")
OPTIONAL_FIELDS = ("context", "category")


class DataError(PromptcheckError):
    """An instruction-data file cannot be used; ``render()`` names the file and line."""

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None):
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line
        super().__init__(self.render())

    def render(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        return f"{where}{self.message}"


@dataclass(frozen=True, slots=True)
class Record:
    """One instruction-following example; ``context`` is empty when the task has no input text."""

    instruction: str
    response: str
    context: str = ""
    category: str = ""

    def to_json(self) -> str:
        """One dolly-15k line, fields in the dataset's own order, non-ASCII kept readable."""
        data = {
            "instruction": self.instruction,
            "context": self.context,
            "response": self.response,
            "category": self.category,
        }
        return json.dumps(data, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found on one line; ``kind`` is a short stable name used in summaries."""

    line: int
    kind: str
    message: str


@dataclass
class DataReport:
    """What reading a file kept and what it skipped, for the summary shown before training."""

    path: Path
    lines: int = 0
    kept: int = 0
    issues: list[Issue] = field(default_factory=list)
    line_numbers: list[int] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        return Counter(issue.kind for issue in self.issues)

    def summary(self, limit: int = 5) -> str:
        """Counts per kind of problem, then the first few problems as ``file:line: message``."""
        if not self.issues:
            return f"{self.path}: {self.kept} records"
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts().items()))
        head = f"{self.path}: kept {self.kept} of {self.lines} lines; skipped {kinds}"
        shown = [f"  {self.path}:{i.line}: {i.message}" for i in self.issues[:limit]]
        more = len(self.issues) - limit
        if more > 0:
            shown.append(f"  ... and {more} more")
        return "\n".join([head, *shown])


def _validate(obj: Any) -> tuple[Record | None, str, str]:
    """A record, or ``None`` with the kind and message of what is wrong with the parsed line."""
    if not isinstance(obj, dict):
        return None, "not-an-object", f"expected a JSON object, got {type(obj).__name__}"
    missing = [name for name in REQUIRED_FIELDS if name not in obj]
    if missing:
        return None, "missing-field", f"missing field(s): {', '.join(missing)}"
    for name in (*REQUIRED_FIELDS, *OPTIONAL_FIELDS):
        value = obj.get(name, "")
        if value is not None and not isinstance(value, str):
            return (
                None,
                "wrong-type",
                f"field {name!r} must be a string, got {type(value).__name__}",
            )
    if not obj["instruction"].strip():
        return None, "empty-instruction", "empty instruction"
    if not obj["response"].strip():
        return None, "empty-response", "empty response"
    record = Record(
        instruction=obj["instruction"],
        response=obj["response"],
        context=obj.get("context") or "",
        category=obj.get("category") or "",
    )
    return record, "", ""


def parse_lines(
    lines: Iterable[bytes], *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[tuple[int, Record | None, Issue | None]]:
    """Each non-blank line as ``(line number, record, None)`` or ``(line number, None, issue)``."""
    for number, raw in enumerate(lines, start=1):
        if len(raw) > max_line_bytes:
            yield number, None, Issue(number, "oversized", f"line of {len(raw)} bytes")
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, None, Issue(number, "invalid-utf8", f"invalid UTF-8 at byte {exc.start}")
            continue
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield number, None, Issue(number, "invalid-json", f"invalid JSON: {exc.msg}")
            continue
        record, kind, message = _validate(obj)
        yield number, record, (Issue(number, kind, message) if record is None else None)


def read_records(
    path: Path,
    *,
    strict: bool = False,
    max_bad_fraction: float = 0.5,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> tuple[list[Record], DataReport]:
    """Read a dolly-15k JSON-lines file under the bad-data policy described in the module docstring.

    Returns the good records and a report whose ``line_numbers[i]`` is the line of ``records[i]``,
    so that later problems (a record too long for the context) can still be reported by line.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("no such file", path=path)
    report = DataReport(path=path)
    records: list[Record] = []
    with path.open("rb") as stream:
        for number, record, issue in parse_lines(stream, max_line_bytes=max_line_bytes):
            report.lines = number
            if issue is not None:
                if strict:
                    raise DataError(
                        f"{issue.message} (--strict stops at the first bad line)",
                        path=path,
                        line=issue.line,
                    )
                report.issues.append(issue)
                continue
            assert record is not None
            records.append(record)
            report.line_numbers.append(number)
    report.kept = len(records)
    if not records:
        raise DataError("no usable records" + _first_issue(report), path=path)
    seen = report.kept + len(report.issues)
    if len(report.issues) > max_bad_fraction * seen:
        raise DataError(
            f"{len(report.issues)} of {seen} records are bad (more than "
            f"{max_bad_fraction:.0%}); is this a dolly-15k JSON-lines file?" + _first_issue(report),
            path=path,
        )
    return records, report


def _first_issue(report: DataReport) -> str:
    if not report.issues:
        return ""
    first = report.issues[0]
    return f"\n  first problem: {report.path}:{first.line}: {first.message}"


def write_records(path: Path, records: Iterable[Record]) -> int:
    """Write records as dolly-15k JSON lines with ``\\n`` endings; returns how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as stream:
        for record in records:
            stream.write(record.to_json() + "\n")
            count += 1
    return count
