"""Batched sampling over a Hugging Face causal LM: one prefill per prompt, one batched decode.

``model.generate(num_return_sequences=N)`` prefills the prompt N times, pays a thick per-step layer
of logits processors and stopping criteria, grows its KV cache by concatenation (copying the whole
cache every step) and draws all rows from one shared random generator, so a sample depends on
which other samples shared its batch. This sampler keeps the model's own forward pass and
replaces the rest:

* each distinct prompt of a batch is prefilled once, alone (no padding), and its keys and values
  are copied into every row that samples from it, left-padded to the longest prompt of the batch;
* the KV cache is a set of preallocated buffers written in place, so a step reads the cache once
  and copies nothing;
* a step samples every row at once and feeds one token per row back; rows that finish are
  dropped from the batch (buffers compacted) once a quarter of it is done;
* a row's randomness is one uniform number per step, a pure function of (seed, step) computed by
  a counter-based hash: a sample is reproducible from its seed alone, whatever else shares the
  batch. Sampling is inverse-CDF: the token whose cumulative probability first exceeds the
  uniform, over the vocabulary (or over the top-p nucleus).

Models whose cache is not a plain per-layer key/value store (sliding windows, recurrent layers)
take a slower path that lets transformers manage the cache and prefills the padded batch.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import torch
from transformers.cache_utils import DynamicCache, DynamicLayer

from promptcheck.errors import BackendError

FinishReason = Literal["stop", "length"]

log = logging.getLogger("promptcheck.sampler")

#: A batch is compacted once this fraction of its rows has finished.
COMPACT_FRACTION = 0.25


class RowObserver(Protocol):
    """Watches the rows of one job while they are decoded, so a server can stream them.

    Called on the sampling thread, once per new token of each of the job's rows (``row`` is the
    index of its seed) and once when the row ends: it must be quick, and hand anything slow to
    another thread. ``token`` returning False ends the row (its client went away). An observer
    that raises is dropped for that row; the batch goes on.
    """

    def token(self, row: int, token_ids: Sequence[int]) -> bool: ...

    def finish(self, row: int, token_ids: Sequence[int], reason: FinishReason) -> None: ...


@dataclass(frozen=True, slots=True)
class SampleJob:
    """One prompt (as token ids) and one seed per wanted sample, with its sampling parameters.

    ``temperature`` 0 means greedy decoding. A row ends at a token of ``stop_token_ids``, once its
    decoded text contains one of ``stop_strings``, or after ``max_new_tokens`` tokens.
    ``observer``, when set, sees each row's ids as they are generated (streaming).
    """

    prompt_ids: tuple[int, ...]
    seeds: tuple[int, ...]
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 128
    stop_token_ids: frozenset[int] = frozenset()
    stop_strings: tuple[str, ...] = ()
    observer: RowObserver | None = field(default=None, compare=False)


@dataclass
class SamplerUsage:
    """What a sampler has generated, for run reports (:mod:`promptcheck.store.usage`): jobs (one
    request each), their prompt tokens (prefilled once per job) and the tokens sampled."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


@dataclass(slots=True)
class SampledRow:
    """The ids one row generated (its stop token included), why it ended, and when."""

    token_ids: list[int]
    finish_reason: FinishReason
    latency_s: float


def row_uniforms(seeds: Sequence[int], steps: int) -> np.ndarray:
    """One uniform number in [0, 1) per (seed, step): a (len(seeds), steps) float32 array.

    ``u[seed, step] = splitmix64(splitmix64(seed) + step)``, kept to its top 24 bits so that it is
    exact in float32. Being a pure function of (seed, step), a row's noise is the same whatever
    batch it is sampled in, on any device, and a longer ``max_new_tokens`` only extends it.
    """
    keys = np.array([seed & 0xFFFF_FFFF_FFFF_FFFF for seed in seeds], dtype=np.uint64)
    counters = _splitmix64(keys)[:, None] + np.arange(steps, dtype=np.uint64)[None, :]
    bits = _splitmix64(counters) >> np.uint64(40)
    return bits.astype(np.float32) * np.float32(2.0**-24)


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """Steele, Lea & Flood's SplitMix64 finaliser, vectorised; uint64 arithmetic wraps by design."""
    z = values + np.uint64(0x9E37_79B9_7F4A_7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58_476D_1CE4_E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D0_49BB_1331_11EB)
    return z ^ (z >> np.uint64(31))


