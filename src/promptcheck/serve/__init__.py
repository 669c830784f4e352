"""``promptcheck serve``: an OpenAI-compatible HTTP API over local checkpoints.

Several CI jobs can share one GPU box: each tests the served model with ``backend: openai``.
The model is loaded and sampled by the ``local`` backend (same formats, same seeds); concurrent
requests are batched on it (:mod:`.batching`). HTTP is aiohttp's web server (:mod:`.app`, the
``serve`` extra), within the limits of :mod:`.limits`; the wire format is :mod:`.protocol`.

The names below are imported when first used, so that the ``promptcheck`` command, which
mounts :mod:`.commands`, imports neither aiohttp nor torch until it serves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptcheck.serve.server import BackgroundServer, ModelOptions, OpenAIServer, load_engine

__all__ = ["BackgroundServer", "ModelOptions", "OpenAIServer", "load_engine"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from promptcheck.serve import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
