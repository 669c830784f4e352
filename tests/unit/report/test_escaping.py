"""Model text on a terminal is shown, never interpreted: escape sequences and bidi controls."""

from __future__ import annotations

import pytest

from promptcheck.report.escaping import printable


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),  # clear the screen
        ("\x1b]52;c;cHduZWQ=\x07", "\\x1b]52;c;cHduZWQ=\\x07"),  # OSC 52: write the clipboard
        ("\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\", "\\x1b]8;;http://evil/\\x1b\\link"),
        ("ok\rFAKE", "ok\\x0dFAKE"),  # a carriage return overwrites the line
        ("nul\x00byte", "nul\\x00byte"),
        ("\x9b31m", "\\x9b31m"),  # the C1 form of ESC [
        ("abc\u202eevil\u202c", "abc\\u202eevil\\u202c"),  # right-to-left override
        ("x\u2066y\u2069", "x\\u2066y\\u2069"),  # bidi isolates
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("line\u2028sep", "line\\u2028sep"),
    ],
)
def test_controls_are_shown_as_escapes(raw: str, shown: str) -> None:
    assert printable(raw).startswith(shown)
    assert "\x1b" not in printable(raw) and "\u202e" not in printable(raw)


def test_ordinary_text_newlines_and_tabs_are_kept() -> None:
    text = 'A) Go hiking\n\tB) Café 東京 ✓\nC) {"k": 1}'
    assert printable(text) == text
