"""Loading local checkpoints: Dolly v2 layouts saved in several dtypes and shardings, and every
bad input a suite author can produce, each failing with the checkpoint's path and a fix."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from promptcheck.backends.base import BACKENDS, BackendContext
from promptcheck.backends.local import LocalParams, build_local
from promptcheck.errors import BackendError

torch = pytest.importorskip("torch")


def build(path: Path | str, **settings: Any) -> Any:
    return build_local(LocalParams(path=str(path), **settings), BackendContext(base_dir=Path.cwd()))


def test_importing_the_backend_does_not_import_torch() -> None:
    code = (
        "import sys, promptcheck.backends.local as m; "
        "assert m.LocalParams; "
        "heavy = [n for n in ('torch', 'transformers') if n in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_local_is_registered_with_its_params() -> None:
    entry = BACKENDS.get("local")
    assert entry.params is LocalParams
    assert entry.build is build_local
    assert "checkpoint" in entry.description


def test_params_contract() -> None:
    params = LocalParams.model_validate({"path": "models/tiny-dolly", "stop": ["\n\n"]})
    assert params.format == "auto" and params.device == "auto" and params.dtype == "auto"
    assert params.max_batch_size == 64 and params.stop == ("\n\n",)
    assert LocalParams(path="x", device="cuda:1").device == "cuda:1"
    for bad in (
        {"path": "x", "unknown": 1},
        {"path": "x", "device": "gpu"},
        {"path": "x", "dtype": "int8"},
        {"path": "x", "format": "alpaca"},
        {"path": "x", "max_batch_size": 0},
        {"path": "x", "stop": [""]},
        {},
    ):
        with pytest.raises(ValidationError):
            LocalParams.model_validate(bad)


def reference_logits(directory: Path) -> Any:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    with torch.inference_mode():
        return model(torch.tensor([[50278, 187, 27128, 50279]])).logits


@pytest.mark.parametrize(
    ("saved_dtype", "shard"),
    [(torch.float16, None), (torch.bfloat16, "2MB"), (torch.float32, "3MB")],
    ids=["float16", "bfloat16-sharded", "float32-sharded"],
)
def test_loads_dolly_checkpoints_saved_in_any_dtype_and_sharding(
    tmp_path: Path, saved_dtype: Any, shard: str | None
) -> None:
    from checkpoints import build_dolly_checkpoint

    directory = build_dolly_checkpoint(tmp_path / "dolly", dtype=saved_dtype, max_shard_size=shard)
    if shard is not None:
        assert (directory / "model.safetensors.index.json").is_file()
        assert len(list(directory.glob("model-*.safetensors"))) > 1
    assert json.loads((directory / "config.json").read_text())["rotary_pct"] == 0.25
    backend = build(directory)
    assert backend.dtype == "float32" and backend.device == "cpu"  # dtype auto on CPU
    assert backend.format == "dolly"
    assert backend.context_window == 2048
    model = backend.checkpoint.model
    assert model.config.vocab_size == 50280
    assert model.gpt_neox.layers[0].attention.rotary_ndims == 2  # rotary_pct 0.25 of head 8
    with torch.inference_mode():
        logits = model(torch.tensor([[50278, 187, 27128, 50279]])).logits
    assert torch.equal(logits, reference_logits(directory))
    assert backend.memory_bytes == sum(p.numel() * 4 for p in model.parameters()) + sum(
        b.numel() * b.element_size() for b in model.buffers()
    )
    assert backend.load_seconds > 0


def test_explicit_dtype_is_honoured(dolly_dir: Path) -> None:
    backend = build(dolly_dir, dtype="bfloat16", device="cpu")
    assert backend.dtype == "bfloat16"
    assert next(backend.checkpoint.model.parameters()).dtype == torch.bfloat16


# -- bad input ---------------------------------------------------------------------------------


def copy_checkpoint(source: Path, target: Path, *, without: tuple[str, ...] = ()) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*without))
    return target


def expect_error(directory: Path, *fragments: str, **settings: Any) -> BackendError:
    with pytest.raises(BackendError) as caught:
        build(directory, **settings)
    message = str(caught.value)
    assert str(directory) in message
    assert caught.value.hint
    for fragment in fragments:
        assert fragment in message
    return caught.value


def test_missing_directory(tmp_path: Path) -> None:
    error = expect_error(tmp_path / "nowhere", "does not exist")
    assert "path" in (error.hint or "")


def test_relative_path_is_resolved_from_the_context(dolly_dir: Path) -> None:
    backend = build_local(
        LocalParams(path=dolly_dir.name), BackendContext(base_dir=dolly_dir.parent)
    )
    assert backend.path == dolly_dir


def test_file_instead_of_directory(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"")
    expect_error(tmp_path / "model.bin", "not a directory")


def test_directory_without_config(tmp_path: Path) -> None:
    expect_error(tmp_path, "no config.json")


def test_checkpoint_without_tokenizer_files(dolly_dir: Path, tmp_path: Path) -> None:
    directory = copy_checkpoint(dolly_dir, tmp_path / "c", without=("tokenizer*",))
    error = expect_error(directory, "no tokenizer files")
    assert "save_pretrained" in (error.hint or "")


def test_checkpoint_without_weights(dolly_dir: Path, tmp_path: Path) -> None:
    directory = copy_checkpoint(dolly_dir, tmp_path / "c", without=("*.safetensors",))
    expect_error(directory, "no weight files")


def test_unsupported_architecture(dolly_dir: Path, tmp_path: Path) -> None:
    directory = copy_checkpoint(dolly_dir, tmp_path / "c")
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "model_type": "frobnicator"}))
    expect_error(directory, "architecture", "frobnicator")


def test_encoder_decoder_checkpoints_are_refused(dolly_dir: Path, tmp_path: Path) -> None:
    from transformers import T5Config

    directory = copy_checkpoint(dolly_dir, tmp_path / "c")
    T5Config(vocab_size=64, d_model=16, num_layers=1, num_heads=2).save_pretrained(directory)
    expect_error(directory, "encoder-decoder")


def test_weights_that_do_not_match_the_config_are_refused(dolly_dir: Path, tmp_path: Path) -> None:
    directory = copy_checkpoint(dolly_dir, tmp_path / "c")
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 3}))
    expect_error(directory, "lacks", "layers.2")


def test_chat_format_without_a_chat_template(dolly_dir: Path) -> None:
    expect_error(dolly_dir, "chat template", format="chat")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_a_missing_gpu(dolly_dir: Path) -> None:
    error = expect_error(dolly_dir, "no usable CUDA GPU", device="cuda")
    assert "device: cpu" in (error.hint or "")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_auto_device_and_dtype_on_a_gpu(dolly_dir: Path) -> None:
    backend = build(dolly_dir)
    assert backend.device.startswith("cuda")
    expected = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    assert backend.dtype == expected


@pytest.mark.parametrize("sampled", [False, True], ids=["whole-files", "sampled-chunks"])
def test_fingerprint_follows_the_files_not_their_location(
    dolly_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sampled: bool
) -> None:
    from checkpoints import build_dolly_checkpoint

    from promptcheck.backends import checkpoint

    if sampled:
        monkeypatch.setattr(checkpoint, "_FULL_HASH_BYTES", 1024)
    original = checkpoint.checkpoint_fingerprint(dolly_dir)
    copied = copy_checkpoint(dolly_dir, tmp_path / "copy")
    assert checkpoint.checkpoint_fingerprint(copied) == original
    retrained = build_dolly_checkpoint(tmp_path / "other-seed", seed=1)
    assert checkpoint.checkpoint_fingerprint(retrained) != original
    (copied / "tokenizer_config.json").write_text("{}")
    assert checkpoint.checkpoint_fingerprint(copied) != original


def test_backend_fingerprint_names_what_decides_the_samples(dolly_dir: Path) -> None:
    backend = build(dolly_dir)
    digest, fmt, dtype, device, version = backend.fingerprint.split("/")
    assert len(digest) == 32 and (fmt, dtype, device) == ("dolly", "float32", "cpu")
    assert version.startswith("sampler-")
    assert build(dolly_dir, format="raw").fingerprint != backend.fingerprint
