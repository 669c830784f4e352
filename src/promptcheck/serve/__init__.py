"""``promptcheck serve``: an OpenAI-compatible HTTP API over local checkpoints.

Several CI jobs can share one GPU box: each tests the served model with ``backend: openai``.
The model is loaded and sampled by the ``local`` backend (same formats, same seeds); concurrent
requests are batched on it (:mod:`.batching`); the HTTP layer (:mod:`.http`) and the wire
format (:mod:`.protocol`) need nothing beyond the standard library and pydantic.
"""

from promptcheck.serve.server import BackgroundServer, ModelOptions, OpenAIServer, load_engine

__all__ = ["BackgroundServer", "ModelOptions", "OpenAIServer", "load_engine"]
