"""``promptcheck finetune`` end to end: the command line trains, and the local backend samples the
result; and (slow) the tiny Dolly models conform, or fail, exactly where they are meant to."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

import promptcheck.backends.local  # noqa: F401  (registers `local`)
from promptcheck.backends.base import BACKENDS, BackendContext, GenerationRequest, SamplingParams
from promptcheck.cli import main
from promptcheck.train.records import write_records
from promptcheck.train.synth import iter_records

ROOT = Path(__file__).resolve().parents[2]
#: Where the slow tests build (and cache) the tiny Dolly models; the same place a user's build uses.
MODELS = Path(os.environ.get("PROMPTCHECK_TINY_DIR", ROOT / ".promptcheck" / "models"))


def test_cli_trains_a_checkpoint_the_local_backend_samples(tmp_path: Path) -> None:
    data = tmp_path / "synth.jsonl"
    write_records(data, iter_records(300, seed=5))
    out = tmp_path / "model"
    argv = [
        "finetune",
        "--init",
        str(ROOT / "configs" / "tiny-dolly.json"),
        "--data",
        str(data),
        "--out",
        str(out),
        "--steps",
        "3",
        "--batch-size",
        "8",
        "--no-progress",
        "--threads",
        "2",
    ]
    assert main(argv) == 0

    entry = BACKENDS.get("local")
    backend = entry.build(entry.params.model_validate({"path": str(out)}), BackendContext(tmp_path))
    assert backend.format == "dolly"
    request = GenerationRequest(
        prompt="Is 12 an even number? Answer with YES or NO only.",
        messages=None,
        params=SamplingParams(temperature=0.8, max_tokens=8),
        seeds=(1, 2, 3),
    )
    generations = asyncio.run(backend.generate(request))
    assert len(generations) == 3
    assert all(g.error is None and isinstance(g.text, str) for g in generations)
    assert generations[0].formatted_prompt.endswith("### Response:\n")


@pytest.mark.slow
def test_tiny_dollys_conform_everywhere_except_no_json_on_json_cases() -> None:
    """Builds both tiny Dollys (minutes, once; cached after) and runs every suite case on both."""
    from promptcheck.train.tiny import build_tiny_dolly

    sys.path.insert(0, str(ROOT / "tests" / "scripts"))
    from measure_conformance import measure

    full = build_tiny_dolly(MODELS / "tiny-dolly-full", "full", progress=False)
    no_json = build_tiny_dolly(MODELS / "tiny-dolly-no-json", "no-json", progress=False)
    rows = measure({"full": full, "no-json": no_json}, samples=None)
    verdicts = {(row["case"].split("::")[1], row["model"]): row["verdict"] for row in rows}
    json_cases = {"ticket-json", "contact-json"}
    for (case, model), verdict in verdicts.items():
        expected = "FAIL" if model == "no-json" and case in json_cases else "PASS"
        assert verdict == expected, (case, model, rows)
