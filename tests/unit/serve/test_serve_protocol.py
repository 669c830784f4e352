"""Request parsing of ``promptcheck serve``: text that is not valid Unicode (a JSON escape
such as ``\\ud800`` that pairs with nothing decodes to a lone surrogate) is a 400 naming the
field, in whichever string of the body it hides, before any field is used."""

from __future__ import annotations

import json
from typing import Any

import pytest

from promptcheck.serve.protocol import APIError, parse_chat, parse_completion, parse_json

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
COMPLETION = {"model": "m", "prompt": "hi"}


def refusal(parse: Any, body: bytes) -> APIError:
    with pytest.raises(APIError) as caught:
        parse(parse_json(body))
    return caught.value


@pytest.mark.parametrize(
    ("base", "field", "value", "where"),
    [
        (COMPLETION, "prompt", "\ud800", "prompt"),
        (COMPLETION, "prompt", ["fine", "a\udc00b"], "prompt.1"),
        (COMPLETION, "stop", "\udfff", "stop"),
        (COMPLETION, "stop", ["ok", "\ud800"], "stop.1"),
        (COMPLETION, "model", "m\ud800", "model"),
        (COMPLETION, "suffix", "\ud800", "suffix"),
        (CHAT, "messages", [{"role": "user", "content": "\ud800"}], "messages.0.content"),
        (
            CHAT,
            "messages",
            [{"role": "user", "content": [{"type": "text", "text": "x\udbff"}]}],
            "messages.0.content.0.text",
        ),
        (CHAT, "messages", [{"role": "user\ud800", "content": "x"}], "messages.0.role"),
        (CHAT, "user", "\ud800", "user"),
        (CHAT, "stop", ["\ud800"], "stop.0"),
        (CHAT, "model", "\udc00", "model"),
        (CHAT, "response_format", {"type": "\ud800"}, "response_format.type"),
        (CHAT, "top_k_note", "\ud800", "top_k_note"),  # a field the server ignores, too
    ],
)
@pytest.mark.parametrize("literal", [False, True], ids=["escaped", "utf8-bytes"])
def test_a_lone_surrogate_in_any_string_is_a_400_naming_the_field(
    base: dict[str, Any], field: str, value: Any, where: str, literal: bool
) -> None:
    body = {**base, field: value}
    encoded = (
        json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
        if literal
        else json.dumps(body).encode()
    )
    parse = parse_chat if base is CHAT else parse_completion
    error = refusal(parse, encoded)
    assert (error.status, error.code, error.param) == (400, "invalid_unicode", field)
    assert error.message.startswith(f"{where}: the text holds \\u")
    assert "lone surrogate" in error.message
    assert json.loads(error.body())["error"]["param"] == field


def test_a_lone_surrogate_in_a_field_name_is_named_escaped() -> None:
    error = refusal(parse_completion, b'{"model": "m", "prompt": "x", "ab\\ud800": 1}')
    assert error.status == 400 and error.code == "invalid_unicode"
    assert error.message.startswith("ab\\ud800: the name of this field holds \\ud800")
    assert error.param == "ab\\ud800"
    error.body().decode("utf-8")  # the answer itself is valid UTF-8


def test_surrogate_pairs_are_valid_text() -> None:
    body = b'{"model": "m", "prompt": "\\ud83d\\ude00", "stop": ["\\ud83d\\ude42"]}'
    request, sampling = parse_completion(parse_json(body))
    assert request.prompt == "\U0001f600" and sampling.stop == ("\U0001f642",)


def test_the_first_lone_surrogate_in_the_body_is_named() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "\ud800"}], "user": "\ud800"}
    error = refusal(parse_chat, json.dumps(body).encode())
    assert error.message.startswith("messages.0.content: ")


def test_deeply_nested_bodies_are_walked_without_recursion() -> None:
    deep: Any = "\ud800"
    for _ in range(900):  # as deep as json.loads goes, and deeper than a recursive walk should
        deep = [deep]
    body = json.dumps({**COMPLETION, "extra": deep}).encode()
    error = refusal(parse_completion, body)
    assert error.param == "extra" and error.message.startswith("extra.0.0.0.")
