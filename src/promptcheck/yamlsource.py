"""Safe YAML loading that remembers where every key and item came from.

Validation errors must name the file and the line, so the loader keeps a map from each value's
path (``("cases", 0, "expect", 1)``) to its line. Duplicate keys, which PyYAML silently
overwrites, are reported instead: a second ``id:`` in a case is almost always a mistake.

A first pass over the parser's events builds that map and refuses, with a line and a key, what
the safe loader would accept but a suite must not hold: several documents, non-string keys,
nesting deeper than :data:`MAX_DEPTH`, and aliases that expand to more than
:data:`MAX_ALIAS_NODES` values (a "billion laughs" document is refused in linear time, before
anything is built). Only then does PyYAML's safe loader construct the data.
"""

from __future__ import annotations

import bisect
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceEndEvent,
)
from yaml.nodes import Node, ScalarNode
from yaml.reader import Reader, ReaderError

from promptcheck.errors import SuiteError

try:  # libyaml parses in linear time; PyYAML's own scanner is quadratic in nesting depth
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

PathKey = tuple[str | int, ...]

#: Deepest nesting of mappings and sequences a file may have (suites need a dozen at most).
MAX_DEPTH = 64
#: Most values that aliases (``*name``) may add to a file in all, counting nested aliases.
MAX_ALIAS_NODES = 100_000

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TYPE_NAMES = {
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:timestamp": "a date",
}


@dataclass
class SourceMap:
    """Lines (1-based) of the values in one YAML document, by path."""

    path: Path
    lines: dict[PathKey, int] = field(default_factory=dict)
    #: (line, column, path) of every value in document order, to find the key of an error.
    starts: list[tuple[int, int, PathKey]] = field(default_factory=list, repr=False)

    def line_of(self, key: PathKey) -> int | None:
        """The line of ``key``, or of its nearest ancestor that has one."""
        for end in range(len(key), -1, -1):
            line = self.lines.get(tuple(key[:end]))
            if line is not None:
                return line
        return None

    def present(self, key: PathKey) -> PathKey:
        """The longest beginning of ``key`` that is in the file (keys may name implied fields)."""
        for end in range(len(key), 0, -1):
            if tuple(key[:end]) in self.lines:
                return tuple(key[:end])
        return ()

    def key_at(self, line: int, column: int = 0) -> PathKey | None:
        """The path of the last value that starts at or before ``line`` and ``column``."""
        found = bisect.bisect_right(self.starts, (line, column), key=lambda start: start[:2]) - 1
        return self.starts[found][2] if found >= 0 else None


def load_yaml(text: str, path: Path) -> tuple[Any, SourceMap]:
    """Parse one YAML document safely; return the data and its source map.

    Raises SuiteError with the line (and the key, where one is known) for syntax errors,
    duplicate keys, several documents in one file, non-string keys, too deep nesting and
    alias bombs.
    """
    source = SourceMap(path)
    _Inspector(text, source).run()
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text, source, None) from None
    except yaml.YAMLError as exc:  # pragma: no cover - the first pass reports these
        raise SuiteError(f"YAML error: {exc}", path=path) from None
    finally:
        loader.dispose()
    return data, source


