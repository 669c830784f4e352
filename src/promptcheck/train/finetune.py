"""The training loop of ``promptcheck finetune``: Dolly-style instruction tuning through accelerate.

One loop serves a laptop CPU, one GPU and many GPUs: accelerate places the model, shards the
batches between processes and, under ``accelerate launch`` with ``configs/zero3.yaml``, hands the
model and optimizer to DeepSpeed ZeRO-3. Checkpoints are accelerate states (model, optimizer,
scheduler, every RNG) plus the loop's own position, so a resumed run draws the same batches and
ends with the weights the uninterrupted run would have had.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptcheck.errors import ConfigError
from promptcheck.train.dataset import (
    Example,
    collate,
    encode_records,
    epoch_batches,
    split_eval,
)
from promptcheck.train.model import (
    apply_lora,
    build_model,
    build_tokenizer,
    read_init_config,
)
from promptcheck.train.options import RESUME_KEYS, FinetuneOptions
from promptcheck.train.progress import TrainProgress
from promptcheck.train.records import DataReport, read_records
from promptcheck.train.save import save_final
from promptcheck.train.tokenizer import dolly_token_ids

if TYPE_CHECKING:
    import torch
    from accelerate import Accelerator

STATE_FILE = "trainer_state.json"


@dataclass
class FinetuneResult:
    """What a run did, written beside the model as ``promptcheck_train.json``."""

    out: str
    steps: int
    epochs: float
    records: int
    skipped_lines: int
    too_long: int
    train_examples: int
    eval_examples: int
    first_eval_loss: float | None
    eval_loss: float | None
    train_loss: float
    tokens: int
    tokens_per_s: float
    seconds: float
    parameters: int
    trainable_parameters: int
    data_sha256: str
    resumed_from: int = 0
    eval_history: list[tuple[int, float]] = field(default_factory=list)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lr_factor(step: int, total: int, warmup: int, floor: float) -> float:
    """Linear warmup, then cosine decay to ``floor`` times the peak at the last step."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def evaluate(model: Any, batches: list[dict[str, torch.Tensor]], device: Any) -> float:
    """Mean loss per response token over the eval set (not a mean of batch means)."""
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in batches:
            batch = model_inputs(batch, device)
            loss = model(**batch).loss
            n = int((batch["labels"][:, 1:] != -100).sum())
            total += float(loss) * n
            count += n
    model.train()
    return total / max(1, count)


def model_inputs(batch: dict[str, torch.Tensor], device: Any) -> dict[str, torch.Tensor]:
    """Ids and labels only: with right padding and causal attention no real token sees a pad,
    so the attention mask is redundant, and leaving it out lets SDPA take its fast causal path
    (half the step time of the tiny model on CPU).
    """
    return {"input_ids": batch["input_ids"].to(device), "labels": batch["labels"].to(device)}


def latest_checkpoint(out: Path) -> Path | None:
    found = sorted(
        (p for p in (out / "checkpoints").glob("step-*") if (p / STATE_FILE).is_file()),
        key=lambda p: int(p.name.split("-")[1]),
    )
    return found[-1] if found else None


def resolve_resume(options: FinetuneOptions) -> Path | None:
    if options.resume is None:
        return None
    if options.resume == "latest":
        found = latest_checkpoint(options.out)
        if found is None:
            raise ConfigError(f"--resume: no checkpoint under {options.out / 'checkpoints'}")
        return found
    path = Path(options.resume)
    if not (path / STATE_FILE).is_file():
        raise ConfigError(f"--resume: {path} is not a checkpoint (no {STATE_FILE})")
    return path


def fingerprint(options: FinetuneOptions, data_sha: str) -> dict[str, Any]:
    values = {key: getattr(options, key) for key in RESUME_KEYS}
    values = {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}
    return {**values, "data_sha256": data_sha}


