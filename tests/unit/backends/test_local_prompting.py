"""Prompt formats on the real Dolly tokenizer: Dolly's exact prompt, token by token, and its
response extraction, compared with a reproduction of Dolly's own pipeline post-processing."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest

from promptcheck.backends.base import Message
from promptcheck.errors import BackendError
from promptcheck.formats import (
    DOLLY_SPECIAL_TOKENS,
    END_KEY,
    INSTRUCTION_KEY,
    RESPONSE_KEY_NL,
    dolly_prompt,
    dolly_training_text,
)

END, INSTRUCTION, RESPONSE = 50277, 50278, 50279


def dolly_pipeline_postprocess(tokenizer: Any, sequence: Sequence[int]) -> str | None:
    """What dolly's ``InstructionTextGenerationPipeline.postprocess`` returns for one generated
    sequence (prompt and generation): reproduced from its behaviour, as the test oracle.

    Its token path decodes the ids after the first ``### Response:\\n`` up to the first
    ``### End`` and strips; when that is empty it falls back to regular expressions over the
    decoded text.
    """
    sequence = list(sequence)
    response_id = tokenizer.convert_tokens_to_ids(RESPONSE_KEY_NL)
    end_id = tokenizer.convert_tokens_to_ids(END_KEY)
    decoded = None
    response_pos = sequence.index(response_id) if response_id in sequence else None
    if response_pos:
        end_pos = sequence.index(end_id) if end_id in sequence else None
        decoded = tokenizer.decode(sequence[response_pos + 1 : end_pos]).strip()
    if not decoded:
        full = tokenizer.decode(sequence)
        match = re.search(r"#+\s*Response:\s*(.+?)#+\s*End", full, flags=re.DOTALL)
        if match is None:
            match = re.search(r"#+\s*Response:\s*(.+)", full, flags=re.DOTALL)
        decoded = match.group(1).strip() if match else None
    return decoded


@pytest.fixture(scope="module")
def dolly_format(dolly_tokenizer: Any) -> Any:
    from promptcheck.backends.prompting import PromptFormat

    return PromptFormat(dolly_tokenizer, "dolly", eos_token_ids=[0])


def test_dolly_tokenizer_has_the_three_special_tokens_at_dollys_ids(dolly_tokenizer: Any) -> None:
    from promptcheck.backends.prompting import dolly_token_ids

    assert len(dolly_tokenizer) == 50280
    assert dolly_token_ids(dolly_tokenizer) == dict(
        zip(DOLLY_SPECIAL_TOKENS, (END, INSTRUCTION, RESPONSE), strict=True)
    )
    assert dolly_tokenizer.convert_ids_to_tokens([END, INSTRUCTION, RESPONSE]) == list(
        DOLLY_SPECIAL_TOKENS
    )


def test_dolly_prompt_token_by_token(dolly_format: Any, dolly_tokenizer: Any) -> None:
    rendered = dolly_format.render("Say hi", None)
    assert rendered.text == dolly_prompt("Say hi")
    # Pinned: the real GPT-NeoX-20B ids of Dolly's prompt for "Say hi".
    assert rendered.token_ids == (
        30003, 310, 271, 9775, 326, 8631, 247, 4836, 15, 19566, 247, 2380, 326, 20420,
        29141, 253, 2748, 15, 535, INSTRUCTION, 187, 27128, 14260, 535, RESPONSE,
    )  # fmt: skip
    pieces = [dolly_tokenizer.decode([i]) for i in rendered.token_ids]
    assert "".join(pieces) == rendered.text
    # The keys are single special tokens, not spelled out with "#" tokens.
    assert pieces[19] == INSTRUCTION_KEY and pieces[-1] == RESPONSE_KEY_NL
    assert rendered.token_ids.count(INSTRUCTION) == 1 and rendered.token_ids.count(RESPONSE) == 1


def test_dolly_prompt_with_context_uses_an_input_block(
    dolly_format: Any, dolly_tokenizer: Any
) -> None:
    rendered = dolly_format.render("Summarise.", None, context="The sky is blue.")
    assert rendered.text == dolly_prompt("Summarise.", "The sky is blue.")
    assert rendered.text.endswith("Summarise.\n\nInput:\nThe sky is blue.\n\n### Response:\n")
    assert list(rendered.token_ids) == dolly_tokenizer(rendered.text)["input_ids"]
    assert rendered.token_ids[-1] == RESPONSE


def test_dolly_messages_render_system_then_user_a_blank_line_apart(dolly_format: Any) -> None:
    messages = (Message("system", "Answer in JSON."), Message("user", "Name a colour."))
    rendered = dolly_format.render(None, messages)
    assert rendered.text == dolly_prompt("Answer in JSON.\n\nName a colour.")


def test_dolly_refuses_assistant_turns(dolly_format: Any) -> None:
    messages = (Message("user", "Hi"), Message("assistant", "Hello"), Message("user", "Again"))
    with pytest.raises(BackendError, match="assistant"):
        dolly_format.render(None, messages)


def test_training_text_round_trips_through_response_extraction(
    dolly_format: Any, dolly_tokenizer: Any
) -> None:
    """A sequence as Dolly's trainer formats it decodes to the trained response."""
    prompt = dolly_format.render("List two fruits.", None)
    full = dolly_tokenizer(dolly_training_text("List two fruits.", "A. apple\nB. pear"))[
        "input_ids"
    ]
    assert full[: len(prompt.token_ids)] == list(prompt.token_ids)
    generated = full[len(prompt.token_ids) :]
    assert generated[-1] == END
    response = dolly_format.response(generated, "length")
    assert response.text == "A. apple\nB. pear"
    assert response.finish_reason == "stop"
    assert response.completion_tokens == len(generated)


