"""Write scripted promptcheck projects into pytester's directory and run pytest on them.

Every project runs on the ``scripted`` backend, so the true conformance rate of every case is
known: a model's outputs are drawn from fixed weights (``scripted_model(0.5)`` conforms half the
time), or chosen by rules on the prompt, which gives an exact count when every combination of a
case is sampled once.
"""

from __future__ import annotations

import importlib
import json
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from promptcheck.results import CaseResult
from promptcheck.store.database import RunSummary, Store

GOOD = "GOOD"
BAD = "BAD"

#: pytester's in-process runs restore sys.modules afterwards. C extensions (numpy, libyaml) break
#: when their Python side is imported again, and re-importing hypothesis costs seconds: what a
#: run imports, lazily or not, is imported once, here.
WARM_MODULES = (
    "hypothesis.strategies",
    "scipy.stats",
    "yaml",
    "promptcheck.backends.scripted",
    "promptcheck.checks.format",
    "promptcheck.collection",
)
for _module in WARM_MODULES:
    importlib.import_module(_module)

# The local backend is a builtin of the registry; while it is being written, a project that
# cannot import it registers the scripted backend alone (in-process and in xdist workers).
PROJECT_CONFTEST = """\
import importlib.util

from promptcheck.backends.base import BACKENDS

if importlib.util.find_spec("promptcheck.backends.local") is None:
    BACKENDS._builtin_modules = ("promptcheck.backends.scripted",)
"""

#: Rules of the default model: the prompt says how often the answer conforms (``equals: GOOD``).
DEFAULT_RULES: list[dict[str, Any]] = [
    {"match": "^perfect", "outputs": [GOOD]},
    {"match": "^coin", "outputs": [GOOD, BAD]},
    {"match": "^broken", "outputs": [{"error": "HTTP 503: scripted outage"}]},
    {"match": "^flaky", "outputs": [{"text": GOOD}, {"error": "timeout", "weight": 9}]},
    # exactly one of twenty combinations is bad: 19/20, deterministically
    {"match": "^item 7$", "outputs": [BAD]},
    {"match": "^item \\d+$", "outputs": [GOOD]},
]


