"""The backend protocol: one async call that turns one prompt into N sampled outputs.

A request carries one prompt and one seed per wanted sample, so a backend can share work between
samples of the same prompt (one prefill and a batched decode locally, ``n`` on an API). Retries,
concurrency, caching and sample planning belong to the runner, not to backends.

A case may declare tools the model can call and a JSON Schema its answer must follow; they travel
in :class:`SamplingParams` (they decide the answer as much as the temperature does) and the calls
come back in :attr:`Generation.tool_calls`, rendered into the text as well (see
:mod:`promptcheck.backends.tool_calls`).
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from promptcheck.registry import Registry


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message; ``role`` is 'system', 'user' or 'assistant'."""

    role: str
    content: str


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool the model may call: its name, what it is for, and the JSON Schema of its arguments."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )


#: ``SamplingParams.tool_choice`` values that are not a tool's name.
TOOL_CHOICE_KEYWORDS = ("auto", "none", "required")


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """A JSON Schema the answer must follow (a provider's structured outputs).

    ``strict`` asks for constrained decoding where the provider makes it optional (OpenAI's strict
    mode, which wants ``additionalProperties: false`` and every property required).
    """

    schema: Mapping[str, Any]
    name: str = "response"
    strict: bool = True


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """How every sample of a request is drawn: sampling settings, and what the answer may be.

    ``tool_choice`` is None (the provider's default), ``auto``, ``none``, ``required`` (some
    tool) or the name of one of ``tools`` (that tool). Backends without tools ignore all three.
    """

    temperature: float = 0.8
    top_p: float = 1.0
    max_tokens: int = 200
    stop: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    tools: tuple[Tool, ...] = ()
    tool_choice: str | None = None
    response_format: ResponseFormat | None = None


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """One prompt (plain text or chat messages) and one seed per wanted sample."""

    prompt: str | None
    messages: tuple[Message, ...] | None
    params: SamplingParams
    seeds: tuple[int, ...]

    @property
    def n(self) -> int:
        return len(self.seeds)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model made: the tool's name and its arguments as sent.

    ``arguments`` is ``raw_arguments`` parsed as JSON, or None with ``arguments_error`` saying why
    it could not be (a model that wrote broken JSON, an answer cut at ``max_tokens``).
    """

    name: str
    arguments: Any
    raw_arguments: str
    arguments_error: str | None = None


@dataclass(frozen=True, slots=True)
class Generation:
    """One sampled output, or the error that prevented it.

    ``formatted_prompt`` is the exact text the model was given (Dolly's template applied, a chat
    template rendered), so a user can see what the model saw. With ``tool_calls``, ``text`` is the
    output as checks and reports see it: the model's text followed by a canonical rendering of
    its calls (:func:`promptcheck.backends.tool_calls.tool_call_generation` builds both).

    ``served_model`` and ``served_fingerprint`` are what a hosted API said answered (its
    response's ``model`` and ``system_fingerprint``): a configured name such as ``gpt-4o`` can
    resolve to another snapshot tomorrow, and only these tell a comparison or a cached re-run
    so (:mod:`promptcheck.comparison.drift`). Local backends leave them unset: their weights'
    digest is already part of every cache key.
    """

    text: str | None
    error: str | None = None
    formatted_prompt: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    finish_reason: str | None = None
    served_model: str | None = None
    served_fingerprint: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()

    def escaped(self) -> Generation:
        """This generation with text Python cannot encode (lone surrogates, which a model or a
        broken decoder can emit) written as visible escapes (``\\ud800``): the checks see, the
        store keeps and the reports show the same text, and no sample is lost to an encoding
        error. The runner applies it to everything a backend returns."""
        text = _escaped(self.text)
        error = _escaped(self.error)
        if text is self.text and error is self.error:
            return self
        return dataclasses.replace(self, text=text, error=error)


#: The longest served model id or fingerprint kept: real ones are tens of characters, and a
#: misbehaving endpoint must not fill the cache with whatever it puts there.
MAX_IDENTITY_CHARS = 200


def served_identity(value: object) -> str | None:
    """A response's ``model`` or ``system_fingerprint`` as kept: a non-empty string, cut to
    :data:`MAX_IDENTITY_CHARS`, with control, formatting and unencodable characters written as
    visible escapes (it reaches warnings and workflow commands); anything else is None."""
    if not isinstance(value, str) or not value:
        return None
    return "".join(
        char.encode("unicode_escape").decode("ascii")
        if unicodedata.category(char).startswith("C")
        else char
        for char in value[:MAX_IDENTITY_CHARS]
    )


def _escaped(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


@runtime_checkable
class Backend(Protocol):
    """Produces ``request.n`` generations, in seed order, for one request.

    An exception means the whole request failed (the runner records it on every sample); a
    per-sample problem is a :class:`Generation` with ``error`` set. Optional attributes the runner
    reads with defaults: ``max_samples_per_request`` (int, default 1) and ``aclose()``.
    """

    async def generate(self, request: GenerationRequest) -> Sequence[Generation]: ...


@dataclass(frozen=True, slots=True)
class BackendContext:
    """Where relative paths in backend parameters (checkpoint directories) are resolved from,
    and how a backend tells the user about long work (building a model) as it starts.

    ``announce`` writes one line where the user sees it even while pytest captures a test's
    output (the plugin's); None: a backend prints to stderr.
    """

    base_dir: Path
    announce: Callable[[str], None] | None = None


@dataclass(frozen=True)
class BackendType:
    """A registered kind of backend: the ``backend:`` name, its parameter model and its factory."""

    name: str
    params: type[BaseModel]
    build: Callable[[Any, BackendContext], Backend]
    description: str = ""


BACKENDS: Registry[BackendType] = Registry(
    "backend",
    "promptcheck.backends",
    builtin_modules=(
        "promptcheck.backends.scripted",
        "promptcheck.backends.local",
        "promptcheck.backends.tiny",
        "promptcheck.backends.openai_backend",
        "promptcheck.backends.anthropic_backend",
    ),
)

P = TypeVar("P", bound=BaseModel)


def register_backend(
    name: str, params: type[P]
) -> Callable[[Callable[[P, BackendContext], Backend]], Callable[[P, BackendContext], Backend]]:
    """Register ``build(params, context) -> Backend`` as the backend ``name``.

    Backends with heavy dependencies register a thin factory that imports them inside ``build``,
    so that importing promptcheck never imports torch or an HTTP client.
    """

    def decorate(
        build: Callable[[P, BackendContext], Backend],
    ) -> Callable[[P, BackendContext], Backend]:
        BACKENDS.add(
            name,
            BackendType(
                name=name,
                params=params,
                build=build,
                description=(build.__doc__ or "").strip().split("\n\n")[0],
            ),
        )
        return build

    return decorate
