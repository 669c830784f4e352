"""Ship the tiny Dolly: build the variants, copy them into the package, measure, write the manifest.

The package carries the weights (``src/promptcheck/weights/``) so that a first run loads them at
once and every machine samples from the same model. This script is the only way they change:

    python tests/scripts/ship_tiny_dolly.py --build-dir .promptcheck/models

For each variant it builds the recipe (or finds the build cached in ``--build-dir``), copies the
files a checkpoint needs, storing the weights in ``--dtype``, then measures every shipped copy
on the example suites through the built-in models, exactly as ``pytest --promptcheck suites/``
does (same seeds, same sample counts), and writes ``weights/manifest.json``: per variant the
recipe digest it was built from, the sha256 of every file, and the conformance of every case.
``tests/unit/train/test_shipped_tiny_dolly.py`` checks the files and the recipe digest against
it; a slow test rebuilds a variant and compares.
``--measure-only`` skips building and copying and measures the shipped weights again.
``--restamp`` is for a code change that cannot alter the weights (a comment, a message): it
rebuilds every variant from scratch and, only when the rebuilt weights are byte-identical to the
shipped ones, writes the new recipe digests; otherwise it stops and asks for a full re-ship.
The weights ship in float32: float16 and bfloat16 changed the measured conformance.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).parent))

#: What a checkpoint needs to load and sample, and nothing else (no training logs, no data).
SHIPPED_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "tiny_recipe.json",
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_checkpoint(built: Path, shipped: Path, dtype: str) -> None:
    """The files of ``SHIPPED_FILES``, the weights stored in ``dtype``."""
    import torch
    from safetensors.torch import load_file, save_file

    if shipped.exists():
        shutil.rmtree(shipped)
    shipped.mkdir(parents=True)
    for name in SHIPPED_FILES:
        if name != "model.safetensors":
            shutil.copyfile(built / name, shipped / name)
    tensors = load_file(str(built / "model.safetensors"))
    target = getattr(torch, dtype)
    stored = {
        key: value.to(target) if value.is_floating_point() else value
        for key, value in tensors.items()
    }
    save_file(stored, str(shipped / "model.safetensors"), metadata={"format": "pt"})


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--build-dir", type=Path, default=ROOT / ".promptcheck" / "models")
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32")
    parser.add_argument("--variants", nargs="+", default=["full", "no-json", "critic"])
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="measure the weights already shipped again and rewrite only their conformance "
        "(after a change to how samples are drawn)",
    )
    parser.add_argument(
        "--restamp",
        action="store_true",
        help="rebuild every variant afresh; when the weights are byte-identical to the shipped "
        "ones, write the new recipe digests (after a change that cannot alter the weights)",
    )
    args = parser.parse_args()

    import torch
    import transformers
    from measure_conformance import BUILTIN, measure

    from promptcheck import __version__
    from promptcheck.backends.tiny import MANIFEST_FILE, shipped_checkpoint, weights_dir
    from promptcheck.train.tiny import TinyRecipe, build_tiny_dolly

    manifest_path = weights_dir() / MANIFEST_FILE
    manifest: dict[str, Any] = (
        json.loads(manifest_path.read_text()) if manifest_path.exists() else {"variants": {}}
    )
    if args.restamp:
        return restamp(args.build_dir, args.variants, args.dtype, manifest, manifest_path)
    for variant in args.variants:
        shipped = shipped_checkpoint(variant)
        if not args.measure_only:
            built = build_tiny_dolly(args.build_dir / f"tiny-dolly-{variant}", variant)
            copy_checkpoint(built, shipped, args.dtype)
            print(f"shipped {variant}: {shipped}", flush=True)
            manifest["variants"][variant] = {
                "recipe_sha256": TinyRecipe(variant=variant).digest(),
                "dtype": args.dtype,
                "files": {name: sha256(shipped / name) for name in SHIPPED_FILES},
            }
        # through the built-in model, whose samples are the ones a user's run draws
        rows = measure({BUILTIN[variant]: None}, None)
        conformance = {row["case"]: {"k": row["k"], "n": row["n"]} for row in rows}
        manifest["variants"][variant]["conformance"] = conformance
    manifest["format"] = 1
    manifest["measured_with"] = {
        "promptcheck": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "machine": platform.machine(),
    }
    manifest["variants"] = dict(sorted(manifest["variants"].items()))
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {manifest_path}")
    return 0


def restamp(
    build_dir: Path, variants: list[str], dtype: str, manifest: dict[str, Any], path: Path
) -> int:
    """New recipe digests for weights a rebuild reproduces byte for byte; 1 when one differs."""
    import tempfile

    from promptcheck.backends.tiny import shipped_checkpoint
    from promptcheck.train.tiny import TinyRecipe, build_tiny_dolly

    with tempfile.TemporaryDirectory(
        dir=build_dir.parent if build_dir.parent.exists() else None
    ) as tmp:
        fresh = Path(tmp)
        for variant in variants:
            built = build_tiny_dolly(fresh / f"tiny-dolly-{variant}", variant, force=True)
            copy_checkpoint(built, fresh / f"shipped-{variant}", dtype)
            rebuilt = sha256(fresh / f"shipped-{variant}" / "model.safetensors")
            shipped = sha256(shipped_checkpoint(variant) / "model.safetensors")
            if rebuilt != shipped:
                print(f"{variant}: the rebuilt weights differ ({rebuilt[:12]} vs {shipped[:12]}): "
                      "re-ship with this script without --restamp")  # fmt: skip
                return 1
            manifest["variants"][variant]["recipe_sha256"] = TinyRecipe(variant=variant).digest()
            print(f"{variant}: byte-identical, digest updated", flush=True)
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
