"""What a GitHub Actions job shows of a run: annotations at the YAML line, the job summary, outputs.

GitHub reads three things a step writes (docs.github.com, "Workflow commands"):

* ``::error file=PATH,line=N,title=T::MESSAGE`` lines on standard output become annotations,
  shown on the pull request's diff at that line: one per failed or regressed case, at the case's
  line in its suite file (the path relative to the repository, ``GITHUB_WORKSPACE``); a
  ``::warning`` line without a file is one for the whole run (a model changed behind its name);
* Markdown appended to the file ``GITHUB_STEP_SUMMARY`` names is the job's summary page;
* ``name=value`` lines appended to the file ``GITHUB_OUTPUT`` names are the step's outputs, for
  later steps and for the packaged action (``action.yml``): the verdict counts and report paths.

The plugin writes them when ``GITHUB_ACTIONS`` is ``true`` (or ``--promptcheck-github``), and
nothing otherwise.

A model's output is shown in failure texts, and the runner reads any line of a step's output
that starts with ``::`` (after leading spaces) as a command, and ``##[`` anywhere in the legacy
form: an output could forge annotations, or stop promptcheck's own. So the session opens with
``::stop-commands::TOKEN`` (a random token, so no output can guess the line that resumes them)
and resumes with ``::TOKEN::`` only just before promptcheck writes its own commands; shown
outputs are also :func:`neutralise` d, in case a line reaches the log outside that window.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from promptcheck.config import NOTHING_SCORED
from promptcheck.errors import PromptcheckError

#: The step outputs that count cases, always written: threshold verdicts (and ``error``, the
#: cases nothing could be scored of), then changes.
OUTCOMES = ("pass", "fail", "undecided", NOTHING_SCORED)
CHANGES = ("regressed", "improved", "unchanged", "inconclusive")


@dataclass(frozen=True)
class Annotation:
    """One ``::error`` of a failed case: where it is and what happened. GitHub shows only the
    first few of a step's, so they are written by ``rank``: regressed 0, failed or errored 1,
    other (undecided or inconclusive under a strict ``--promptcheck-fail-on``) 2."""

    path: str
    line: int
    title: str
    message: str
    rank: int = 2

    def command(self) -> str:
        """The workflow command, its values escaped as GitHub requires."""
        return (
            f"::error file={_property(self.path)},line={self.line},"
            f"title={_property(self.title)}::{_data(self.message)}"
        )


def warning(message: str) -> str:
    """The ``::warning`` command of a session-wide warning (a model that changed behind its
    name), shown on the run's summary page rather than at a line."""
    return f"::warning title=promptcheck::{_data(message)}"


def stop_commands(token: str) -> str:
    """The line after which the runner ignores every workflow command until :func:`resume_commands`
    (docs.github.com, "Stopping and starting workflow commands")."""
    return f"::stop-commands::{token}"


def resume_commands(token: str) -> str:
    """The line that makes the runner process workflow commands again."""
    return f"::{token}::"


def new_token() -> str:
    """A stop-commands token no model output can guess."""
    return secrets.token_hex(16)


#: What the runner could read as a command: ``::`` after a line's leading whitespace (the runner
#: trims Unicode whitespace, not only spaces), ``##[`` anywhere.
_COMMAND_LIKE = re.compile(r"^(?P<indent>[^\S\n]*)::|##\[", re.MULTILINE)


def neutralise(text: str) -> str:
    """``text`` with every command-like line made inert by a visible escape of its first
    character (``\\x3a:error`` for ``::error``, ``\\x23#[`` for ``##[``), the way
    :func:`promptcheck.report.escaping.printable` writes control characters."""

    def inert(match: re.Match[str]) -> str:
        indent = match.group("indent")
        return "\\x23#[" if indent is None else f"{indent}\\x3a:"

    return _COMMAND_LIKE.sub(inert, text)


def enabled(forced: bool, environment: Mapping[str, str] = os.environ) -> bool:
    """Whether to write for GitHub: asked for, or running in GitHub Actions."""
    return forced or environment.get("GITHUB_ACTIONS", "").lower() == "true"


def repository_path(path: Path, environment: Mapping[str, str] = os.environ) -> str:
    """``path`` relative to the repository checked out (``GITHUB_WORKSPACE``), as annotations
    name files; relative to the working directory when the workspace is not known or not above."""
    resolved = path.resolve()
    for base in (environment.get("GITHUB_WORKSPACE"), os.getcwd()):
        if base:
            try:
                return resolved.relative_to(Path(base).resolve()).as_posix()
            except ValueError:
                continue
    return resolved.as_posix()


