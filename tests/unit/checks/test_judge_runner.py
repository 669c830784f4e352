"""Judges in a suite and a run: collection errors, pairing, the answer cache, revisions, figures.

Models are ``scripted`` and answer by rules on the prompt, so every count below is exact.
"""

from __future__ import annotations

import asyncio
import dataclasses
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from promptcheck.backends.base import Generation, GenerationRequest, SamplingParams
from promptcheck.checks.base import Status
from promptcheck.errors import ConfigError, SuiteError
from promptcheck.project import ModelEntry, ProjectConfig
from promptcheck.results import CaseResult, JudgeFigures
from promptcheck.run.model_access import JUDGE_KEY_PREFIX, CaseModels, answer_key, traits_of
from promptcheck.run.runner import Runner
from promptcheck.suite.loader import ModelConfig, SuiteSpec, load_suite

GOOD = "A) hike\nB) museum\nC) dinner"
BAD = "1. hike\n2. museum"

#: The model under test: its outputs, its self-critique (always YES), its revisions (GOOD).
MODEL = """\
  demo:
    backend: scripted
    rules:
      - {match: "Question about the response", outputs: ["I checked the labels.\\nYES"]}
      - {match: "previous response", outputs: ["A) a\\nB) b\\nC) c"]}
      - {match: "Here is an instruction", outputs: ["NO"]}
      - {match: "trip 1", outputs: ["1. hike\\n2. museum"]}
      - {match: "trip", outputs: ["A) hike\\nB) museum\\nC) dinner"]}
"""
#: A judge that passes everything but the first trip's output: right on 3 of 4 combinations.
GRADER = """\
  grader:
    backend: scripted
    rules:
      - {match: "trip 2", outputs: ["Numbered, not lettered.\\nVERDICT: FAIL"]}
      - {match: "Rubric", outputs: ["Three lettered options.\\nVERDICT: PASS"]}
"""


@dataclass
class MemoryCache:
    entries: dict[str, Generation] = field(default_factory=dict)

    def cached_generations(self, keys: Sequence[str]) -> dict[str, Generation]:
        return {key: self.entries[key] for key in keys if key in self.entries}

    def cache_generations(self, items: Sequence[tuple[str, Generation]]) -> None:
        self.entries.update(items)


def suite_file(tmp_path: Path, expect: str, *, models: str = MODEL + GRADER) -> Path:
    text = (
        "suite: trips\ndefaults: {samples: 4, threshold: 0.5}\nmodels:\n"
        + models
        + "cases:\n  - id: options\n    prompt: 'Give three options for trip {{ n }}.'\n"
        + "    vars: {n: [1, 2, 3, 4]}\n    expect:\n"
        + textwrap.indent(textwrap.dedent(expect).strip(), "      ")
        + "\n"
    )
    path = tmp_path / "trips.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path, project: ProjectConfig | None = None) -> SuiteSpec:
    return load_suite(path, project or ProjectConfig(base_dir=path.parent))


@pytest.fixture
def runner() -> Iterator[Runner]:
    created = Runner(cache=MemoryCache())
    yield created
    created.close()


def run(runner: Runner, suite: SuiteSpec, model: str = "demo") -> CaseResult:
    return runner.run_case(suite.cases[0], suite.models[model])


# --- collection -----------------------------------------------------------------------------


def test_an_unknown_judge_model_is_a_collection_error_at_its_line(tmp_path: Path) -> None:
    path = suite_file(tmp_path, "- options: [A, B, C]\n- judge: {rubric: r, model: grder}")
    with pytest.raises(SuiteError) as raised:
        load(path)
    error = raised.value
    assert error.message == "unknown judge model 'grder'"
    assert error.hint == "did you mean 'grader'?"
    assert error.key == "cases[0].expect[1].judge.model"
    assert error.line is not None
    assert "model: grder" in path.read_text().splitlines()[error.line - 1]


def test_judge_models_come_from_the_suite_or_the_project(tmp_path: Path) -> None:
    path = suite_file(
        tmp_path, "- judge: {rubric: r, model: shared}\n- judge: {rubric: s, model: grader}"
    )
    project = ProjectConfig(
        base_dir=tmp_path,
        models={"shared": ModelEntry.model_validate({"backend": "scripted", "default": ["x"]})},
    )
    case = load(path, project).cases[0]
    assert sorted(case.judges) == ["grader", "shared"]
    assert case.judges["shared"].raw == {"default": ["x"]}
    with pytest.raises(SuiteError, match="unknown judge model 'shared'"):
        load(path)


