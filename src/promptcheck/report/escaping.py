"""Text from models, suites and stores made safe for a terminal: shown, never interpreted.

A model's output can hold ANSI and OSC escape sequences (colours, cursor moves, hyperlinks,
window titles, even clipboard writes in some terminals), NUL, carriage returns that overwrite the
line, and bidirectional controls that make text read in another order than it is. Everything the
terminal report prints goes through :func:`printable`, which writes each such character as a
visible escape (``\\x1b``, ``\\u202e``) and keeps newlines and tabs. Markdown and HTML reports
have their own escaping (``markdown.py``, the autoescaped HTML templates).
"""

from __future__ import annotations

import re

#: C0 controls but tab and newline, DEL and the C1 controls, and the bidirectional and invisible
#: formatting characters that can reorder or hide text.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control and bidirectional character written as a visible escape."""
    return _UNSAFE.sub(_visible, text)
