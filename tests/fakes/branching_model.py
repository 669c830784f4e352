"""A tiny Dolly v2 checkpoint whose conformance is known exactly: it answers YES with
probability ``p_yes`` and NO otherwise (at temperature 1), then ``### End``.

Built like :func:`checkpoints.script_model`'s bigram machines (attention and MLP silenced, so
the next token depends on the current one only), with one branching step: after Dolly's
``### Response:\\n`` token the LM head holds both answers, their logits ``log(p / (1 - p))``
apart and hundreds above every other token, and each answer is followed by ``### End``. Every
prompt in Dolly's format ends with that token, so any case's rate of YES is ``p_yes``: a model
for testing statistics end to end with real sampling, real tokenizer and real HTTP.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/checkpoints.py

from checkpoints import DOLLY_SPECIAL_IDS, dolly_model, dolly_v2_config, neox_tokenizer

RESPONSE_ID = DOLLY_SPECIAL_IDS[2]
END_ID = DOLLY_SPECIAL_IDS[0]
LOGIT_SCALE = 20.0


def answer_ids(tokenizer: Any) -> tuple[int, int]:
    """The single-token ids of ``YES`` and ``NO``."""
    yes, no = tokenizer("YES")["input_ids"], tokenizer("NO")["input_ids"]
    assert len(yes) == len(no) == 1, (yes, no)
    return yes[0], no[0]


def build_branching_dolly(directory: Path, p_yes: float) -> Path:
    """Write the checkpoint to ``directory`` (float32, GPT-NeoX-20B tokenizer with Dolly's
    special tokens) and return it."""
    import torch

    tokenizer = neox_tokenizer()
    yes, no = answer_ids(tokenizer)
    model = dolly_model(dolly_v2_config())
    with torch.no_grad():
        _rewire(model, yes, no, p_yes)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _rewire(model: Any, yes: int, no: int, p_yes: float) -> None:
    import torch

    hidden = model.config.hidden_size
    for layer in model.gpt_neox.layers:
        for linear in (layer.attention.dense, layer.mlp.dense_4h_to_h):
            linear.weight.zero_()
            if linear.bias is not None:
                linear.bias.zero_()
    norm = model.gpt_neox.final_layer_norm
    norm.weight.fill_(1.0)
    norm.bias.zero_()
    embed = model.gpt_neox.embed_in.weight
    head = model.lm_head.weight
    states = {}
    for index, token in enumerate((RESPONSE_ID, yes, no)):
        direction = torch.zeros(hidden)
        direction[index] = 1.0
        embed[token] = direction
        normed = torch.nn.functional.layer_norm(direction, (hidden,))
        states[token] = normed / normed.norm()
    # logit = head_row . normed_state, and |normed_state| = sqrt(hidden)
    size = math.sqrt(hidden)
    gap = math.log(p_yes / (1 - p_yes))
    head[yes] = (LOGIT_SCALE + gap / size) * states[RESPONSE_ID]
    head[no] = LOGIT_SCALE * states[RESPONSE_ID]
    head[END_ID] = LOGIT_SCALE * (states[yes] + states[no])


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run torch on ``count`` intra-op threads, then restore the setting.

    On a shared two-core machine every parallel kernel of a tiny model waits for both its
    threads to be scheduled (15 ms for a layer norm that takes 5 us on one thread), so tests that
    sample thousands of tokens run single-threaded. Samples do not depend on the thread count
    for these sizes; the local backend and the server share the process and the setting anyway.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