@dataclass
class RowSampler:
    """Per-row sampling parameters of a batch, grouped so a step runs one code path per group.

    Rows are grouped by method (greedy, full vocabulary, top-p nucleus) from their own parameters
    only, so a row is sampled the same way whatever other rows share its batch.
    """

    temperature: torch.Tensor
    top_p: torch.Tensor
    uniforms: torch.Tensor
    greedy: list[int] = field(init=False)
    full: list[int] = field(init=False)
    nucleus: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self._group()

    def _group(self) -> None:
        temperature = self.temperature.tolist()
        top_p = self.top_p.tolist()
        self.greedy = [i for i, t in enumerate(temperature) if t <= 0.0]
        self.nucleus = [i for i, t in enumerate(temperature) if t > 0.0 and top_p[i] < 1.0]
        self.full = [i for i, t in enumerate(temperature) if t > 0.0 and top_p[i] >= 1.0]

    def select(self, keep: torch.Tensor) -> None:
        """Keep only the rows at ``keep`` (after finished rows leave the batch)."""
        self.temperature = self.temperature.index_select(0, keep)
        self.top_p = self.top_p.index_select(0, keep)
        self.uniforms = self.uniforms.index_select(0, keep)
        self._group()

    def __call__(self, logits: torch.Tensor, step: int) -> torch.Tensor:
        """Next token per row from float32 logits (rows x vocabulary)."""
        rows = logits.shape[0]
        methods = ((self.full, "full"), (self.nucleus, "nucleus"), (self.greedy, "greedy"))
        groups = [(group, method) for group, method in methods if group]
        if len(groups) == 1:
            return self._sample(groups[0][1], logits, slice(None), step)
        tokens = torch.empty(rows, dtype=torch.long, device=logits.device)
        for group, method in groups:
            index = torch.tensor(group, device=logits.device)
            tokens[index] = self._sample(method, logits.index_select(0, index), index, step)
        return tokens

    def _sample(
        self, method: str, logits: torch.Tensor, rows: slice | torch.Tensor, step: int
    ) -> torch.Tensor:
        if method == "greedy":
            return logits.argmax(dim=-1)
        uniforms = self.uniforms[rows, step]
        probs = torch.softmax(logits / self.temperature[rows].unsqueeze(1), dim=-1)
        if method == "full":
            return inverse_cdf(probs, uniforms)
        return nucleus_inverse_cdf(probs, self.top_p[rows], uniforms)


