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
printed as well. ``--lora`` trains the adapters promptcheck's ``finetune --lora`` puts on the
model (``promptcheck.train.model.apply_lora``: rank 8 on every linear layer of the blocks, plus
the rows of Dolly's three special tokens) instead of every weight; its model FLOPs per token are

    4 * N + 6 * A + 12 * layers * hidden * seq

(the frozen weights still take part in the forward pass and in the backward pass for the
activations' gradients, 2 + 2 FLOPs each, but need no gradient of their own; A, the adapters'
weights, need all three).

    python benchmarks/train_throughput.py --gpu --shapes pythia-160m dolly-v2-3b --compile

benchmarks/gpu_check.py imports ``step_benchmark`` and ``matmul_tflops``.
"""

from __future__ import annotations

import argparse
import json
import statistics
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

#: Shapes that run the same code in seconds on a CPU (benchmarks/gpu_check.py --tiny).
TINY_SHAPES: dict[str, dict[str, Any]] = {
    "tiny": {
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 256,
        "vocab_size": 512,
        "rotary_pct": 0.25,
    },
}

#: Dolly's special tokens sit at these rows of a Pythia-sized vocabulary (50,277 entries before
#: them); smaller vocabularies use their last three rows.
DOLLY_ROWS = (50277, 50278, 50279)

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


def datasheet_tflops(name: str) -> tuple[float, str] | None:
    """The dense bf16 peak of a GPU's datasheet, and the entry it was read from."""
    for key, value in PEAK_TFLOPS.items():
        if all(part in name for part in key.split()):
            return value, key
    if "H100" in name:
        return PEAK_TFLOPS["H100 SXM"], "H100 SXM (assumed)"
    return None


def peak_tflops(name: str, override: float | None) -> tuple[float, str]:
    if override:
        return override, "given"
    found = datasheet_tflops(name)
    if found is None:
        raise SystemExit(f"unknown GPU {name!r}: give --peak-tflops")
    return found


def synchronize(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_tflops(device: Any, dtype: Any, size: int = 8192, repeats: int = 10) -> float:
    """The rate of a ``size``-cubed matrix product on random data (median of ``repeats`` after
    three untimed ones): the arithmetic ceiling measured in the same run."""
    import torch

    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    for _ in range(3):
        a @ b
    seconds = []
    for _ in range(repeats):
        synchronize(device)
        started = time.perf_counter()
        a @ b
        synchronize(device)
        seconds.append(time.perf_counter() - started)
    return 2 * size**3 / statistics.median(seconds) / 1e12


def shape_settings(shape: str) -> dict[str, Any]:
    return SHAPES[shape] if shape in SHAPES else TINY_SHAPES[shape]


def model_flops_per_token(
    matmul: int, adapters: int, layers: int, hidden: int, seq_len: int, lora: bool
) -> int:
    """Model FLOPs of one trained token (module docstring): 6 per weight in full training; with
    LoRA 4 per frozen weight and 6 per adapter weight; plus attention's 12 * L * H * T."""
    attention = 12 * layers * hidden * seq_len
    if lora:
        return 4 * matmul + 6 * adapters + attention
    return 6 * matmul + attention


def step_benchmark(
    shape: str,
    *,
    device: str = "cuda",
    lora: bool = False,
    batch: int = 8,
    seq_len: int = 2048,
    steps: int = 10,
    warmup: int = 3,
    compile: bool = False,
    gradient_checkpointing: bool = False,
    peak: tuple[float, str] | None = None,
    measured_tflops: float | None = None,
) -> dict[str, Any]:
    """Training steps (forward, backward, AdamW) of a random-init GPT-NeoX of ``shape`` in bf16
    on random tokens at full context: tokens/s and model FLOPs utilisation against ``peak``
    (the datasheet's) and ``measured_tflops`` (a matrix product's rate in this run)."""
    import torch
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    torch_device = torch.device(device)
    if torch_device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(torch_device)
    settings = shape_settings(shape)
    config = GPTNeoXConfig(
        **settings,
        max_position_embeddings=seq_len,
        use_parallel_residual=True,
        tie_word_embeddings=False,
        use_cache=False,
    )
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    with torch.device(torch_device):
        model = GPTNeoXForCausalLM(config).to(torch.bfloat16)
    if gradient_checkpointing:
        model.gradient_checkpointing_enable()
    total = sum(p.numel() for p in model.parameters())
    matmul = total - model.get_input_embeddings().weight.numel()
    adapters = 0
    if lora:
        from promptcheck.train.model import LoraSettings, apply_lora

        vocab = config.vocab_size
        rows = DOLLY_ROWS if vocab > DOLLY_ROWS[-1] else tuple(range(vocab - 3, vocab))
        model = apply_lora(model, LoraSettings(), rows)
        adapters = sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4, fused=torch_device.type == "cuda")
    step = torch.compile(model) if compile else model
    ids = torch.randint(0, config.vocab_size, (batch, seq_len), device=torch_device)

    def train_step() -> None:
        loss = step(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(warmup):
        train_step()
    synchronize(torch_device)
    started = time.perf_counter()
    for _ in range(steps):
        train_step()
    synchronize(torch_device)
    seconds = time.perf_counter() - started
    tokens_per_s = batch * seq_len * steps / seconds
    flops_per_token = model_flops_per_token(
        matmul, adapters, config.num_hidden_layers, config.hidden_size, seq_len, lora
    )
    achieved = flops_per_token * tokens_per_s / 1e12
    on_gpu = torch_device.type == "cuda"
    result: dict[str, Any] = {
        "mode": "gpu" if on_gpu else torch_device.type,
        "shape": shape,
        "method": "lora" if lora else "full",
        "device": torch.cuda.get_device_name(torch_device) if on_gpu else torch_device.type,
        "peak_tflops": f"{peak[0]} ({peak[1]})" if peak else None,
        "parameters": sum(p.numel() for p in model.parameters()),
        "matmul_parameters": matmul,
        "trainable_parameters": sum(p.numel() for p in trainable),
        "adapter_parameters": adapters,
        "batch": batch,
        "seq_len": seq_len,
        "steps": steps,
        "compile": compile,
        "gradient_checkpointing": gradient_checkpointing,
        "tokens_per_s": round(tokens_per_s),
        "flops_per_token": flops_per_token,
        "achieved_tflops": _significant(achieved),
        "mfu": _significant(achieved / peak[0]) if peak else None,
        "mfu_6n": _significant(6 * matmul * tokens_per_s / (peak[0] * 1e12)) if peak else None,
        "measured_peak_tflops": _significant(measured_tflops) if measured_tflops else None,
        "mfu_measured_peak": _significant(achieved / measured_tflops) if measured_tflops else None,
        "peak_memory_gib": (
            round(torch.cuda.max_memory_allocated(torch_device) / 2**30, 1) if on_gpu else None
        ),
    }
    return result


def _significant(value: float) -> float:
    return float(f"{value:.4g}")


def gpu_benchmark(shape: str, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    name = torch.cuda.get_device_name(torch.device("cuda"))
    return step_benchmark(
        shape,
        lora=args.lora,
        batch=args.batch_size.get(shape, 8),
        seq_len=args.seq_len,
        steps=args.steps,
        warmup=args.warmup,
        compile=args.compile,
        gradient_checkpointing=args.gradient_checkpointing,
        peak=peak_tflops(name, args.peak_tflops),
    )


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
    parser.add_argument(
        "--shapes", nargs="+", default=list(SHAPES), choices=[*SHAPES, *TINY_SHAPES]
    )
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
    parser.add_argument("--lora", action="store_true", help="GPU: train LoRA adapters only")
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
