"""``promptcheck init [DIR]``: a new project that passes its first ``pytest --promptcheck`` at once.

It writes an example suite (with the schema editors validate it against), a ``plugins`` package
with one custom check, the ``[tool.promptcheck]`` table (appended to an existing pyproject.toml,
never replacing anything in it) and a GitHub Actions workflow. Existing files are left alone
unless ``--force`` says otherwise; the built-in tiny Dolly answers the example without any model
to download or configure.
"""

from __future__ import annotations

import argparse
import shlex
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
#: The module of the example suite's custom check, which [tool.promptcheck] must name.
EXAMPLE_PLUGIN = "plugins.checks"


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
    targets = [f.target for f in FILES] + [SCHEMA_FILE]
    existing = [target for target in targets if (root / target).exists()]
    if existing and not args.force:
        raise ConfigError(
            f"{', '.join(existing)} already exist(s) in {root}",
            hint="pass --force to overwrite them, or run init in another directory",
        )
    pyproject = root / "pyproject.toml"
    # Everything that can refuse is read before anything is written.
    table = _promptcheck_table(pyproject)
    gitignore = _read_text(root / ".gitignore")
    try:
        written = _write(root, pyproject, table, gitignore)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the project into {root}: {exc.strerror or exc}",
            hint="choose a directory you can write to",
        ) from None
    for name in written:
        print(f"wrote {name}")
    if table is not None:
        print(f"kept the [tool.promptcheck] table already in {pyproject}")
        missing = _missing_settings(table)
        if missing:
            print(
                f"warning: the example suite needs {' and '.join(missing)} in "
                f"[tool.promptcheck] of {pyproject} (its all_caps check is in plugins/checks.py)"
            )
    print(f"next: cd {shlex.quote(str(root))} && pytest --promptcheck suites/")
    print(
        "the CI workflow installs promptcheck from the repository variable PROMPTCHECK_INSTALL: "
        "set it (see the top of .github/workflows/promptcheck.yml)"
    )
    return ExitCode.OK


def _write(
    root: Path, pyproject: Path, table: dict[str, object] | None, gitignore: str | None
) -> list[str]:
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for scaffold in FILES:
        target = root / scaffold.target
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_template(scaffold.template) if scaffold.template else "")
        written.append(scaffold.target)
    (root / SCHEMA_FILE).write_text(_schema(), encoding="utf-8")
    written.append(SCHEMA_FILE)
    if table is None:
        settings = _template("pyproject.toml.tmpl")
        if not pyproject.exists():
            settings = settings.lstrip("\n")
        with pyproject.open("a", encoding="utf-8") as handle:
            handle.write(settings)
        written.append("pyproject.toml ([tool.promptcheck] added)")
    if _ignore(root / ".gitignore", gitignore or ""):
        written.append(f".gitignore ({IGNORED} added)")
    return written


def _template(name: str) -> str:
    return (resources.files("promptcheck.cli") / "scaffold" / name).read_text(encoding="utf-8")


def _schema() -> str:
    from promptcheck.suite.schema import render, suite_schema

    return render(suite_schema())


def _read_text(path: Path) -> str | None:
    """A text file the scaffold adds to, None when there is none; unreadable is an error."""
    if not path.exists():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read: {exc}", hint="fix it, then run init again"
        ) from None


def _promptcheck_table(pyproject: Path) -> dict[str, object] | None:
    """pyproject.toml's ``[tool.promptcheck]`` when it has one (kept as it is); a file that is
    not valid TOML is an error rather than something to append to."""
    text = _read_text(pyproject)
    if text is None:
        return None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{pyproject}: cannot read: {exc}", hint="fix it, then run init again"
        ) from None
    tool = document.get("tool")
    table = tool.get("promptcheck") if isinstance(tool, dict) else None
    return table if isinstance(table, dict) else None


def _missing_settings(table: dict[str, object]) -> list[str]:
    """What a kept table lacks for the example suite to pass at once."""
    plugins = table.get("plugins")
    if isinstance(plugins, list) and EXAMPLE_PLUGIN in plugins:
        return []
    return [f'plugins = ["{EXAMPLE_PLUGIN}"]']


def _ignore(gitignore: Path, text: str) -> bool:
    """Add the run store's folder to .gitignore when it is not there; whether it was added."""
    if any(line.strip() in (IGNORED, IGNORED.rstrip("/")) for line in text.splitlines()):
        return False
    separator = "" if not text or text.endswith("\n") else "\n"
    gitignore.write_text(f"{text}{separator}{IGNORED}\n", encoding="utf-8")
    return True
