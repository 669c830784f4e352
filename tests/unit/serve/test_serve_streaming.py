"""The incremental decoder behind token streaming: what it holds back (half characters, the
start of a stop string, whitespace Dolly strips) and that its pieces add up to the final text."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcheck.backends.prompting import PromptFormat
from promptcheck.formats import DOLLY_SPECIAL_TOKENS, END_KEY
from promptcheck.serve.streaming import IncrementalDecoder, RowStreamer, StopMatcher, TextFeed

#: Special tokens (skipped when decoding), as in Dolly's tokenizer.
SPECIAL = {50_000 + i: token for i, token in enumerate(DOLLY_SPECIAL_TOKENS)}
END_ID = next(i for i, token in SPECIAL.items() if token == END_KEY)
#: Multi-byte tokens, some of which end inside a character or begin a stop string.
PIECES = {
    300: b"\xe6\x97",  # the first two bytes of U+65E5
    301: b"\xa5 ",  # its last byte, then a space
    302: "\U0001f600".encode()[:3],
    303: "\U0001f600".encode()[3:],
    304: b"### E",
    305: b"nd",
    306: b"ST",
    307: b"OP",
    308: "é".encode(),
    309: b"\n\n",
}


class ByteTokenizer:
    """A byte-level tokenizer like GPT-NeoX's: ids < 256 are bytes, others byte strings."""

    def __init__(self, dolly: bool = False) -> None:
        self.dolly = dolly

    def get_added_vocab(self) -> dict[str, int]:
        return {token: i for i, token in SPECIAL.items()} if self.dolly else {}

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        data = b"".join(bytes([i]) if i < 256 else PIECES.get(i, b"") for i in ids)
        return data.decode("utf-8", errors="replace")


def ids(text: str) -> list[int]:
    return list(text.encode())


def stream(decoder: IncrementalDecoder, token_ids: Sequence[int]) -> list[str]:
    """The pieces released as ``token_ids`` arrive one by one."""
    return [decoder.update(token_ids[: k + 1]) for k in range(len(token_ids))]


def decoder(stops: Sequence[str] = (), strip: bool = False) -> IncrementalDecoder:
    tokenizer = ByteTokenizer()
    return IncrementalDecoder(tokenizer.decode, stop_strings=stops, strip=strip)


def test_a_character_split_across_tokens_waits_for_its_last_byte() -> None:
    pieces = stream(decoder(), [*ids("a"), 300, 301, 302, 303])
    assert pieces == ["a", "", "\u65e5 ", "", "\U0001f600"]
    assert "\ufffd" not in "".join(pieces)


def test_a_character_split_byte_by_byte() -> None:
    pieces = stream(decoder(), ids("x日"))
    assert pieces == ["x", "", "", "日"]


def test_a_byte_that_never_completes_is_sent_once_text_follows() -> None:
    d = decoder()
    pieces = stream(d, [0x97, *ids("ok")])
    assert pieces == ["", "\ufffdo", "k"]
    assert d.finish("\ufffdok") == ""


def test_a_stop_string_split_across_tokens_is_never_sent() -> None:
    d = decoder(stops=("STOP",))
    pieces = stream(d, [*ids("ab"), 306, 307, *ids("cd")])
    assert pieces == ["a", "b", "", "", "", ""]
    assert d.stopped and d.finish("ab") == ""


def test_the_start_of_a_stop_string_is_held_until_it_is_not_one() -> None:
    d = decoder(stops=("STOP",))
    pieces = stream(d, [*ids("a"), 306, *ids("ay")])
    assert pieces == ["a", "", "STa", "y"]
    assert d.finish("aSTay") == ""


def test_a_stop_inside_one_token_cuts_that_token() -> None:
    d = decoder(stops=("ES",))
    assert stream(d, ids("YES")) == ["Y", "", ""]


def test_dollys_end_spelled_in_text_and_stripping() -> None:
    tokenizer = ByteTokenizer()
    fmt = PromptFormat(tokenizer, "dolly")  # no special tokens: `### End` is a stop string
    d = IncrementalDecoder(tokenizer.decode, stop_strings=fmt.stop_strings, strip=True)
    token_ids = [*ids(" \n"), *ids("Hi"), *ids("  "), *ids("you "), 309, 304, 305, *ids("!")]
    pieces = stream(d, token_ids)
    final = fmt.response(token_ids, "length").text
    assert final == "Hi  you"
    assert "".join(pieces) + d.finish(final) == final
    assert pieces[:2] == ["", ""]  # leading whitespace is never sent


def test_a_stop_token_is_left_out() -> None:
    tokenizer = ByteTokenizer(dolly=True)
    fmt = PromptFormat(tokenizer, "dolly")
    d = IncrementalDecoder(
        tokenizer.decode, stop_token_ids=fmt.stop_token_ids, strip=fmt.strip_response
    )
    assert END_ID in fmt.stop_token_ids
    assert stream(d, [*ids("NO "), END_ID]) == ["N", "O", "", ""]
    assert d.finish(fmt.response([*ids("NO "), END_ID], "stop").text) == ""


def test_a_retried_row_goes_on_from_what_was_sent() -> None:
    d = decoder()
    token_ids = ids("hello")
    assert "".join(stream(d, token_ids[:3])) == "hel"
    assert "".join(stream(d, token_ids)) == "lo"  # the same ids again, from the first


