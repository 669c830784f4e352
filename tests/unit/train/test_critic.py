"""The critic stage's data: reasoned critiques whose labels are the suites' checks' verdicts."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import pytest

from promptcheck.checks.judging import parse_answer
from promptcheck.formats import CRITIQUE_TEMPLATES, task_statement
from promptcheck.train import pools
from promptcheck.train.critic import CriticStage, critique_record, iter_critic_records
from promptcheck.train.critique import garble
from promptcheck.train.synth import GENERATORS

STAGE = CriticStage(records=2000)


@pytest.fixture(scope="module")
def records() -> list:  # type: ignore[type-arg]
    return list(iter_critic_records(STAGE, seed=3))


def list_size(instruction: str) -> str:
    """``exactly K``, K as the critique's question or its task statement gives it."""
    found = re.search(r"exactly (\d+) items", instruction) or re.search(r"\b(\d)\b", instruction)
    if found:
        return f"exactly {found[1]}"
    for k, word in pools.NUMBER_WORDS.items():
        if re.search(rf"\b{word}\b", instruction, re.IGNORECASE):
            return f"exactly {k}"
    return ""


def is_critique(instruction: str) -> bool:
    return "\n\nResponse:" in instruction and "YES or NO" in instruction


def test_the_stage_is_deterministic_and_half_critique(records: list) -> None:  # type: ignore[type-arg]
    assert list(iter_critic_records(STAGE, seed=3)) == records
    assert list(iter_critic_records(STAGE, seed=4)) != records
    share = sum(is_critique(r.instruction) for r in records) / len(records)
    assert 0.45 < share < 0.55
    smaller = list(iter_critic_records(replace(STAGE, records=100), seed=3))
    assert smaller == records[:100]  # record i does not depend on how many are drawn


def test_critiques_answer_with_a_reason_then_the_verdict(records: list) -> None:  # type: ignore[type-arg]
    critiques = [r for r in records if is_critique(r.instruction)]
    verdicts = Counter()
    for record in critiques:
        reason, verdict = record.response.split("\n")
        assert reason.endswith(".") and '"' not in reason and "{" not in reason
        verdicts[verdict] += 1
        parsed = parse_answer(record.response, "yes_no")
        assert parsed.status.value == ("pass" if verdict == "YES" else "fail")
        assert parsed.reasoning == reason  # the reason is what the check stores and shows
    assert set(verdicts) == {"YES", "NO"}
    assert 0.4 < verdicts["YES"] / len(critiques) < 0.6


def test_critiques_show_the_task_statement_without_its_data(records: list) -> None:  # type: ignore[type-arg]
    for record in records:
        if is_critique(record.instruction):
            assert "Ticket:" not in record.instruction and "Text:" not in record.instruction
            assert "Message:" not in record.instruction
    assert task_statement("Summarize this.\n\nText: long text") == "Summarize this."
    assert task_statement("  Is 4 even? Answer YES or NO.  ") == "Is 4 even? Answer YES or NO."


@pytest.mark.parametrize("family", ["exactly_k", "summary", "contact_json", "yes_no"])
def test_every_label_is_the_suites_verdict(
    family: str, conforms: Callable[[str, str, str], bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Critique records of one family: the response shown passes the suites' checks exactly
    when the answer is YES."""
    from promptcheck.train import critic

    monkeypatch.setattr(critic, "CRITIQUE_WEIGHTS", {family: 1.0})
    rng = random.Random(family)
    for _ in range(300):
        record = critique_record(rng)
        shown = re.search(r"Response:\s?(.*?)\n\n(?:Is|Does)", record.instruction, re.DOTALL)
        if shown is None:  # the template that puts the question first
            shown = re.search(r"Response: (.*)\Z", record.instruction, re.DOTALL)
        assert shown is not None, record.instruction
        good = record.response.endswith("\nYES")
        assert conforms(family, list_size(record.instruction), shown[1]) == good, record


def test_garbled_summaries_keep_their_format(conforms: Callable[[str, str, str], bool]) -> None:
    rng = random.Random(0)
    changed = 0
    for _ in range(300):
        task = GENERATORS["summary"](rng)
        garbled = garble(task.record.response, rng)
        assert conforms("summary", task.question or "", garbled), garbled
        changed += garbled != task.record.response
    assert changed > 250


def test_the_self_critique_prompt_is_the_trained_template() -> None:
    assert CRITIQUE_TEMPLATES[0].startswith("Here is an instruction and a response.")
