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
import logging
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

from promptcheck.backends.prompting import first_stop

if TYPE_CHECKING:
    from promptcheck.backends.prompting import PromptFormat
    from promptcheck.backends.sampler import FinishReason

log = logging.getLogger("promptcheck.serve")

#: What the decoder makes of an incomplete UTF-8 sequence at the end of a token.
REPLACEMENT = "\ufffd"


class IncrementalDecoder:
    """One row's text, decoded token by token, released only once it can no longer change.

    Decoding is incremental in the manner of vLLM and TGI: the ids since the last release are
    decoded together with those of the release before, for context (tokenizers that drop a
    word's leading space at the start of a text see the same start both times), and new text is
    released only when it does not end in U+FFFD, the mark of an incomplete character.
    ``stop_token_ids`` are left out, as the final response leaves them out.
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
        self.text = ""  # decoded text of the ids before ``_read``: whole characters only
        self.emitted = ""  # what has been handed out
        self.stopped = False  # a stop string was found: nothing after it will ever be sent
        self._prefix = 0  # first id of the context window
        self._read = 0  # ids decoded into ``text``
        self._prefix_text = ""
        self._searched = 0  # characters of ``text`` searched for stop strings
        self._longest_stop = max((len(s) for s in self.stop_strings), default=0)
        self._diverged = False

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
                self.text += window[len(self._prefix_text) :]
                self._prefix, self._read = self._read, end
                self._prefix_text = self.decode(token_ids[self._prefix : end])
        return self._release(self._visible())

    def finish(self, final: str) -> str:
        """The rest of the row's ``final`` text (its non-streamed answer) after what was sent."""
        if self._diverged or not final.startswith(self.emitted):
            # Cannot happen with the tokenizers promptcheck knows; worth hearing about if it does.
            log.warning("a streamed row diverged from its final text; its stream is cut short")
            return ""
        rest = final[len(self.emitted) :]
        self.emitted = final
        return rest

    def _visible(self) -> str:
        """The part of ``text`` that no later token can change."""
        text = self.text
        limit = len(text)
        if self.stop_strings:
            start = max(0, self._searched - self._longest_stop + 1)
            hit = first_stop(text[start:], self.stop_strings)
            self._searched = len(text)
            if hit is not None:
                limit = start + hit
                self.stopped = True
            else:
                limit -= self._partial_stop(text)
        visible = text[:limit]
        if self.strip:
            visible = visible.strip()  # a prefix of the final, stripped text
        return visible

    def _partial_stop(self, text: str) -> int:
        """Length of the longest tail of ``text`` that begins a stop string."""
        longest = 0
        for stop in self.stop_strings:
            for size in range(min(len(stop) - 1, len(text)), longest, -1):
                if text.endswith(stop[:size]):
                    longest = size
                    break
        return longest

    def _release(self, visible: str) -> str:
        if len(visible) <= len(self.emitted):
            return ""
        if not visible.startswith(self.emitted):
            self._diverged = True
            return ""
        new = visible[len(self.emitted) :]
        self.emitted = visible
        return new

    def _restart(self) -> None:
        self.text, self._prefix, self._read, self._prefix_text, self._searched = "", 0, 0, "", 0


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
