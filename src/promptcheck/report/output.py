"""Writing a report file: one way for every report, so every failure reads the same.

A file that cannot be written is a :class:`PromptcheckError` naming the report and the path;
the command line prints it as one line, a pytest session as one line under its summary.
"""

from __future__ import annotations

from pathlib import Path

from promptcheck.errors import PromptcheckError


def write_report_file(what: str, path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (parent folders made); ``what`` names the report in errors."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PromptcheckError(f"cannot write the {what} to {path}: {exc}") from exc
