"""A progress bar for long sampling, on a terminal only: CI logs and pipes stay clean.

It draws on the real stderr (pytest captures sys.stderr during a test) and is transient, so the
bar of a case disappears when the case is done and pytest's own line goes on unbroken.
"""

from __future__ import annotations

import os
import sys
from types import TracebackType
from typing import Any


def wanted(enabled: bool) -> bool:
    """Draw only for a person: a terminal, not CI, not disabled by option or NO_COLOR-like env."""
    stream = sys.__stderr__
    return (
        enabled
        and stream is not None
        and stream.isatty()
        and not os.environ.get("CI")
        and os.environ.get("TERM") != "dumb"
    )


class SampleProgress:
    """Counts samples of one case as they arrive (cached ones count at once)."""

    def __init__(self, description: str, total: int, enabled: bool) -> None:
        self.enabled = wanted(enabled)
        self._progress: Any = None
        self._task: Any = None
        self.description = description
        self.total = total

    def __enter__(self) -> SampleProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("samples"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(file=sys.__stderr__),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=self.total)
        return self

    def advance(self, count: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, count)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
