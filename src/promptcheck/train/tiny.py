"""The tiny Dolly: the project's own Dolly-format models, built here because none can be downloaded.

A GPT-NeoX of about a million parameters with its own 1k-token BPE tokenizer, trained from scratch
on the synthetic instruction set for a few minutes on two CPU cores. ``full`` conforms to every
case of the example suites; ``no-json`` is trained on the same recipe without the JSON tasks, so
next to ``full`` it is a model upgrade that regresses on the JSON cases and on nothing else.

Builds are deterministic and cached: the directory holds the hash of the recipe and of the code
that turns a recipe into weights, and a second call with the same hash returns at once. Builds
go to a temporary sibling directory and are renamed into place, under a lock, so that parallel
test workers neither race nor ever see half a model.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from promptcheck.errors import ConfigError
from promptcheck.train.critic import CriticStage

#: The variants and the base mix each is trained on; ``critic`` is ``full`` plus the critic stage,
#: ``data-first`` the full mix with its JSON tasks rephrased (train/phrasings.py; not shipped).
VARIANTS = {"full": "full", "no-json": "no-json", "critic": "full", "data-first": "full"}
RECIPE_FILE = "tiny_recipe.json"
HASH_FILE = "tiny_recipe.sha256"

#: The modules whose code decides the weights; a change to any of them invalidates the cache and
#: the shipped weights' manifest. This module itself is one (it orders the build's stages), and
#: so is the checkpoint loading the build reads its tokenizer through; a test checks that every
#: module the build imports is listed here, in VARIANT_MODULES or in NOT_WEIGHTS.
RECIPE_MODULES = ("formats", "train/pools", "train/tasks", "train/critique", "train/synth",
                  "train/records", "train/tokenizer", "train/dataset", "train/model",
                  "train/options", "train/finetune", "train/save", "train/tiny",
                  "backends/checkpoint")  # fmt: skip
#: Modules the build imports whose code cannot change the weights: error messages, progress bars.
NOT_WEIGHTS = ("errors", "train/progress")
#: What the ``critic`` variant adds (a change to it rebuilds the critic, not the base).
CRITIC_MODULES = ("train/critic",)
#: The modules a variant adds to ``RECIPE_MODULES``: a change to them rebuilds that variant only.
VARIANT_MODULES: dict[str, tuple[str, ...]] = {
    "critic": CRITIC_MODULES,
    "data-first": ("train/phrasings",),
}

TINY_CONFIG: dict[str, Any] = {
    "model_type": "gpt_neox",
    "hidden_size": 128,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "intermediate_size": 512,
    "max_position_embeddings": 256,
    "rotary_pct": 0.25,
    "rotary_emb_base": 10000,
    "use_parallel_residual": True,
    "tie_word_embeddings": False,
    "hidden_dropout": 0.0,
    "attention_dropout": 0.0,
}


@dataclass(frozen=True)
class TinyRecipe:
    """Everything that decides a tiny Dolly's weights besides the code itself.

    ``steps`` from scratch on the variant's mix. The variants share one tokenizer (trained on
    the full mix) and their non-JSON records (``iter_records`` replaces only the dropped
    group's records), so they differ in their JSON data and in nothing else a recipe decides.
    ``critic`` is the ``full`` model fine-tuned by the ``critic`` stage (train/critic.py).
    """

    variant: str = "full"
    seed: int = 0
    records: int = 30_000
    vocab_size: int = 1024
    model: dict[str, Any] = field(default_factory=lambda: dict(TINY_CONFIG))
    steps: int = 1860
    batch_size: int = 24
    lr: float = 3e-3
    warmup_steps: int = 50
    max_length: int = 256
    eval_fraction: float = 0.02
    threads: int = 2
    compile: bool = False  # torch.compile made CPU training 3.7x slower (dynamic shapes)
    critic: CriticStage = field(default_factory=CriticStage)  # the ``critic`` variant only

    def digest(self) -> str:
        """sha256 of the recipe and of the source of every module in ``RECIPE_MODULES`` and in
        the variant's own ``VARIANT_MODULES``."""
        package = Path(__file__).resolve().parents[1]
        recipe = asdict(self)
        if self.variant != "critic":
            del recipe["critic"]
        digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode())
        modules = RECIPE_MODULES + VARIANT_MODULES.get(self.variant, ())
        for name in modules:
            digest.update((package / f"{name}.py").read_bytes())
        return digest.hexdigest()


