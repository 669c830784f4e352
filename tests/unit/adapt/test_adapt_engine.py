"""The adapt engine on scripted models whose behaviour is known.

``old`` answers every ticket prompt in JSON naming the ticket; ``new`` answers in JSON only
when the prompt puts the data first (``Ticket: ...``), so the ticket case regresses and exactly
the ``after-data`` operator (or an optimizer that proposes it) fixes it; the options case
conforms on both and must be left alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promptcheck.adapt import AdaptContext, Adapter, AdaptReport, AdaptSettings
from promptcheck.adapt.split import split_combinations
from promptcheck.backends.base import (
    BackendContext,
    Generation,
    GenerationRequest,
    register_backend,
)
from promptcheck.backends.scripted import ScriptedBackend, ScriptedParams
from promptcheck.project import load_project_config
from promptcheck.report.adapt_text import text_lines
from promptcheck.run import Runner
from promptcheck.store import Store
from promptcheck.store.provenance import RunFacts
from promptcheck.suite import load_suite

TICKETS = "abcdefgh"
SUITE = """\
suite: demo
defaults:
  samples: 40
cases:
  - id: ticket-json
    prompt: |-
      Classify this support ticket. Reply with JSON only.

      Ticket: {{ ticket }}
    vars:
      ticket: [a, b, c, d, e, f, g, h]
    expect:
      - json
      - json_schema: {type: object, required: [category, priority]}
  - id: options
    prompt: Give three options for {{ topic }}, labeled A, B and C.
    vars: {topic: [x, y]}
    expect:
      - options: [A, B, C]
  - id: elsewhere
    prompt: Only on another model {{ v }}.
    models: [other]
    vars: {v: [1]}
    expect: [json]
"""


def answer(letter: str) -> str:
    return json.dumps({"category": "billing", "priority": "P2", "ticket": letter})


def models(optimizer: list[Any] | None = None) -> dict[str, dict[str, Any]]:
    options = {"match": "^Give", "outputs": ["A) x\nB) y\nC) z"]}
    old_rules = [{"match": f"Ticket: {t}$", "outputs": [answer(t)]} for t in TICKETS]
    new_rules = [{"match": f"^Ticket: {t}\\b", "outputs": [answer(t)]} for t in TICKETS]
    found: dict[str, dict[str, Any]] = {
        "old": {"backend": "scripted", "rules": [options, *old_rules]},
        "new": {
            "backend": "scripted",
            "rules": [options, *new_rules],
            "default": ["category: billing\npriority: P2"],
        },
    }
    if optimizer is not None:
        found["helper"] = {"backend": "scripted", "rules": optimizer}
    return found


def toml_value(value: Any) -> str:
    """A TOML inline value (JSON strings are valid TOML basic strings)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return json.dumps(value)


