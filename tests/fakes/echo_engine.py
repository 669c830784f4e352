"""An engine that echoes, for testing ``promptcheck serve``'s API without a model."""

from __future__ import annotations

from dataclasses import dataclass, field

from promptcheck.backends.base import Generation, GenerationRequest
from promptcheck.serve.protocol import APIError

API_KEY = "test-key-123"


@dataclass
class EchoEngine:
    """Answers ``<last user text>#<seed>``; a few prompts misbehave on purpose."""

    model_id: str = "echo"
    fingerprint: str = "fp_echo"
    requests: list[tuple[GenerationRequest, bool]] = field(default_factory=list)

    async def generate(self, request: GenerationRequest, *, raw: bool) -> list[Generation]:
        self.requests.append((request, raw))
        text = request.prompt if request.prompt is not None else ""
        if request.messages:
            text = request.messages[-1].content
        if text == "too long":
            raise APIError(400, "the prompt is too long", code="context_length_exceeded")
        if text == "engine bug":
            raise RuntimeError("a bug in the engine")
        return [
            Generation(
                text=f"{text}#{seed}",
                prompt_tokens=len(text.split()) or 1,
                completion_tokens=2,
                finish_reason="length" if text == "long" else "stop",
            )
            for seed in request.seeds
        ]


@dataclass
class Served:
    url: str
    engine: EchoEngine

    @property
    def origin(self) -> tuple[str, int]:
        host, port = self.url.removeprefix("http://").removesuffix("/v1").rsplit(":", 1)
        return host, int(port)
