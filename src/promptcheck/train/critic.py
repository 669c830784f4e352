"""The critic stage: the tiny Dolly fine-tuned to judge its own formats.

The base tiny Dolly (``full``) spends its five minutes on the formats and conforms on every case of
the example suites; critique at its 12% share of verdict-only records it does not learn. Teaching
critique in the same run cost conformance in every build tried (docs/judges.md), so critique is a
second, short stage instead: promptcheck's own ``finetune`` continues from the built ``full``
model on a mix of reasoned critique records and replayed format records (so that the formats are
not forgotten). It is what a team would do with its own checkpoint: fine-tune it for a skill.

The records are deterministic like the base mix's: record ``i`` is drawn from its own generator,
seeded by ``("critic", seed, i)``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from promptcheck.train.critique import garble, reasoned_critique, summary_violations
from promptcheck.train.records import Record
from promptcheck.train.synth import GENERATORS, GROUP_OF, WEIGHTS

#: How often a critique record is about each format family: the judgements that are hardest to
#: learn (counting a list, telling a garbled summary from a broken one) get more.
CRITIQUE_WEIGHTS: dict[str, float] = {
    "ticket_json": 0.75,
    "contact_json": 1.0,
    "three_options": 1.0,
    "yes_no": 1.0,
    "exactly_k": 1.5,
    "summary": 1.5,
}


@dataclass(frozen=True)
class CriticStage:
    """Everything the critic stage adds to the base recipe."""

    records: int = 20_000
    critique_share: float = 0.5
    steps: int = 900
    batch_size: int = 24
    lr: float = 1e-3
    warmup_steps: int = 20


def critique_record(rng: random.Random) -> Record:
    """A reasoned critique of a right or a wrong response (half each), labelled as the suites'
    checks would label it."""
    family = rng.choices(list(CRITIQUE_WEIGHTS), list(CRITIQUE_WEIGHTS.values()))[0]
    task = GENERATORS[family](rng)
    right = task.record.response
    violations = task.violations
    if family == "summary" and rng.random() < 0.5:
        right = garble(right, rng)
        violations = summary_violations(right, task.source)
    good = rng.random() < 0.5
    if good:
        response, reason = right, task.why_right
    else:
        wrong = rng.choice([v for v in violations if v.fails_checks])
        response, reason = wrong.text, wrong.reason
    return reasoned_critique(task.record, response, reason, good, task.question, rng)


def iter_critic_records(stage: CriticStage, seed: int = 0) -> Iterator[Record]:
    """The critic stage's mix: critique records, and records of the base mix's other families."""
    replay = [name for name in WEIGHTS if GROUP_OF[name] != "critique"]
    weights = [WEIGHTS[name] for name in replay]
    for index in range(stage.records):
        rng = random.Random(f"critic:{seed}:{index}")
        if rng.random() < stage.critique_share:
            yield critique_record(rng)
        else:
            yield GENERATORS[rng.choices(replay, weights)[0]](rng).record
