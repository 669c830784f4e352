"""The ``tiny-dolly`` backend: the project's own Dolly-format model, built on first use.

No weights can be downloaded, so the tiny Dolly is trained locally (promptcheck.train.tiny) the
first time a suite needs it and cached in a directory; after that this is the ``local`` backend
on that checkpoint. A fresh clone runs ``pytest --promptcheck suites/`` with nothing to set up.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from promptcheck.backends.base import Backend, BackendContext, register_backend
from promptcheck.errors import BackendError


class TinyDollyParams(BaseModel):
    """``backend: tiny-dolly`` parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    variant: Literal["full", "no-json", "critic"] = Field(
        "full",
        description="full: conforms to the example suites; no-json: trained without the JSON "
        "tasks, a degraded model for comparison tests; critic: full fine-tuned to judge its own "
        "formats (self_critique), built from full in a minute or two.",
    )
    path: str | None = Field(
        None,
        description="Where the checkpoint is built and cached (relative to the declaring file); "
        "default .promptcheck/models/tiny-dolly-<variant>. The critic's base is built beside "
        "it, in tiny-dolly-full.",
    )
    seed: int = Field(0, description="Training seed; another seed is another model.")
    device: str = Field("auto", description="As for the local backend.")


@register_backend("tiny-dolly", TinyDollyParams)
def build_tiny(params: TinyDollyParams, context: BackendContext) -> Backend:
    """The project's tiny Dolly, trained on first use (a few minutes on CPU) and then cached."""
    from promptcheck.backends.local import LocalParams, build_local

    try:
        from promptcheck.train.tiny import build_tiny_dolly
    except ImportError as exc:
        raise BackendError(
            f"the tiny Dolly needs the training extra ({exc})",
            hint="pip install 'promptcheck[train]'",
        ) from None

    relative = params.path or f".promptcheck/models/tiny-dolly-{params.variant}"
    directory = context.base_dir / relative
    build_tiny_dolly(
        directory, params.variant, seed=params.seed, progress=True, announce=context.announce
    )
    local = LocalParams(path=str(directory), format="dolly", device=params.device)
    return build_local(local, context)
