"""Judges through pytest: collection errors, reasoning in failures, agreement in the summary, the
stored figures and the answer cache. The summary is built from the items' report properties,
which is also how it reaches an xdist controller.

Every model is scripted by rules on the prompt, and each combination is sampled once, so every
figure is an exact count: trip 1's output is numbered (the format check fails it), the grader
wrongly fails trip 2, and the model's self-critique answers YES to everything but trip 1.
"""

from __future__ import annotations

import sqlite3

import pytest

from .conftest import Project, junit_cases, scripted_model, suite_yaml

GOOD = "A) hike\nB) museum\nC) dinner"
BAD = "1. hike\n2. museum"

MODELS = {
    "demo": scripted_model(
        rules=[
            {"match": "previous response", "outputs": ["A) a\nB) b\nC) c"]},
            {"match": "(?s)trip 1.*Question about", "outputs": ["Numbered.\nNO"]},
            {"match": "Question about", "outputs": ["Lettered A to C.\nYES"]},
            {"match": "^Give .* trip 1", "outputs": [BAD]},
            {"match": "^Give", "outputs": [GOOD]},
        ]
    ),
    "grader": scripted_model(
        rules=[
            {"match": "trip 2", "outputs": ["Numbered, not lettered.\nVERDICT: FAIL"]},
            {"match": "Rubric", "outputs": ["Three lettered options.\nVERDICT: PASS"]},
        ]
    ),
}

SUITE = suite_yaml(
    "trips",
    """
    - id: options
      prompt: "Give three options for trip {{ n }}, labeled A, B and C."
      vars: {n: [1, 2, 3, 4]}
      threshold: 0.5
      expect:
        - options: [A, B, C]
        - judge: {rubric: "Three options labeled A, B and C.", model: grader, agrees_with: [0]}
        - self_critique:
            question: Does the response give exactly three options labeled A, B and C?
            agrees_with: all
            revise: true
    """,
    defaults="samples: 4",
)


@pytest.fixture
def judged(project: Project) -> Project:
    project.configure(MODELS)
    project.suite("trips", SUITE)
    return project


def summary(result: pytest.RunResult) -> list[str]:
    section = result.stdout.str().split("= promptcheck summary =")[1]
    return section.split("runs recorded in")[0].splitlines()


def test_agreement_confusion_matrix_and_revisions_in_the_summary(judged: Project) -> None:
    result = judged.run("--junitxml=out.xml")
    result.assert_outcomes(passed=1)
    lines = summary(result)
    start = lines.index("  judges (P/F: judge PASS, format checks FAIL; agreement = P/P + F/F)")
    table = [" ".join(line.split()) for line in lines[start + 1 : start + 5]]
    assert table == [
        "case check agreement P/P P/F F/P F/F unread unanimous revised",
        "options [1] judge:grader 2/4 = 50.0% 2 1 1 0 0 - -",
        "options [2] self_critique:self 4/4 = 100.0% 3 0 0 1 0 - 4/4 = 100.0% (was 3/4)",
        "all 6/8 = 75.0% 5 1 1 1 0 - 4/4 = 100.0% (was 3/4)",
    ]
    assert any(
        line.startswith("judges on demo, all suites: judges: agrees with the format checks on 6/8")
        for line in lines
    )
    properties = junit_cases(judged.path / "out.xml")["options[demo]"]
    assert '"both_pass": 2' in properties["promptcheck_judges"]


def test_figures_and_reasoning_are_stored(judged: Project) -> None:
    judged.run()
    case = judged.last_results()["options[demo]"]
    grader, critic = case.judges
    assert (grader.judge, grader.pairs, grader.agreed, grader.compared) == ("grader", (0,), 2, 4)
    assert (critic.revised, critic.revised_conforming, critic.original_conforming) == (4, 4, 3)
    stored = case.properties["judges"][1]
    assert (stored["agreement"], stored["revised_rate"]) == (1.0, 1.0)
    trip2 = next(s for s in case.samples if s.variables == {"n": 2})
    assert trip2.checks[1].reason == "Numbered, not lettered."
    trip1 = next(s for s in case.samples if s.variables == {"n": 1})
    assert trip1.checks[2].reason.startswith("Numbered.\nrevision conforms: 'A) a")


def test_the_judges_reasoning_is_shown_in_failures(judged: Project) -> None:
    result = judged.run("--promptcheck-model=demo", "-o", "promptcheck_samples=4")
    assert result.ret == 0
    failing = judged.suite(
        "strict", SUITE.replace("suite: trips", "suite: strict").replace("0.5", "0.99")
    )
    result = judged.run(str(failing))
    text = result.stdout.str()
    assert "judge fail: Numbered, not lettered." in text
    assert "self_critique fail: Numbered." in text
    assert "[1] judge: agrees with the format checks on 2/4 = 50.0%" in text


def test_an_unknown_judge_model_fails_collection_with_a_suggestion(project: Project) -> None:
    project.configure(MODELS)
    project.suite("trips", SUITE.replace("model: grader", "model: grder"))
    result = project.run()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    text = result.stdout.str()
    assert "suites/trips.yaml:11: cases[0].expect[1].judge.model: unknown judge model 'grder'" in (
        text
    )
    assert "hint: did you mean 'grader'?" in text


def test_judge_answers_are_cached_apart_and_reused(judged: Project) -> None:
    judged.run()
    with sqlite3.connect(judged.store_path) as db:
        keys = [key for (key,) in db.execute("SELECT key FROM generation_cache")]
        judge_keys = [key for key in keys if key.startswith("judge:")]
        # 4 samples; 4 grader answers, 4 critiques and 1 revision
        assert (len(keys) - len(judge_keys), len(judge_keys)) == (4, 9)
        changed = "'Changed.' || char(10) || 'VERDICT: FAIL'"
        db.execute(  # cached texts live in the texts table (store schema 3)
            f"UPDATE texts SET text = {changed}, length = length({changed})"
            " WHERE text LIKE '%VERDICT: PASS' AND id IN (SELECT text_id FROM generation_cache)"
        )
    judged.run()
    grader = judged.last_results()["options[demo]"].judges[0]
    assert (grader.both_pass, grader.judge_fail_checks_pass) == (0, 3)
    judged.run("--promptcheck-fresh")
    assert judged.last_results()["options[demo]"].judges[0].both_pass == 2
