"""Run hostile input in a child process whose time and address space are bounded, so that a
regression fails the test that tried it instead of hanging CI or eating the machine."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path


def run_limited(
    args: list[str], *, cwd: Path | None = None, seconds: float, memory_bytes: int
) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` under ``RLIMIT_AS = memory_bytes``, killed after ``seconds``
    (``subprocess.TimeoutExpired`` then fails the test)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=seconds,
        preexec_fn=limit,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
