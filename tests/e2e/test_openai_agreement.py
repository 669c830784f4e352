"""One suite, three ways to the same checkpoint: the ``local`` backend in-process, and the
``openai`` backend through ``promptcheck serve`` (completions with Dolly's template rendered by
the client, as with vLLM; and chat with ``n``, rendered by the server).

The checkpoint answers YES with probability 0.8 and NO otherwise, whatever the prompt, so every
case's true conformance is known (0.8, 0.2, 1.0). The three runs must agree:

* completions, one sample per request: the same seed reaches the same sampler with the same
  token ids, so every sample is *identical* to what the local backend draws with its seed (each
  model draws seeds of its own, so the local backend is asked for the served samples' seeds);
* chat with n = 16: the server derives the seeds of a request's other choices, so samples
  differ, but each case's conformance must be consistent with the local run (Fisher's exact
  test) and with the true rate (an exact binomial interval), and every verdict must be equal.

Sampling is a pure function of the seeds, so these checks are deterministic, not flaky.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("openai")

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests.integration.conftest
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fakes

from fakes.branching_model import build_branching_dolly, torch_threads
from scipy.stats import binomtest, fisher_exact

from promptcheck.backends.base import BACKENDS, BackendContext, Generation, GenerationRequest
from promptcheck.project import load_project_config
from promptcheck.results import SampleOutcome
from promptcheck.serve import BackgroundServer, load_engine
from promptcheck.suite import CaseSpec, load_suite
from tests.integration.conftest import Project, suite_yaml

P_YES = 0.8
SAMPLES = 120
KEY_ENV = "PROMPTCHECK_E2E_SERVE_KEY"
KEY = "serve-key-for-the-agreement-test"

SUITE = suite_yaml(
    "yes-or-no",
    """
    - id: says-yes
      prompt: "Answer YES or NO. Is the {{ thing }} blue?"
      vars: {thing: [sky, sea]}
      threshold: 0.6
      expect: [{equals: "YES"}]
    - id: says-no
      prompt: "Answer YES or NO. Is fire cold?"
      threshold: 0.5
      expect: [{equals: "NO"}]
    - id: answers
      system: "You answer with one word."
      prompt: "Is water wet?"
      threshold: 0.95
      expect: [{regex: "^(YES|NO)$"}]
    """,
    defaults=f"samples: {SAMPLES}\ntemperature: 1.0\nmax_tokens: 8\nseed: 11",
)
TRUE_RATE = {"says-yes": P_YES, "says-no": 1 - P_YES, "answers": 1.0}


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_branching_dolly(tmp_path_factory.mktemp("branching") / "yes-no", P_YES)


@pytest.fixture(scope="module")
def server_url(checkpoint: Path) -> Iterator[str]:
    with BackgroundServer(load_engine(checkpoint, model_id="yes-no"), api_key=KEY) as url:
        yield url


def generate_locally(
    checkpoint: Path, case: CaseSpec, samples: Sequence[SampleOutcome]
) -> dict[int, Generation]:
    """What the ``local`` backend draws for these samples (their combinations and seeds), by
    seed, with the case's sampling parameters: the request the runner would send."""
    entry = BACKENDS.get("local")
    backend = entry.build(
        entry.params.model_validate({"path": str(checkpoint)}), BackendContext(checkpoint.parent)
    )
    by_combination: dict[int, list[int]] = {}
    for sample in samples:
        by_combination.setdefault(sample.combination, []).append(sample.seed)

    async def every() -> dict[int, Generation]:
        found: dict[int, Generation] = {}
        for index, seeds in by_combination.items():
            combination = case.combinations[index]
            request = GenerationRequest(
                combination.prompt, combination.messages, case.sampling, tuple(seeds)
            )
            found.update(zip(seeds, await backend.generate(request), strict=True))
        return found

    return asyncio.run(every())


def test_the_served_model_agrees_with_the_local_one(
    pytester: pytest.Pytester, checkpoint: Path, server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    served = {
        "backend": "openai",
        "base_url": server_url,
        "model": "yes-no",
        "api_key_env": KEY_ENV,
    }
    project = Project(pytester)
    project.configure(
        {
            "local": {"backend": "local", "path": str(checkpoint)},
            "completions": {
                **served,
                "mode": "completions",
                "template": "dolly",
                "n_per_request": 1,
            },
            "chat": {**served, "mode": "chat", "n_per_request": 16},
        },
        default=None,
    )
    project.suite("yes_no", SUITE)
    result = project.run(
        "--promptcheck-model=local,completions,chat", "--promptcheck-concurrency=32"
    )
    result.assert_outcomes(passed=6, failed=3)
    for model in ("local", "completions", "chat"):
        result.stdout.fnmatch_lines([f"FAILED suites/yes_no.yaml::says-no?{model}?*"])

    runs = {run.model: project.results(run.id) for run in project.runs()}
    local, exact, chat = (
        {key.split("[")[0]: value for key, value in runs[name].items()}
        for name in ("local", "completions", "chat")
    )
    suite = load_suite(project.path / "suites" / "yes_no.yaml", load_project_config(project.path))
    cases = {spec.id: spec for spec in suite.cases}
    for case, rate in TRUE_RATE.items():
        reference = local[case]
        assert reference.errors == exact[case].errors == chat[case].errors == 0
        # completions, one sample per request: sample for sample what the local model draws
        # with the same seeds (each model draws seeds of its own: ask the local one for these)
        local_draws = generate_locally(checkpoint, cases[case], exact[case].samples)
        assert {s.seed: s.output for s in exact[case].samples} == {
            seed: generation.text for seed, generation in local_draws.items()
        }
        assert (
            {s.formatted_prompt for s in exact[case].samples}
            == {generation.formatted_prompt for generation in local_draws.values()}
            == {s.formatted_prompt for s in reference.samples}
        )
        # chat with n: the same verdict, and rates consistent with each other and the truth
        assert (
            reference.verdict.outcome == exact[case].verdict.outcome == chat[case].verdict.outcome
        )
        counts = [r.count("pass") for r in (reference, chat[case])]
        assert counts[0] + reference.count("fail") == SAMPLES
        table = [[count, SAMPLES - count] for count in counts]
        assert fisher_exact(table).pvalue > 0.001, (case, counts)
        for count in counts:
            interval = binomtest(count, SAMPLES).proportion_ci(0.999, method="exact")
            assert interval.low <= rate <= interval.high, (case, count)
    stored = b"".join(path.read_bytes() for path in (project.path / ".promptcheck").iterdir())
    assert KEY.encode() not in stored
