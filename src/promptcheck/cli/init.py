"""``promptcheck init [DIR]``: a new project that passes its first ``pytest --promptcheck`` at once.

It writes an example suite (with the schema editors validate it against), a ``plugins`` package
with one custom check, the ``[tool.promptcheck]`` table (appended to an existing pyproject.toml,
never replacing anything in it) and a GitHub Actions workflow. Existing files are left alone
unless ``--force`` says otherwise; the built-in tiny Dolly answers the example without any model
to download or configure.
"""

from __future__ import annotations

import argparse
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from promptcheck.config import ExitCode
from promptcheck.errors import ConfigError


@dataclass(frozen=True)
class ScaffoldFile:
    """One file of the scaffold: where it goes and which template it comes from."""

    target: str
    template: str


FILES = (
    ScaffoldFile("suites/example.yaml", "example.yaml.tmpl"),
    ScaffoldFile("plugins/__init__.py", ""),
    ScaffoldFile("plugins/checks.py", "checks.py.tmpl"),
    ScaffoldFile(".github/workflows/promptcheck.yml", "workflow.yml.tmpl"),
)
SCHEMA_FILE = "suites/suite.schema.json"
IGNORED = ".promptcheck/"


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = subparsers.add_parser(
        "init",
        help="start a project: an example suite, a custom check, settings and a CI workflow",
    )
    init.add_argument(
        "directory",
        nargs="?",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="the project's directory, created if missing (default: the current one)",
    )
    init.add_argument("--force", action="store_true", help="overwrite files that exist")
    init.set_defaults(func=run_init)


def run_init(args: argparse.Namespace) -> int:
    root: Path = args.directory
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} is not a directory")
    existing = [f.target for f in FILES if (root / f.target).exists()]
    if existing and not args.force:
        raise ConfigError(
            f"{', '.join(existing)} already exist(s) in {root}",
            hint="pass --force to overwrite them, or run init in another directory",
        )
    pyproject = root / "pyproject.toml"
    table = _has_table(pyproject)
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for scaffold in FILES:
        target = root / scaffold.target
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_template(scaffold.template) if scaffold.template else "")
        written.append(scaffold.target)
    (root / SCHEMA_FILE).write_text(_schema(), encoding="utf-8")
    written.append(SCHEMA_FILE)
    if table:
        print(f"kept the [tool.promptcheck] table already in {pyproject}")
    else:
        with pyproject.open("a", encoding="utf-8") as handle:
            handle.write(_template("pyproject.toml.tmpl"))
        written.append("pyproject.toml ([tool.promptcheck] added)")
    if _ignore(root / ".gitignore"):
        written.append(f".gitignore ({IGNORED} added)")
    for name in written:
        print(f"wrote {name}")
    print(f"next: cd {root} && pytest --promptcheck suites/")
    return ExitCode.OK


def _template(name: str) -> str:
    return (resources.files("promptcheck.cli") / "scaffold" / name).read_text(encoding="utf-8")


def _schema() -> str:
    from promptcheck.suite.schema import render, suite_schema

    return render(suite_schema())


def _has_table(pyproject: Path) -> bool:
    """Whether pyproject.toml already has ``[tool.promptcheck]`` (kept as it is); a file that is
    not valid TOML is an error rather than something to append to."""
    if not pyproject.exists():
        return False
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"{pyproject}: cannot read: {exc}", hint="fix it, then run init again"
        ) from None
    tool = document.get("tool")
    return isinstance(tool, dict) and "promptcheck" in tool


def _ignore(gitignore: Path) -> bool:
    """Add the run store's folder to .gitignore when it is not there; whether it was added."""
    text = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
    if any(line.strip() in (IGNORED, IGNORED.rstrip("/")) for line in text.splitlines()):
        return False
    separator = "" if not text or text.endswith("\n") else "\n"
    gitignore.write_text(f"{text}{separator}{IGNORED}\n", encoding="utf-8")
    return True
