"""The training progress bar: steps, loss, eval loss and tokens per second, on stderr.

stdout stays free for what a script may parse; a disabled bar (``--no-progress``, or a process
other than the main one under ``accelerate launch``) costs nothing.
"""

from __future__ import annotations

from typing import Any


class TrainProgress:
    """A rich progress bar with the run's numbers, or nothing when disabled."""

    def __init__(self, enabled: bool = True, description: str = "training") -> None:
        self.enabled = enabled
        self.description = description
        self._bar: Any = None
        self._task: Any = None

    def start(self, total: int, completed: int = 0) -> None:
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task(
            self.description, total=total, completed=completed, status=""
        )

    def update(
        self,
        step: int,
        loss: float,
        eval_history: list[tuple[int, float]],
        tokens: int,
        seconds: float,
    ) -> None:
        if self._bar is None:
            return
        status = f"loss {loss:.3f}"
        if eval_history:
            status += f"  eval {eval_history[-1][1]:.3f}"
        if seconds > 0:
            status += f"  {tokens / seconds:,.0f} tok/s"
        self._bar.update(self._task, completed=step, status=status)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
