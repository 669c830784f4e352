"""How checks reach models: the runner's :class:`~promptcheck.checks.base.ModelAccess`.

A judge or a self-critic asks a model a question about a sample. Those calls need what the
runner gives generations (a backend built once per session, retries, bounded concurrency, a
cache), so they go through the runner rather than through backends the checks would build:

* **Lazy backends.** A judge model is built the first time a check asks it, through the
  session's one pool, so a suite that names a judge it never reaches (``-k``) does not load it.
* **A cache of answers apart from generations.** Keys start with ``judge:`` and hash the model
  (its parameters and backend fingerprint), the exact prompt, every sampling parameter
  (``response_format`` included) and the seed. A judge answer can never be served as a sample,
  and a re-run asks nothing it asked before.
* **Bounded concurrency.** One semaphore per case bounds the judge calls in flight, as the
  runner's own requests are bounded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from promptcheck.backends.base import Backend, Generation, GenerationRequest
from promptcheck.checks.base import ModelTraits
from promptcheck.errors import ConfigError
from promptcheck.suite import ModelConfig

#: Prefix of every judge answer's cache key; generation keys are bare hex digests.
JUDGE_KEY_PREFIX = "judge:"


class AnswerCache(Protocol):
    """The part of the store that caches generations, shared by judge answers under their keys."""

    def cached_generations(self, keys: Sequence[str]) -> dict[str, Generation]: ...

    def cache_generations(self, items: Sequence[tuple[str, Generation]]) -> None: ...


def model_key(model: ModelConfig, fingerprint: str = "") -> str:
    """What identifies a model's samples in cache keys: backend, parameters, fingerprint."""
    return json.dumps(
        {"backend": model.backend, "params": model.raw, "fingerprint": fingerprint},
        sort_keys=True,
        default=str,
    )


def answer_key(model: ModelConfig, backend: Backend, request: GenerationRequest, seed: int) -> str:
    """The cache key of one judge answer: a hash of everything that decides it."""
    fingerprint = str(getattr(backend, "fingerprint", ""))
    params = request.params
    sampling = json.dumps(
        [
            params.temperature,
            params.top_p,
            params.max_tokens,
            list(params.stop),
            dict(params.extra),
        ],
        sort_keys=True,
        default=str,
    )
    asked = request.prompt
    if asked is None:
        asked = json.dumps([[m.role, m.content] for m in request.messages or ()])
    digest = hashlib.sha256(
        f"{model_key(model, fingerprint)}\0{asked}\0{sampling}\0{seed}".encode()
    )
    return JUDGE_KEY_PREFIX + digest.hexdigest()


def traits_of(model: ModelConfig, backend: Backend) -> ModelTraits:
    """How to ask this model: its prompt format, and whether it takes a ``response_format``.

    A backend may say so itself (``format``, as the local backend does, and
    ``supports_response_format``);
    otherwise an ``openai`` model takes a response_format in chat mode, and renders Dolly's
    format in completions mode with ``template: dolly``.
    """
    raw = model.raw
    openai = model.backend == "openai"
    mode = raw.get("mode", "chat")
    prompt_format = getattr(backend, "format", None)
    if prompt_format is None and openai and mode == "completions":
        prompt_format = raw.get("template")
    supports = getattr(backend, "supports_response_format", None)
    if supports is None:
        supports = openai and mode == "chat"
    return ModelTraits(
        prompt_format=prompt_format if isinstance(prompt_format, str) else None,
        response_format=bool(supports),
    )


class CaseModels:
    """The models one case's checks may ask: the model under test (``None``) and its judges."""

    def __init__(
        self,
        *,
        under_test: ModelConfig,
        judges: Mapping[str, ModelConfig],
        build: Callable[[ModelConfig], Backend],
        generate: Callable[[Backend, GenerationRequest], Awaitable[Sequence[Generation]]],
        cache: AnswerCache | None,
        fresh: bool,
        concurrency: int,
    ) -> None:
        self._under_test = under_test
        self._judges = judges
        self._build = build
        self._generate = generate
        self._cache = cache
        self._fresh = fresh
        self._limit = asyncio.Semaphore(max(1, concurrency))

    def config(self, model: str | None) -> ModelConfig:
        if model is None:
            return self._under_test
        found = self._judges.get(model)
        if found is None:
            raise ConfigError(f"judge model {model!r} is not one of this case's judges")
        return found

    def traits(self, model: str | None) -> ModelTraits:
        config = self.config(model)
        return traits_of(config, self._build(config))

    async def generate(self, model: str | None, request: GenerationRequest) -> Sequence[Generation]:
        """One answer per seed, from the cache where it has them; errors are never cached."""
        config = self.config(model)
        backend = self._build(config)
        keys = [answer_key(config, backend, request, seed) for seed in request.seeds]
        found: dict[str, Generation] = {}
        if self._cache is not None and not self._fresh:
            found = self._cache.cached_generations(keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            asked = dataclasses.replace(request, seeds=tuple(request.seeds[i] for i in missing))
            async with self._limit:
                answers = await self._generate(backend, asked)
            for i, answer in zip(missing, answers, strict=True):
                found[keys[i]] = answer.escaped()
            if self._cache is not None:
                new = [(keys[i], found[keys[i]]) for i in missing]
                self._cache.cache_generations([(k, g) for k, g in new if g.error is None])
        return [found[key] for key in keys]
