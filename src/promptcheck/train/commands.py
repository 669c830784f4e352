"""The ``finetune``, ``data`` and ``tiny`` subcommands, for ``promptcheck.cli`` to mount.

Importing this module imports neither torch nor transformers: each command imports what it needs
when it runs. Errors a user can fix (bad data, a wrong option, a missing extra) print one message
and return exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from promptcheck.config import ExitCode
from promptcheck.errors import PromptcheckError

INSTALL_HINT = "install the training extra: pip install 'promptcheck[train]'"


def _guarded(
    name: str, func: Callable[[argparse.Namespace], int]
) -> Callable[[argparse.Namespace], int]:
    """Turn user-fixable errors into one message on stderr and exit code 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except PromptcheckError as exc:
            print(f"promptcheck {name}: error: {exc}", file=sys.stderr)
            return ExitCode.USAGE
        except ModuleNotFoundError as exc:
            print(f"promptcheck {name}: error: {exc}\n  hint: {INSTALL_HINT}", file=sys.stderr)
            return ExitCode.USAGE

    run.__doc__ = func.__doc__
    return run


def run_finetune(args: argparse.Namespace) -> int:
    """Fine-tune a checkpoint (or train one from a config) on dolly-15k-format data."""
    from promptcheck.train.finetune import finetune
    from promptcheck.train.model import LoraSettings
    from promptcheck.train.options import FinetuneOptions

    options = FinetuneOptions(
        data=args.data,
        out=args.out,
        base=args.base,
        init=args.init,
        tokenizer=args.tokenizer,
        vocab_size=args.vocab_size,
        epochs=args.epochs,
        steps=args.steps,
        lr=args.lr,
        batch_size=args.batch_size,
        grad_accum=args.grad_accum,
        warmup_steps=args.warmup_steps,
        weight_decay=args.weight_decay,
        max_length=args.max_length,
        eval_fraction=args.eval_fraction,
        eval_every=args.eval_every,
        save_every=args.save_every,
        keep_checkpoints=args.keep_checkpoints,
        seed=args.seed,
        lora=args.lora,
        lora_settings=LoraSettings(r=args.lora_r, alpha=args.lora_alpha, dropout=args.lora_dropout),
        bf16=args.bf16,
        gradient_checkpointing=args.gradient_checkpointing,
        compile=args.compile,
        resume=args.resume,
        strict=args.strict,
        progress=not args.no_progress,
        threads=args.threads,
    )
    result = finetune(options)
    evals = ""
    if result.eval_loss is not None:
        evals = f", eval loss {result.first_eval_loss:.3f} -> {result.eval_loss:.3f}"
    print(
        f"saved {result.out}: {result.steps} steps on {result.train_examples} examples"
        f"{evals}, {result.tokens_per_s:,.0f} tokens/s, {result.seconds:.0f} s"
    )
    return ExitCode.OK


def run_synth(args: argparse.Namespace) -> int:
    """Write a synthetic dolly-15k-format instruction set."""
    from promptcheck.train.records import write_records
    from promptcheck.train.synth import iter_records, parse_mix

    mix = parse_mix(args.mix)
    count = write_records(args.out, iter_records(args.n, seed=args.seed, mix=mix))
    print(f"wrote {count} records ({mix.name}, seed {args.seed}) to {args.out}")
    return ExitCode.OK


def run_check(args: argparse.Namespace) -> int:
    """Read a dolly-15k file under the bad-data policy and report what training would skip."""
    from promptcheck.train.records import read_records

    _, report = read_records(args.file, strict=args.strict)
    print(report.summary(limit=args.limit))
    return ExitCode.FAILED if report.issues else ExitCode.OK


def run_tiny_build(args: argparse.Namespace) -> int:
    """Build (or find cached) the tiny Dolly."""
    from promptcheck.train.tiny import build_tiny_dolly

    path = build_tiny_dolly(
        args.out, args.variant, seed=args.seed, force=args.force, progress=not args.no_progress
    )
    print(path)
    return ExitCode.OK


