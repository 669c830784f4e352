"""Loading a local Hugging Face causal-LM checkpoint: layout checks, device and dtype, clear errors.

Imported only when a ``local`` model is built: it imports torch and transformers at module level.
Everything is read from the directory itself (``local_files_only``, no remote code), because test
and CI machines have no hub access and a suite must never execute code shipped with a checkpoint.
Every error names the directory and says what to do, since the person reading it is usually a
suite author who pointed ``path:`` at the wrong place, not someone debugging transformers.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from promptcheck.errors import BackendError

#: Files that hold a tokenizer; a checkpoint needs at least one of them.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "vocab.json",
    "spiece.model",
)
#: Glob patterns of weight files, single or sharded, safetensors or pickled.
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "*.safetensors.index.json")

#: Config attributes that hold the context window, by architecture family.
_CONTEXT_ATTRIBUTES = ("max_position_embeddings", "n_positions", "n_ctx", "seq_length")

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class LoadedCheckpoint:
    """A model and tokenizer ready to sample from, with what it cost to load them."""

    path: Path
    model: Any
    tokenizer: Any
    device: torch.device
    dtype: torch.dtype
    context_window: int | None
    load_seconds: float
    memory_bytes: int
    fingerprint: str


def resolve_checkpoint_dir(path: str | Path, base_dir: Path) -> Path:
    """The checkpoint directory: ``path`` as given when absolute, else relative to ``base_dir``."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else (base_dir / candidate)


