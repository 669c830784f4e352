"""Outputs as the store keeps them: once per distinct text, cut to a cap, read back with a marker.

Twenty samples of one output used to be written twenty times, and once more per cached
generation; schema 3 keeps each distinct text once in the ``texts`` table, addressed by the
SHA-256 of the full text, and samples and cached generations point at it. An output longer than
the store's cap keeps its first characters and its full length, so that a hostile or runaway
model cannot grow the store without bound; reading it back appends a marker that says what was
left out, so a cut output is never mistaken for what the model said.

Prompts (rendered, and as the model was given them) are addressed by the same digest in the
``prompts`` table since schema 6, once per distinct text and whole: a long context drawn by 200
samples used to be written 600 times (twice per sample, once per cached generation).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TextRow:
    """One row of ``texts``: the digest of the full text, what is stored, and the full length."""

    sha256: str
    text: str
    length: int

    @property
    def cut(self) -> bool:
        return len(self.text) < self.length


def text_digest(text: str) -> str:
    """The SHA-256 of a text's UTF-8 form (a lone surrogate is hashed, never refused)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def text_row(text: str, max_chars: int) -> TextRow:
    """The row that stores ``text``: all of it, or its first ``max_chars`` characters."""
    return TextRow(text_digest(text), text[:max_chars], len(text))


def cut_marker(left_out: int) -> str:
    """What ends a cut output when it is read back: how many characters were not stored."""
    return f"\n[... {left_out:,} more characters not stored]"


def shown_text(stored: str, length: int) -> str:
    """A stored text as read back: itself when whole, else followed by :func:`cut_marker`."""
    left_out = length - len(stored)
    return stored + cut_marker(left_out) if left_out > 0 else stored
