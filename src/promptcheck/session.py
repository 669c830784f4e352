"""One pytest session's promptcheck state: settings, suites, models, the store and the runner.

The pytest hooks hand everything to this object (syrupy's pattern), so the hooks stay a few lines
each and the logic can be used without pytest (the ``promptcheck`` fixture, the CLI).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from promptcheck import __version__
from promptcheck.config import ProjectConfig, load_project_config
from promptcheck.errors import ConfigError
from promptcheck.importing import import_module
from promptcheck.registry import did_you_mean
from promptcheck.results import CaseResult
from promptcheck.runner import Runner
from promptcheck.suite import CaseSpec, ModelConfig, SuiteSpec, find_model, load_suite

if TYPE_CHECKING:
    from promptcheck.store import Store

DEFAULT_STORE = ".promptcheck/promptcheck.db"
FAIL_ON = ("fail", "undecided")
DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class Options:
    """The ``--promptcheck-*`` options (or their ini / pyproject equivalents), resolved."""

    models: tuple[str, ...] = ()
    samples: int | None = None
    fresh: bool = False
    store: str | None = None
    concurrency: int | None = None
    label: str | None = None
    fail_on: str = "fail"
    progress: bool = True


@dataclass
class PromptcheckSession:
    """Shared by every item of a session; builds the store and runner on first use."""

    root: Path
    options: Options
    session_id: str = field(
        default_factory=lambda: time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    )
    project: ProjectConfig = field(init=False)
    results: list[CaseResult] = field(default_factory=list)
    progress: Callable[[int], None] | None = None
    _store: Store | None = field(default=None, init=False)
    _runner: Runner | None = field(default=None, init=False)
    _runs: dict[str, str] = field(default_factory=dict, init=False)
    _registered: set[tuple[str, str]] = field(default_factory=set, init=False)
    _suites: dict[Path, SuiteSpec] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.project = load_project_config(self.root)
        # plugins/ and the modules suites name live in the project, wherever pytest is run from
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        for module in self.project.plugins:
            import_module(module)

    # --- suites and models -------------------------------------------------------------------

    def suite(self, path: Path) -> SuiteSpec:
        """Load (once) and compile a suite; raises SuiteError."""
        resolved = path.resolve()
        if resolved not in self._suites:
            self._suites[resolved] = load_suite(path, self.project)
        return self._suites[resolved]

    def models_for(self, suite: SuiteSpec) -> list[ModelConfig]:
        """The models a suite runs on: the options', else the default model, else all defined."""
        names: Sequence[str] = self.options.models
        if not names:
            default = suite.default_model or self.project.model
            names = (default,) if default else sorted({*self.project.models, *suite.models})
        if not names:
            raise ConfigError(
                "no model to run on",
                hint="define models in [tool.promptcheck] of pyproject.toml or in the suite, "
                "and pick one with --promptcheck-model NAME",
            )
        return [self.model(name, suite) for name in names]

    def model(self, name: str, suite: SuiteSpec) -> ModelConfig:
        """A model by name, as the suite sees it (its own definitions shadow the project's).

        Judge models are found the same way when the suite is compiled (``CaseSpec.judges``);
        the runner builds their backends lazily, in its one pool, the first time one is asked.
        """
        found = find_model(name, suite.models, self.project)
        if found is None:
            known = sorted({*self.project.models, *suite.models})
            raise ConfigError(
                f"unknown model {name!r}",
                hint=did_you_mean(name, known) or f"defined models: {', '.join(known) or 'none'}",
            )
        return found

    # --- running ---------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is None:
            from promptcheck.store import Store

            self._store = Store(self.store_path)
        return self._store

    @property
    def store_path(self) -> Path:
        configured = self.options.store or self.project.store or DEFAULT_STORE
        path = Path(configured)
        return path if path.is_absolute() else self.root / path

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            self._runner = Runner(
                cache=self.store,
                concurrency=self.options.concurrency
                or self.project.concurrency
                or DEFAULT_CONCURRENCY,
                fresh=self.options.fresh,
                progress=lambda count: self.progress(count) if self.progress else None,
            )
        return self._runner

    def run_case(
        self, suite: SuiteSpec, case: CaseSpec, model: ModelConfig, samples: int | None = None
    ) -> tuple[str, CaseResult]:
        """Run and record one case; returns the run id it was recorded under.

        ``samples`` overrides the option and the suite for this call only.
        """
        run_id = self.run_id(suite, model)
        result = self.runner.run_case(case, model, samples or self.options.samples)
        result = dataclasses.replace(result, suite_path=self.relative(suite.path))
        self.store.record_case(run_id, result)
        self.results.append(result)
        return run_id, result

    def relative(self, path: Path) -> str:
        """A suite's path as stored: relative to the project root, so that runs made in other
        checkouts (a CI runner, a colleague's clone) name the same suite the same way."""
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path.resolve())

    def run_id(self, suite: SuiteSpec, model: ModelConfig) -> str:
        """The store's run for this session and model, created on first use (idempotent)."""
        from promptcheck.store import RunInfo

        run_id = f"{self.session_id}-{model.name}"
        if (run_id, str(suite.path)) in self._registered:
            return run_id
        self.store.create_run(
            RunInfo(
                id=run_id,
                session=self.session_id,
                model=model.name,
                model_spec={"backend": model.backend, **model.raw},
                started_at=time.time(),
                label=self.options.label,
                git_commit=self.commit,
                versions=versions(),
                suites={self.relative(suite.path): suite.sha256},
            )
        )
        self._registered.add((run_id, str(suite.path)))
        self._runs[model.name] = run_id  # only runs that exist are finished
        return run_id

    @functools.cached_property
    def commit(self) -> str | None:
        return git_commit(self.root)

    def finish(self, run_ids: Sequence[str] = ()) -> None:
        """Close the runs of this session (and, from an xdist controller, those of its workers)."""
        if self._runner is not None:
            self._runner.close()
            self._runner = None
        ids = set(run_ids) | set(self._runs.values())
        if ids:
            for run_id in sorted(ids):
                self.store.finish_run(run_id, time.time())
        if self._store is not None:
            self._store.close()
            self._store = None


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
    """Versions that can change a model's outputs, recorded with each run."""
    found = {"promptcheck": __version__, "python": platform.python_version()}
    for name in ("torch", "transformers", "openai"):
        module = _loaded(name)
        if module is not None:
            found[name] = str(getattr(module, "__version__", "?"))
    return found


def _loaded(name: str) -> object | None:
    return sys.modules.get(name)


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() not in ("", "0", "false", "no")
