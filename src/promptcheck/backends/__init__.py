"""Backends turn one prompt into N sampled outputs: scripted, local (transformers), ..."""

from promptcheck.backends.base import (
    BACKENDS,
    Backend,
    BackendContext,
    BackendType,
    Generation,
    GenerationRequest,
    Message,
    SamplingParams,
    register_backend,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendContext",
    "BackendType",
    "Generation",
    "GenerationRequest",
    "Message",
    "SamplingParams",
    "register_backend",
]