@pytest.mark.parametrize(
    ("expect", "message", "key"),
    [
        ("- options: [A, B, C]\n- self_critique: {agrees_with: [1]}", "this check itself", "[0]"),
        ("- max_lines: 3\n- self_critique: {agrees_with: [0, 4]}", r"no expect\[4\]", "[1]"),
        (
            "- max_lines: 3\n- self_critique: Q?\n- judge: {rubric: r, model: grader, "
            "agrees_with: [0, 1]}",
            "asks a model too",
            "[1]",
        ),
        ("- self_critique: {agrees_with: all}", "no format checks", ""),
    ],
)
def test_bad_pairings_are_collection_errors(
    tmp_path: Path, expect: str, message: str, key: str
) -> None:
    with pytest.raises(SuiteError, match=message) as raised:
        load(suite_file(tmp_path, expect))
    assert raised.value.key is not None
    assert raised.value.key.endswith("agrees_with" + key)
    assert raised.value.line is not None


def test_a_question_may_only_name_declared_variables(tmp_path: Path) -> None:
    path = suite_file(tmp_path, "- self_critique: 'Is it for trip {{ m }}?'")
    with pytest.raises(SuiteError, match="undefined template variable 'm'") as raised:
        load(path)
    assert (raised.value.key, raised.value.hint) == (
        "cases[0].expect[0].self_critique",
        "declared: n",
    )
    assert load(suite_file(tmp_path, "- self_critique: 'Is it for trip {{ n }}?'")).cases


def test_pairs_resolve_to_format_checks(tmp_path: Path) -> None:
    path = suite_file(
        tmp_path,
        """
        - options: [A, B, C]
        - self_critique: {agrees_with: all}
        - max_lines: 3
        - judge: {rubric: r, model: grader, agrees_with: [2]}
        - self_critique: Q?
        """,
    )
    checks = load(path).cases[0].checks
    assert [(c.judging, c.pairs) for c in checks] == [
        (False, None),
        (True, (0, 2)),
        (False, None),
        (True, (2,)),
        (True, None),
    ]


# --- running --------------------------------------------------------------------------------


def test_agreement_is_a_confusion_matrix_over_the_samples(tmp_path: Path, runner: Runner) -> None:
    path = suite_file(
        tmp_path,
        """
        - options: [A, B, C]
        - judge: {rubric: three lettered options, model: grader, agrees_with: [0]}
        - self_critique: {question: Three options?, agrees_with: all}
        """,
    )
    result = run(runner, load(path))
    judge, critic = result.judges
    # trip 1 is bad (both judges say PASS); trip 2 is good but the grader says FAIL
    assert (judge.both_pass, judge.judge_pass_checks_fail) == (2, 1)
    assert (judge.judge_fail_checks_pass, judge.both_fail) == (1, 0)
    assert (judge.agreed, judge.compared, judge.judge) == (2, 4, "grader")
    assert (critic.both_pass, critic.judge_pass_checks_fail, critic.judge) == (3, 1, "self")
    assert result.properties["judges"][1]["agreement"] == 0.75
    grader_reason = next(
        c.reason
        for s in result.samples
        for c in s.checks
        if c.label == "judge" and c.status == "fail"
    )
    assert grader_reason == "Numbered, not lettered."


def test_unpaired_judges_report_no_agreement(tmp_path: Path, runner: Runner) -> None:
    path = suite_file(tmp_path, "- options: [A, B, C]\n- judge: {rubric: r, model: grader}")
    [figures] = run(runner, load(path)).judges
    assert figures.pairs is None and figures.compared == 0 and figures.voted == 4


def test_revisions_are_scored_by_the_paired_format_checks(tmp_path: Path, runner: Runner) -> None:
    path = suite_file(
        tmp_path,
        """
        - options: [A, B, C]
        - self_critique: {question: Three options?, prompt: dolly, revise: true}
        """,
    )
    result = run(runner, load(path))
    [figures] = result.judges
    # the dolly-worded question is answered NO every time, so every output is revised
    assert (figures.revised, figures.revised_conforming, figures.original_conforming) == (4, 4, 3)
    assert all("\nrevision conforms: " in s.checks[1].reason for s in result.samples)
    assert "revision conforms: 'A) a\\nB) b\\nC) c'" in result.samples[0].checks[1].reason
    assert result.properties["judges"][0]["revised_rate"] == 1.0