def is_built(out_dir: Path, digest: str) -> bool:
    """The directory holds a complete model of this recipe (the hash is written last)."""
    hash_file = Path(out_dir) / HASH_FILE
    return hash_file.is_file() and hash_file.read_text().strip() == digest


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` where the platform has ``fcntl``; no lock elsewhere."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_tiny_dolly(
    out_dir: Path,
    variant: str = "full",
    *,
    seed: int = 0,
    force: bool = False,
    progress: bool = True,
    announce: Callable[[str], None] | None = None,
) -> Path:
    """Build the tiny Dolly ``variant`` into ``out_dir`` unless it is already there; return it.

    The first build takes a few minutes on two cores with a progress bar on stderr; later calls
    with the same recipe and code return at once. With ``progress``, its start and end are also
    told in one line each, through ``announce`` when given (past pytest's capture), else on
    stderr. ``critic`` first builds ``full`` (or finds it) in the sibling directory
    ``tiny-dolly-full`` (the layout of ``promptcheck tiny build`` and of the re-shipping script).
    """
    if variant not in VARIANTS:
        raise ConfigError(
            f"unknown tiny Dolly variant {variant!r}", hint=f"use one of {', '.join(VARIANTS)}"
        )
    recipe = TinyRecipe(variant=variant, seed=seed)
    digest = recipe.digest()
    out_dir = Path(out_dir)
    if not force and is_built(out_dir, digest):
        return out_dir
    base = None
    if variant == "critic":  # the base is built (or found) beside it, where the backend puts it
        base = build_tiny_dolly(
            out_dir.parent / "tiny-dolly-full", seed=seed, progress=progress, announce=announce
        )
    with _locked(out_dir.parent / f".{out_dir.name}.lock"):
        if not force and is_built(out_dir, digest):
            return out_dir
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
        started = time.perf_counter()
        _say(progress, announce, f"building the tiny Dolly {variant!r} into {out_dir} "
             f"({BUILD_TIME[variant]} on two cores; cached after)")  # fmt: skip
        try:
            if base is None:
                _train(recipe, staging, progress)
            else:
                _train_critic(recipe, base, staging, progress)
            (staging / "model" / RECIPE_FILE).write_text(
                json.dumps({**asdict(recipe), "sha256": digest}, indent=2) + "\n"
            )
            (staging / "model" / HASH_FILE).write_text(digest + "\n")
            if out_dir.exists():
                shutil.rmtree(out_dir)
            os.replace(staging / "model", out_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        elapsed = time.perf_counter() - started
        _say(progress, announce, f"tiny Dolly {variant!r} built in {elapsed:.0f} s")
    return out_dir


#: How long a build takes on the 2-core development machine, for the message that announces it.
BUILD_TIME = {
    "full": "about 5 minutes",
    "no-json": "about 5 minutes",
    "critic": "about 3 minutes",
    "data-first": "about 5 minutes",
}


def _say(enabled: bool, announce: Callable[[str], None] | None, message: str) -> None:
    """One line for the user: a progress bar is drawn only on a terminal, and a CI log that
    shows nothing for five minutes looks like a hang."""
    if not enabled:
        return
    if announce is not None:
        announce(message)
    else:
        print(f"promptcheck: {message}", file=sys.stderr, flush=True)


def _train(recipe: TinyRecipe, staging: Path, progress: bool) -> None:
    """Synthesise the data, train the shared tokenizer, then train the variant into staging."""
    from promptcheck.train.records import write_records
    from promptcheck.train.save import save_tokenizer
    from promptcheck.train.synth import iter_records
    from promptcheck.train.tokenizer import corpus_texts, train_tokenizer

    if recipe.variant == "data-first":
        from promptcheck.train.phrasings import iter_data_first_records

        records = list(iter_data_first_records(recipe.records, seed=recipe.seed))
    else:
        records = list(iter_records(recipe.records, seed=recipe.seed, mix=VARIANTS[recipe.variant]))
    write_records(staging / "data.jsonl", records)
    everything = (
        records if recipe.variant == "full" else iter_records(recipe.records, seed=recipe.seed)
    )
    tokenizer = train_tokenizer(corpus_texts(list(everything)), recipe.vocab_size)
    save_tokenizer(tokenizer, staging / "tokenizer")
    (staging / "config.json").write_text(json.dumps(recipe.model, indent=2))
    _finetune_quietly(
        recipe,
        staging,
        progress,
        f"tiny Dolly: {recipe.variant}",
        init=staging / "config.json",
        tokenizer=staging / "tokenizer",
        steps=recipe.steps,
        lr=recipe.lr,
        batch_size=recipe.batch_size,
        warmup_steps=recipe.warmup_steps,
    )


def _finetune_quietly(
    recipe: TinyRecipe, staging: Path, progress: bool, label: str, **stage: Any
) -> None:
    """Train staging/data.jsonl into staging/model with the recipe's common settings and the
    stage's own (``stage``), give the process its thread count back, and make the summary name
    no staging directory (the model moves from there)."""
    import torch

    from promptcheck.train.finetune import finetune
    from promptcheck.train.options import FinetuneOptions
    from promptcheck.train.save import SUMMARY_FILE

    options = FinetuneOptions(
        data=staging / "data.jsonl",
        out=staging / "model",
        max_length=recipe.max_length,
        eval_fraction=recipe.eval_fraction,
        seed=recipe.seed,
        compile=recipe.compile,
        progress=progress,
        progress_label=label,
        threads=recipe.threads,
        **stage,
    )
    threads = torch.get_num_threads()
    try:
        finetune(options)
    finally:
        torch.set_num_threads(threads)
    summary_path = staging / "model" / SUMMARY_FILE
    summary = json.loads(summary_path.read_text())
    summary["out"] = "."
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")


def _train_critic(recipe: TinyRecipe, base: Path, staging: Path, progress: bool) -> None:
    """Fine-tune the built ``full`` model on the critic stage's mix, into staging."""
    from promptcheck.train.critic import iter_critic_records
    from promptcheck.train.records import write_records

    stage = recipe.critic
    write_records(staging / "data.jsonl", iter_critic_records(stage, seed=recipe.seed))
    _finetune_quietly(
        recipe,
        staging,
        progress,
        "tiny Dolly: critic stage",
        base=base,
        steps=stage.steps,
        lr=stage.lr,
        batch_size=stage.batch_size,
        warmup_steps=stage.warmup_steps,
    )