def scripted_model(
    rate: float | None = None,
    *,
    errors: float = 0.0,
    good: str = GOOD,
    bad: str = BAD,
    rules: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A scripted model: ``rate`` of its answers are ``good``, ``errors`` fail as API errors.

    Without ``rate`` the model answers by ``rules`` (default :data:`DEFAULT_RULES`).
    """
    if rate is None:
        return {"backend": "scripted", "rules": list(rules or DEFAULT_RULES)}
    weights = [
        ({"text": good}, rate * (1 - errors)),
        ({"text": bad}, (1 - rate) * (1 - errors)),
        ({"error": "scripted API error"}, errors),
    ]
    default = [{**output, "weight": weight} for output, weight in weights if weight > 0]
    return {"backend": "scripted", "default": default}


def toml_value(value: Any) -> str:
    """A TOML inline value (JSON strings are valid TOML basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def suite_yaml(suite: str, cases: str, *, defaults: str = "samples: 20", extra: str = "") -> str:
    """A suite file; ``cases`` is the YAML list of cases, written flush left."""
    text = f"suite: {suite}\ndefaults:\n{textwrap.indent(defaults.strip(), '  ')}\n"
    if extra:
        text += textwrap.dedent(extra).strip() + "\n"
    return text + "cases:\n" + textwrap.indent(textwrap.dedent(cases).strip(), "  ") + "\n"


#: A suite with one case of each kind of verdict on the default model.
VERDICTS_SUITE = suite_yaml(
    "verdicts",
    """
    - id: perfect
      prompt: perfect answer please
      expect: [{equals: GOOD}]
    - id: coin
      prompt: coin flip answer
      samples: 40
      expect:
        - starts_with: G
        - equals: GOOD
    - id: nineteen
      prompt: "item {{ i }}"
      vars: {i: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]}
      expect: [{equals: GOOD}]
    """,
)


#: A migration with a known answer: ``old`` always conforms; ``new`` answers prompts starting
#: with "json" correctly half the time and every other prompt always.
MIGRATION_MODELS = {
    "old": scripted_model(rules=[{"match": ".", "outputs": [GOOD]}]),
    "new": scripted_model(
        rules=[{"match": "^json", "outputs": [GOOD, BAD]}, {"match": ".", "outputs": [GOOD]}]
    ),
}


#: Two cases that always conform, three samples each.
TWO_CASES = suite_yaml(
    "pair",
    """
    - id: alpha
      prompt: perfect alpha
      expect: [{equals: GOOD}]
    - id: beta
      prompt: perfect beta
      expect: [{equals: GOOD}]
    """,
    defaults="samples: 3",
)


def collected(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if "::" in line and not line.startswith(" ")]


@dataclass
class Project:
    """A promptcheck project in pytester's directory: pyproject, conftest, suites, store."""

    pytester: pytest.Pytester
    models: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.pytester.path

    def configure(
        self,
        models: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        default: str | None = "demo",
        ini: str = "",
        promptcheck: str = "",
    ) -> None:
        """Write pyproject.toml (models in ``[tool.promptcheck]``) and the project conftest."""
        self.models = {
            name: dict(spec) for name, spec in (models or {"demo": scripted_model()}).items()
        }
        lines = [
            "[tool.pytest.ini_options]",
            textwrap.dedent(ini).strip(),
            "",
            "[tool.promptcheck]",
        ]
        if default is not None:
            lines.append(f"model = {toml_value(default)}")
        lines.append(textwrap.dedent(promptcheck).strip())
        for name, spec in self.models.items():
            lines.append(f"\n[tool.promptcheck.models.{name}]")
            lines.extend(f"{key} = {toml_value(value)}" for key, value in spec.items())
        self.write("pyproject.toml", "\n".join(lines) + "\n")
        self.write("conftest.py", PROJECT_CONFTEST)

    def write(self, relative: str, text: str) -> Path:
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def suite(self, name: str, text: str) -> Path:
        return self.write(f"suites/{name}.yaml", text)

    def run(self, *args: str, promptcheck: bool = True) -> pytest.RunResult:
        """pytest in-process on the project (``--promptcheck`` first unless told otherwise)."""
        flags = ["--promptcheck"] if promptcheck else []
        return self.pytester.runpytest(*flags, "--promptcheck-no-progress", *args)

    def run_subprocess(self, *args: str) -> pytest.RunResult:
        """pytest in a child process: for pytest-xdist, whose workers are processes anyway."""
        return self.pytester.runpytest_subprocess(
            "--promptcheck", "--promptcheck-no-progress", *args
        )

    @property
    def store_path(self) -> Path:
        return self.path / ".promptcheck" / "promptcheck.db"

    def store(self, path: Path | None = None) -> Store:
        return Store(path or self.store_path)

    def runs(self, path: Path | None = None) -> list[RunSummary]:
        """Recorded runs, oldest first."""
        with self.store(path) as store:
            return list(reversed(store.runs(limit=1000)))

    def results(self, run_id: str, path: Path | None = None) -> dict[str, CaseResult]:
        """A run's case results by ``case_id[model]``."""
        with self.store(path) as store:
            return {f"{r.case_id}[{r.model}]": r for r in store.case_results(run_id)}

    def last_results(self, model: str = "demo") -> dict[str, CaseResult]:
        run = [run for run in self.runs() if run.model == model][-1]
        return self.results(run.id)


@pytest.fixture
def project(pytester: pytest.Pytester) -> Iterator[Project]:
    """An empty project with the default rule-based model ``demo`` configured."""
    created = Project(pytester)
    created.configure()
    yield created


def junit_cases(path: Path) -> dict[str, dict[str, str]]:
    """JUnit XML testcases by ``name`` (``case[model]``), each with its properties and outcome."""
    cases: dict[str, dict[str, str]] = {}
    for testcase in ET.parse(path).getroot().iter("testcase"):
        found = {prop.get("name", ""): prop.get("value", "") for prop in testcase.iter("property")}
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            if testcase.find(tag) is not None:
                outcome = tag
        found["outcome"] = outcome
        cases[testcase.get("name", "")] = found
    return cases
