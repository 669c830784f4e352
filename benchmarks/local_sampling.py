"""Tokens per second of promptcheck's local sampler against transformers' ``generate``.

For N = 1, 16, 64 samples of one prompt, 128 new tokens each (``--new-tokens``; no stop token, so
every row runs to the end), on the same model in the same run:

  promptcheck  ``Sampler.sample``: one prefill, KV cache copied to N rows, batched decode
  hf-loop      ``model.generate`` once per sample (its rate does not depend on N, so it is
               measured on min(N, --loop-samples) samples)
  hf-nrs       ``model.generate(num_return_sequences=N)``

All three sample from the full vocabulary at temperature 0.8 (top-k off, top-p 1.0 unless
``--top-p``). Each figure is the median of ``--repeats`` runs, the methods interleaved so that
a busy machine slows them alike. Ratios are against hf-nrs.

CPU (default): a ~1.2M-parameter GPT-NeoX with random weights (vocabulary 4096; ``--vocab``).
``--gpu``: a dolly-v2-3b-shaped GPT-NeoX (32 layers, hidden 2560, 32 heads, vocabulary 50280)
with random weights in bfloat16 on the first CUDA device, plus the fraction of the
memory-bandwidth roofline: each decode step must read every weight and the whole KV cache once,
so the best possible step time is (weight bytes + KV-cache bytes) / bandwidth.

    python benchmarks/local_sampling.py [--gpu] [--repeats 3] [--sizes 1 16 64]

benchmarks/gpu_check.py imports the pieces (models, methods, roofline, copy bandwidth).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

from promptcheck.backends.sampler import SampleJob, Sampler

NEW_TOKENS = 128
TEMPERATURE = 0.8

#: Peak memory bandwidth (GB/s) by device name fragment, most specific first.
BANDWIDTH_GBPS = (
    ("H200", 4800.0),
    ("H100 NVL", 3900.0),
    ("H100 PCIe", 2000.0),
    ("H100", 3350.0),
    ("A100-SXM4-80GB", 2039.0),
    ("A100 80GB PCIe", 1935.0),
    ("A100", 1555.0),
    ("L40S", 864.0),
    ("L4", 300.0),
    ("A10G", 600.0),
)


@dataclass
class Setup:
    model: Any
    device: torch.device
    prompt: torch.Tensor
    description: str


def tiny_model(
    vocab: int,
    prompt_tokens: int,
    logit_scale: float,
    *,
    device: str = "cpu",
    hidden: int = 96,
    layers: int = 4,
) -> Setup:
    """A small GPT-NeoX with random weights in float32 (hidden 96, 4 layers by default)."""
    config = GPTNeoXConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=4 * hidden,
        max_position_embeddings=2048,
        rotary_pct=0.25,
        use_parallel_residual=True,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=None,
    )
    torch.manual_seed(0)
    torch_device = torch.device(device)
    model = GPTNeoXForCausalLM(config).eval().to(torch_device)
    with torch.no_grad():
        model.lm_head.weight.mul_(logit_scale)
    parameters = sum(p.numel() for p in model.parameters())
    where = (
        f"cpu float32, {torch.get_num_threads()} threads"
        if torch_device.type == "cpu"
        else f"{torch_device.type} float32"
    )
    description = (
        f"GPT-NeoX {parameters / 1e6:.2f}M parameters (vocabulary {vocab}, {layers} layers, "
        f"hidden {hidden}), {where}"
    )
    if logit_scale != 1.0:
        description += f", LM head scaled by {logit_scale:g}"
    prompt = torch.randint(2, vocab, (1, prompt_tokens), device=torch_device)
    return Setup(model, torch_device, prompt, description)


def dolly_3b_shaped_model(prompt_tokens: int, device: str = "cuda") -> Setup:
    config = GPTNeoXConfig(
        vocab_size=50280,
        hidden_size=2560,
        num_hidden_layers=32,
        num_attention_heads=32,
        intermediate_size=10240,
        max_position_embeddings=2048,
        rotary_pct=0.25,
        use_parallel_residual=True,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=None,
    )
    device = torch.device(device)
    torch.manual_seed(0)
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with device:
            model = GPTNeoXForCausalLM(config).eval()
    finally:
        torch.set_default_dtype(default_dtype)
    parameters = sum(p.numel() for p in model.parameters())
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    description = (
        f"dolly-v2-3b-shaped GPT-NeoX {parameters / 1e9:.2f}B parameters, bfloat16, {where}"
    )
    prompt = torch.randint(2, 50280, (1, prompt_tokens), device=device)
    return Setup(model, device, prompt, description)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(setup: Setup, run: Callable[[], int]) -> float:
    """Tokens per second of ``run`` (which returns how many tokens it generated)."""
    synchronize(setup.device)
    started = time.perf_counter()
    tokens = run()
    synchronize(setup.device)
    return tokens / (time.perf_counter() - started)


def promptcheck_run(
    setup: Setup, n: int, top_p: float, max_batch_size: int, new_tokens: int = NEW_TOKENS
) -> Callable[[], int]:
    sampler = Sampler(setup.model, max_batch_size=max_batch_size)
    job = SampleJob(
        prompt_ids=tuple(setup.prompt[0].tolist()),
        seeds=tuple(range(n)),
        temperature=TEMPERATURE,
        top_p=top_p,
        max_new_tokens=new_tokens,
    )

    def run() -> int:
        rows = sampler.sample([job])[0]
        assert all(len(row.token_ids) == new_tokens for row in rows)
        return sum(len(row.token_ids) for row in rows)

    return run


def hf_generate(setup: Setup, sequences: int, top_p: float, new_tokens: int = NEW_TOKENS) -> int:
    with torch.inference_mode():
        output = setup.model.generate(
            setup.prompt,
            attention_mask=torch.ones_like(setup.prompt),
            do_sample=True,
            temperature=TEMPERATURE,
            top_k=0,
            top_p=top_p,
            max_new_tokens=new_tokens,
            num_return_sequences=sequences,
            pad_token_id=0,
        )
    generated = output.shape[1] - setup.prompt.shape[1]
    assert generated == new_tokens
    return int(output.shape[0]) * generated


def hf_loop_run(
    setup: Setup, n: int, top_p: float, new_tokens: int = NEW_TOKENS
) -> Callable[[], int]:
    return lambda: sum(hf_generate(setup, 1, top_p, new_tokens) for _ in range(n))


def hf_nrs_run(
    setup: Setup, n: int, top_p: float, new_tokens: int = NEW_TOKENS
) -> Callable[[], int]:
    return lambda: hf_generate(setup, n, top_p, new_tokens)


def interleaved_rates(
    setup: Setup, methods: dict[str, Callable[[], int]], repeats: int, warm_up: bool = True
) -> dict[str, list[float]]:
    """Tokens per second of each method, ``repeats`` times, the methods interleaved so that a
    busy machine slows them alike; with ``warm_up``, one untimed run of each first (kernels,
    allocator, lazy imports), except hf-loop, whose runs are all alike."""
    rates: dict[str, list[float]] = {name: [] for name in methods}
    for name, run in methods.items():
        if warm_up and name != "hf-loop":
            run()
    for _ in range(repeats):
        for name, run in methods.items():
            rates[name].append(timed(setup, run))
    return rates


def roofline_tokens_per_second(
    setup: Setup, n: int, bandwidth_gbps: float, new_tokens: int = NEW_TOKENS
) -> float:
    """The most tokens per second a decode step that reads all weights and KV once allows."""
    model = setup.model
    config = model.config
    element = next(model.parameters()).element_size()
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    weights -= model.gpt_neox.embed_in.weight.numel() * element  # only n rows are gathered
    head_dim = config.hidden_size // config.num_attention_heads
    kv_per_token = 2 * config.num_hidden_layers * config.num_attention_heads * head_dim * element
    prompt = setup.prompt.shape[1]
    mean_length = prompt + (new_tokens - 1) / 2
    step_bytes = weights + n * kv_per_token * mean_length
    return n / (step_bytes / (bandwidth_gbps * 1e9))


def copy_bandwidth_gbps(device: torch.device, elements: int = 2**30) -> float:
    """Achievable bandwidth: a device-to-device copy (2 GiB of bf16 by default) reads and writes
    every byte once; the bytes read plus written, over the time, median of 5 copies."""
    source = torch.empty(elements, dtype=torch.bfloat16, device=device).uniform_()
    target = torch.empty_like(source)
    target.copy_(source)
    seconds = []
    for _ in range(5):
        synchronize(device)
        started = time.perf_counter()
        target.copy_(source)
        synchronize(device)
        seconds.append(time.perf_counter() - started)
    del source, target
    return 2 * 2 * elements / statistics.median(seconds) / 1e9


def datasheet_bandwidth_gbps(device_name: str) -> float | None:
    """The peak memory bandwidth a device's datasheet gives, when its name is in the table."""
    return next((bw for key, bw in BANDWIDTH_GBPS if key in device_name), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpu", action="store_true", help="dolly-v2-3b shape on CUDA, bf16")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop-samples", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=NEW_TOKENS)
    parser.add_argument("--vocab", type=int, default=4096, help="CPU model vocabulary")
    parser.add_argument("--prompt-tokens", type=int, default=48)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument(
        "--logit-scale",
        type=float,
        default=1.0,
        help="scale the CPU model's LM head: random weights give near-uniform next-token "
        "distributions, trained models peaked ones (which matters for --top-p)",
    )
    parser.add_argument("--max-batch-size", type=int, default=64)
    parser.add_argument("--bandwidth", type=float, help="peak memory bandwidth in GB/s")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.gpu:
        if not torch.cuda.is_available():
            raise SystemExit("--gpu needs a CUDA device")
        setup = dolly_3b_shaped_model(args.prompt_tokens)
    else:
        setup = tiny_model(args.vocab, args.prompt_tokens, args.logit_scale)
    print(setup.description)
    print(
        f"prompt {args.prompt_tokens} tokens, {args.new_tokens} new tokens per sample, temperature "
        f"{TEMPERATURE}, top_p {args.top_p}, median of {args.repeats} runs"
    )
    bandwidths: dict[str, float] = {}
    if args.gpu:
        name = torch.cuda.get_device_name(setup.device)
        peak = args.bandwidth or datasheet_bandwidth_gbps(name)
        if peak is not None:
            bandwidths["peak"] = peak
        bandwidths["copy"] = copy_bandwidth_gbps(setup.device)
        print(", ".join(f"{k} bandwidth {v:,.0f} GB/s" for k, v in bandwidths.items()))

    header = (
        f"{'N':>4} {'promptcheck':>12} {'hf-loop':>10} {'hf-nrs':>10} {'vs nrs':>7} {'vs loop':>8}"
    )
    if args.gpu:
        header += "".join(f" {'roofline(' + k + ')':>16}" for k in bandwidths)
    print(header + "   (tokens/s)")
    for n in args.sizes:
        tokens = args.new_tokens
        methods = {
            "promptcheck": promptcheck_run(setup, n, args.top_p, args.max_batch_size, tokens),
            "hf-loop": hf_loop_run(setup, min(n, args.loop_samples), args.top_p, tokens),
            "hf-nrs": hf_nrs_run(setup, n, args.top_p, tokens),
        }
        rates = interleaved_rates(setup, methods, args.repeats)
        median = {name: statistics.median(values) for name, values in rates.items()}
        line = (
            f"{n:>4} {median['promptcheck']:>12,.0f} {median['hf-loop']:>10,.0f} "
            f"{median['hf-nrs']:>10,.0f} {median['promptcheck'] / median['hf-nrs']:>6.2f}x "
            f"{median['promptcheck'] / median['hf-loop']:>7.1f}x"
        )
        for bandwidth in bandwidths.values():
            roof = roofline_tokens_per_second(setup, n, bandwidth, tokens)
            line += f" {median['promptcheck'] / roof:>15.0%}"
        print(line, flush=True)
        if args.gpu:
            print(
                "     hf-nrs fraction of roofline: "
                + ", ".join(
                    f"{median['hf-nrs'] / roofline_tokens_per_second(setup, n, bw, tokens):.0%}"
                    f" ({k})"
                    for k, bw in bandwidths.items()
                )
            )


if __name__ == "__main__":
    main()