class _Loader(_SafeLoader):
    """The safe loader, with malformed scalars (``0x_``, ``2024-02-30``) as YAML errors."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:
            value = node.value if isinstance(node, ScalarNode) else node.tag
            kind = _TYPE_NAMES.get(node.tag, node.tag)
            raise ConstructorError(
                None, None, f"cannot read {value!r} as {kind}: {exc}", node.start_mark
            ) from None


@dataclass
class _Frame:
    """An open mapping or sequence while the events are walked."""

    path: PathKey
    is_mapping: bool
    start_count: int
    anchor: str | None
    line: int
    flow: bool
    index: int = 0
    expect_key: bool = True
    key: str = ""
    key_line: int = 0
    keys: dict[str, int] = field(default_factory=dict)


class _Inspector:
    """Walks the parser's events once: line map, duplicate and non-string keys, and limits."""

    def __init__(self, text: str, source: SourceMap) -> None:
        self.text = text
        self.source = source
        self.stack: list[_Frame] = []
        self.documents = 0
        self.count = 0
        self.aliased = 0
        self.anchor_sizes: dict[str, int] = {}
        self.open_anchors: set[str] = set()
        self.anchor_lines: dict[str, int] = {}

    def run(self) -> None:
        try:
            loader = _Loader(self.text)
        except ReaderError as exc:
            raise self.reader_error(exc) from None
        except UnicodeEncodeError as exc:  # a lone surrogate, only possible in a str argument
            raise self.unicode_error(exc) from None
        try:
            while loader.check_event():
                event = loader.get_event()
                if event is not None:
                    self.handle(event, loader)
        except ReaderError as exc:
            raise self.reader_error(exc) from None
        except UnicodeEncodeError as exc:
            raise self.unicode_error(exc) from None
        except yaml.MarkedYAMLError as exc:
            raise _syntax_error(exc, self.text, self.source, self.current_path()) from None
        finally:
            loader.dispose()

    def handle(self, event: Event, loader: _Loader) -> None:
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise self.error(
                    "a suite file holds one YAML document, and this is a second one",
                    line,
                    None,
                    hint="remove the '---' (or '...') separator, or split the file in two",
                )
        elif isinstance(event, NodeEvent):
            top = self.stack[-1] if self.stack else None
            if top is not None and top.is_mapping and top.expect_key:
                self.key(event, top, line, loader)
            else:
                self.value(event, top, line)
        elif isinstance(event, (MappingEndEvent, SequenceEndEvent)):
            frame = self.stack.pop()
            if frame.anchor is not None:
                self.anchor_sizes[frame.anchor] = self.count - frame.start_count
                self.open_anchors.discard(frame.anchor)
            self.done()

    def key(self, event: NodeEvent, top: _Frame, line: int, loader: _Loader) -> None:
        if not isinstance(event, ScalarEvent):
            what = "an alias" if isinstance(event, AliasEvent) else "a mapping or a list"
            hint = "write keys as plain words"
            start = event.start_mark.index if event.start_mark is not None else 0
            if self.text[max(start - 1, 0) : start + 1] == "{{":
                hint = "a value that starts with '{{' must be quoted: \"{{ name }} ...\""
            raise self.error(f"a key must be a string, not {what}", line, top.path, hint=hint)
        tag = event.tag
        if tag is None or tag == "!":
            tag = loader.resolve(ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
        if tag != _MERGE_TAG and tag != _STR_TAG:
            kind = _TYPE_NAMES.get(tag, f"a value tagged {tag}")
            raise self.error(
                f"the key {event.value!r} is not a string: YAML reads it as {kind}",
                line,
                (*top.path, event.value),
                hint=f"quote it: '{event.value}':",
            )
        if tag == _STR_TAG and event.value in top.keys:
            raise self.error(
                f"duplicate key {event.value!r} (first defined on line {top.keys[event.value]})",
                line,
                (*top.path, event.value),
                hint="remove one of the two, or rename it",
            )
        top.keys[event.value] = line
        top.key, top.key_line, top.expect_key = event.value, line, False
        self.count += 1

    def value(self, event: NodeEvent, top: _Frame | None, line: int) -> None:
        if top is None:
            path: PathKey = ()
            self.source.lines.setdefault(path, line)
        elif top.is_mapping:
            path = (*top.path, top.key)
            self.source.lines[path] = top.key_line
        else:
            path = (*top.path, top.index)
            self.source.lines[path] = line
        column = event.start_mark.column if event.start_mark is not None else 0
        self.source.starts.append((line, column, path))
        if isinstance(event, AliasEvent):
            self.alias(event, path, line)
            self.done()
        elif isinstance(event, CollectionStartEvent):
            if len(self.stack) >= MAX_DEPTH:
                # name the outermost of the collections opened on this line: [[[[...
                outer = next((f.path for f in self.stack if f.line == line and f.flow), path)
                raise self.error(
                    f"the YAML is nested more than {MAX_DEPTH} levels deep", line, outer
                )
            if event.anchor is not None:
                self.anchor(event.anchor, line, path)
                self.open_anchors.add(event.anchor)
            is_mapping = isinstance(event, MappingStartEvent)
            flow = bool(event.flow_style)
            self.stack.append(_Frame(path, is_mapping, self.count, event.anchor, line, flow))
            self.count += 1
        else:
            self.count += 1
            if event.anchor is not None:
                self.anchor(event.anchor, line, path)
                self.anchor_sizes[event.anchor] = 1
            self.done()

    def anchor(self, name: str, line: int, path: PathKey) -> None:
        first = self.anchor_lines.setdefault(name, line)
        if first != line or name in self.anchor_sizes or name in self.open_anchors:
            raise self.error(
                f"the anchor &{name} is defined twice (first on line {first})",
                line,
                path,
                hint="give each anchor its own name",
            )

    def alias(self, event: AliasEvent, path: PathKey, line: int) -> None:
        name = event.anchor or ""
        if name in self.open_anchors:
            raise self.error(
                f"the alias *{name} is inside the value it refers to (a recursive alias)",
                line,
                path,
            )
        size = self.anchor_sizes.get(name)
        if size is None:
            raise self.error(
                f"the alias *{name} refers to no anchor",
                line,
                path,
                hint=f"define the anchor (&{name}) before the alias",
            )
        self.aliased += size
        self.count += size
        if self.aliased > MAX_ALIAS_NODES:
            raise self.error(
                f"aliases expand to more than {MAX_ALIAS_NODES} values",
                line,
                path,
                hint="aliases (*name) copy the anchored value each time; use fewer of them",
            )

    def done(self) -> None:
        """A value is complete: its mapping expects a key next, its sequence the next item."""
        if not self.stack:
            return
        top = self.stack[-1]
        if top.is_mapping:
            top.expect_key = not top.expect_key
        else:
            top.index += 1

    def current_path(self) -> PathKey | None:
        """Where a syntax error happened: the key whose value was being read, else the container."""
        if not self.stack:
            return None
        top = self.stack[-1]
        if top.is_mapping and not top.expect_key:
            return (*top.path, top.key)
        return top.path

    def error(
        self, message: str, line: int, key: PathKey | None, hint: str | None = None
    ) -> SuiteError:
        return SuiteError(
            message, path=self.source.path, line=line, key=dotted(key or ()) or None, hint=hint
        )

    def unicode_error(self, exc: UnicodeEncodeError) -> SuiteError:
        line = self.text.count("\n", 0, exc.start) + 1
        return SuiteError("the text is not valid Unicode", path=self.source.path, line=line)

    def reader_error(self, exc: ReaderError) -> SuiteError:
        found = _NON_PRINTABLE.search(self.text)
        index = found.start() if found is not None else max(exc.position, 0)
        line = self.text.count("\n", 0, index) + 1
        column = index - (self.text.rfind("\n", 0, index) + 1)
        character = ord(self.text[index]) if index < len(self.text) else exc.character
        key = key_near(_NON_PRINTABLE.sub(" ", self.text), self.source.path, line, column)
        return SuiteError(
            f"the file contains the control character #x{character:04x}, which YAML does not allow",
            path=self.source.path,
            line=line,
            key=dotted(key or ()) or None,
            hint="remove it, or write it as an escape in a double-quoted string",
        )


def key_near(text: str, path: Path, line: int, column: int) -> PathKey | None:
    """The key of the value at ``line`` and ``column`` (1-based, 0-based) of ``text``, if any.

    For errors found before YAML is parsed (bytes that are not UTF-8, control characters):
    ``text`` is the file with the bad characters replaced, parsed as far as it goes.
    """
    source = SourceMap(path)
    with contextlib.suppress(SuiteError):
        _Inspector(text, source).run()
    return source.key_at(line, column)


_NON_PRINTABLE = Reader.NON_PRINTABLE


def _syntax_error(
    exc: yaml.MarkedYAMLError, text: str, source: SourceMap, key: PathKey | None
) -> SuiteError:
    mark = exc.problem_mark or exc.context_mark
    if (
        exc.context_mark is not None
        and exc.problem_mark is not None
        and exc.problem_mark.index >= len(text.rstrip())
    ):
        mark = exc.context_mark  # "unexpected end of stream": where the unclosed thing began
    line = mark.line + 1 if mark is not None else None
    if key is None and mark is not None:
        key = source.key_at(mark.line + 1, mark.column)
    problem = exc.problem or "invalid YAML"
    message = f"{exc.context}: {problem}" if exc.context else problem
    label, hint = "YAML syntax error", "check indentation and quoting around this line"
    lines = text.splitlines()
    text_line = lines[mark.line] if mark is not None and mark.line < len(lines) else ""
    if isinstance(exc, ConstructorError):
        label, hint = (
            "invalid YAML value",
            "suites use plain YAML: drop the tag, or quote the value",
        )
    elif "\t" in text_line[: len(text_line) - len(text_line.lstrip())]:
        hint = "indent with spaces: YAML does not allow tabs for indentation"
    return SuiteError(
        f"{label}: {message}",
        path=source.path,
        line=line,
        key=dotted(key or ()) or None,
        hint=hint,
    )


def dotted(key: PathKey) -> str:
    """``("cases", 0, "expect")`` -> ``cases[0].expect``: the notation errors use for keys."""
    out = ""
    for part in key:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
