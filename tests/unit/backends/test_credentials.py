"""Keys read from the environment: surrounding whitespace dropped, control characters refused
by the variable's name, never by the value."""

from __future__ import annotations

import pytest

from promptcheck.backends.credentials import http_url, secret_from_env
from promptcheck.errors import BackendError

KEY = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("stored", [KEY + "\n", KEY + "\r\n", f"  {KEY}\t", KEY])
def test_a_key_from_a_secret_file_loses_its_surrounding_whitespace(
    stored: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PC_TEST_KEY", stored)
    assert secret_from_env("PC_TEST_KEY", "api_key_env") == KEY


@pytest.mark.parametrize("stored", [f"{KEY[:8]}\n{KEY[8:]}", f"{KEY}\x00x", f"a\tb{KEY}"])
def test_a_key_with_a_control_character_inside_is_refused_without_quoting_it(
    stored: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PC_TEST_KEY", stored.replace("\x00", "\x7f"))  # env values hold no NUL
    with pytest.raises(BackendError) as raised:
        secret_from_env("PC_TEST_KEY", "api_key_env")
    shown = str(raised.value)
    assert "PC_TEST_KEY" in shown and "control character" in shown
    assert KEY[:8] not in shown and KEY[8:] not in shown


@pytest.mark.parametrize("stored", ["", " \n"])
def test_a_blank_key_is_not_set(stored: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PC_TEST_KEY", stored)
    with pytest.raises(BackendError, match=r"PC_TEST_KEY .* is not set"):
        secret_from_env("PC_TEST_KEY", "api_key_env")


@pytest.mark.parametrize(
    "url", ["http://evil.example\n@gateway.internal/v1", "https://a.example/v1 ", "ftp://a", "x"]
)
def test_a_base_url_with_spaces_controls_or_another_scheme_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        http_url(url)


def test_a_plain_base_url_is_kept() -> None:
    assert http_url("https://gateway.internal:8443/v1") == "https://gateway.internal:8443/v1"
    assert http_url(None) is None