def toml(models: dict[str, dict[str, Any]]) -> str:
    lines = []
    for name, spec in models.items():
        lines.append(f"[tool.promptcheck.models.{name}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in spec.items()]
    return "\n".join(lines) + "\n"


def run_adapt(
    root: Path,
    *,
    optimizer: str | None = None,
    settings: AdaptSettings | None = None,
    baseline: str = "old",
) -> AdaptReport:
    project = load_project_config(root)
    suite = load_suite(root / "suite.yaml", project)
    store = Store(root / "runs.db")
    runner = Runner(cache=store)
    context = AdaptContext(
        runner, project, root, RunFacts(f"s{len(store.runs())}", 0.0, "adapt"), store
    )
    try:
        return Adapter(
            context, candidate="new", baseline=baseline, optimizer=optimizer, settings=settings
        ).adapt([suite])
    finally:
        runner.close()
        store.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(toml(models()))
    (tmp_path / "suite.yaml").write_text(SUITE)
    return tmp_path


def test_the_regressed_case_is_adapted_and_the_others_left_alone(root: Path) -> None:
    report = run_adapt(root)
    statuses = {s.case_id: s.status for s in report.statuses}
    assert statuses == {"ticket-json": "adapted", "options": "conforms", "elsewhere": "skipped"}
    [case] = report.cases
    assert case.why == ("regressed", "below threshold") and case.goal == "threshold"
    assert case.winner == "after-data" and case.adapted
    assert case.chosen is not None and case.chosen.prompt == (
        "Ticket: {{ ticket }}\n\nClassify this support ticket. Reply with JSON only."
    )
    trials = {t.name: t for t in case.trials}
    assert trials["after-data"].status == "winner"
    assert all(t.status == "eliminated" for n, t in trials.items() if n != "after-data")
    assert case.confirmation is not None and case.confirmation.fixed
    assert case.confirmation.k == case.confirmation.n == 40
    assert (case.search_values, case.held_out_values) == (4, 4)
    [patch] = report.patches
    assert patch.cases == ("ticket-json",)
    assert "Give three options" in patch.patched and patch.patched.count("Ticket:") == 1


def test_the_example_comes_from_a_search_value_never_a_held_out_one(root: Path) -> None:
    report = run_adapt(root)
    [case] = report.cases
    example = next(t for t in case.trials if t.name == "baseline-example").template.main
    suite = load_suite(root / "suite.yaml", load_project_config(root))
    split = split_combinations(suite.cases[0], 0.5, seed=0)
    searched = {c.variables["ticket"] for c in split.search}
    shown = json.loads(example.rsplit("\n", 1)[1])["ticket"]
    assert shown in searched


def test_everything_is_recorded_and_a_rerun_costs_nothing(root: Path) -> None:
    first = run_adapt(root)
    second = run_adapt(root)
    spend = second.spend
    drawn = spend.diagnosis + spend.search + spend.confirmation
    assert drawn == first.spend.diagnosis + first.spend.search + first.spend.confirmation
    assert spend.cached == drawn  # every sample came from the cache
    assert [c.adapted for c in second.cases] == [True]
    with Store(root / "runs.db") as store:
        runs = store.runs()
        labelled = [run for run in runs if run.label == "adapt"]
        assert {run.model for run in labelled} == {"new"}
        assert {run.model for run in runs} == {"new", "old"}
        cases = {c.case_id for c in store.case_results(labelled[0].id)}
    assert {
        "ticket-json",
        "options",
        "ticket-json@after-data",
        "ticket-json@after-data:held-out",
        "ticket-json@format-reminder",
    } <= cases


def test_the_optimizer_is_asked_and_its_rewrites_checked(root: Path) -> None:
    rules = [
        {
            "match": "Ticket: \\{\\{ ticket \\}\\}",
            "outputs": [
                "Here you go:\n```\nTicket: {{ ticket }}\nPlease reply with JSON.\n```",
                "```\nClassify {{ ticket }} for {{ customer }}.\n```",
            ],
        },
    ]
    (root / "pyproject.toml").write_text(toml(models(rules)))
    report = run_adapt(root, optimizer="helper", settings=AdaptSettings(optimizer_rewrites=4))
    [case] = report.cases
    proposed = [t for t in case.trials if t.origin == "optimizer"]
    assert len(proposed) == 4
    reasons = {t.status for t in proposed} | {t.reason for t in proposed}
    assert "uses variable(s) the case does not define: customer" in reasons
    assert any(
        t.template.prompt == "Ticket: {{ ticket }}\nPlease reply with JSON." for t in proposed
    )
    assert report.spend.calls == 4 and report.spend.cached_calls == 0
    again = run_adapt(root, optimizer="helper", settings=AdaptSettings(optimizer_rewrites=4))
    assert again.spend.cached_calls == 4
    with Store(root / "runs.db") as store:
        helper = [run for run in store.runs() if run.model == "helper"]
        assert helper
        [asked] = [
            c for c in store.case_results(helper[0].id) if c.case_id == "ticket-json@optimizer"
        ]
    assert len(asked.samples) == 4 and "add no other variable" in asked.samples[0].prompt


def test_the_call_budget_caps_the_optimizer(root: Path) -> None:
    (root / "pyproject.toml").write_text(toml(models([{"match": ".", "outputs": ["x"]}])))
    report = run_adapt(root, optimizer="helper", settings=AdaptSettings(budget_calls=0))
    assert report.spend.calls == 0
    assert "ticket-json: no optimizer call left" in report.warnings


def test_the_sample_budget_stops_the_race_and_keeps_the_held_out_test_paid(root: Path) -> None:
    report = run_adapt(root, settings=AdaptSettings(budget_samples=45))
    [case] = report.cases
    assert not case.adapted and case.winner is None
    assert case.race_reason.startswith("the sample budget is spent")
    assert report.spend.rewrite_samples <= 45
    assert any("sample budget" in warning for warning in report.warnings)
    assert report.statuses[0].status == "not adapted"


def test_a_case_no_rewrite_fixes_is_reported_with_the_best_rates(root: Path) -> None:
    spec = models()
    spec["new"]["rules"] = spec["new"]["rules"][:1]  # JSON never again
    (root / "pyproject.toml").write_text(toml(spec))
    report = run_adapt(root)
    [case] = report.cases
    assert not case.adapted and case.confirmation is None and not report.patches
    assert case.race_reason.startswith("no rewrite can reach 0.9")
    assert all(t.search is not None and t.search.k == 0 for t in case.trials)


def test_a_regression_from_a_baseline_below_its_threshold_aims_at_the_baseline(
    root: Path,
) -> None:
    spec = models()
    for rule in spec["old"]["rules"][1:]:  # old conforms four times in five
        rule["outputs"] = [rule["outputs"][0]] * 4 + ["not json"]
    (root / "pyproject.toml").write_text(toml(spec))
    report = run_adapt(root)
    [case] = report.cases
    assert case.goal == "baseline" and case.adapted
    assert case.confirmation is not None
    # the baseline is sampled anew on the held-out values (40 samples, as the held-out test):
    # the diagnosis's few samples there decided that the case needs adapting
    with Store(root / "runs.db") as store:
        [old] = [run for run in store.runs() if run.model == "old"]
        [held] = [
            c for c in store.case_results(old.id) if c.case_id == "ticket-json@baseline:held-out"
        ]
    suite = load_suite(root / "suite.yaml", load_project_config(root))
    held_out = split_combinations(suite.cases[0], 0.5, seed=0).held_out
    assert {s.variables["ticket"] for s in held.samples} == {
        c.variables["ticket"] for c in held_out
    }
    conforming = sum(1 for s in held.samples if s.status == "pass")
    assert len(held.samples) == 40 and 20 < conforming < 40
    assert f"no worse than the baseline's {conforming}/40" in case.confirmation.reason


def fitted_to_the_search_values() -> dict[str, dict[str, Any]]:
    """``new`` answers the data-first prompt in JSON only for the search tickets (d-g, seed 0),
    the prompt with an ``Input:`` section for every ticket: the race cannot tell the two apart,
    and its winner (the earlier, data-first) does not hold on the held-out tickets."""
    spec = models()
    options = spec["new"]["rules"][0]
    fitted = [{"match": f"^Ticket: {t}\\b", "outputs": [answer(t)]} for t in "defg"]
    general = [{"match": f"Input:\nTicket: {t}$", "outputs": [answer(t)]} for t in TICKETS]
    spec["new"]["rules"] = [options, *fitted, *general]
    return spec


def test_a_contender_is_tested_when_the_race_winner_fails_on_the_held_out_values(
    root: Path,
) -> None:
    (root / "pyproject.toml").write_text(toml(fitted_to_the_search_values()))
    report = run_adapt(root)
    [case] = report.cases
    trials = {t.name: t for t in case.trials}
    assert trials["after-data"].search == trials["input-section"].search  # 40/40 each
    assert trials["after-data"].status == "refused"
    assert trials["after-data"].reason.startswith("held-out 0/")
    assert trials["input-section"].status == "chosen"
    assert case.adapted and case.winner == "input-section"
    assert case.chosen is not None and "Input:" in case.chosen.prompt
    assert case.confirmation is not None and case.confirmation.k == case.confirmation.n == 40
    assert "at level 0.025 (0.05 split between them)" in case.note
    with Store(root / "runs.db") as store:
        [new] = [run for run in store.runs() if run.model == "new"]
        held = {c.case_id for c in store.case_results(new.id) if c.case_id.endswith("held-out")}
    assert held == {"ticket-json@after-data:held-out", "ticket-json@input-section:held-out"}


def test_one_contender_keeps_the_whole_level_for_the_winner(root: Path) -> None:
    (root / "pyproject.toml").write_text(toml(fitted_to_the_search_values()))
    report = run_adapt(root, settings=AdaptSettings(contenders=1))
    [case] = report.cases
    assert not case.adapted and case.winner == "after-data"
    assert case.confirmation is not None and case.confirmation.k == 0
    assert {t.name: t.status for t in case.trials}["input-section"] == "not chosen"


def test_a_stored_run_of_the_candidate_is_never_sampled_again_as_its_baseline(
    root: Path,
) -> None:
    """Yesterday's run of model "new" is the baseline; today's "new" cannot stand in for it on
    the held-out values (it would be the candidate against itself): the goal is the threshold."""
    options = {"match": "^Give", "outputs": ["A) x\nB) y\nC) z"]}
    four_in_five = [
        {"match": f"Ticket: {t}$", "outputs": [answer(t)] * 4 + ["not json"]} for t in TICKETS
    ]
    yesterday = {"backend": "scripted", "rules": [options, *four_in_five]}
    half = [{"match": f"^Ticket: {t}\\b", "outputs": [answer(t), "not json"]} for t in TICKETS]
    today = {"backend": "scripted", "rules": [options, *half], "default": ["category: billing"]}
    old = {"backend": "scripted", "rules": [options, *four_in_five]}
    (root / "pyproject.toml").write_text(toml({"old": old, "new": yesterday}))
    run_adapt(root)  # records a run of yesterday's "new"
    with Store(root / "runs.db") as store:
        [stored] = [run.id for run in store.runs() if run.model == "new"]
    (root / "pyproject.toml").write_text(toml({"old": old, "new": today}))
    report = run_adapt(root, baseline=stored)
    [case] = report.cases
    assert "regressed" in case.why
    assert case.goal == "threshold" and not case.adapted  # a rewrite at 0.5 is no fix
    assert "cannot be sampled again" in case.note
    with Store(root / "runs.db") as store:
        recorded = {c.case_id for run in store.runs() for c in store.case_results(run.id)}
    assert "ticket-json@baseline:held-out" not in recorded


def test_no_more_contenders_than_the_budget_can_test(root: Path) -> None:
    """The race draws 120 samples; 45 left pay for one held-out test of 40: the winner alone is
    tested, at the whole level, and the other contender is reported untested."""
    (root / "pyproject.toml").write_text(toml(fitted_to_the_search_values()))
    report = run_adapt(root, settings=AdaptSettings(budget_samples=165))
    [case] = report.cases
    assert report.spend.search == 120
    trials = {t.name: t for t in case.trials}
    assert trials["after-data"].status == "refused"
    assert trials["input-section"].status == "not tested"
    assert "pays for 1 held-out test(s) of 40" in trials["input-section"].reason
    assert not case.adapted and "split between" not in case.note


def test_candidate_and_baseline_must_differ(root: Path) -> None:
    from promptcheck.errors import ConfigError

    project = load_project_config(root)
    with Store(root / "runs.db") as store:
        runner = Runner(cache=store)
        context = AdaptContext(runner, project, root, RunFacts("x", 0.0), store)
        with pytest.raises(ConfigError, match="both model 'new'"):
            Adapter(context, candidate="new", baseline="new").adapt(
                [load_suite(root / "suite.yaml", project)]
            )
        runner.close()


class PricedParams(ScriptedParams):
    """A scripted model that reports a price: one cent per sample it generates."""


class PricedBackend(ScriptedBackend):
    def __init__(self, params: ScriptedParams) -> None:
        super().__init__(params)
        self.usage = {"requests": 0, "cost": 0.0}

    async def generate(self, request: GenerationRequest) -> list[Generation]:
        self.usage["requests"] += 1
        self.usage["cost"] += 0.01 * request.n
        return await super().generate(request)


@register_backend("adapt-priced", PricedParams)
def build_priced(params: PricedParams, context: BackendContext) -> PricedBackend:
    """A scripted model with a price, for the cost budget."""
    return PricedBackend(params)


def test_the_cost_budget_stops_the_work_once_the_models_report_it_spent(root: Path) -> None:
    spec = models()
    spec["new"]["backend"] = "adapt-priced"
    (root / "pyproject.toml").write_text(toml(spec))
    # the diagnosis draws the gate's planned budget on both models (160 samples each here), and
    # only the candidate has a price: 0.01 x 160 = 1.6, past the budget before any race
    report = run_adapt(root, settings=AdaptSettings(budget_cost=0.5))
    [case] = report.cases
    assert not case.adapted and case.race_reason.startswith("the cost budget is spent")
    assert report.spend.diagnosis == 320 and report.spend.search == 0
    assert report.spend.cost == pytest.approx(1.6)
    assert "ticket-json: race stopped by the cost budget" in report.warnings
    assert "cost $1.60 of $0.50" in "\n".join(text_lines(report))


def test_a_cost_budget_without_prices_is_reported_as_not_applied(root: Path) -> None:
    report = run_adapt(root, settings=AdaptSettings(budget_cost=1.0))
    assert report.cases[0].adapted and report.spend.cost is None
    assert any("no model reported a price" in warning for warning in report.warnings)


def test_a_candidate_that_errors_is_undecided_not_conforming(root: Path) -> None:
    spec = models()
    spec["new"] = {"backend": "scripted", "default": [{"error": "HTTP 503: down"}]}
    (root / "pyproject.toml").write_text(toml(spec))
    report = run_adapt(root)
    statuses = {s.case_id: (s.status, s.detail) for s in report.statuses}
    assert statuses["options"] == ("undecided", "0/0 on the candidate (undecided)")
    assert not report.cases  # no evidence of a regression: nothing to adapt
    assert any(
        "errored in ticket-json (80 of 80), options (80 of 80)" in w for w in report.warnings
    )
