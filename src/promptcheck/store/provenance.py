"""Where a run came from: the session, the commit, the versions that can change a model's output.

Every run a session records carries the same facts, whether it is written to the store as the
items report (:meth:`RunFacts.info`) or summarised in memory for a live comparison
(:meth:`RunFacts.summary`), so the two cannot describe one run differently.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptcheck import __version__
from promptcheck.store.database import RunInfo, RunStatus, RunSummary, redact_secrets


@dataclass(frozen=True)
class RunFacts:
    """The facts shared by a session's runs; ``label`` names the candidate's runs only. The
    versions are read when a run is written, once the backends have imported their libraries."""

    session_id: str
    started_at: float
    label: str | None = None
    git_commit: str | None = None

    def info(
        self,
        model: str,
        spec: Mapping[str, Any],
        suites: Mapping[str, str],
        *,
        labelled: bool = True,
    ) -> RunInfo:
        """The run of ``model`` in this session, as created in the store."""
        return RunInfo(
            id=self.run_id(model),
            session=self.session_id,
            model=model,
            model_spec=spec,
            started_at=time.time(),
            label=self.label if labelled else None,
            git_commit=self.git_commit,
            versions=versions(),
            suites=dict(suites),
        )

    def summary(
        self,
        model: str,
        spec: Mapping[str, Any],
        suites: Mapping[str, str],
        samples: Sequence[int],
        *,
        labelled: bool,
    ) -> RunSummary:
        """The run of ``model`` as a live comparison sees it: in memory, finished now, with one
        entry of ``samples`` per case (its sample count)."""
        return RunSummary(
            id=self.run_id(model),
            session=self.session_id,
            model=model,
            model_spec=redact_secrets(dict(spec)),
            started_at=self.started_at,
            label=self.label if labelled else None,
            git_commit=self.git_commit,
            versions=versions(),
            suites=dict(suites),
            finished_at=time.time(),
            cases=len(samples),
            samples=sum(samples),
            status=RunStatus.FINISHED,
        )

    def run_id(self, model: str) -> str:
        return f"{self.session_id}-{model}"


def git_commit(root: Path) -> str | None:
    """The checked-out commit, recorded with each run so results can be traced to code."""
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() or None if completed.returncode == 0 else None


def versions() -> dict[str, str]:
    """Versions that can change a model's outputs, recorded with each run (only libraries this
    process has imported: a run that never loaded torch does not depend on its version)."""
    found = {"promptcheck": __version__, "python": platform.python_version()}
    for name in ("torch", "transformers", "openai"):
        module = sys.modules.get(name)
        if module is not None:
            found[name] = str(getattr(module, "__version__", "?"))
    return found
