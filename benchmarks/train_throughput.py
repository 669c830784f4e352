"""Training throughput: the tiny Dolly on CPU, and Pythia/Dolly-shaped models on a GPU.

CPU (default): runs ``promptcheck.train.finetune`` itself, with the tiny Dolly's recipe (model,
tokenizer, batch size, learning rate) on freshly synthesised data, and reports the training
tokens per second the loop measured (real tokens, padding excluded), so the figure is the one a
``promptcheck tiny build`` sees.

    python benchmarks/train_throughput.py --steps 100 --threads 2

GPU (``--gpu``): random-init models of the pythia-160m and dolly-v2-3b (pythia-2.8b) shapes in
bf16, full training steps (forward, backward, AdamW) on random tokens at full context, and
reports tokens/s and model FLOPs utilisation,

    MFU = model FLOPs per token * tokens/s / peak bf16 FLOP/s,
    model FLOPs per token = 6 * N + 12 * layers * hidden * seq   (PaLM, appendix B)

where N counts the weights that take part in matrix products (everything but the input
embedding) and the second term is attention's score and value products. ``6 * N`` alone is
printed as well.

    python benchmarks/train_throughput.py --gpu --shapes pythia-160m dolly-v2-3b --compile
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

#: GPT-NeoX shapes of the released checkpoints (vocabulary padded as the checkpoints ship it).
SHAPES: dict[str, dict[str, Any]] = {
    "pythia-160m": {
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "vocab_size": 50304,
        "rotary_pct": 0.25,
    },
    "dolly-v2-3b": {
        "hidden_size": 2560,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "intermediate_size": 10240,
        "vocab_size": 50280,
        "rotary_pct": 0.25,
    },
}

#: Dense bf16 peak of the GPUs we meet (tensor cores, no sparsity), in TFLOP/s.
PEAK_TFLOPS = {
    "H100 SXM": 989.0,
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "H200": 989.0,
    "A100": 312.0,
    "L40S": 362.0,
    "A10": 125.0,
}


def cpu_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    from promptcheck.train.finetune import finetune
    from promptcheck.train.options import FinetuneOptions
    from promptcheck.train.records import write_records
    from promptcheck.train.synth import iter_records
    from promptcheck.train.tiny import TinyRecipe

    recipe = TinyRecipe()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.jsonl"
        write_records(data, iter_records(args.records, seed=0))
        config = Path(tmp) / "config.json"
        config.write_text(json.dumps(recipe.model))
        result = finetune(
            FinetuneOptions(
                data=data,
                out=Path(tmp) / "model",
                init=config,
                vocab_size=recipe.vocab_size,
                steps=args.steps,
                lr=recipe.lr,
                batch_size=recipe.batch_size,
                warmup_steps=recipe.warmup_steps,
                max_length=recipe.max_length,
                eval_fraction=0.0,
                progress=not args.no_progress,
                threads=args.threads,
            )
        )
    per_step = result.tokens / max(1, result.steps)
    return {
        "mode": "cpu",
        "threads": args.threads,
        "parameters": result.parameters,
        "steps": result.steps,
        "tokens_per_step": round(per_step),
        "tokens_per_s": round(result.tokens_per_s),
        "recipe_steps": recipe.steps,
        "recipe_train_s": round(recipe.steps * per_step / result.tokens_per_s, 1),
    }


def peak_tflops(name: str, override: float | None) -> tuple[float, str]:
    if override:
        return override, "given"
    for key, value in PEAK_TFLOPS.items():
        if all(part in name for part in key.split()):
            return value, key
    if "H100" in name:
        return PEAK_TFLOPS["H100 SXM"], "H100 SXM (assumed)"
    raise SystemExit(f"unknown GPU {name!r}: give --peak-tflops")


def gpu_benchmark(shape: str, args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    device = torch.device("cuda")
    config = GPTNeoXConfig(
        **SHAPES[shape],
        max_position_embeddings=args.seq_len,
        use_parallel_residual=True,
        tie_word_embeddings=False,
        use_cache=False,
    )
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    with torch.device(device):
        model = GPTNeoXForCausalLM(config).to(torch.bfloat16)
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model.train()
    total = sum(p.numel() for p in model.parameters())
    matmul = total - model.get_input_embeddings().weight.numel()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    step = model
    if args.compile:
        step = torch.compile(model)
    batch = args.batch_size.get(shape, 8)
    ids = torch.randint(0, config.vocab_size, (batch, args.seq_len), device=device)

    def train_step() -> None:
        loss = step(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(args.warmup):
        train_step()
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(args.steps):
        train_step()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    tokens_per_s = batch * args.seq_len * args.steps / seconds
    name = torch.cuda.get_device_name(device)
    peak, peak_name = peak_tflops(name, args.peak_tflops)
    attention = 12 * config.num_hidden_layers * config.hidden_size * args.seq_len
    flops_per_token = 6 * matmul + attention
    return {
        "mode": "gpu",
        "shape": shape,
        "device": name,
        "peak_tflops": f"{peak} ({peak_name})",
        "parameters": total,
        "matmul_parameters": matmul,
        "batch": batch,
        "seq_len": args.seq_len,
        "compile": args.compile,
        "gradient_checkpointing": args.gradient_checkpointing,
        "tokens_per_s": round(tokens_per_s),
        "mfu": round(flops_per_token * tokens_per_s / (peak * 1e12), 4),
        "mfu_6n": round(6 * matmul * tokens_per_s / (peak * 1e12), 4),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 1),
    }


def parse_batch_sizes(values: list[str]) -> dict[str, int]:
    sizes = {"pythia-160m": 16, "dolly-v2-3b": 4}
    for value in values:
        shape, _, size = value.partition("=")
        sizes[shape] = int(size)
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--gpu", action="store_true", help="Pythia/Dolly shapes on CUDA")
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--steps", type=int, help="timed steps (CPU default 100, GPU 10)")
    parser.add_argument("--warmup", type=int, default=3, help="GPU: untimed steps first")
    parser.add_argument("--records", type=int, default=4000, help="CPU: synthetic records")
    parser.add_argument("--threads", type=int, default=2, help="CPU: torch threads")
    parser.add_argument("--seq-len", type=int, default=2048, help="GPU: tokens per row")
    parser.add_argument(
        "--batch-size",
        nargs="*",
        default=[],
        metavar="SHAPE=N",
        help="GPU: rows per step (default pythia-160m=16 dolly-v2-3b=4)",
    )
    parser.add_argument("--compile", action="store_true", help="GPU: torch.compile the model")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--peak-tflops", type=float, help="GPU: dense bf16 peak, if not known")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    if args.gpu:
        import torch

        if not torch.cuda.is_available():
            print("--gpu: no CUDA device here", file=sys.stderr)
            return 2
        args.steps = args.steps or 10
        args.batch_size = parse_batch_sizes(args.batch_size)
        for shape in args.shapes:
            results.append(gpu_benchmark(shape, args))
            print(json.dumps(results[-1]), flush=True)
            torch.cuda.empty_cache()
    else:
        args.steps = args.steps or 100
        results.append(cpu_benchmark(args))
        print(json.dumps(results[-1]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