def annotation(
    path: Path, line: int, properties: Mapping[str, object], longrepr: str
) -> Annotation:
    """The annotation of a failed or errored case item (``line`` 1-based): from the verdict or
    comparison properties the item reported, else from the first line of its failure text. A
    case nothing could be scored of says ERROR and why (its first error or unscored check,
    redacted), in a comparison too."""
    suite, case, model = (properties.get(f"promptcheck_{k}") for k in ("suite", "case", "model"))
    change = properties.get("promptcheck_change")
    rank = 2
    if properties.get("promptcheck_verdict") == NOTHING_SCORED:
        title = f"promptcheck: {suite}::{case} {NOTHING_SCORED.upper()} on {model}"
        message, rank = f"{case}: {properties.get('promptcheck_reason')}", 1
    elif change is not None:
        base = float(str(properties.get("promptcheck_baseline_rate", "nan")))
        cand = float(str(properties.get("promptcheck_candidate_rate", "nan")))
        title = f"promptcheck: {suite}::{case} {change} on {model}"
        message = (
            f"{case} {change}: {base:.1%} on the baseline, {cand:.1%} on {model} "
            f"(difference {cand - base:+.1%})"
        )
        rank = 0 if change == "regressed" else 2
    elif "promptcheck_verdict" in properties:
        verdict = str(properties.get("promptcheck_verdict"))
        title = f"promptcheck: {suite}::{case} {verdict.upper()} on {model}"
        message = f"{case}: {properties.get('promptcheck_summary')}"
        rank = 1 if verdict == "fail" else 2
    else:
        first = next((text for text in longrepr.splitlines() if text.strip()), "failed")
        title, message, rank = f"promptcheck: {path.name}", first, 1
    return Annotation(repository_path(path), line, title, message, rank)


def limited(annotations: Sequence[Annotation], most: int) -> tuple[list[Annotation], str | None]:
    """The ``most`` annotations GitHub will show, by rank, and a ``::notice`` saying how many
    more failed (GitHub keeps 10 error annotations per step and 50 per job); no notice when
    all fit."""
    ordered = sorted(annotations, key=lambda note: note.rank)
    if len(ordered) <= most:
        return ordered, None
    more = len(ordered) - most
    notice = (
        f"{more} more failed case(s) not annotated (GitHub shows {most} error annotations per "
        "step): the job summary and the test log list them all"
    )
    return ordered[:most], f"::notice title=promptcheck::{_data(notice)}"


def write_summary(markdown: str, environment: Mapping[str, str] = os.environ) -> None:
    """Append the run's Markdown to the job summary."""
    _append(environment.get("GITHUB_STEP_SUMMARY"), markdown.rstrip("\n") + "\n", "job summary")


def write_outputs(
    outputs: Mapping[str, object], environment: Mapping[str, str] = os.environ
) -> None:
    """Append ``name=value`` lines to the step's outputs (values on one line each)."""
    lines = "".join(f"{name}={_one_line(value)}\n" for name, value in outputs.items())
    _append(environment.get("GITHUB_OUTPUT"), lines, "step outputs")


def publish(
    markdown: str | None,
    outcomes: Sequence[str],
    changes: Mapping[str, int],
    failed: int,
    reports: Mapping[str, Path | None],
    environment: Mapping[str, str] = os.environ,
) -> None:
    """Write a session's job summary (``markdown``) and its step outputs: the count of each
    verdict (``pass``, ``fail``, ``undecided``, ``error``) and, in a comparison, of each change
    (``regressed``, ``improved``, ``unchanged``, ``inconclusive`` ..., 0 in a run without a
    baseline, so that a script can compare them as numbers), the failed items, and the paths of
    the reports written (empty when not asked for)."""
    if markdown is not None:
        write_summary(markdown, environment)
    counts: dict[str, object] = {name: 0 for name in (*OUTCOMES, *CHANGES)}
    for outcome in outcomes:
        counts[outcome] = int(str(counts.get(outcome, 0))) + 1
    counts.update(changes)
    counts["failed_items"] = failed
    for name, path in reports.items():
        counts[name] = repository_path(path, environment) if path is not None else ""
    write_outputs(counts, environment)


def _append(target: str | None, text: str, what: str) -> None:
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise PromptcheckError(f"cannot write the GitHub {what} to {target}: {exc}") from exc


def _one_line(value: object) -> str:
    return str(value).replace("\r", " ").replace("\n", " ")


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
