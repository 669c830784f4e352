"""The exception hierarchy: every error promptcheck raises on purpose derives from PromptcheckError.

Anything else escaping the package is a bug. Errors about user input carry enough to act on: the
file, the line, the key, and what to do about it.
"""

from __future__ import annotations

from pathlib import Path


class PromptcheckError(Exception):
    """Base class of promptcheck's own errors."""


class SuiteError(PromptcheckError):
    """A suite file is malformed: reported at collection time as ``file:line: key: message``."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line
        self.key = key
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        where = ""
        if self.path is not None:
            where = str(self.path)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        key = f"{self.key}: " if self.key else ""
        hint = f"\n  hint: {self.hint}" if self.hint else ""
        return f"{where}{key}{self.message}{hint}"


class ConfigError(PromptcheckError):
    """An option, a pyproject ``[tool.promptcheck]`` table or a parameter object is invalid.

    ``key`` is a dotted path inside the object that was validated, so that the suite loader can
    turn it into a file and line when the object came from a suite.
    """

    def __init__(self, message: str, *, key: tuple[str | int, ...] = (), hint: str | None = None):
        self.message = message
        self.key = key
        self.hint = hint
        super().__init__(message + (f" (hint: {hint})" if hint else ""))


class BackendError(PromptcheckError):
    """A backend cannot produce samples: a missing checkpoint, an unreachable endpoint, no memory.

    ``retryable`` tells the runner whether trying the same request again may succeed.
    """

    def __init__(self, message: str, *, retryable: bool = False, hint: str | None = None) -> None:
        self.message = message
        self.retryable = retryable
        self.hint = hint
        super().__init__(message + (f"\n  hint: {hint}" if hint else ""))


class StoreError(PromptcheckError):
    """The run store cannot be opened, migrated, or does not hold what was asked for."""


class PluginImportError(PromptcheckError):
    """A module or object named by import path (``package.module:attr``) could not be imported,
    or may not be: a suite named code that is not the project's (:mod:`promptcheck.importing`)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