def test_judge_answers_are_cached_apart_from_generations(tmp_path: Path) -> None:
    path = suite_file(tmp_path, "- options: [A, B, C]\n- judge: {rubric: r, model: grader}")
    suite = load(path)
    cache = MemoryCache()
    first = Runner(cache=cache)
    try:
        before = run(first, suite)
    finally:
        first.close()
    judged = [key for key in cache.entries if key.startswith(JUDGE_KEY_PREFIX)]
    assert len(judged) == 4 and len(cache.entries) == 8
    # a cached answer is used as it is: rewrite it, and the next run reads the rewrite
    for key in judged:
        cache.entries[key] = Generation(text="Changed my mind.\nVERDICT: FAIL")
    again = Runner(cache=cache)
    fresh = Runner(cache=cache, fresh=True)
    try:
        assert {s.checks[1].status for s in run(again, suite).samples} == {Status.FAIL}
        assert [s.checks[1].status for s in run(fresh, suite).samples] == [
            s.checks[1].status for s in before.samples
        ]
    finally:
        again.close()
        fresh.close()


def test_judge_errors_are_retried_then_unscored_and_never_cached(tmp_path: Path) -> None:
    models = MODEL + "  grader:\n    backend: scripted\n    default: [{error: down}]\n"
    path = suite_file(
        tmp_path, "- options: [A, B, C]\n- judge: {rubric: r, model: grader}", models=models
    )
    cache = MemoryCache()
    runner = Runner(cache=cache)
    try:
        result = run(runner, load(path))
    finally:
        runner.close()
    assert {s.status for s in result.samples} == {"unscored", "fail"}
    assert "judge 'grader' failed: down" in result.samples[1].checks[1].reason
    assert not any(key.startswith(JUDGE_KEY_PREFIX) for key in cache.entries)


# --- model access ---------------------------------------------------------------------------


class NoParams(BaseModel):
    pass


def config(backend: str = "scripted", **raw: Any) -> ModelConfig:
    return ModelConfig("m", backend, NoParams(), raw, Path("."))


@dataclass
class Plain:
    calls: int = 0

    async def generate(self, request: GenerationRequest) -> Sequence[Generation]:
        self.calls += 1
        return [Generation(text=f"answer {seed}") for seed in request.seeds]


def test_traits_follow_the_backend() -> None:
    assert traits_of(config("openai", model="x"), Plain()).response_format is True
    completions = traits_of(config("openai", mode="completions", template="dolly"), Plain())
    assert (completions.prompt_format, completions.response_format) == ("dolly", False)
    local = Plain()
    local.format = "dolly"  # type: ignore[attr-defined]
    assert traits_of(config("local"), local).prompt_format == "dolly"
    told = Plain()
    told.supports_response_format = True  # type: ignore[attr-defined]
    assert traits_of(config(), told).response_format is True
    assert traits_of(config(), Plain()).response_format is False


def test_case_models_ask_only_what_the_cache_lacks() -> None:
    backend, cache = Plain(), MemoryCache()
    under_test, judge = config(), dataclasses.replace(config(), name="judge")

    async def generate(b: Any, request: GenerationRequest) -> Sequence[Generation]:
        return list(await b.generate(request))

    models = CaseModels(
        under_test=under_test,
        judges={"judge": judge},
        build=lambda model: backend,
        generate=generate,
        cache=cache,
        fresh=False,
        concurrency=2,
    )
    request = GenerationRequest("q", None, SamplingParams(0.0), (1, 2))
    first = asyncio.run(models.generate("judge", request))
    assert [g.text for g in first] == ["answer 1", "answer 2"]
    wider = dataclasses.replace(request, seeds=(2, 3))
    assert [g.text for g in asyncio.run(models.generate("judge", wider))] == [
        "answer 2",
        "answer 3",
    ]
    assert backend.calls == 2 and len(cache.entries) == 3
    other = dataclasses.replace(request, params=SamplingParams(0.0, extra={"response_format": 1}))
    assert answer_key(judge, backend, other, 1) != answer_key(judge, backend, request, 1)
    with pytest.raises(ConfigError, match="not one of this case's judges"):
        models.config("nobody")


def test_figures_round_trip_through_properties() -> None:
    figures = JudgeFigures(2, "judge", "gpt", (0, 1), 5, 1, 2, 3, 1, 0, 3, 4, 2, 6, 5, 4)
    data = figures.as_dict()
    assert data["agreement"] == 8 / 11 and data["consistency"] == 0.5
    assert JudgeFigures.from_dict(data) == figures
    stored = dataclasses.replace(sample_result(), properties={"judges": [data]})
    assert stored.judges == (figures,)
    assert sample_result().judges == ()


def sample_result() -> CaseResult:
    from promptcheck.stats import threshold_verdict

    return CaseResult("s", "s.yaml", "c", "m", (), threshold_verdict(0, 0, 0.9))
