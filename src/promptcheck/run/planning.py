"""The plan of a case's samples: which combination each sample renders, its seed, its cache key.

Sample i of a plan is the same whether the case is drawn in one go or in adaptive rounds, and
its cache key is its content (prompt, sampling, model, seed), so runs share cached samples.

Seeds differ between models: the comparison's exact tests assume the baseline's and the
candidate's samples independent, and with one seed per sample index a local model's sample i on
both models would share its random numbers, which correlates the two outcomes in a direction
nothing controls (docs/statistics.md measures what that does). A ``draw`` other than the default
gives a model a fresh, independent set of samples: a re-recorded baseline.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from promptcheck.backends.base import SamplingParams
from promptcheck.run.model_access import model_key
from promptcheck.suite import CaseSpec, Combination, ModelConfig

#: Key of a result's draw in ``CaseResult.properties`` (absent: the model's default draw).
DRAW_KEY = "draw"


@dataclass(frozen=True, slots=True)
class PlannedSample:
    """One sample to obtain: its combination, its repeat within that combination, its seed."""

    index: int
    combination: Combination
    repeat: int
    seed: int
    cache_key: str


def plan_samples(
    case: CaseSpec, model: ModelConfig, samples: int, fingerprint: str = "", draw: str = ""
) -> list[PlannedSample]:
    """Spread ``samples`` over the combinations round-robin (at least one each), with seeds.

    A sample's seed depends on the model (its backend, parameters and fingerprint), the suite
    seed, the suite, the case, the combination's variables, the repeat number and ``draw``
    only, so the same sample is drawn again on a re-run (and found in the cache) whatever else
    changed in the suite, and two models never share a sample's random numbers.
    """
    combinations = case.combinations
    total = max(samples, len(combinations))
    model_text = model_key(model, fingerprint)
    model_seed = hashlib.blake2b(f"{model_text}\0{draw}".encode(), digest_size=16).hexdigest()
    sampling = case.sampling
    decides = [sampling.temperature, sampling.top_p, sampling.max_tokens, list(sampling.stop)]
    if sampling.tools or sampling.tool_choice or sampling.response_format:
        # what the model may answer with decides the answer too (absent: keys as before)
        decides.append(answer_shape(sampling))
    sampling_key = json.dumps(decides, sort_keys=True, default=str)
    seed_roots = []
    key_roots = []
    for combination in combinations:
        variables = json.dumps(combination.variables, sort_keys=True, default=str)
        seed_roots.append(
            hashlib.blake2b(
                f"{case.seed}\0{case.suite}\0{case.id}\0{variables}\0{model_seed}".encode(),
                digest_size=16,
            )
        )
        prompt = combination.prompt
        if prompt is None:
            prompt = json.dumps([[m.role, m.content] for m in combination.messages or ()])
        key_roots.append(hashlib.sha256(f"{model_text}\0{prompt}\0{sampling_key}\0".encode()))
    planned = []
    count = len(combinations)
    for index in range(total):
        position, repeat = index % count, index // count
        seed_hash = seed_roots[position].copy()
        seed_hash.update(repeat.to_bytes(8, "big"))
        seed = int.from_bytes(seed_hash.digest()[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF
        key_hash = key_roots[position].copy()
        key_hash.update(f"{repeat}\0{seed}".encode())
        planned.append(
            PlannedSample(index, combinations[position], repeat, seed, key_hash.hexdigest())
        )
    return planned


def answer_shape(sampling: SamplingParams) -> list[object]:
    """A case's tools, tool choice and response format as plain data, for its cache keys."""
    form = sampling.response_format
    return [
        [[tool.name, tool.description, tool.parameters] for tool in sampling.tools],
        sampling.tool_choice,
        None if form is None else [form.name, form.strict, form.schema],
    ]