def finetune(options: FinetuneOptions) -> FinetuneResult:
    """Run one fine-tuning (or from-scratch) training and save a loadable checkpoint in ``out``.

    Raises :class:`promptcheck.train.records.DataError` or :class:`ConfigError` for what the user
    can fix; the command line turns those into a message and exit code 2.
    """
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    if (options.base is None) == (options.init is None):
        raise ConfigError("give exactly one of --base DIR and --init CONFIG.json")
    if options.lora and options.base is None:
        raise ConfigError("LoRA adapts a pretrained model: give --base DIR, not --init")
    if options.threads:
        torch.set_num_threads(options.threads)
    started = time.perf_counter()
    resume_dir = resolve_resume(options)
    accelerator = Accelerator(
        mixed_precision="bf16" if options.bf16 else "no",
        gradient_accumulation_steps=options.grad_accum,
    )
    set_seed(options.seed)
    records, report = read_records(options.data, strict=options.strict)
    data_sha = file_sha256(options.data)
    if resume_dir is not None:
        saved = json.loads((resume_dir / STATE_FILE).read_text())
        if saved["fingerprint"] != fingerprint(options, data_sha):
            raise ConfigError(
                f"--resume: {resume_dir} was trained with other settings or data",
                hint=f"saved: {saved['fingerprint']}",
            )

    init = read_init_config(options.init) if options.init else None
    vocab_size = options.vocab_size or int((init or {}).get("vocab_size", 1024))
    tokenizer_source = options.tokenizer
    if resume_dir is not None and (resume_dir / "tokenizer").is_dir():
        tokenizer_source = resume_dir / "tokenizer"
    tokenizer, new_ids = build_tokenizer(
        base=options.base, tokenizer_dir=tokenizer_source, vocab_size=vocab_size, records=records
    )
    if options.base is None:
        new_ids = dolly_token_ids(tokenizer)
    with quiet_transformers():  # no 'Loading weights' bar before our own
        model = build_model(
            base=options.base,
            init=init,
            tokenizer=tokenizer,
            seed=options.seed,
            gradient_checkpointing=options.gradient_checkpointing,
        )
    max_length = options.max_length or min(2048, int(model.config.max_position_embeddings))
    tokenizer.model_max_length = 1 << 30  # measuring the too-long records is not an error
    encoded = encode_records(tokenizer, records, report.line_numbers, max_length)
    tokenizer.model_max_length = max_length
    if accelerator.is_main_process:
        print_report(report, encoded.summary(max_length, options.data))
    if not encoded.examples:
        raise ConfigError(f"no record fits the context of {max_length} tokens")
    train_set, eval_set = split_eval(encoded.examples, options.eval_fraction, options.seed)
    if options.lora:
        model = apply_lora(model, options.lora_settings, new_ids)
    parameters = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)

    per_epoch = math.ceil(len(train_set) / options.batch_size)
    updates_per_epoch = max(1, per_epoch // (options.grad_accum * accelerator.num_processes))
    if options.steps is not None:
        total_steps = options.steps
    else:
        total_steps = max(1, round((options.epochs or 1.0) * updates_per_epoch))

    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=options.default_lr(),
        betas=(0.9, 0.98),
        weight_decay=options.weight_decay,
    )
    warmup = min(options.warmup_steps, max(1, total_steps // 10))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, total_steps, warmup, options.min_lr_ratio)
    )
    _set_deepspeed_batch(accelerator, options.batch_size)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)

    loop = _Loop(accelerator, model, optimizer, scheduler, options, tokenizer.pad_token_id)
    loop.eval_batches = [
        collate(eval_set[i : i + 32], tokenizer.pad_token_id) for i in range(0, len(eval_set), 32)
    ]
    if resume_dir is not None:
        accelerator.load_state(str(resume_dir))
        loop.restore(json.loads((resume_dir / STATE_FILE).read_text()))
    state_extra = {"fingerprint": fingerprint(options, data_sha)}
    loop.run(train_set, total_steps, tokenizer, state_extra)

    result = FinetuneResult(
        out=str(options.out),
        steps=loop.step,
        epochs=loop.step / updates_per_epoch,
        records=len(records),
        skipped_lines=len(report.issues),
        too_long=len(encoded.too_long),
        train_examples=len(train_set),
        eval_examples=len(eval_set),
        first_eval_loss=loop.eval_history[0][1] if loop.eval_history else None,
        eval_loss=loop.eval_history[-1][1] if loop.eval_history else None,
        train_loss=loop.smoothed_loss,
        tokens=loop.tokens,
        tokens_per_s=loop.session_tokens / max(1e-9, loop.train_seconds),
        seconds=time.perf_counter() - started,
        parameters=parameters,
        trainable_parameters=trainable,
        data_sha256=data_sha,
        resumed_from=loop.resumed_from,
        eval_history=loop.eval_history,
    )
    with quiet_transformers():
        save_final(accelerator, model, tokenizer, options, asdict(result))
    result.seconds = time.perf_counter() - started
    loop.progress.close()
    return result


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """No 'Loading weights' or 'Writing model shards' bars from transformers around our own."""
    from transformers.utils import logging as hf_logging

    logging: Any = hf_logging
    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            logging.enable_progress_bar()


def _set_deepspeed_batch(accelerator: Accelerator, batch_size: int) -> None:
    """DeepSpeed wants the micro-batch size; our batches come from a sampler, so tell it."""
    plugin = getattr(accelerator.state, "deepspeed_plugin", None)
    if plugin is not None:
        plugin.deepspeed_config["train_micro_batch_size_per_gpu"] = batch_size