@pytest.mark.parametrize(
    "tail",
    [
        ["Hello world.\n\n", END],  # the trained ending
        ["  padded answer  ", END, "ignored after the end"],  # tokens after ### End are dropped
        ["truncated without an end"],  # max_tokens reached: everything is the response
        ['{"a": 1}', END, END],
        ["line one\nline two\n", END],
        ["Ünïcödé ✓ 漢字", END],
    ],
)
def test_response_matches_dollys_pipeline(
    dolly_format: Any, dolly_tokenizer: Any, tail: list[Any]
) -> None:
    generated: list[int] = []
    for piece in tail:
        generated += [piece] if isinstance(piece, int) else dolly_tokenizer(piece)["input_ids"]
    prompt = dolly_format.render("Do the thing.", None).token_ids
    expected = dolly_pipeline_postprocess(dolly_tokenizer, [*prompt, *generated])
    response = dolly_format.response(generated, "length")
    assert response.text == expected
    assert response.finish_reason == ("stop" if END in generated else "length")
    assert response.completion_tokens == (
        generated.index(END) + 1 if END in generated else len(generated)
    )


def test_empty_response_is_empty_where_dollys_regex_fallback_returns_a_stray_hash(
    dolly_format: Any, dolly_tokenizer: Any
) -> None:
    """The one documented difference: an immediate ``### End`` is an empty response here."""
    prompt = dolly_format.render("Say nothing.", None).token_ids
    assert dolly_pipeline_postprocess(dolly_tokenizer, [*prompt, END]) == "#"
    assert dolly_format.response([END], "length").text == ""


def test_stop_strings_cut_the_response_and_count_tokens_up_to_the_stop(
    dolly_format: Any, dolly_tokenizer: Any
) -> None:
    generated = dolly_tokenizer("A. one\nB. two\nC. three")["input_ids"]
    response = dolly_format.response(generated, "length", stop_strings=("\nC.",))
    assert response.text == "A. one\nB. two"
    assert response.finish_reason == "stop"
    used = generated[: response.completion_tokens]
    assert "\nC." in dolly_tokenizer.decode(used)
    assert "\nC." not in dolly_tokenizer.decode(used[:-1])


def test_dolly_format_without_special_tokens_stops_on_the_text(dolly_tokenizer: Any) -> None:
    from checkpoints import neox_tokenizer

    from promptcheck.backends.prompting import PromptFormat

    plain = PromptFormat(neox_tokenizer(dolly=False), "dolly")
    assert plain.stop_strings == (END_KEY,)
    generated = plain.tokenizer("fine\n\n### End and more")["input_ids"]
    assert plain.response(generated, "length").text == "fine"


def test_detect_format(dolly_tokenizer: Any) -> None:
    from checkpoints import neox_tokenizer

    from promptcheck.backends.prompting import detect_format

    assert detect_format(dolly_tokenizer) == "dolly"
    assert detect_format(neox_tokenizer(dolly=False, chat_template=CHAT_TEMPLATE)) == "chat"
    assert detect_format(neox_tokenizer(dolly=False)) == "raw"


CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def test_chat_format_renders_the_tokenizers_template() -> None:
    from checkpoints import neox_tokenizer

    from promptcheck.backends.prompting import PromptFormat

    tokenizer = neox_tokenizer(dolly=False, chat_template=CHAT_TEMPLATE)
    chat = PromptFormat(tokenizer, "chat", eos_token_ids=[0])
    rendered = chat.render(None, (Message("system", "Be brief."), Message("user", "Hi")))
    assert rendered.text == "<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\n"
    assert (
        list(rendered.token_ids) == tokenizer(rendered.text, add_special_tokens=False)["input_ids"]
    )
    assert chat.render("Hi", None).text == "<|user|>\nHi\n<|assistant|>\n"
    assert chat.stop_token_ids == frozenset({0})
    assert not chat.strip_response


def test_chat_format_needs_a_template() -> None:
    from checkpoints import neox_tokenizer

    from promptcheck.backends.prompting import PromptFormat

    with pytest.raises(BackendError, match="chat template"):
        PromptFormat(neox_tokenizer(dolly=False), "chat")


def test_raw_format_gives_the_prompt_as_is() -> None:
    from checkpoints import neox_tokenizer

    from promptcheck.backends.prompting import PromptFormat

    raw = PromptFormat(neox_tokenizer(dolly=False), "raw")
    assert raw.render("Once upon a time", None).text == "Once upon a time"
    two = (Message("system", "S"), Message("user", "U"))
    assert raw.render(None, two).text == "S\n\nU"
    generated = raw.tokenizer("  kept as is  ")["input_ids"]
    assert raw.response(generated, "length").text == "  kept as is  "
