"""The settings of one fine-tuning run, apart from the loop so that saving and the command line
can name them without importing the loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from promptcheck.train.model import LoraSettings


@dataclass
class FinetuneOptions:
    """Everything a run depends on; the fields marked in ``RESUME_KEYS`` must match on resume."""

    data: Path
    out: Path
    base: Path | None = None
    init: Path | None = None
    tokenizer: Path | None = None
    vocab_size: int | None = None
    epochs: float | None = None
    steps: int | None = None
    lr: float | None = None
    batch_size: int = 8
    grad_accum: int = 1
    warmup_steps: int = 50
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_length: int | None = None
    eval_fraction: float = 0.02
    eval_every: int = 0
    save_every: int = 0
    keep_checkpoints: int = 2
    seed: int = 0
    lora: bool = False
    lora_settings: LoraSettings = field(default_factory=LoraSettings)
    bf16: bool = False
    gradient_checkpointing: bool = False
    compile: bool = False
    resume: str | None = None
    strict: bool = False
    progress: bool = True
    progress_label: str = "training"
    threads: int | None = None

    def default_lr(self) -> float:
        """From scratch a tiny model wants a large step; LoRA a medium one; full tuning a small."""
        if self.lr is not None:
            return self.lr
        if self.base is None:
            return 3e-3
        return 2e-4 if self.lora else 1e-5


RESUME_KEYS = ("base", "init", "tokenizer", "batch_size", "grad_accum", "seed", "lora",
               "max_length", "eval_fraction")  # fmt: skip
