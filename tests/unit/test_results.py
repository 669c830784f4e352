"""What a case is called: its verdict, or an error when samples were drawn and none scored."""

from __future__ import annotations

from promptcheck.config import MAX_REASON_CHARS
from promptcheck.results import (
    CaseResult,
    CheckOutcome,
    SampleOutcome,
    Status,
    case_status,
    nothing_scored_reason,
)
from promptcheck.stats import threshold_verdict


def sample(
    index: int, *, error: str | None = None, check: CheckOutcome | None = None
) -> SampleOutcome:
    output = None if error else "out"
    return SampleOutcome(index, 0, {}, "p", index, output, (check,) if check else (), error=error)


def case(*samples: SampleOutcome) -> CaseResult:
    scored = [s for s in samples if s.status in ("pass", "fail")]
    passed = sum(s.status == "pass" for s in scored)
    verdict = threshold_verdict(passed, len(scored), 0.95)
    return CaseResult("s", "s.yaml", "c", "m", samples, verdict)


UNSURE = CheckOutcome(0, "judge", Status.UNSCORED, "could not read the answer")


def test_the_status_is_the_outcome_unless_samples_were_drawn_and_none_scored() -> None:
    assert case_status("undecided", 0, 0) == "undecided"  # nothing drawn: nothing to judge
    assert case_status("undecided", 0, 3) == "error"
    assert case_status("pass", 20, 20) == "pass"
    assert case_status("fail", 1, 20) == "fail"


def test_the_reason_is_the_first_samples_error_or_unscored_check() -> None:
    errored = case(sample(0, error="HTTP 503: overloaded"), sample(1, check=UNSURE))
    assert (errored.status, errored.reason) == (
        "error",
        "no sample was scored: HTTP 503: overloaded",
    )
    unsure = case(sample(0, check=UNSURE), sample(1, error="HTTP 503"))
    assert unsure.reason == "no sample was scored: judge unscored: could not read the answer"
    assert unsure.verdict.outcome.value == "undecided"  # the statistics' own word is kept


def test_a_scored_case_has_no_reason() -> None:
    passing = CheckOutcome(0, "judge", Status.PASS)
    scored = case(sample(0, error="HTTP 503"), sample(1, check=passing))
    assert (scored.status, scored.reason) == ("undecided", None)


def test_the_reason_is_scrubbed_and_bounded() -> None:
    key = "sk-" + "a" * 40
    reason = nothing_scored_reason([sample(0, error=f"401 for key {key} " + "x" * 1000)], "")
    assert key not in reason and "<redacted>" in reason
    assert len(reason) == MAX_REASON_CHARS and reason.endswith("...")
    assert (
        nothing_scored_reason([], "no scored samples") == "no sample was scored: no scored samples"
    )