def inverse_cdf(probs: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Per row, the first token whose cumulative probability exceeds ``u * total``.

    ``u < 1`` has 24 bits, so ``u * total`` rounds below ``total`` and the chosen token always has
    a positive probability.
    """
    cdf = probs.cumsum(dim=-1)
    target = (uniforms * cdf[:, -1]).unsqueeze(1)
    index = torch.searchsorted(cdf, target, right=True).squeeze(1)
    return index.clamp_(max=probs.shape[-1] - 1)


#: Candidate counts tried for the top-p cutoff before sorting the whole vocabulary.
NUCLEUS_CANDIDATES = (64, 1024)


def nucleus_inverse_cdf(
    probs: torch.Tensor,
    top_p: torch.Tensor,
    uniforms: torch.Tensor,
    candidates: Sequence[int] = NUCLEUS_CANDIDATES,
) -> torch.Tensor:
    """Inverse-CDF sampling inside the top-p nucleus, in vocabulary order.

    The nucleus is what transformers' top-p warper keeps: the fewest most likely tokens whose
    mass reaches ``top_p`` (the token that crosses it included). Only its cutoff probability is
    needed, and a trained model's nucleus is usually a few dozen tokens, so the cutoff is looked
    for among the top 64, then 1024 candidates (where the vocabulary is much larger) before
    sorting the vocabulary, which costs tens of milliseconds per step on a CPU. The sample does
    not depend on which of these found it.
    """
    cutoff = torch.empty_like(top_p)
    pending = torch.arange(probs.shape[0], device=probs.device)
    vocabulary = probs.shape[-1]
    # A candidate count close to the vocabulary's size would cost about as much as the sort.
    for count in (*(c for c in candidates if 8 * c <= vocabulary), vocabulary):
        rows = probs.index_select(0, pending)
        values = (
            rows.topk(count, dim=-1).values
            if count < vocabulary
            else rows.sort(dim=-1, descending=True).values
        )
        limit = top_p.index_select(0, pending).unsqueeze(1)
        kept = ((values.cumsum(dim=-1) - values) < limit).sum(dim=-1).clamp_(min=1)
        # With ``count`` kept, the crossing may lie beyond the candidates: look further.
        resolved = (kept < count) if count < vocabulary else torch.ones_like(kept, dtype=torch.bool)
        cutoff[pending[resolved]] = values.gather(1, (kept - 1).unsqueeze(1)).squeeze(1)[resolved]
        pending = pending[~resolved]
        if pending.numel() == 0:
            break
    return inverse_cdf(probs * (probs >= cutoff.unsqueeze(1)), uniforms)


class BufferedLayer(DynamicLayer):  # type: ignore[no-untyped-call]
    """A KV-cache layer that writes into preallocated buffers instead of concatenating.

    transformers' dynamic layer concatenates every step, copying the whole cache; here each step
    writes one position and the model reads a view of the filled part.
    """

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, length: int) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.key_buffer = keys
        self.value_buffer = values
        self.length = length
        self.is_initialized = True
        self.device = keys.device
        self._expose()

    def _expose(self) -> None:
        self.keys = self.key_buffer[:, :, : self.length]
        self.values = self.value_buffer[:, :, : self.length]

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        end = self.length + key_states.shape[-2]
        self.key_buffer[:, :, self.length : end] = key_states
        self.value_buffer[:, :, self.length : end] = value_states
        self.length = end
        keys = self.key_buffer[:, :, :end]
        values = self.value_buffer[:, :, :end]
        self.keys, self.values = keys, values
        return keys, values

    def get_seq_length(self, *args: Any, **kwargs: Any) -> int:
        return self.length

    def select_rows(self, keep: torch.Tensor) -> None:
        self.key_buffer = self.key_buffer.index_select(0, keep)
        self.value_buffer = self.value_buffer.index_select(0, keep)
        self._expose()


@dataclass
class _Prefill:
    """A prompt's per-layer keys and values (batch of one) and its next-token logits."""

    kv: list[tuple[torch.Tensor, torch.Tensor]]
    logits: torch.Tensor


class Sampler:
    """Samples many rows of many prompts from one model, ``max_batch_size`` rows per forward pass.

    Thread-safe: calls are serialised by a lock, as the model and its memory are shared.
    ``decode`` turns generated ids into text; it is needed only for stop strings.
    """

    def __init__(
        self,
        model: Any,
        *,
        max_batch_size: int = 64,
        decode: Callable[[Sequence[int]], str] | None = None,
        name: str = "model",
        buffered: bool | None = None,
    ) -> None:
        self.model = model
        self.max_batch_size = max_batch_size
        self.decode = decode
        self.name = name
        self.device = next(model.parameters()).device
        self._lock = threading.Lock()
        parameters = inspect.signature(model.forward).parameters
        self._cache_argument = "cache" if "cache" in parameters else "past_key_values"
        self._keep_argument = next(
            (a for a in ("logits_to_keep", "num_logits_to_keep") if a in parameters), None
        )
        self.buffered = _plain_attention_cache(model) if buffered is None else buffered
        self.usage = SamplerUsage()

    def sample(self, jobs: Sequence[SampleJob]) -> list[list[SampledRow]]:
        """Rows for every seed of every job, in order; rows of one job are batched together."""
        if any(not job.prompt_ids for job in jobs):
            raise ValueError("every job needs at least one prompt token")
        rows = [(j, r) for j, job in enumerate(jobs) for r in range(len(job.seeds))]
        results: list[list[SampledRow | None]] = [[None] * len(job.seeds) for job in jobs]
        remaining = [len(job.seeds) for job in jobs]
        prefills: dict[int, _Prefill] = {}
        with self._lock, torch.inference_mode():
            try:
                for start in range(0, len(rows), self.max_batch_size):
                    chunk = rows[start : start + self.max_batch_size]
                    for (j, r), row in zip(
                        chunk, self._run_batch(jobs, chunk, prefills), strict=True
                    ):
                        results[j][r] = row
                        remaining[j] -= 1
                        if remaining[j] == 0:
                            prefills.pop(j, None)
            except (torch.OutOfMemoryError, RuntimeError) as exc:
                # MPS reports exhaustion as a plain RuntimeError; anything else is a bug.
                if not isinstance(exc, torch.OutOfMemoryError) and "out of memory" not in str(exc):
                    raise
                prefills.clear()
                _release_memory(self.device)
                raise BackendError(
                    f"out of memory on {self.device} sampling from {self.name} "
                    f"({min(len(rows), self.max_batch_size)} rows per batch): {_first_line(exc)}",
                    hint=f"lower `max_batch_size:` (now {self.max_batch_size}) or `max_tokens`, "
                    "or use a smaller `dtype:`",
                ) from None
        sampled = [[row for row in job_rows if row is not None] for job_rows in results]
        self.usage.requests += len(jobs)
        self.usage.prompt_tokens += sum(len(job.prompt_ids) for job in jobs)
        self.usage.completion_tokens += sum(len(r.token_ids) for rows in sampled for r in rows)
        return sampled

    # -- one batch -------------------------------------------------------------------------

    def _run_batch(
        self,
        jobs: Sequence[SampleJob],
        chunk: Sequence[tuple[int, int]],
        prefills: dict[int, _Prefill],
    ) -> list[SampledRow]:
        started = time.perf_counter()
        row_jobs = [jobs[j] for j, _ in chunk]
        steps = max(job.max_new_tokens for job in row_jobs)
        if steps <= 0:
            return [SampledRow([], "length", 0.0) for _ in chunk]
        distinct = list(dict.fromkeys(j for j, _ in chunk))
        lengths = [len(job.prompt_ids) for job in row_jobs]
        longest = max(lengths)
        device = self.device
        if self.buffered:
            for j in distinct:
                if j not in prefills:
                    prefills[j] = self._prefill(jobs[j].prompt_ids)
            state: _BatchState = _BufferedState(self, chunk, prefills, longest, steps)
            logits = torch.stack([prefills[j].logits for j, _ in chunk])
        else:
            state = _PaddedState(self, chunk, jobs, distinct, longest)
            logits = state.prefill_logits
        seeds = [jobs[j].seeds[r] for j, r in chunk]
        sampler = RowSampler(
            temperature=torch.tensor([job.temperature for job in row_jobs], device=device),
            top_p=torch.tensor([job.top_p for job in row_jobs], device=device),
            uniforms=torch.from_numpy(row_uniforms(seeds, steps)).to(device),
        )
        positions = torch.tensor(lengths, device=device).unsqueeze(1)
        generated: list[list[int]] = [[] for _ in chunk]
        finished: dict[int, tuple[FinishReason, float]] = {}
        in_batch: list[int | None] = list(range(len(chunk)))  # batch position -> row, None if done
        # Rows of streamed jobs: (observer, index of the row within its job), None otherwise.
        watchers = [
            (job.observer, r) if job.observer is not None else None
            for job, (_, r) in zip(row_jobs, chunk, strict=True)
        ]
        watched = any(w is not None for w in watchers)
        for index, job in enumerate(row_jobs):
            if job.max_new_tokens <= 0:
                finished[index], in_batch[index] = ("length", 0.0), None
                if watchers[index] is not None:
                    _notify(watchers, index, generated[index], "length")
        for step in range(steps):
            tokens = sampler(logits, step)
            for position, token in enumerate(tokens.tolist()):
                row = in_batch[position]
                if row is None:
                    continue
                generated[row].append(token)
                reason = self._finish_reason(row_jobs[row], generated[row])
                if watched and watchers[row] is not None:
                    reason = _notify(watchers, row, generated[row], reason)
                if reason is not None:
                    finished[row] = (reason, time.perf_counter() - started)
                    in_batch[position] = None
            if len(finished) == len(chunk):
                break
            done = sum(row is None for row in in_batch)
            if done and done >= COMPACT_FRACTION * len(in_batch):
                keep = torch.tensor([p for p, row in enumerate(in_batch) if row is not None])
                keep = keep.to(device)
                state.select_rows(keep)
                sampler.select(keep)
                tokens, positions = tokens.index_select(0, keep), positions.index_select(0, keep)
                in_batch = [row for row in in_batch if row is not None]
            logits = state.step(tokens.unsqueeze(1), positions)
            positions = positions + 1
        return [
            SampledRow(
                generated[row], *finished.get(row, ("length", time.perf_counter() - started))
            )
            for row in range(len(chunk))
        ]

    def _finish_reason(self, job: SampleJob, generated: list[int]) -> FinishReason | None:
        if generated[-1] in job.stop_token_ids:
            return "stop"
        if job.stop_strings and self._ends_with_stop(job.stop_strings, generated):
            return "stop"
        if len(generated) >= job.max_new_tokens:
            return "length"
        return None

    def _ends_with_stop(self, stops: Sequence[str], generated: list[int]) -> bool:
        """Whether the text of the last few ids contains a stop string.

        A stop string of c characters spans at most 4c byte-level tokens plus one partial, so
        decoding that tail is enough; the full text is cut properly after sampling.
        """
        if self.decode is None:
            raise ValueError("stop strings need a decode function")
        window = 4 * max(len(s) for s in stops) + 2
        text = self.decode(generated[-window:])
        return any(s in text for s in stops)

    def _prefill(self, prompt_ids: Sequence[int]) -> _Prefill:
        cache = DynamicCache()
        ids = torch.tensor([list(prompt_ids)], device=self.device)
        logits = self.forward(ids, cache=cache, keep_last=True)
        layers: list[Any] = list(cache.layers)
        return _Prefill(kv=[(layer.keys, layer.values) for layer in layers], logits=logits[0])

    def forward(
        self,
        input_ids: torch.Tensor,
        *,
        cache: Any,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        keep_last: bool = True,
    ) -> torch.Tensor:
        """The model's next-token logits at the last position of each row (rows x vocabulary)."""
        kwargs: dict[str, Any] = {self._cache_argument: cache, "use_cache": True}
        if attention_mask is not None:
            kwargs["attention_mask"] = attention_mask
        if position_ids is not None:
            kwargs["position_ids"] = position_ids
        if keep_last and self._keep_argument is not None:
            kwargs[self._keep_argument] = 1
        output = self.model(input_ids=input_ids, **kwargs)
        logits: torch.Tensor = output.logits[:, -1]
        return logits.float()


def _notify(
    watchers: list[tuple[RowObserver, int] | None],
    row: int,
    generated: list[int],
    reason: FinishReason | None,
) -> FinishReason | None:
    """Tell a row's observer of its new token or its end; the row's finish reason after that.

    A row whose observer declines more tokens ends as ``length``; an observer that raises is
    dropped (logged), so that a failing stream never fails the rows sampled beside it.
    """
    watcher = watchers[row]
    assert watcher is not None
    observer, index = watcher
    try:
        if reason is None and not observer.token(index, generated):
            reason = "length"
        if reason is not None:
            observer.finish(index, generated, reason)
    except Exception:
        log.exception("a row observer failed; the row goes on unobserved")
        watchers[row] = None
    return reason


class _BatchState:
    """The KV cache of one batch and how to run one decode step on it."""

    def step(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def select_rows(self, keep: torch.Tensor) -> None:
        raise NotImplementedError


class _BufferedState(_BatchState):
    """Prefilled prompts copied into left-padded, preallocated per-layer buffers."""

    def __init__(
        self,
        sampler: Sampler,
        chunk: Sequence[tuple[int, int]],
        prefills: dict[int, _Prefill],
        longest: int,
        steps: int,
    ) -> None:
        self.sampler = sampler
        rows = len(chunk)
        device = sampler.device
        capacity = longest + steps
        first = prefills[chunk[0][0]].kv
        layers = []
        members: dict[int, list[int]] = {}
        for position, (j, _) in enumerate(chunk):
            members.setdefault(j, []).append(position)
        for index, (key0, value0) in enumerate(first):
            keys = key0.new_zeros((rows, key0.shape[1], capacity, key0.shape[3]))
            values = value0.new_zeros((rows, value0.shape[1], capacity, value0.shape[3]))
            for j, positions in members.items():
                key, value = prefills[j].kv[index]
                length = key.shape[2]
                select = torch.tensor(positions, device=device)
                keys[select, :, longest - length : longest] = key
                values[select, :, longest - length : longest] = value
            layers.append(BufferedLayer(keys, values, longest))
        self.layers = layers
        self.cache = DynamicCache()
        self.cache.layers = list(layers)
        lengths = torch.tensor([prefills[j].kv[0][0].shape[2] for j, _ in chunk], device=device)
        slots = torch.arange(capacity, device=device).unsqueeze(0)
        self.padded = bool((lengths != longest).any())
        # Valid key slots per row: its prompt (right-aligned) and everything generated after it.
        self.mask = (slots >= (longest - lengths).unsqueeze(1)).long()
        self.filled = longest

    def step(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        self.filled += 1
        mask = self.mask[:, : self.filled] if self.padded else None
        return self.sampler.forward(
            tokens, cache=self.cache, attention_mask=mask, position_ids=positions, keep_last=False
        )

    def select_rows(self, keep: torch.Tensor) -> None:
        for layer in self.layers:
            layer.select_rows(keep)
        self.mask = self.mask.index_select(0, keep)


class _PaddedState(_BatchState):
    """transformers' own cache for models whose layers are not plain key/value stores.

    The distinct prompts are prefilled together, left-padded, and their cache rows repeated for
    every sample: correct for any architecture transformers supports, but a prompt's logits may
    depend (in the last bits) on the other prompts padded with it.
    """

    def __init__(
        self,
        sampler: Sampler,
        chunk: Sequence[tuple[int, int]],
        jobs: Sequence[SampleJob],
        distinct: list[int],
        longest: int,
    ) -> None:
        self.sampler = sampler
        device = sampler.device
        pad = [[0] * (longest - len(jobs[j].prompt_ids)) for j in distinct]
        ids = torch.tensor(
            [p + list(jobs[j].prompt_ids) for p, j in zip(pad, distinct, strict=True)],
            device=device,
        )
        mask = torch.tensor(
            [
                [0] * len(p) + [1] * len(jobs[j].prompt_ids)
                for p, j in zip(pad, distinct, strict=True)
            ],
            device=device,
        )
        positions = (mask.cumsum(dim=1) - 1).clamp_(min=0)
        self.cache = DynamicCache(config=sampler.model.config)
        logits = sampler.forward(
            ids, cache=self.cache, attention_mask=mask, position_ids=positions, keep_last=True
        )
        order = torch.tensor([distinct.index(j) for j, _ in chunk], device=device)
        self.cache.batch_select_indices(order)
        self.mask = mask.index_select(0, order)
        self.prefill_logits = logits.index_select(0, order)

    def step(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        self.mask = torch.cat([self.mask, self.mask.new_ones((self.mask.shape[0], 1))], dim=1)
        return self.sampler.forward(
            tokens,
            cache=self.cache,
            attention_mask=self.mask,
            position_ids=positions,
            keep_last=False,
        )

    def select_rows(self, keep: torch.Tensor) -> None:
        self.cache.batch_select_indices(keep)
        self.mask = self.mask.index_select(0, keep)


def _plain_attention_cache(model: Any) -> bool:
    """Whether every layer of the model's default cache is a plain, growing key/value store."""
    try:
        cache = DynamicCache(config=model.config)
    except Exception:  # configs transformers cannot size a cache from: let it manage the cache
        return False
    return bool(cache.layers) and all(type(layer) is DynamicLayer for layer in cache.layers)


def _release_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
