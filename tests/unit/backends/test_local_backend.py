"""The local backend end to end on tiny Dolly checkpoints: Dolly's prompt in, Dolly's response
out, stop handling, context-window errors, and requests awaited together sharing a batch."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from promptcheck.backends.base import (
    Backend,
    BackendContext,
    Generation,
    GenerationRequest,
    Message,
    ResponseFormat,
    SamplingParams,
)
from promptcheck.errors import BackendError
from promptcheck.formats import dolly_prompt

torch = pytest.importorskip("torch")

from checkpoints import SCRIPTED_RESPONSE  # noqa: E402


def request(
    prompt: str | None = "Say hello.",
    *,
    seeds: tuple[int, ...] = (1, 2, 3),
    messages: tuple[Message, ...] | None = None,
    **params: Any,
) -> GenerationRequest:
    return GenerationRequest(
        prompt=prompt, messages=messages, params=SamplingParams(**params), seeds=seeds
    )


def generate(backend: Any, *requests: GenerationRequest) -> list[list[Generation]]:
    async def all_together() -> list[list[Generation]]:
        results = await asyncio.gather(*(backend.generate(r) for r in requests))
        return [list(r) for r in results]

    return asyncio.run(all_together())


def test_is_a_backend_that_takes_all_samples_of_a_prompt_at_once(scripted_backend: Any) -> None:
    assert isinstance(scripted_backend, Backend)
    assert scripted_backend.max_samples_per_request >= 256
    assert scripted_backend.load_seconds > 0 and scripted_backend.memory_bytes > 0


def test_dolly_prompt_in_dolly_response_out(
    scripted_backend: Any, scripted_chain: list[int]
) -> None:
    [generations] = generate(scripted_backend, request(temperature=0.8))
    prepared = scripted_backend.prepare(request())
    assert prepared.rendered.token_ids[-1] == 50279
    for generation in generations:
        assert generation.text == SCRIPTED_RESPONSE.strip() == "Hello world."
        assert generation.error is None
        assert generation.formatted_prompt == dolly_prompt("Say hello.")
        assert generation.prompt_tokens == len(prepared.rendered.token_ids)
        # the response's tokens and ### End; the token scripted after ### End never comes
        assert generation.completion_tokens == len(scripted_chain) - 2
        assert generation.finish_reason == "stop"
        assert generation.latency_s > 0


def test_sampler_sees_dollys_exact_tokens_and_stops_at_end(
    scripted_backend: Any, scripted_chain: list[int], dolly_tokenizer: Any
) -> None:
    prepared = scripted_backend.prepare(request("Say hello.", seeds=(4,), max_tokens=50))
    assert (
        list(prepared.rendered.token_ids)
        == dolly_tokenizer(dolly_prompt("Say hello."))["input_ids"]
    )
    [[row]] = scripted_backend.sampler.sample([prepared.job])
    assert row.token_ids == scripted_chain[1:-1]  # up to and including ### End (50277)
    assert row.token_ids[-1] == 50277 and row.finish_reason == "stop"


def test_max_tokens_truncates_the_response(scripted_backend: Any) -> None:
    [generations] = generate(scripted_backend, request(max_tokens=2))
    assert {g.text for g in generations} == {"Hello world"}
    assert {(g.finish_reason, g.completion_tokens) for g in generations} == {("length", 2)}


def test_stop_strings_from_the_request_and_the_model(scripted_dir: Path) -> None:
    from promptcheck.backends.local import LocalParams, build_local

    [by_request] = generate(
        build_local(LocalParams(path=str(scripted_dir)), BackendContext(Path.cwd())),
        request(stop=(" world",)),
    )
    assert {(g.text, g.finish_reason, g.completion_tokens) for g in by_request} == {
        ("Hello", "stop", 2)
    }
    by_model = build_local(
        LocalParams(path=str(scripted_dir), stop=("ld.",)), BackendContext(Path.cwd())
    )
    assert {g.text for g in generate(by_model, request())[0]} == {"Hello wor"}


def test_chat_messages_become_one_dolly_instruction(scripted_backend: Any) -> None:
    messages = (Message("system", "Be terse."), Message("user", "Say hello."))
    [generations] = generate(scripted_backend, request(None, messages=messages))
    assert generations[0].formatted_prompt == dolly_prompt("Be terse.\n\nSay hello.")
    assert generations[0].text == "Hello world."


def test_context_goes_into_dollys_input_block(scripted_backend: Any) -> None:
    [generations] = generate(scripted_backend, request(extra={"context": "It is Monday."}))
    assert generations[0].formatted_prompt == dolly_prompt("Say hello.", "It is Monday.")


def test_a_prompt_longer_than_the_context_window_is_an_error_per_sample(
    dolly_backend: Any, dolly_dir: Path
) -> None:
    long_prompt = "word " * 2100
    [failed, fine] = generate(dolly_backend, request(long_prompt), request("Hi", max_tokens=3))
    assert len(failed) == 3
    for generation in failed:
        assert generation.text is None and generation.error is not None
        assert str(dolly_dir) in generation.error and "context window of 2048" in generation.error
        assert "shorten the prompt" in generation.error
        assert generation.prompt_tokens is not None and generation.prompt_tokens > 2048
        assert generation.formatted_prompt == dolly_prompt(long_prompt)
    assert all(g.error is None and g.text is not None for g in fine)


def test_generation_is_cut_at_the_end_of_the_context_window(dolly_backend: Any) -> None:
    prompt = "word " * 2014  # 2040 tokens once formatted
    prepared = dolly_backend.prepare(request(prompt, max_tokens=100))
    room = 2048 - len(prepared.rendered.token_ids)
    assert 0 < room < 100 and prepared.job.max_new_tokens == room
    [generations] = generate(dolly_backend, request(prompt, seeds=(1,), max_tokens=100))
    assert generations[0].completion_tokens == room
    assert generations[0].finish_reason == "length"


def test_invalid_sampling_parameters_fail_the_request(dolly_backend: Any) -> None:
    with pytest.raises(BackendError, match="temperature"):
        generate(dolly_backend, request(temperature=-1.0))
    with pytest.raises(BackendError, match="top_p"):
        generate(dolly_backend, request(top_p=0.0))


def test_a_response_format_is_refused_not_ignored(dolly_backend: Any) -> None:
    shape = ResponseFormat(schema={"type": "object"})
    with pytest.raises(BackendError, match="cannot constrain its output to the case's response"):
        generate(dolly_backend, request(response_format=shape))


def test_requests_awaited_together_share_one_sampler_call(
    dolly_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts = ["First prompt.", "A second, longer prompt than the first one.", "Third."]
    separately = [generate(dolly_backend, request(p, max_tokens=6))[0] for p in prompts]
    calls: list[int] = []
    original = dolly_backend.sampler.sample

    def spy(jobs: Any) -> Any:
        calls.append(len(jobs))
        return original(jobs)

    monkeypatch.setattr(dolly_backend.sampler, "sample", spy)
    together = generate(dolly_backend, *(request(p, max_tokens=6) for p in prompts))
    assert calls == [3]
    assert [[g.text for g in gs] for gs in together] == [[g.text for g in gs] for gs in separately]


def test_a_failing_request_does_not_fail_the_ones_it_was_batched_with(
    dolly_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = dolly_backend.sampler.sample
    poison = dolly_backend.prepare(request("Poison.")).job.prompt_ids

    def sample(jobs: Any) -> Any:
        if any(job.prompt_ids == poison for job in jobs):
            raise BackendError("out of memory on cuda", hint="lower `max_batch_size:`")
        return original(jobs)

    monkeypatch.setattr(dolly_backend.sampler, "sample", sample)

    async def run() -> list[Any]:
        return await asyncio.gather(
            dolly_backend.generate(request("Fine.", max_tokens=2)),
            dolly_backend.generate(request("Poison.", max_tokens=2)),
            dolly_backend.generate(request("Also fine.", max_tokens=2)),
            return_exceptions=True,
        )

    first, second, third = asyncio.run(run())
    assert isinstance(second, BackendError)
    assert len(first) == 3 and len(third) == 3


def test_results_are_reproducible_across_event_loops(dolly_backend: Any) -> None:
    first = generate(dolly_backend, request(max_tokens=8, temperature=1.0))
    second = generate(dolly_backend, request(max_tokens=8, temperature=1.0))
    assert [g.text for g in first[0]] == [g.text for g in second[0]]
    assert len({g.text for g in first[0]}) == 3


def test_chat_template_checkpoint(tmp_path: Path) -> None:
    from checkpoints import build_dolly_checkpoint, neox_tokenizer

    from promptcheck.backends.local import LocalParams, build_local

    template = (
        "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
        "<|assistant|>\n"
    )
    directory = build_dolly_checkpoint(
        tmp_path / "chat", tokenizer=neox_tokenizer(dolly=False, chat_template=template)
    )
    backend = build_local(LocalParams(path=str(directory)), BackendContext(Path.cwd()))
    assert backend.format == "chat"
    [generations] = generate(backend, request("Hi", max_tokens=4))
    expected = backend.checkpoint.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert generations[0].formatted_prompt == expected
    assert expected.startswith("<|user|>\nHi\n<|assistant|>")
    assert generations[0].completion_tokens is not None and generations[0].completion_tokens <= 4


def test_raw_format_on_a_dolly_checkpoint(dolly_dir: Path) -> None:
    from promptcheck.backends.local import LocalParams, build_local

    backend = build_local(
        LocalParams(path=str(dolly_dir), format="raw"), BackendContext(Path.cwd())
    )
    [generations] = generate(backend, request("Once upon a time", max_tokens=3))
    assert generations[0].formatted_prompt == "Once upon a time"
    assert generations[0].prompt_tokens == 4


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_samples_like_the_cpu_when_greedy(scripted_dir: Path, dolly_dir: Path) -> None:
    from promptcheck.backends.local import LocalParams, build_local

    gpu = build_local(
        LocalParams(path=str(scripted_dir), device="cuda"), BackendContext(Path.cwd())
    )
    [generations] = generate(gpu, request())
    assert {g.text for g in generations} == {"Hello world."}
    cpu = build_local(LocalParams(path=str(dolly_dir), device="cpu"), BackendContext(Path.cwd()))
    gpu32 = build_local(
        LocalParams(path=str(dolly_dir), device="cuda", dtype="float32"), BackendContext(Path.cwd())
    )
    greedy = request(temperature=0.0, max_tokens=8)
    assert [g.text for g in generate(cpu, greedy)[0]] == [
        g.text for g in generate(gpu32, greedy)[0]
    ]
