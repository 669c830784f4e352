"""Import objects named by the suite author as ``package.module:attribute``.

Suites run code only through this function, and only from modules the author names explicitly
(the ``python`` and ``pydantic`` checks, ``plugins`` lists). The current directory is put on
``sys.path`` first so that a project's ``plugins/`` package is importable without installation.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from promptcheck.errors import PluginImportError


def import_object(spec: str) -> Any:
    """Return the object named by ``module:attr`` (or ``module.attr``), with a clear error."""
    module_name, sep, attr_path = spec.partition(":")
    if not sep:
        module_name, _, attr_path = spec.rpartition(".")
    if not module_name or not attr_path:
        raise PluginImportError(
            f"{spec!r} is not an import path; write it as 'package.module:name'"
        )
    module = import_module(module_name)
    obj: Any = module
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise PluginImportError(
                f"module {module_name!r} has no attribute {attr_path!r}"
            ) from None
    return obj


def import_module(name: str) -> Any:
    """Import a module by name, with the working directory importable."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise PluginImportError(f"cannot import module {name!r}: {exc}") from None
    except Exception as exc:  # a plugin that raises on import must not crash collection
        raise PluginImportError(
            f"importing module {name!r} raised {type(exc).__name__}: {exc}"
        ) from None


def import_project_plugins(root: Path, plugins: Sequence[str]) -> None:
    """Import the modules ``[tool.promptcheck] plugins`` names, with the project root importable:
    ``plugins/`` and the modules suites name live in the project, wherever pytest is run from."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    for module in plugins:
        import_module(module)
