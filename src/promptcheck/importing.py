"""Import code that suites and configuration name, and decide whether a suite may name it.

A suite is data: anyone may write one, including a pull request from outside the team. Code runs
only from modules the project itself provides or its configuration names:

* ``[tool.promptcheck] plugins`` and ``trusted_modules`` are configuration: what they name is
  imported (installed plugins, entry points, are trusted by being installed);
* a suite (``python:`` and ``pydantic:`` checks, its ``plugins:`` list) may name a module only
  when it lives under the project root (or its ``src/``), found without importing anything, or
  when configuration trusts it; the standard library and installed packages are refused, so a
  suite cannot make ``os.system`` or ``subprocess`` a check;
* ``promptcheck validate`` imports nothing a suite names (:attr:`CodePolicy.execute` False): it
  checks that each module can be found and is allowed, and stops there.

The project root is put on ``sys.path`` first so that its ``plugins/`` package is importable
without installation.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptcheck.errors import PluginImportError


@dataclass(frozen=True)
class CodePolicy:
    """Which modules a suite may make promptcheck import, and whether to import them at all.

    ``root`` is the project root (None: no project, nothing a suite names is allowed unless
    trusted); ``trusted`` are module names (a package trusts its submodules) that configuration
    allows; with ``execute`` False nothing is imported (``promptcheck validate``).
    """

    root: Path | None = None
    trusted: tuple[str, ...] = ()
    execute: bool = True

    def allows(self, module: str) -> bool:
        """Whether a suite may name ``module``: trusted by configuration, or the project's own."""
        if any(module == name or module.startswith(f"{name}.") for name in self.trusted):
            return True
        return self.root is not None and project_module_file(module, self.root) is not None

    def check(self, module: str) -> None:
        """Raise PluginImportError unless a suite may name ``module`` (a module found nowhere is
        told apart from one found outside the project, without importing either)."""
        if not self.allows(module):
            top = module.split(".")[0]
            if importlib.machinery.PathFinder.find_spec(top) is None and top not in sys.modules:
                raise PluginImportError(f"cannot import module {module!r}: no module named {top!r}")
            where = f"under the project root {self.root}" if self.root else "in a project"
            raise PluginImportError(
                f"module {module!r} is not the project's code: a suite may name modules "
                f"{where} or in [tool.promptcheck] trusted_modules",
                hint=f"if you trust it, add {module.split('.')[0]!r} to "
                "[tool.promptcheck] trusted_modules in pyproject.toml",
            )

    def import_object(self, spec: str) -> Any | None:
        """The object ``spec`` names, if a suite may name it; None when nothing is imported.

        The attribute path is walked, not trusted: a project module that imports ``json`` would
        otherwise hand out ``json.codecs.builtins.eval``. No part may be private or special, a
        module passed on the way must itself be allowed, and what is found must be
        defined by allowed code (its ``__module__``) when it can be called."""
        module_name, attr_path = split_spec(spec)
        self.check(module_name)
        parts = attr_path.split(".")
        for part in parts:
            if not part.isidentifier() or part.startswith("_"):
                raise PluginImportError(
                    f"{spec!r}: {part!r} is not a public name; a suite may name a module's "
                    "own public functions and classes"
                )
        if not self.execute:
            return None
        obj: Any = None
        for obj in walk_attributes(import_module(module_name), module_name, attr_path):
            if isinstance(obj, types.ModuleType):
                self._refuse_foreign(spec, obj.__name__)
        if callable(obj):  # anything else cannot run, and its check says what it is instead
            defined_in = getattr(obj, "__module__", None)
            if not isinstance(defined_in, str):
                defined_in = type(obj).__module__
            self._refuse_foreign(spec, defined_in)
        return obj

    def _refuse_foreign(self, spec: str, module: str) -> None:
        """What a suite names must be the project's or trusted code, not merely reachable
        through it."""
        if not self.allows(module):
            raise PluginImportError(
                f"{spec!r} is code from module {module!r}, which is not the project's: a suite "
                "may name only what the project's modules define",
                hint=f"define a function in the project that calls it, or add {module!r} to "
                "[tool.promptcheck] trusted_modules in pyproject.toml",
            )

    def import_module(self, name: str) -> Any | None:
        """Import the module a suite names, if it may; None when nothing is imported."""
        self.check(name)
        return import_module(name) if self.execute else None


def project_module_file(module: str, root: Path) -> Path | None:
    """Where ``module`` lives under ``root`` (or ``root/src``), found without running any code:
    each package level is looked up by the path finder alone, never imported."""
    top = root.resolve()
    locations = [str(top), str(top / "src")]
    origin: str | None = None
    for part in module.split("."):
        spec = importlib.machinery.PathFinder.find_spec(part, locations)
        if spec is None:
            return None
        origin = spec.origin
        locations = list(spec.submodule_search_locations or [])
    if origin is None:  # a namespace package: no file of its own
        return None
    path = Path(origin).resolve()
    return path if path.is_relative_to(top) else None


def split_spec(spec: str) -> tuple[str, str]:
    """``package.module:attr`` (or ``package.module.attr``) as (module, attribute path)."""
    module_name, sep, attr_path = spec.partition(":")
    if not sep:
        module_name, _, attr_path = spec.rpartition(".")
    if not module_name or not attr_path:
        raise PluginImportError(
            f"{spec!r} is not an import path; write it as 'package.module:name'"
        )
    return module_name, attr_path


def import_object(spec: str) -> Any:
    """Return the object named by ``module:attr`` (or ``module.attr``), with a clear error."""
    module_name, attr_path = split_spec(spec)
    *_, found = walk_attributes(import_module(module_name), module_name, attr_path)
    return found


def walk_attributes(module: Any, module_name: str, attr_path: str) -> Iterator[Any]:
    """Each object along ``attr_path`` from ``module``, the last one named last; a missing
    attribute is a PluginImportError naming the whole path."""
    obj = module
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise PluginImportError(
                f"module {module_name!r} has no attribute {attr_path!r}"
            ) from None
        yield obj


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
