"""Token streaming for ``promptcheck serve``: text leaves the server as the sampler decodes it.

Three pieces, from the model outwards:

* :class:`IncrementalDecoder` turns one row's growing token ids into text that is safe to send:
  never half a UTF-8 character (a byte-level token may end inside one), never text past a stop
  string, never a tail that may yet turn out to start one, and, for Dolly, never whitespace that
  the final ``strip()`` would remove. Whatever it sends is a prefix of the row's final text, so
  the chunks of a stream add up to the non-streamed answer.
* :class:`RowStreamer`, the sampler's :class:`~promptcheck.backends.sampler.RowObserver` for
  one request, runs on the sampling thread and hands new text to the event loop with
  ``call_soon_threadsafe``.
* :class:`TextFeed` collects, on the event loop, the text of every choice of one response for
  the HTTP handler to write; a handler whose client went away cancels it, which ends its rows.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from promptcheck.backends.prompting import PromptFormat
    from promptcheck.backends.sampler import FinishReason

log = logging.getLogger("promptcheck.serve")

#: What the decoder makes of an incomplete UTF-8 sequence at the end of a token.
REPLACEMENT = "\ufffd"


class StopMatcher:
    """Finds stop strings in text that arrives piece by piece, in time linear in the text.

    Each stop string is matched by a Knuth-Morris-Pratt automaton whose state, the length of the
    longest tail of the text so far that begins the stop string, is kept between pieces: every
    character is looked at once per stop string, however long the stop strings are, and the
    tail a streamer must hold back (it may yet become a stop string) is the largest state.
    Runs of characters that cannot begin a stop string are skipped with ``str.find``.
    ``steps`` counts the characters looked at and the automaton moves made (tests bound it).
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = tuple(dict.fromkeys(s for s in stops if s))
        self._borders = [_borders(stop) for stop in self.stops]
        self._states = [0] * len(self.stops)
        self.length = 0  # characters fed
        #: Where the earliest stop string found begins (the text is cut there), or None.
        self.found: int | None = None
        self.steps = 0

    def feed(self, text: str) -> None:
        """Match ``text``, the next piece; a stop string found in it sets ``found``."""
        if self.found is not None or not text:
            return
        for index in range(len(self.stops)):
            self._advance(index, text)
        self.length += len(text)

    def held(self) -> int:
        """Characters at the end of the text that may be the start of a stop string."""
        return max(self._states, default=0)

    def _advance(self, index: int, text: str) -> None:
        stop, border = self.stops[index], self._borders[index]
        state, size, end = self._states[index], len(self.stops[index]), len(text)
        position = 0
        while position < end:
            if state == 0:  # skip to the next character that can begin the stop string
                jump = text.find(stop[0], position)
                self.steps += (end if jump < 0 else jump) - position
                if jump < 0:
                    break
                position = jump
            char = text[position]
            while state and stop[state] != char:
                state = border[state - 1]
                self.steps += 1
            if stop[state] == char:
                state += 1
            self.steps += 1
            position += 1
            if state == size:  # later matches of this stop string begin later: done with it
                start = self.length + position - size
                self.found = start if self.found is None else min(self.found, start)
                break
        self._states[index] = state


@functools.lru_cache(maxsize=256)
def _borders(stop: str) -> tuple[int, ...]:
    """KMP's failure function: for each prefix of ``stop``, its longest proper border (computed
    once per stop string, not once per row)."""
    border = [0] * len(stop)
    length = 0
    for position in range(1, len(stop)):
        while length and stop[position] != stop[length]:
            length = border[length - 1]
        if stop[position] == stop[length]:
            length += 1
        border[position] = length
    return tuple(border)


