"""Backends turn one prompt into N sampled outputs: scripted, local, openai, anthropic."""

from promptcheck.backends.base import (
    BACKENDS,
    Backend,
    BackendContext,
    BackendType,
    Generation,
    GenerationRequest,
    Message,
    ResponseFormat,
    SamplingParams,
    Tool,
    ToolCall,
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
    "ResponseFormat",
    "SamplingParams",
    "Tool",
    "ToolCall",
    "register_backend",
]