def _finetune_parser(parser: argparse.ArgumentParser) -> None:
    start = parser.add_mutually_exclusive_group(required=True)
    start.add_argument("--base", type=Path, metavar="DIR", help="checkpoint to fine-tune")
    start.add_argument(
        "--init",
        type=Path,
        metavar="CONFIG.json",
        help="train from scratch from this model config (configs/tiny-dolly.json)",
    )
    parser.add_argument(
        "--data", type=Path, required=True, metavar="FILE.jsonl", help="dolly-15k-format JSON lines"
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument(
        "--tokenizer",
        type=Path,
        metavar="DIR",
        help="with --init: use this tokenizer, not one trained on the data",
    )
    parser.add_argument("--vocab-size", type=int, help="with --init: size of the trained tokenizer")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=float, help="passes over the data (default 1)")
    length.add_argument("--steps", type=int, help="optimizer steps, instead of --epochs")
    parser.add_argument(
        "--lr",
        type=float,
        help="peak learning rate (default 3e-3 from scratch, 2e-4 LoRA, 1e-5 full)",
    )
    parser.add_argument("--batch-size", type=int, default=8, help="per process and micro-step")
    parser.add_argument("--grad-accum", type=int, default=1, help="micro-steps per optimizer step")
    parser.add_argument("--warmup-steps", type=int, default=50)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument(
        "--max-length", type=int, help="context in tokens; longer records are dropped and counted"
    )
    parser.add_argument("--eval-fraction", type=float, default=0.02)
    parser.add_argument(
        "--eval-every", type=int, default=0, help="steps between evals (0: at start and end only)"
    )
    parser.add_argument("--save-every", type=int, default=0, help="steps between checkpoints")
    parser.add_argument("--keep-checkpoints", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lora", action="store_true", help="train LoRA adapters, not all weights")
    parser.add_argument("--lora-r", type=int, default=8)
    parser.add_argument("--lora-alpha", type=int, default=16)
    parser.add_argument("--lora-dropout", type=float, default=0.05)
    parser.add_argument("--bf16", action="store_true", help="bf16 mixed precision (GPU)")
    parser.add_argument(
        "--gradient-checkpointing",
        action="store_true",
        help="recompute activations in backward: less memory, more compute",
    )
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile the model: faster after a warm-up"
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        metavar="CHECKPOINT",
        help="continue from the latest checkpoint in --out, or from CHECKPOINT",
    )
    parser.add_argument("--strict", action="store_true", help="stop at the first bad data line")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.set_defaults(func=_guarded("finetune", run_finetune))


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``finetune``, ``data synth|check`` and ``tiny build`` to promptcheck's command line."""
    finetune = subparsers.add_parser(
        "finetune", help="Dolly-style instruction tuning, full or LoRA", description=__doc__
    )
    _finetune_parser(finetune)

    data = subparsers.add_parser("data", help="synthetic and user instruction data")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    synth = data_commands.add_parser("synth", help="write a synthetic dolly-15k-format set")
    synth.add_argument("--out", type=Path, required=True, metavar="FILE.jsonl")
    synth.add_argument("--n", type=int, default=10_000, help="number of records")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument(
        "--mix",
        default="full",
        help="full, or no-<group>/corrupt-<group>, comma-separated; groups: "
        "json, options, yesno, lists, summary, general, critique",
    )
    synth.set_defaults(func=_guarded("data synth", run_synth))
    check = data_commands.add_parser("check", help="report the bad lines of a dolly-15k file")
    check.add_argument("file", type=Path)
    check.add_argument("--strict", action="store_true", help="stop at the first bad line")
    check.add_argument("--limit", type=int, default=20, help="problems listed")
    check.set_defaults(func=_guarded("data check", run_check))

    tiny = subparsers.add_parser("tiny", help="the project's tiny Dolly models")
    tiny_commands = tiny.add_subparsers(dest="tiny_command", required=True)
    build = tiny_commands.add_parser("build", help="train (or find cached) a tiny Dolly")
    build.add_argument("--out", type=Path, required=True, metavar="DIR")
    build.add_argument("--variant", choices=("full", "no-json", "critic"), default="full")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--force", action="store_true", help="rebuild even when cached")
    build.add_argument("--no-progress", action="store_true")
    build.set_defaults(func=_guarded("tiny build", run_tiny_build))
