"""The project a command works in: the working directory's ``[tool.promptcheck]``, its plugins and
its run store, found by the same rules as in a pytest session (:mod:`promptcheck.config`)."""

from __future__ import annotations

from pathlib import Path

from promptcheck.config import store_path
from promptcheck.errors import PromptcheckError
from promptcheck.importing import import_project_plugins
from promptcheck.project import ProjectConfig, load_project_config
from promptcheck.store import Store


def load_project() -> ProjectConfig:
    """The working directory's project settings, its plugins imported (they may add checks)."""
    root = Path.cwd()
    project = load_project_config(root)
    import_project_plugins(root, project.plugins)
    return project


def open_store(given: Path | None) -> Store:
    """The run store a command reads: ``--store``, else the project's, else the default."""
    root = Path.cwd()
    target = store_path(root, given, load_project_config(root).store)
    if not target.exists():
        raise PromptcheckError(f"no run store at {target}; run 'pytest --promptcheck' first")
    return Store(target)