class _Loop:
    """The loop's position and history, separate from what accelerate checkpoints."""

    def __init__(
        self,
        accelerator: Accelerator,
        model: Any,
        optimizer: Any,
        scheduler: Any,
        options: FinetuneOptions,
        pad_id: int,
    ) -> None:
        self.accelerator = accelerator
        self.model = model
        self.compiled: Any = None
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.options = options
        self.pad_id = pad_id
        self.step = 0
        self.micro = 0
        self.tokens = 0
        self.train_seconds = 0.0
        self.session_tokens = 0
        self.smoothed_loss = float("nan")
        self.resumed_from = 0
        self.eval_history: list[tuple[int, float]] = []
        self.eval_batches: list[dict[str, torch.Tensor]] = []
        self.progress = TrainProgress(
            enabled=options.progress and accelerator.is_main_process,
            description=options.progress_label,
        )

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The training loss of a batch, through the compiled model when ``--compile`` works.

        Compiling needs a C++ compiler on CPU; where compiling fails the run says so once and
        goes on eagerly (same results up to float rounding, slower).
        """
        if self.options.compile and self.compiled is None:
            import torch

            self.compiled = torch.compile(self.model, dynamic=True)
            try:
                loss: torch.Tensor = self.compiled(**inputs).loss
                return loss
            except Exception as exc:
                print(f"--compile: falling back to eager mode ({type(exc).__name__}: {exc})",
                      file=sys.stderr)  # fmt: skip
                self.compiled = self.model
        runner = self.compiled if self.compiled is not None else self.model
        result: torch.Tensor = runner(**inputs).loss
        return result

    def restore(self, state: dict[str, Any]) -> None:
        self.step = self.resumed_from = int(state["step"])
        self.micro = int(state["micro"])
        self.tokens = int(state["tokens"])
        self.smoothed_loss = float(state["smoothed_loss"])
        self.eval_history = [(int(s), float(v)) for s, v in state["eval_history"]]

    def schedule(self, train_set: list[Example]) -> Any:
        """Micro-batches for this process from the current position on, forever (epoch by epoch)."""
        size = self.options.batch_size
        rank, world = self.accelerator.process_index, self.accelerator.num_processes
        epoch, skip = 0, self.micro
        while True:
            batches = epoch_batches(train_set, size, self.options.seed, epoch)
            batches = batches[: len(batches) - len(batches) % world]
            mine = batches[rank::world]
            if skip >= len(mine):
                skip -= len(mine)
                epoch += 1
                continue
            for indices in mine[skip:]:
                yield collate([train_set[i] for i in indices], self.pad_id)
            skip = 0
            epoch += 1

    def run(
        self, train_set: list[Example], total_steps: int, tokenizer: Any, extra: dict[str, Any]
    ) -> None:
        options, accelerator, model = self.options, self.accelerator, self.model
        device = accelerator.device
        self.progress.start(total_steps, self.step)
        if not self.eval_history and self.eval_batches:
            self.eval_history.append((self.step, evaluate(model, self.eval_batches, device)))
        model.train()
        batches = self.schedule(train_set)
        tick = begun = time.perf_counter()
        while self.step < total_steps:
            batch = next(batches)
            real_tokens = int(batch["attention_mask"].sum()) * accelerator.num_processes
            with accelerator.accumulate(model):
                loss = self.forward(model_inputs(batch, device))
                accelerator.backward(loss)
                if accelerator.sync_gradients and options.max_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), options.max_grad_norm)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
            self.micro += 1
            self.tokens += real_tokens
            self.session_tokens += real_tokens
            value = float(loss.detach())
            self.smoothed_loss = (
                value
                if math.isnan(self.smoothed_loss)
                else 0.95 * self.smoothed_loss + 0.05 * value
            )
            if not accelerator.sync_gradients:
                continue
            self.step += 1
            now = time.perf_counter()
            self.train_seconds += now - tick
            if options.eval_every and self.step % options.eval_every == 0 and self.eval_batches:
                self.eval_history.append((self.step, evaluate(model, self.eval_batches, device)))
            self.progress.update(
                self.step, self.smoothed_loss, self.eval_history, self.session_tokens, now - begun
            )
            if (
                options.save_every
                and self.step % options.save_every == 0
                and self.step < total_steps
            ):
                self.save_checkpoint(tokenizer, extra)
            tick = time.perf_counter()
        if self.eval_batches and (not self.eval_history or self.eval_history[-1][0] != self.step):
            self.eval_history.append((self.step, evaluate(model, self.eval_batches, device)))

    def save_checkpoint(self, tokenizer: Any, extra: dict[str, Any]) -> Path:
        """``out/checkpoints/step-N``: accelerate's state, the tokenizer and the loop position."""
        accelerator = self.accelerator
        path = self.options.out / "checkpoints" / f"step-{self.step}"
        accelerator.save_state(str(path))
        if accelerator.is_main_process:
            tokenizer.save_pretrained(str(path / "tokenizer"))
            state = {
                "step": self.step,
                "micro": self.micro,
                "tokens": self.tokens,
                "smoothed_loss": self.smoothed_loss,
                "eval_history": self.eval_history,
                **extra,
            }
            (path / STATE_FILE).write_text(json.dumps(state, indent=2))
            old = sorted(
                (p for p in path.parent.glob("step-*") if p != path),
                key=lambda p: int(p.name.split("-")[1]),
            )
            for stale in old[: max(0, len(old) - self.options.keep_checkpoints + 1)]:
                shutil.rmtree(stale, ignore_errors=True)
        accelerator.wait_for_everyone()
        return path


def print_report(report: DataReport, dropped: str) -> None:
    """What reading and encoding the data skipped, on stderr, before training starts.

    Silent when nothing was skipped; never silent when something was.
    """
    if report.issues:
        print(report.summary(), file=sys.stderr)
    if dropped:
        print(dropped, file=sys.stderr)
