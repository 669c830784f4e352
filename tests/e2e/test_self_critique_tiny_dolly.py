"""The tiny Dolly critic as its own critic on the example suites: how often does it agree with
the format checks about its own samples?

The project's example suites (``suites/``) run on the ``critic`` tiny Dolly (the base model
fine-tuned by the critic stage, train/critic.py) with a ``self_critique`` added to every case:
once with the question the training set asks for that kind of task, once with the generic
question, both paired with all of the case's format checks, the first also revising. The
agreement is read back from the store, written to ``$PROMPTCHECK_JUDGE_REPORT`` (or the test's
temporary directory) and printed with ``-s``. The issue's goal is 90%.

Building the tiny Dollys takes minutes on two cores, so the model is built here only when slow
tests were asked for (``-m slow``); otherwise the test runs when a build of the current recipe is
already in ``.promptcheck/models/tiny-dolly-critic`` (where the ``tiny-dolly`` backend builds it),
or on the checkpoint ``$PROMPTCHECK_TINY_DOLLY_CRITIC`` names, and skips otherwise.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("torch")
pytest.importorskip("transformers")

from promptcheck.checks.base import Status
from promptcheck.checks.judging import parse_answer
from promptcheck.formats import GENERIC_QUESTION
from promptcheck.results import CaseResult, JudgeFigures, combine
from promptcheck.store.database import Store
from promptcheck.train.tiny import TinyRecipe, build_tiny_dolly, is_built

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
GOAL = 0.90

#: The question the synthetic training set asks about each kind of task (train/synth.py).
QUESTIONS = {
    "ticket-json": 'Is the response JSON with only the keys "category" and "priority"?',
    "contact-json": 'Is the response JSON with the keys "name" and "email", the email in '
    "lowercase?",
    "three-options": "Does the response give exactly three options labeled A, B and C?",
    "yes-no": "Is the response exactly YES or NO?",
    "exactly-k-items": "Does the response list exactly {{ k }} items, each on a line starting "
    "with a dash?",
    "one-sentence-summary": "Is the response one sentence of at most 20 words, ending with a "
    "period?",
}


@pytest.fixture(scope="module")
def tiny_dolly(request: pytest.FixtureRequest) -> Path:
    """A given checkpoint is used as it is; the default one is built when -m slow asks for it."""
    given = os.environ.get("PROMPTCHECK_TINY_DOLLY_CRITIC")
    if given:
        if not (Path(given) / "config.json").is_file():
            pytest.fail(f"PROMPTCHECK_TINY_DOLLY_CRITIC={given} is not a checkpoint directory")
        return Path(given)
    path = ROOT / ".promptcheck" / "models" / "tiny-dolly-critic"  # where `tiny-dolly` builds
    if not is_built(path, TinyRecipe(variant="critic").digest()):
        if "slow" not in (request.config.getoption("markexpr") or ""):
            pytest.skip(
                f"no tiny Dolly critic of the current recipe in {path}: run with -m slow to "
                "build it (minutes), or set PROMPTCHECK_TINY_DOLLY_CRITIC to a built one"
            )
        build_tiny_dolly(path, "critic", progress=False)
    return path


def self_critiques(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The family's question over all format checks (revising too), and the generic one."""
    specific = {"question": QUESTIONS[case["id"]], "agrees_with": "all", "revise": True}
    every_check = list(range(len(case["expect"])))
    return [
        {"self_critique": specific},
        {"self_critique": {"question": GENERIC_QUESTION, "agrees_with": every_check}},
    ]


def run_example_suites(
    pytester: pytest.Pytester,
    added_checks: Callable[[dict[str, Any]], list[dict[str, Any]]],
    models: dict[str, Path],
) -> list[CaseResult]:
    """The example suites with ``added_checks(case)`` appended to every case, run on the first
    of ``models`` (local checkpoints by name); the cases as the store recorded them."""
    shutil.copytree(ROOT / "plugins", pytester.path / "plugins")
    shutil.copytree(ROOT / "suites", pytester.path / "suites")
    for path in sorted((pytester.path / "suites").glob("*.yaml")):
        suite = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert {case["id"] for case in suite["cases"]} <= set(QUESTIONS)
        for case in suite["cases"]:
            case["expect"] += added_checks(case)
        path.write_text(yaml.safe_dump(suite, sort_keys=False))
    settings = [f'[tool.promptcheck]\nmodel = "{next(iter(models))}"\nplugins = ["plugins.checks"]']
    settings += [
        f'[tool.promptcheck.models.{name}]\nbackend = "local"\npath = {json.dumps(str(path))}'
        for name, path in models.items()
    ]
    pytester.makepyprojecttoml("\n\n".join(settings))
    result = pytester.runpytest_subprocess("--promptcheck", "--promptcheck-no-progress", "suites")
    assert "promptcheck summary" in result.stdout.str(), result.stdout.str()
    with Store(pytester.path / ".promptcheck" / "promptcheck.db") as store:
        [run] = store.runs()
        return store.case_results(run.id)


