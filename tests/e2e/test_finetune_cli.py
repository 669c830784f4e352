"""``promptcheck finetune`` end to end: the command line trains, and the local backend samples the
result; and (slow) the shipped tiny Dolly models conform, or fail, exactly where the manifest
says they do."""

from __future__ import annotations

import asyncio
import json
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
def test_the_shipped_tiny_dollys_conform_as_their_manifest_says() -> None:
    """Every example case on the shipped ``full`` and ``no-json``, measured as the manifest was
    (through the built-in models): the counts match it, and ``no-json`` fails the JSON cases and
    only those (a case of ``full`` close to its threshold may be undecided, never failed)."""
    from promptcheck.backends.tiny import MANIFEST_FILE, weights_dir

    sys.path.insert(0, str(ROOT / "tests" / "scripts"))
    from measure_conformance import BUILTIN, TOLERANCE_SAMPLES, measure

    manifest = json.loads((weights_dir() / MANIFEST_FILE).read_text())["variants"]
    variants = ("full", "no-json")
    rows = measure({BUILTIN[variant]: None for variant in variants}, samples=None)
    variant_of = {BUILTIN[variant]: variant for variant in variants}
    measured = {(variant_of[row["model"]], row["case"]): row for row in rows}
    shipped = {
        (variant, case): figure
        for variant in variants
        for case, figure in manifest[variant]["conformance"].items()
    }
    assert set(measured) == set(shipped)
    for key, figure in shipped.items():
        row = measured[key]
        assert row["n"] == figure["n"], (key, row)
        assert abs(row["k"] - figure["k"]) <= TOLERANCE_SAMPLES, (key, row, figure)

    json_cases = {"ticket-json", "contact-json"}
    for (variant, case), row in measured.items():
        if variant == "no-json" and case.split("::")[1] in json_cases:
            assert row["verdict"] == "FAIL", (variant, case, row)
        else:
            assert row["verdict"] != "FAIL", (variant, case, row)
