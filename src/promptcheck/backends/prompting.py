"""Prompt formats applied with a tokenizer: Dolly's instruction template, chat templates, raw text.

The template strings live in :mod:`promptcheck.formats` (shared with fine-tuning and the server);
this module adds what needs the checkpoint's tokenizer: choosing a format, turning a request into
the exact text and token ids the model is given, which token ids end a response, and cutting the
response out of the generated ids the way Dolly's ``InstructionTextGenerationPipeline`` does
(the tokens after ``### Response:\\n`` up to ``### End``, decoded and stripped).

No torch here: a tokenizer is all it takes, which keeps these rules testable on their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from promptcheck.backends.base import Message
from promptcheck.errors import BackendError
from promptcheck.formats import DOLLY_SPECIAL_TOKENS, END_KEY, dolly_prompt

FormatName = Literal["dolly", "chat", "raw"]


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    """The exact text given to the model and its token ids."""

    text: str
    token_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Response:
    """A response cut out of generated ids: its text, how many ids it used, why it ended."""

    text: str
    completion_tokens: int
    finish_reason: str


def dolly_token_ids(tokenizer: Any) -> dict[str, int] | None:
    """Ids of Dolly's three special tokens when the tokenizer has each as one added token."""
    added: Mapping[str, int] = tokenizer.get_added_vocab()
    ids = {token: added.get(token) for token in DOLLY_SPECIAL_TOKENS}
    if any(value is None for value in ids.values()):
        return None
    return {token: value for token, value in ids.items() if value is not None}


def detect_format(tokenizer: Any) -> FormatName:
    """``dolly`` with Dolly's special tokens, else ``chat`` with a chat template, else ``raw``."""
    if dolly_token_ids(tokenizer) is not None:
        return "dolly"
    if getattr(tokenizer, "chat_template", None):
        return "chat"
    return "raw"


def dolly_instruction(messages: Sequence[Message]) -> str:
    """Messages as one Dolly instruction: system and user contents, in order, a blank line apart.

    Dolly was trained on single instructions, so there is no faithful rendering of a conversation;
    a request with assistant turns is refused rather than flattened into something never seen.
    """
    parts: list[str] = []
    for message in messages:
        if message.role not in ("system", "user"):
            raise BackendError(
                f"a {message.role!r} message cannot be rendered in Dolly's instruction format, "
                "which holds one instruction",
                hint="give the case a single prompt (or system + user messages), or use a model "
                "with a chat template and `format: chat`",
            )
        parts.append(message.content)
    if not parts:
        raise BackendError("the request has no messages to render")
    return "\n\n".join(parts)


class PromptFormat:
    """How one checkpoint turns requests into token ids and generated ids back into responses."""

    def __init__(self, tokenizer: Any, name: FormatName, eos_token_ids: Iterable[int] = ()):
        self.tokenizer = tokenizer
        self.name: FormatName = name
        stop_ids = {i for i in eos_token_ids if isinstance(i, int)}
        stop_strings: list[str] = []
        if name == "dolly":
            special = dolly_token_ids(tokenizer)
            if special is not None:
                stop_ids.add(special[END_KEY])
            else:
                # A plain tokenizer spells "### End" with several tokens: stop on the text instead.
                stop_strings.append(END_KEY)
        elif name == "chat" and not getattr(tokenizer, "chat_template", None):
            raise BackendError(
                "`format: chat` needs a tokenizer with a chat template and this one has none",
                hint="use `format: raw` (or `format: dolly` for a Dolly-style checkpoint), or add "
                "`chat_template` to tokenizer_config.json",
            )
        self.stop_token_ids = frozenset(stop_ids)
        self.stop_strings = tuple(stop_strings)
        self.strip_response = name == "dolly"  # Dolly's pipeline strips; others keep the text as is

    def render(
        self,
        prompt: str | None,
        messages: Sequence[Message] | None,
        context: str | None = None,
    ) -> RenderedPrompt:
        """The text the model is given for a request, and its token ids."""
        if self.name == "dolly":
            instruction = prompt if messages is None else dolly_instruction(messages)
            text = dolly_prompt(instruction or "", context)
            return RenderedPrompt(text, self._encode(text, special=True))
        if self.name == "chat":
            conversation = [{"role": m.role, "content": m.content} for m in messages or ()]
            if messages is None:
                conversation = [{"role": "user", "content": prompt or ""}]
            if context:
                last = conversation[-1]
                conversation[-1] = {**last, "content": _with_context(last["content"], context)}
            templated = self.tokenizer.apply_chat_template(
                conversation, tokenize=False, add_generation_prompt=True
            )
            # The template writes the special tokens (BOS, role markers) itself.
            return RenderedPrompt(str(templated), self._encode(str(templated), special=False))
        raw = (prompt or "") if messages is None else "\n\n".join(m.content for m in messages)
        raw = _with_context(raw, context) if context else raw
        return RenderedPrompt(raw, self._encode(raw, special=True))

    def response(
        self, generated: Sequence[int], finish_reason: str, stop_strings: Sequence[str] = ()
    ) -> Response:
        """The response text of generated ids, cut at the first stop token or stop string.

        Special tokens are skipped when decoding; Dolly responses are stripped of surrounding
        whitespace as Dolly's pipeline does. ``completion_tokens`` counts the ids the model
        produced for this response, the stopping token included.
        """
        cut = len(generated)
        for index, token in enumerate(generated):
            if token in self.stop_token_ids:
                cut, finish_reason = index, "stop"
                break
        used = min(len(generated), cut + 1)
        text = self.decode(generated[:cut])
        stops = (*self.stop_strings, *stop_strings)
        hit = first_stop(text, stops)
        if hit is not None:
            text = text[:hit]
            finish_reason = "stop"
            used = self._tokens_until(generated[:cut], stops)
        if self.strip_response:
            text = text.strip()
        return Response(text=text, completion_tokens=used, finish_reason=finish_reason)

    def decode(self, token_ids: Sequence[int]) -> str:
        """Decoded text of response ids, without special tokens."""
        return str(self.tokenizer.decode(list(token_ids), skip_special_tokens=True))

    def _encode(self, text: str, *, special: bool) -> tuple[int, ...]:
        ids = self.tokenizer(text, add_special_tokens=special)["input_ids"]
        return tuple(int(i) for i in ids)

    def _tokens_until(self, generated: Sequence[int], stops: Sequence[str]) -> int:
        """The fewest leading ids whose text already contains a stop string."""
        low, high = 1, len(generated)
        while low < high:
            middle = (low + high) // 2
            if first_stop(self.decode(generated[:middle]), stops) is None:
                low = middle + 1
            else:
                high = middle
        return high


def first_stop(text: str, stops: Sequence[str]) -> int | None:
    """Index of the earliest occurrence of any stop string in ``text``, or None."""
    found = [index for index in (text.find(s) for s in stops if s) if index >= 0]
    return min(found) if found else None


def _with_context(text: str, context: str) -> str:
    return f"{text}\n\n{context}" if text else context