def test_tiny_dolly_self_critique_agrees_with_the_format_checks(
    pytester: pytest.Pytester, tiny_dolly: Path, tmp_path: Path
) -> None:
    cases = run_example_suites(pytester, self_critiques, {"tiny": tiny_dolly})
    figures: dict[str, list[JudgeFigures]] = {"specific": [], "generic": []}
    per_case = {}
    for case in cases:
        specific, generic = case.judges
        figures["specific"].append(specific)
        figures["generic"].append(generic)
        per_case[case.case_id] = (specific.agreed, specific.compared, generic.agreed)
    totals = {name: combine(items) for name, items in figures.items()}
    report: dict[str, Any] = {
        name: {
            "agreed": total.agreed,
            "compared": total.compared,
            "agreement": total.agreed / total.compared if total.compared else None,
            "judge PASS, checks FAIL": total.judge_pass_checks_fail,
            "judge FAIL, checks PASS": total.judge_fail_checks_pass,
            "unreadable": total.judge_unscored,
            "revised": total.revised,
            "revised conforming": total.revised_conforming,
            "originals conforming": total.original_conforming,
        }
        for name, total in totals.items()
    }
    report["per case (specific agreed, compared, generic agreed)"] = per_case
    destination = Path(os.environ.get("PROMPTCHECK_JUDGE_REPORT", tmp_path / "agreement.json"))
    destination.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))

    specific = totals["specific"]
    assert specific.compared >= 100  # every example case was sampled and judged
    agreement = specific.agreed / specific.compared
    if agreement < GOAL:
        pytest.xfail(
            f"self-critique agrees with the format checks on {agreement:.1%} of samples, below "
            f"the {GOAL:.0%} goal (see test_tiny_dolly_answers_its_training_critiques)"
        )


def test_tiny_dolly_answers_its_training_critiques(tiny_dolly: Path, tmp_path: Path) -> None:
    """The critic's skill where it was taught: critique records drawn as the critic stage draws
    them (all three wordings, half of the responses wrong), the verdict read as ``self_critique``
    reads it. Low accuracy here means the model did not learn critique; high accuracy with low
    agreement above would mean the suites ask it differently from how it was trained."""
    from promptcheck.backends.base import (
        BACKENDS,
        BackendContext,
        GenerationRequest,
        SamplingParams,
    )
    from promptcheck.train.critic import critique_record

    rng = random.Random(2024)  # the stage's records are drawn from ("critic", seed, i)
    records = [critique_record(rng) for _ in range(120)]
    local = BACKENDS.get("local")
    backend = local.build(
        local.params.model_validate({"path": str(tiny_dolly)}), BackendContext(tmp_path)
    )
    greedy = SamplingParams(0.0, 1.0, 64)

    async def ask_all() -> list[str | None]:
        asked = [
            backend.generate(GenerationRequest(r.instruction, None, greedy, (0,))) for r in records
        ]
        return [answer[0].text for answer in await asyncio.gather(*asked)]

    answers = asyncio.run(ask_all())
    verdicts = [parse_answer(answer, "yes_no").status for answer in answers]
    wanted = [Status.PASS if r.response.endswith("\nYES") else Status.FAIL for r in records]
    right = sum(v == w for v, w in zip(verdicts, wanted, strict=True))
    said = {status.value: verdicts.count(status) for status in Status}
    reasons = sum(
        bool(answer) and answer.splitlines()[0] == record.response.splitlines()[0]
        for answer, record in zip(answers, records, strict=True)
    )
    print(
        f"training-format critiques: {right}/{len(records)} verdicts right, {reasons} reasons "
        f"word for word; verdicts {said}"
    )
    if right < GOAL * len(records):
        pytest.xfail(f"{right}/{len(records)} training-format critiques answered right")


def test_the_critic_as_judge_of_the_base_model(pytester: pytest.Pytester, tiny_dolly: Path) -> None:
    """LLM-as-judge with a real local judge: the suites run on the base tiny Dolly, and the critic
    grades each output through the ``judge`` check (``prompt: auto`` asks it in its trained
    wording), paired with all of the case's format checks."""
    base = tiny_dolly.parent / "tiny-dolly-full"  # where the critic build puts its base
    if not (base / "config.json").is_file():
        pytest.skip(f"no base tiny Dolly beside the critic ({base})")

    def judged_by_the_critic(case: dict[str, Any]) -> list[dict[str, Any]]:
        rubric = {"rubric": QUESTIONS[case["id"]], "model": "critic", "agrees_with": "all"}
        return [{"judge": rubric}]

    cases = run_example_suites(pytester, judged_by_the_critic, {"base": base, "critic": tiny_dolly})
    total = combine([case.judges[0] for case in cases])
    agreement = total.agreed / total.compared
    print(
        f"critic judging the base model: {total.agreed}/{total.compared} = {agreement:.1%} "
        f"agree with the format checks; judge PASS/checks FAIL {total.judge_pass_checks_fail}, "
        f"judge FAIL/checks PASS {total.judge_fail_checks_pass}, unreadable {total.judge_unscored}"
    )
    assert total.compared == 600
    assert total.judge_unscored == 0  # every answer was read: a reason line, then YES or NO
    if agreement < GOAL:
        pytest.xfail(f"the critic as judge agrees on {agreement:.1%}, below {GOAL:.0%}")
