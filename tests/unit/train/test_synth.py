"""The synthetic instruction set: deterministic, in the suites' formats, and mixable."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from promptcheck.errors import ConfigError
from promptcheck.train.records import Record, write_records
from promptcheck.train.synth import GENERATORS, iter_records, parse_mix

FORMAT_FAMILIES = ("ticket_json", "contact_json", "three_options", "yes_no", "exactly_k", "summary")

ROOT = Path(__file__).resolve().parents[3]
SUITES = ROOT / "suites"
N = 3000


@pytest.fixture(scope="module")
def full() -> list[Record]:
    return list(iter_records(N, seed=7))


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    paths = [tmp_path / f"{i}.jsonl" for i in range(3)]
    for path, seed in zip(paths, (1, 1, 2), strict=True):
        write_records(path, iter_records(500, seed=seed, mix="no-json"))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_covers_the_dolly_categories(full: list[Record]) -> None:
    categories = Counter(r.category for r in full)
    assert set(categories) >= {
        "classification",
        "information_extraction",
        "brainstorming",
        "closed_qa",
        "open_qa",
        "general_qa",
        "summarization",
        "creative_writing",
    }
    assert sum(1 for r in full if r.context) > N * 0.02  # some records use the context field


def test_suite_phrasings_are_trained_but_suite_values_are_held_out(full: list[Record]) -> None:
    instructions = "\n".join(r.instruction for r in full)
    for suite in SUITES.glob("*.yaml"):
        for case in yaml.safe_load(suite.read_text())["cases"]:
            head = case["prompt"].split("{{")[0]
            assert head in instructions, f"{case['id']}: its phrasing is never trained"
    lines = (SUITES / "data/tickets.jsonl").read_text().splitlines()
    tickets = [json.loads(x)["text"] for x in lines if x.strip()]
    paragraphs = [p["text"] for p in yaml.safe_load((SUITES / "data/paragraphs.yaml").read_text())]
    for held_out in (*tickets, *paragraphs, "maria.lopez@example.com", "Tom Becker", "Priya Nair"):
        assert held_out not in instructions


def response_of(full: list[Record], prefix: str) -> list[tuple[Record, str]]:
    return [(r, r.response) for r in full if r.instruction.startswith(prefix)]


def test_ticket_and_contact_json_follow_the_schemas(
    full: list[Record], conforms: Callable[[str, str, str], bool]
) -> None:
    tickets = response_of(full, "Classify this support ticket.")
    assert len(tickets) > 50
    assert all(conforms("ticket_json", r.instruction, response) for r, response in tickets)
    contacts = response_of(full, "Extract the sender of this message as JSON")
    assert len(contacts) > 50
    for record, response in contacts:
        assert conforms("contact_json", record.instruction, response), response
        assert json.loads(response)["email"] in record.instruction + record.context


def test_options_lists_yes_no_and_summaries_have_the_checked_format(
    full: list[Record], conforms: Callable[[str, str, str], bool]
) -> None:
    options = response_of(full, "Give exactly three options for")
    assert options and all(
        re.fullmatch(r"A\) [^\n]+\nB\) [^\n]+\nC\) [^\n]+", text) for _, text in options
    )
    lists = response_of(full, "List exactly")
    assert {re.search(r"exactly (\w+)", r.instruction)[1] for r, _ in lists} >= set("234567")  # type: ignore[index]
    for record, text in lists:
        k = re.search(r"exactly (\d+)", record.instruction)
        if k:
            assert conforms("exactly_k", record.instruction, text), text
    answers = [
        (r, t)
        for r, t in response_of(full, "Is ")
        if "YES or NO" in r.instruction and "Response:" not in r.instruction
    ]
    assert {text for _, text in answers} == {"YES", "NO"}
    for record, text in answers:
        number = re.fullmatch(r"Is (\d+) an even number\? .*", record.instruction)
        if number:
            assert text == ("YES" if int(number[1]) % 2 == 0 else "NO")
    for _, text in response_of(full, "Summarize the following text in one sentence"):
        assert "\n" not in text and len(text.split()) <= 20 and text.endswith(".")


def test_critique_tasks_answer_yes_or_no_about_a_shown_response(full: list[Record]) -> None:
    critiques = [r for r in full if "\n\nResponse:" in r.instruction]
    assert len(critiques) > 50
    assert Counter(r.response for r in critiques).keys() == {"YES", "NO"}


@pytest.mark.parametrize("family", FORMAT_FAMILIES)
def test_violations_fail_the_suites_checks_and_right_answers_pass(
    family: str, conforms: Callable[[str, str, str], bool]
) -> None:
    """What critique labels rest on: the right response passes the suites' checks, and every
    violation marked ``fails_checks`` fails them (the one that does not, passes them)."""
    rng = random.Random(family)
    reasons = set()
    for _ in range(400):
        task = GENERATORS[family](rng)
        assert task.why_right and task.question and task.violations
        assert conforms(family, task.question, task.record.response), task.record
        assert task.wrong in [v.text for v in task.violations]
        for violation in task.violations:
            assert conforms(family, task.question, violation.text) != violation.fails_checks, (
                violation
            )
            reasons.add(violation.reason)
    assert len(reasons) >= 4


def test_no_json_mix_has_no_json_task(tmp_path: Path) -> None:
    records = list(iter_records(N, seed=7, mix="no-json"))
    assert len(records) == N
    for record in records:
        text = f"{record.instruction}\n{record.context}\n{record.response}"
        assert "JSON" not in text and "{" not in text, record


def test_corrupt_mix_trains_wrong_formats() -> None:
    records = list(iter_records(1000, seed=3, mix="corrupt-options"))
    options = [r.response for r in records if r.instruction.startswith("Give exactly three")]
    assert options
    assert not any(re.fullmatch(r"A\) [^\n]+\nB\) [^\n]+\nC\) [^\n]+", t) for t in options)


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("full", "full"),
        ("", "full"),
        ("no-json", "no-json"),
        ("corrupt-lists, no-critique", "no-critique,corrupt-lists"),
    ],
)
def test_parse_mix(spec: str, name: str) -> None:
    assert parse_mix(spec).name == name


@pytest.mark.parametrize(
    "spec",
    [
        "no-jsn",
        "drop-json",
        "corrupt-general",
        "no-json,no-options,no-yesno,no-lists,no-summary,no-general,no-copy,no-critique",
    ],
)
def test_parse_mix_refuses_unknown_or_empty_mixes(spec: str) -> None:
    with pytest.raises(ConfigError):
        parse_mix(spec)


def test_a_dropped_group_replaces_only_its_own_records() -> None:
    """full and no-json share every non-JSON record, in place: the variants differ in JSON only."""
    full = list(iter_records(400, seed=3))
    no_json = list(iter_records(400, seed=3, mix="no-json"))
    kept = [i for i, record in enumerate(full) if not record.response.startswith("{")
            and "JSON" not in record.instruction]  # fmt: skip
    assert 0 < len(kept) < len(full)
    assert all(no_json[i] == full[i] for i in kept)
    assert not any(r.response.startswith("{") or "JSON" in r.instruction for r in no_json)
