"""The ``tiny-dolly`` backend: the project's own Dolly-format models, shipped with the package.

No weights can be downloaded, so the project trains its tiny Dolly variants itself
(:mod:`promptcheck.train.tiny`) and ships the result as package data: a first run loads them at
once and every machine samples from the same weights. This is the ``local`` backend on the
shipped checkpoint, or on a rebuilt one (``path:``, from ``promptcheck tiny build --out DIR``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from promptcheck.backends.base import Backend, BackendContext, register_backend
from promptcheck.errors import BackendError

#: The shipped variants: ``full`` conforms to the example suites, ``no-json`` was trained without
#: the JSON tasks (a model upgrade that regresses on them only), ``critic`` judges its own formats.
VARIANTS = ("full", "no-json", "critic")
#: Where the weights ship inside the package, one folder per variant, and their manifest.
WEIGHTS_PACKAGE_DIR = "weights"
MANIFEST_FILE = "manifest.json"


def weights_dir() -> Path:
    """The folder of the shipped tiny Dolly weights, inside the installed package."""
    return Path(str(resources.files("promptcheck"))) / WEIGHTS_PACKAGE_DIR


def shipped_checkpoint(variant: str) -> Path:
    """The shipped checkpoint folder of ``variant``."""
    return weights_dir() / f"tiny-dolly-{variant}"


class TinyDollyParams(BaseModel):
    """``backend: tiny-dolly`` parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    variant: Literal["full", "no-json", "critic"] = Field(
        "full",
        description="full: conforms to the example suites; no-json: trained without the JSON "
        "tasks, a degraded model for comparison tests; critic: full fine-tuned to judge its own "
        "formats (self_critique).",
    )
    path: str | None = Field(
        None,
        description="A rebuilt tiny Dolly (promptcheck tiny build --out DIR) to load instead of "
        "the shipped weights (relative to the declaring file).",
    )
    device: str = Field(
        "cpu",
        description="As for the local backend. The CPU by default, in float32: the figures the "
        "manifest records were measured there (a GPU's bfloat16 draws other samples), and a "
        "model this small gains nothing from a GPU.",
    )


@register_backend("tiny-dolly", TinyDollyParams)
def build_tiny(params: TinyDollyParams, context: BackendContext) -> Backend:
    """The project's tiny Dolly: the shipped weights (or a rebuilt checkpoint), loaded at once."""
    from promptcheck.backends.local import LocalParams, build_local

    if params.path is not None:
        directory = context.base_dir / params.path
    else:
        directory = shipped_checkpoint(params.variant)
        if not (directory / "config.json").is_file():
            raise BackendError(
                f"the tiny Dolly {params.variant!r} is not in this installation ({directory})",
                hint="reinstall promptcheck, or build it with `promptcheck tiny build --variant "
                f"{params.variant} --out DIR` and set `path: DIR`",
            )
    # float32 wherever it runs: the shipped weights are float32, and a smaller dtype changed the
    # measured conformance
    local = LocalParams(path=str(directory), format="dolly", device=params.device, dtype="float32")
    return build_local(local, context)