def test_text_that_contradicts_what_was_sent_stops_the_stream() -> None:
    d = decoder()
    assert "".join(stream(d, ids("abc"))) == "abc"
    assert d.update(ids("x")) == "" and d.update(ids("xyzw")) == ""
    assert d.finish("xyzw") == ""


TOKENS = st.one_of(
    st.sampled_from(sorted(PIECES)),
    st.sampled_from(ids(" aSTOP\n#é")),
    st.integers(0x80, 0xBF),  # continuation bytes: sometimes completing, sometimes garbage
    st.sampled_from([0xE6, 0xC3, 0xF0]),
)


@settings(max_examples=300, deadline=None)
@given(
    token_ids=st.lists(TOKENS, max_size=30),
    stops=st.lists(st.sampled_from(["STOP", "### End", "\n\n", "a a", "é"]), max_size=2),
    dolly=st.booleans(),
    ended=st.booleans(),
)
def test_pieces_add_up_to_the_final_text(
    token_ids: list[int], stops: list[str], dolly: bool, ended: bool
) -> None:
    """Whatever the ids, the pieces never hold a stop string and add up to the answer the
    non-streamed response gives, which is what a stream's final piece completes."""
    tokenizer = ByteTokenizer(dolly=dolly)
    fmt = PromptFormat(tokenizer, "dolly" if dolly else "raw")
    token_ids = [*token_ids, END_ID] if ended and dolly else token_ids
    d = IncrementalDecoder(
        tokenizer.decode,
        stop_strings=(*fmt.stop_strings, *stops),
        stop_token_ids=fmt.stop_token_ids,
        strip=fmt.strip_response,
    )
    sent = ""
    for k in range(len(token_ids)):
        sent += d.update(token_ids[: k + 1])
        assert not any(stop in sent for stop in stops)
    final = fmt.response(token_ids, "length", stops).text
    assert final.startswith(sent)
    assert sent + d.finish(final) == final


def test_a_row_streamer_feeds_the_loop_and_stops_when_cancelled() -> None:
    tokenizer = ByteTokenizer(dolly=True)
    fmt = PromptFormat(tokenizer, "dolly")

    async def run() -> tuple[list[tuple[int, str, str | None]], bool]:
        feed = TextFeed()
        streamer = RowStreamer(asyncio.get_running_loop(), feed, fmt, (), rows=2, first_choice=3)
        token_ids = [*ids("Yes sir"), END_ID]
        for k in range(len(token_ids) - 1):
            assert streamer.token(1, token_ids[: k + 1])
        streamer.finish(1, token_ids, "stop")
        await asyncio.sleep(0)
        pieces = feed.take()
        feed.cancel()
        return pieces, streamer.token(0, ids("a"))

    pieces, goes_on = asyncio.run(run())
    assert "".join(text for _, text, _ in pieces) == "Yes sir"
    assert {choice for choice, _, _ in pieces} == {4}
    assert pieces[-1][2] == "stop" and all(reason is None for _, _, reason in pieces[:-1])
    assert not goes_on


# -- stop strings matched in linear time ---------------------------------------------------------


def brute_force(pieces: Sequence[str], stops: Sequence[str]) -> tuple[int | None, int]:
    """(where the text is cut, the tail held back) as the definitions say, the slow way: the
    text is cut at the earliest stop string in the text up to the first piece that completes
    one; otherwise the held tail is the longest that begins a stop string."""
    text = ""
    for piece in pieces:
        text += piece
        hits = [i for i in (text.find(stop) for stop in stops if stop) if i >= 0]
        if hits:
            return min(hits), 0
    held = max(
        (size for stop in stops for size in range(1, len(stop)) if text.endswith(stop[:size])),
        default=0,
    )
    return None, held


@settings(max_examples=500, deadline=None)
@given(
    pieces=st.lists(st.text("abc", max_size=6), max_size=12),
    stops=st.lists(st.text("abc", min_size=1, max_size=5), max_size=3),
)
def test_the_stop_matcher_finds_what_the_definition_finds(
    pieces: list[str], stops: list[str]
) -> None:
    matcher = StopMatcher(stops)
    for piece in pieces:
        matcher.feed(piece)
        if matcher.found is not None:
            break
    found, held = brute_force(pieces, stops)
    assert matcher.found == found
    if found is None:
        assert matcher.held() == held


@pytest.mark.parametrize("size", [10, 100, 2000])
def test_stop_matching_costs_steps_linear_in_the_text_whatever_the_stops_length(
    size: int,
) -> None:
    """A stop string that is almost the text (``a`` x (size-1) then ``b``, over a text of
    ``a``s sent three characters at a time: each piece used to cost a scan of every length
    of the stop string) costs a few steps per character, and the decoder still holds back
    exactly the tail that may begin it."""
    stop = "a" * (size - 1) + "b"
    text = "a" * 9_000
    d = decoder(stops=(stop,))
    sent = "".join(d.update(ids(text[: k + 3])) for k in range(0, len(text), 3))
    assert sent == text[: len(text) - (size - 1)]
    assert d.matcher.steps <= 3 * len(text)
    other = StopMatcher(["x" * size, "ay" * size, stop])
    for k in range(0, len(text), 3):
        other.feed(text[k : k + 3])
    assert other.steps <= 3 * 3 * len(text)  # three stop strings: three passes at most