def resolve_device(spec: str) -> torch.device:
    """``auto`` is the first of cuda, mps, cpu that is present; an explicit device must exist."""
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise BackendError(
                f"device {spec!r} was asked for but this machine has no usable CUDA GPU",
                hint="use `device: auto` (falls back to cpu) or `device: cpu`",
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise BackendError(
                f"device {spec!r} does not exist: {torch.cuda.device_count()} CUDA device(s) found",
                hint="use `device: cuda` for the first GPU",
            )
    if device.type == "mps" and not _mps_available():
        raise BackendError(
            "device 'mps' was asked for but Metal is not available here",
            hint="use `device: auto` or `device: cpu`",
        )
    return device


def resolve_dtype(spec: str, device: torch.device) -> torch.dtype:
    """``auto`` is bfloat16 on GPUs that support it (float16 on older ones), float32 elsewhere.

    CPUs and MPS get float32 because their half-precision matmuls are slow or missing, and the
    tiny models that run there gain nothing from halving their size.
    """
    if spec != "auto":
        return _DTYPES[spec]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def check_layout(directory: Path, declared_as: str | None = None) -> None:
    """Fail early, with a fix, on a directory that cannot be a causal-LM checkpoint.

    ``declared_as`` is the ``path:`` the user wrote, quoted when the directory does not exist.
    """
    if not directory.exists():
        written = f"`path: {declared_as}` resolved to {directory}; " if declared_as else ""
        raise BackendError(
            f"checkpoint directory {directory} does not exist",
            hint=f"{written}check `path:` in the model's settings (a relative path is resolved "
            "from the directory the model is declared in)",
        )
    if not directory.is_dir():
        raise BackendError(
            f"checkpoint path {directory} is a file, not a directory",
            hint="point `path:` at the directory written by `save_pretrained`",
        )
    if not (directory / "config.json").is_file():
        raise BackendError(
            f"{directory} has no config.json, so it is not a Hugging Face checkpoint",
            hint="point `path:` at the directory written by `model.save_pretrained(...)`",
        )
    if not any((directory / name).is_file() for name in TOKENIZER_FILES):
        raise BackendError(
            f"checkpoint {directory} has no tokenizer files "
            f"(looked for {', '.join(TOKENIZER_FILES)})",
            hint="save the tokenizer next to the weights: `tokenizer.save_pretrained(path)`",
        )
    if not any(any(directory.glob(pattern)) for pattern in WEIGHT_PATTERNS):
        raise BackendError(
            f"checkpoint {directory} has no weight files (*.safetensors or pytorch_model*.bin)",
            hint="save the weights with `model.save_pretrained(path)`",
        )


def load_checkpoint(
    directory: Path, *, device: str = "auto", dtype: str = "auto", declared_as: str | None = None
) -> LoadedCheckpoint:
    """Load the tokenizer and model of ``directory`` onto ``device`` in ``dtype``.

    Raises :class:`BackendError` for every failure a user can fix (layout, architecture, memory).
    """
    started = time.perf_counter()
    check_layout(directory, declared_as)
    try:
        torch_device = resolve_device(device)
    except BackendError as exc:
        raise BackendError(f"checkpoint {directory}: {exc.message}", hint=exc.hint) from None
    torch_dtype = resolve_dtype(dtype, torch_device)
    config = load_config(directory)
    tokenizer = load_tokenizer(directory)
    model = load_model(directory, torch_dtype, config)
    try:
        model.to(torch_device)
    except torch.OutOfMemoryError as exc:
        raise BackendError(
            f"checkpoint {directory} does not fit on {torch_device} in "
            f"{_dtype_name(torch_dtype)}: {_first_line(exc)}",
            hint="free the GPU, use a smaller `dtype:` (bfloat16/float16) or `device: cpu`",
        ) from None
    model.eval()
    memory = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    return LoadedCheckpoint(
        path=directory,
        model=model,
        tokenizer=tokenizer,
        device=torch_device,
        dtype=torch_dtype,
        context_window=context_window(config, tokenizer),
        load_seconds=time.perf_counter() - started,
        memory_bytes=memory,
        fingerprint=checkpoint_fingerprint(directory),
    )


#: Weight files up to this size are hashed whole; larger ones by evenly spaced samples.
_FULL_HASH_BYTES = 64 * 2**20
_SAMPLED_CHUNKS = 32
_CHUNK_BYTES = 64 * 2**10


def checkpoint_fingerprint(directory: Path) -> str:
    """A digest that changes when the checkpoint's model or tokenizer changes.

    The runner keys cached generations on it. Config and tokenizer files are hashed whole, weight
    files whole when small and otherwise by size and evenly spaced chunks (a fine-tune changes
    bytes everywhere), so that fingerprinting a multi-GB checkpoint costs milliseconds and a copy
    of the same checkpoint (new paths, new mtimes) keeps its fingerprint.
    """
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        is_weights = path.suffix in (".safetensors", ".bin")
        if not is_weights and path.suffix not in (".json", ".model", ".txt", ".jinja"):
            continue
        size = path.stat().st_size
        digest.update(f"{path.name}\0{size}\0".encode())
        with path.open("rb") as handle:
            if not is_weights or size <= _FULL_HASH_BYTES:
                for block in iter(lambda: handle.read(2**20), b""):
                    digest.update(block)
                continue
            for index in range(_SAMPLED_CHUNKS):
                handle.seek(index * (size - _CHUNK_BYTES) // (_SAMPLED_CHUNKS - 1))
                digest.update(handle.read(_CHUNK_BYTES))
    return digest.hexdigest()


def context_window(config: Any, tokenizer: Any) -> int | None:
    """The longest sequence (prompt plus response) the model was built for, when it says so."""
    for attribute in _CONTEXT_ATTRIBUTES:
        value = getattr(config, attribute, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    # Tokenizers without a limit report a huge sentinel (1e30); only a real limit counts.
    if isinstance(limit, int) and 0 < limit < 10_000_000:
        return limit
    return None


def load_config(directory: Path) -> Any:
    """A checkpoint's config, from local files only and never with remote code."""
    try:
        config = AutoConfig.from_pretrained(
            directory, local_files_only=True, trust_remote_code=False
        )
    except (ValueError, KeyError) as exc:
        raise BackendError(
            f"checkpoint {directory} has an architecture transformers "
            f"{transformers.__version__} does not know: {_first_line(exc)}",
            hint="check `model_type` in config.json; a newer transformers may support it "
            "(checkpoints that need trust_remote_code are not loaded)",
        ) from None
    except OSError as exc:
        raise BackendError(
            f"cannot read config.json of checkpoint {directory}: {_first_line(exc)}",
            hint="re-save the checkpoint with `save_pretrained`",
        ) from None
    if getattr(config, "is_encoder_decoder", False):
        raise BackendError(
            f"checkpoint {directory} is an encoder-decoder model ({config.model_type}); "
            "the local backend samples from decoder-only causal LMs",
            hint="use a causal LM checkpoint (GPT-NeoX/Dolly, Llama, ...) or serve this model "
            "behind an OpenAI-compatible endpoint",
        )
    return config


def load_tokenizer(directory: Path) -> Any:
    """A checkpoint's tokenizer, from local files only and never with remote code."""
    try:
        return AutoTokenizer.from_pretrained(
            directory, local_files_only=True, trust_remote_code=False
        )
    except Exception as exc:  # tokenizer classes raise anything from OSError to TypeError
        raise BackendError(
            f"cannot load the tokenizer of checkpoint {directory}: {type(exc).__name__}: "
            f"{_first_line(exc)}",
            hint="save the tokenizer next to the weights: `tokenizer.save_pretrained(path)`",
        ) from None


def load_model(directory: Path, dtype: torch.dtype, config: Any = None) -> Any:
    """A causal LM from local files only, never with remote code, refusing missing weights
    (transformers would fill them with random values). Training loads its bases here too."""
    if config is None:
        config = load_config(directory)
    progress_was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # would garble pytest's output
    try:
        loaded: Any = AutoModelForCausalLM.from_pretrained(
            directory,
            config=config,
            dtype=dtype,
            local_files_only=True,
            trust_remote_code=False,
            output_loading_info=True,
        )
        model, info = loaded
    except ValueError as exc:
        raise BackendError(
            f"checkpoint {directory} ({config.model_type}) is not a causal language model "
            f"transformers {transformers.__version__} can load: {_first_line(exc)}",
            hint="use a decoder-only causal LM checkpoint",
        ) from None
    except torch.OutOfMemoryError as exc:
        raise BackendError(
            f"out of memory while loading checkpoint {directory}: {_first_line(exc)}",
            hint="use a smaller `dtype:` or a machine with more memory",
        ) from None
    except OSError as exc:
        raise BackendError(
            f"cannot read the weights of checkpoint {directory}: {_first_line(exc)}",
            hint="re-save the checkpoint with `model.save_pretrained(path)`",
        ) from None
    finally:
        if progress_was_enabled:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
    missing = sorted(info.get("missing_keys") or ())
    if missing:
        # transformers fills missing weights with random values and only logs it: refuse, since
        # sampling from a half-random model would look like a regression of the real one.
        shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise BackendError(
            f"checkpoint {directory} lacks {len(missing)} weight(s) its architecture "
            f"{type(model).__name__} needs ({shown})",
            hint="the weights do not match config.json; re-save the model with "
            "`save_pretrained` or fix `architectures`/`model_type`",
        )
    return model


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