class IncrementalDecoder:
    """One row's text, decoded token by token, released only once it can no longer change.

    Decoding is incremental in the manner of vLLM and TGI: the ids since the last release are
    decoded together with those of the release before, for context (tokenizers that drop a
    word's leading space at the start of a text see the same start both times), and new text is
    released only when it does not end in U+FFFD, the mark of an incomplete character.
    ``stop_token_ids`` are left out, as the final response leaves them out.

    The work per token is proportional to the new text, not to the text so far nor to the
    stop strings' lengths (:class:`StopMatcher`): only the unreleased tail is kept as text.
    """

    def __init__(
        self,
        decode: Callable[[Sequence[int]], str],
        *,
        stop_strings: Sequence[str] = (),
        stop_token_ids: Collection[int] = (),
        strip: bool = False,
    ) -> None:
        self.decode = decode
        self.stop_strings = tuple(s for s in stop_strings if s)
        self.stop_token_ids = stop_token_ids
        self.strip = strip
        self.stopped = False  # a stop string was found: nothing after it will ever be sent
        self._emitted: list[str] = []  # what has been handed out, in pieces
        self._diverged = False
        self._replay = ""  # after a restart: what was sent before, to be confirmed again
        self.matcher = StopMatcher(self.stop_strings)
        self._prefix = 0  # first id of the context window
        self._read = 0  # ids decoded into text
        self._prefix_text = ""
        self._length = 0  # characters of text decoded
        self._pending = ""  # the text from ``_base`` on: not yet released
        self._base = 0
        self._scanned = 0  # text before this has been looked at for whitespace (strip)
        self._start: int | None = None if strip else 0  # where the visible text begins
        self._solid_end = 0  # after the last non-whitespace character scanned (strip)
        self._taken = 0  # characters of visible text released (or confirmed, after a restart)

    @property
    def emitted(self) -> str:
        """The text handed out so far."""
        return "".join(self._emitted)

    def update(self, token_ids: Sequence[int]) -> str:
        """The new text safe to send now that the row's ids are ``token_ids`` ('' when none)."""
        if self.stopped or self._diverged:
            return ""
        if len(token_ids) < self._read:  # the row was sampled again (a retried batch)
            self._restart()
        end = len(token_ids)
        if end and token_ids[-1] in self.stop_token_ids:
            end -= 1
        if end > self._read:
            window = self.decode(token_ids[self._prefix : end])
            if len(window) > len(self._prefix_text) and not window.endswith(REPLACEMENT):
                self._append(window[len(self._prefix_text) :])
                self._prefix, self._read = self._read, end
                self._prefix_text = self.decode(token_ids[self._prefix : end])
        return self._release()

    def finish(self, final: str) -> str:
        """The rest of the row's ``final`` text (its non-streamed answer) after what was sent."""
        emitted = self.emitted
        if self._diverged or not final.startswith(emitted):
            # Cannot happen with the tokenizers promptcheck knows; worth hearing about if it does.
            log.warning("a streamed row diverged from its final text; its stream is cut short")
            return ""
        rest = final[len(emitted) :]
        self._emitted = [final]
        return rest

    def _restart(self) -> None:
        """Decode the row afresh (a retried batch samples it again from its first token); what
        was sent stays sent, and the new text must first say it again."""
        self._replay = self.emitted
        self.matcher = StopMatcher(self.stop_strings)
        self._prefix = self._read = self._length = self._base = 0
        self._scanned = self._solid_end = self._taken = 0
        self._prefix_text = self._pending = ""
        self._start = None if self.strip else 0

    def _append(self, text: str) -> None:
        self._pending += text
        self._length += len(text)
        self.matcher.feed(text)

    def _release(self) -> str:
        """Hand out the visible text that no later token can change, past what was sent."""
        found = self.matcher.found
        limit = self._length - self.matcher.held() if found is None else found
        self.stopped = found is not None
        end = self._visible_end(limit)
        if self._start is None:  # only whitespace so far, which the final strip removes
            self._drop(limit)
            return ""
        if self._base < self._start:
            self._drop(self._start)
        if end <= self._base:
            return ""
        piece = self._pending[: end - self._base]
        self._drop(end)
        confirm = min(len(piece), len(self._replay) - self._taken)
        replayed = self._replay[self._taken : self._taken + confirm]
        if confirm > 0 and piece[:confirm] != replayed:  # a restarted row must say it again
            self._diverged = True
            return ""
        self._taken += len(piece)
        new = piece[max(confirm, 0) :]
        if new:
            self._emitted.append(new)
        return new

    def _visible_end(self, limit: int) -> int:
        """Where the visible part of ``text[:limit]`` ends; with ``strip``, it also finds where
        it begins. Each character is scanned once: ``limit`` never moves back."""
        if not self.strip:
            return limit
        if limit > self._scanned:
            segment = self._pending[self._scanned - self._base : limit - self._base]
            if self._start is None:
                leading = len(segment) - len(segment.lstrip())
                if leading < len(segment):
                    self._start = self._scanned + leading
            solid = len(segment.rstrip())
            if solid:
                self._solid_end = self._scanned + solid
            self._scanned = limit
        return self._solid_end

    def _drop(self, position: int) -> None:
        """Forget the text before ``position`` (released, or whitespace never to be sent)."""
        if position > self._base:
            self._pending = self._pending[position - self._base :]
            self._base = position


class TextFeed:
    """The text of every choice of one streamed response, gathered on the event loop.

    ``put`` is called on the loop (the streamers schedule it there); ``changed`` wakes the
    handler, which takes the pieces with :meth:`take`. ``cancelled`` is read by the streamers
    on the sampling thread: once set, the sampler drops the response's rows.
    """

    def __init__(self) -> None:
        self.pieces: list[tuple[int, str, str | None]] = []
        self.changed = asyncio.Event()
        self.cancelled = False

    def put(self, choice: int, text: str, finish_reason: str | None) -> None:
        self.pieces.append((choice, text, finish_reason))
        self.changed.set()

    def take(self) -> list[tuple[int, str, str | None]]:
        pieces, self.pieces = self.pieces, []
        self.changed.clear()
        return pieces

    def cancel(self) -> None:
        self.cancelled = True


class RowStreamer:
    """The sampler's observer of one request's rows: their text, sent to a :class:`TextFeed`.

    Row ``r`` of the request is choice ``first_choice + r`` of the response. When a row ends,
    its final text is cut exactly as the non-streamed answer is (``PromptFormat.response``), and
    the rest of it goes out with the finish reason, while the batch's other rows go on.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        feed: TextFeed,
        prompt_format: PromptFormat,
        stop_strings: Sequence[str],
        rows: int,
        first_choice: int = 0,
    ) -> None:
        self.loop = loop
        self.feed = feed
        self.prompt_format = prompt_format
        self.stop_strings = tuple(stop_strings)
        self.first_choice = first_choice
        self.decoders = [
            IncrementalDecoder(
                prompt_format.decode,
                stop_strings=(*prompt_format.stop_strings, *self.stop_strings),
                stop_token_ids=prompt_format.stop_token_ids,
                strip=prompt_format.strip_response,
            )
            for _ in range(rows)
        ]

    def token(self, row: int, token_ids: Sequence[int]) -> bool:
        if self.feed.cancelled:
            return False
        text = self.decoders[row].update(token_ids)
        if text:
            self.loop.call_soon_threadsafe(self.feed.put, self.first_choice + row, text, None)
        return True

    def finish(self, row: int, token_ids: Sequence[int], reason: FinishReason) -> None:
        if self.feed.cancelled:
            return
        response = self.prompt_format.response(token_ids, reason, self.stop_strings)
        rest = self.decoders[row].finish(response.text)
        self.loop.call_soon_threadsafe(
            self.feed.put, self.first_choice + row, rest, response.finish_reason
        )
