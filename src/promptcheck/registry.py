"""A name -> entry registry shared by checks and backends, fed by decorators and entry points.

Third-party packages contribute entries through the entry-point groups ``promptcheck.checks`` and
``promptcheck.backends``; each entry point names a module (or object) that registers on import.
They are loaded lazily, the first time a name is not found, so importing promptcheck stays cheap.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from promptcheck.errors import ConfigError, PluginImportError

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name; ``kind`` ('check', 'backend') only words error messages."""

    def __init__(self, kind: str, entry_point_group: str, builtin_modules: tuple[str, ...]) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._builtin_modules = builtin_modules
        self._entries: dict[str, T] = {}
        self._loaded_builtins = False
        self._loaded_entry_points = False

    def add(self, name: str, entry: T) -> None:
        self._entries[name] = entry

    def get(self, name: str) -> T:
        self._load_builtins()
        if name not in self._entries:
            self._load_entry_points()
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(
                f"unknown {self.kind} {name!r}",
                hint=did_you_mean(name, self.names()) or f"known: {', '.join(self.names())}",
            ) from None

    def names(self) -> list[str]:
        self._load_builtins()
        self._load_entry_points()
        return sorted(self._entries)

    def __iter__(self) -> Iterator[tuple[str, T]]:
        for name in self.names():
            yield name, self._entries[name]

    def _load_builtins(self) -> None:
        if self._loaded_builtins:
            return
        import importlib

        for module in self._builtin_modules:
            importlib.import_module(module)  # a failure here is a bug in promptcheck itself
        self._loaded_builtins = True

    def _load_entry_points(self) -> None:
        if self._loaded_entry_points:
            return
        self._loaded_entry_points = True
        for entry_point in entry_points(group=self.entry_point_group):
            try:
                entry_point.load()
            except Exception as exc:  # a broken third-party plugin must not be a traceback
                raise PluginImportError(
                    f"the {self.kind} plugin {entry_point.name!r} ({entry_point.value}) "
                    f"failed to load: {type(exc).__name__}: {exc}",
                ) from None


def did_you_mean(name: str, candidates: list[str] | tuple[str, ...]) -> str | None:
    """A 'did you mean X?' suggestion for a misspelt name, or None when nothing is close."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean {matches[0]!r}?" if matches else None
