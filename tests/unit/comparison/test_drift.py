"""The rule that tells a model changed behind its name, on served counts built by hand."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pytest

from promptcheck.comparison.drift import Served, baseline_drift, cache_drift, change
from promptcheck.results import (
    SERVED_KEY,
    CaseResult,
    SampleOutcome,
    ServedCount,
    served_counts,
)
from promptcheck.stats import Outcome, ThresholdVerdict


def served(models: Iterable[str] = (), fingerprints: Iterable[str] = ()) -> Served:
    return Served(frozenset(models), frozenset(fingerprints))


@pytest.mark.parametrize(
    ("before", "now", "said"),
    [
        # nothing known on either side, or only on one: no change can be told
        (served(), served({"b"}), None),
        (served({"a"}), served(), None),
        (served({"a"}, {"fp1"}), served({"a"}, {"fp1"}), None),
        # a new model id is a change; one already seen is not (a baseline across snapshots)
        (served({"a"}), served({"b"}), "is served by 'b', not 'a'"),
        (served({"a", "b"}), served({"b"}), None),
        (served({"a"}), served({"a", "b"}), "is served by 'b', not 'a'"),
        # fingerprints rotate between deployments: only no overlap at all is a change
        (served({"a"}, {"fp1", "fp2"}), served({"a"}, {"fp2", "fp3"}), None),
        (
            served({"a"}, {"fp1"}),
            served({"a"}, {"fp2"}),
            "answers with system fingerprint 'fp2', not 'fp1'",
        ),
        (served({"a"}, {"fp1"}), served({"a"}), None),
    ],
)
def test_what_counts_as_a_change(before: Served, now: Served, said: str | None) -> None:
    assert change(before, now) == said


def test_long_listings_are_cut() -> None:
    said = change(served({"a"}), served({"b", "c", "d", "e", "f"}))
    assert said == "is served by 'b', 'c', 'd' and 2 more, not 'a'"


#: A hosted model's configuration, as ``[tool.promptcheck.models.gpt]`` gives it.
SPEC = {"backend": "openai", "model": "gpt-test", "base_url": "https://api.example/v1"}


def case(model: str, *counts: ServedCount) -> CaseResult:
    verdict = ThresholdVerdict(Outcome.PASS, 10, 10, 0.9, 0.05, (0.7, 1.0), "10/10")
    return CaseResult(
        suite="s",
        suite_path="suites/s.yaml",
        case_id="c",
        model=model,
        samples=(),
        verdict=verdict,
        properties={SERVED_KEY: [count.as_dict() for count in counts]},
    )


def test_a_comparison_looks_at_the_candidates_fresh_samples_only() -> None:
    baseline = [case("gpt", ServedCount("gpt-old", None, fresh=10))]
    # the candidate reused the baseline's samples and drew ten more from the new snapshot
    candidate = [
        case("gpt", ServedCount("gpt-old", None, cached=10), ServedCount("gpt-new", None, fresh=10))
    ]
    said = baseline_drift("gpt", SPEC, baseline, "gpt", SPEC, candidate)
    assert said is not None and said.startswith("model 'gpt' is served by 'gpt-new', not 'gpt-old'")
    assert said.endswith("record the baseline again with --promptcheck-fresh")
    only_cached = [case("gpt", ServedCount("gpt-new", None, cached=10))]
    assert baseline_drift("gpt", SPEC, baseline, "gpt", SPEC, only_cached) is None


def test_two_different_models_are_a_migration_not_a_drift() -> None:
    baseline = [case("old", ServedCount("gpt-old", None, fresh=10))]
    candidate = [case("new", ServedCount("gpt-new", None, fresh=10))]
    assert baseline_drift("old", SPEC, baseline, "new", SPEC, candidate) is None


def test_a_name_pointed_at_another_model_is_what_the_comparison_measures() -> None:
    baseline = [case("gpt", ServedCount("gpt-old-2024", None, fresh=10))]
    candidate = [case("gpt", ServedCount("gpt-other-2025", None, fresh=10))]
    moved = {**SPEC, "model": "gpt-other"}
    assert baseline_drift("gpt", SPEC, baseline, "gpt", moved, candidate) is None
    # the same spec with its secret rotated (stored redacted) is the same model, and drifted
    stored = {**SPEC, "api_key": "<redacted>"}
    rotated = {**SPEC, "api_key": "sk-live-rotated"}
    said = baseline_drift("gpt", stored, baseline, "gpt", rotated, candidate)
    assert said is not None and "is served by 'gpt-other-2025'" in said


def test_a_re_run_compares_its_fresh_samples_with_its_cached_ones_per_model() -> None:
    said = cache_drift(
        {
            "gpt": [
                ServedCount("gpt-old", "fp1", cached=7),
                ServedCount("gpt-old", "fp2", fresh=3),
            ],
            "steady": [ServedCount("m", "fp", cached=5), ServedCount("m", "fp", fresh=5)],
            "all-fresh": [ServedCount("m2", None, fresh=5)],
        }
    )
    assert said == [
        "model 'gpt' answers with system fingerprint 'fp2', not 'fp1' as in the 7 cached "
        "sample(s) this run reused: they may no longer be what the model answers; run again "
        "with --promptcheck-fresh"
    ]


def sample(index: int, model: str | None, fingerprint: str | None, cached: bool) -> SampleOutcome:
    return SampleOutcome(
        index=index,
        combination=0,
        variables={},
        prompt="p",
        seed=index,
        output="x",
        cached=cached,
        served_model=model,
        served_fingerprint=fingerprint,
    )


def test_served_counts_group_samples_and_skip_those_that_report_nothing() -> None:
    samples = [
        sample(0, "a", "fp", cached=True),
        sample(1, "a", "fp", cached=False),
        sample(2, "a", "fp", cached=False),
        sample(3, None, None, cached=False),  # a local backend's
        sample(4, "b", None, cached=False),
    ]
    assert served_counts(samples) == (
        ServedCount("a", "fp", fresh=2, cached=1),
        ServedCount("b", None, fresh=1, cached=0),
    )


@pytest.mark.parametrize(
    "stored",
    [
        "not a list",
        [None, 3, {"model": 1}, {"model": "a", "fresh": "2"}, {"fingerprint": ["x"]}],
    ],
)
def test_served_counts_read_back_from_a_store_edited_by_hand_skip_the_unreadable(
    stored: object,
) -> None:
    result = dataclasses.replace(case("gpt"), properties={SERVED_KEY: stored})
    assert result.served == ()


def test_served_counts_round_trip_through_their_json_form() -> None:
    counts = (ServedCount("a", None, 1, 2), ServedCount(None, "fp", 0, 3))
    assert case("gpt", *counts).served == counts
