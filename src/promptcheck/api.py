"""Run suites from Python: the ``promptcheck`` fixture's object, usable outside pytest too."""

from __future__ import annotations

from pathlib import Path

from promptcheck.config import Options
from promptcheck.errors import ConfigError
from promptcheck.registry import did_you_mean
from promptcheck.results import CaseResult
from promptcheck.session import PromptcheckSession


class CaseRunner:
    """Runs single cases by suite path and case id, recording them like a pytest run does."""

    def __init__(self, root: Path, options: Options | None = None) -> None:
        self.session = PromptcheckSession(root=root, options=options or Options())

    def run(
        self,
        suite: str | Path,
        case: str,
        *,
        model: str | None = None,
        samples: int | None = None,
    ) -> CaseResult:
        path = Path(suite)
        if not path.is_absolute():
            path = self.session.root / path
        spec = self.session.suite(path)
        cases = {c.id: c for c in spec.cases}
        if case not in cases:
            raise ConfigError(
                f"suite {spec.id!r} has no case {case!r}",
                hint=did_you_mean(case, list(cases)) or f"cases: {', '.join(cases)}",
            )
        chosen = self.session.model(model, spec) if model else self.session.models_for(spec)[0]
        return self.session.run_case(spec, cases[case], chosen, samples)[1]

    def close(self) -> None:
        self.session.finish()
