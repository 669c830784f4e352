"""Secrets never reach the store, reports or terminals: scrubbed texts and redacted specs."""

from __future__ import annotations

import pytest

from promptcheck.redaction import REDACTED, redact_secrets, scrub_text


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        ("connect to https://alice:s3cret@api.example.com/v1", "api.example.com/v1", "s3cret"),
        ("GET https://api.example.com/v1?api_key=abc123&x=1", "x=1", "abc123"),
        ("url https://h/v1?foo=1&token=t0k3n#frag", "#frag", "t0k3n"),
        ("header Authorization: Bearer abcdefghijklmnop", "Authorization: Bearer", "abcdefghij"),
        ("key sk-proj-AAAAAAAAAAAAAAAAAAAAAAAA in the body", "in the body", "sk-proj-AAAA"),
        ("anthropic sk-ant-api03-BBBBBBBBBBBBBBBBBBBB", "anthropic", "BBBBBBBBBB"),
        ("google AIzaSyA-0123456789abcdefghijklmnopqrstu", "google", "AIzaSyA"),
        ("aws AKIAABCDEFGHIJKLMNOP used", "used", "AKIAABCDEFGHIJKLMNOP"),
        # a raw @ in the password: the user information ends at the authority's last @
        ("https://bob:pa@ss:w@rd@api.example.com/v1", "@api.example.com/v1", "rd@"),
        ("https://bob:pa@ss@h/v1 then https://x.example/p@th", "/p@th", "ss@h"),
    ],
)
def test_scrub_text_removes_credentials_and_keeps_the_rest(text: str, kept: str, gone: str) -> None:
    scrubbed = scrub_text(text)
    assert gone not in scrubbed and kept in scrubbed and REDACTED in scrubbed


def test_scrub_text_leaves_ordinary_text_alone() -> None:
    text = "HTTP 429: rate limit reached for requests; try again in 2s (tokens: 4000)"
    assert scrub_text(text) == text


def test_scrub_text_removes_the_given_secrets_whatever_their_shape() -> None:
    assert scrub_text("it was hunter2!", "hunter2") == f"it was {REDACTED}!"


AZURE_KEY = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "quoted",
    [
        "Illegal header value b'0123456789abcdef0123456789abcdef\\n'",  # httpx/h11
        "headers {'api-key': '0123456789abcdef0123456789abcdef\\n'}",  # a dict's repr
        '{"api-key": "0123456789abcdef0123456789abcdef\\n"}',  # JSON
        "key 0123456789abcdef0123456789abcdef\n was refused",  # the raw value
    ],
)
def test_scrub_text_removes_a_secret_in_its_escaped_forms(quoted: str) -> None:
    scrubbed = scrub_text(quoted, AZURE_KEY + "\n")
    assert "0123456789abcdef" not in scrubbed and REDACTED in scrubbed


def test_scrub_text_removes_a_given_secret_quoted_by_repr_with_escapes_inside() -> None:
    secret = "pa\tss'word-é"
    for form in (repr(secret), repr(secret.encode()), secret):
        assert "pa" not in scrub_text(f"sent {form} to the host", secret), form


def test_scrub_text_removes_azure_shaped_keys_it_was_not_given() -> None:
    assert scrub_text(f"api-key: {AZURE_KEY}") == f"api-key: {REDACTED}"


def test_redact_secrets_covers_keys_and_urls_in_a_model_spec() -> None:
    spec = {
        "backend": "openai",
        "base_url": "https://user:pw@gateway.corp/v1?api_key=zzz",
        "api_key": "sk-literal",
        "api_key_env": "OPENAI_API_KEY",
        "max_tokens": 200,
        "extra": {"headers": [{"authorization": "Bearer x"}]},
    }
    redacted = redact_secrets(spec)
    assert redacted["api_key"] == REDACTED
    assert redacted["api_key_env"] == "OPENAI_API_KEY"
    assert redacted["max_tokens"] == 200
    assert "pw" not in redacted["base_url"] and "zzz" not in redacted["base_url"]
    assert redacted["base_url"].startswith("https://<redacted>@gateway.corp/v1?api_key=")
    assert redacted["extra"]["headers"][0]["authorization"] == REDACTED
