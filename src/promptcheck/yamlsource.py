"""Safe YAML loading that remembers where every key and item came from.

Validation errors must name the file and the line, so the loader keeps a map from each value's
path (``("cases", 0, "expect", 1)``) to its line. Duplicate keys, which PyYAML silently
overwrites, are reported instead: a second ``id:`` in a case is almost always a mistake.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from promptcheck.errors import SuiteError

PathKey = tuple[str | int, ...]


@dataclass
class SourceMap:
    """Lines (1-based) of the values in one YAML document, by path."""

    path: Path
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, key: PathKey) -> int | None:
        """The line of ``key``, or of its nearest ancestor that has one."""
        for end in range(len(key), -1, -1):
            line = self.lines.get(tuple(key[:end]))
            if line is not None:
                return line
        return None


def load_yaml(text: str, path: Path) -> tuple[Any, SourceMap]:
    """Parse one YAML document safely; return the data and its source map.

    Raises SuiteError with the line of the problem for syntax errors, duplicate keys, several
    documents in one file, and YAML features that have no JSON equivalent (non-string keys).
    """
    source = SourceMap(path)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, source
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        raise SuiteError(
            f"YAML syntax error: {problem}{context}",
            path=path,
            line=line,
            hint="check indentation and quoting around this line",
        ) from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"YAML error: {exc}", path=path) from None
    finally:
        loader.dispose()
    _index(node, data, (), source)
    return data, source


def _index(node: Node, data: Any, key: PathKey, source: SourceMap) -> None:
    source.lines.setdefault(key, node.start_mark.line + 1)
    if isinstance(node, MappingNode) and isinstance(data, dict):
        seen: dict[Hashable, int] = {}
        for key_node, value_node in node.value:
            name = key_node.value if isinstance(key_node, ScalarNode) else "<complex key>"
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if name in seen:
                raise SuiteError(
                    f"duplicate key {name!r} (first defined on line {seen[name]})",
                    path=source.path,
                    line=line,
                    key=dotted((*key, str(name))),
                    hint="remove one of the two, or rename it",
                )
            seen[name] = line
            child = _lookup(data, name)
            if child is _MISSING:
                continue
            child_key = (*key, str(name))
            source.lines[child_key] = line
            _index(value_node, child, child_key, source)
    elif isinstance(node, SequenceNode) and isinstance(data, list):
        for index, (item_node, item) in enumerate(zip(node.value, data)):
            _index(item_node, item, (*key, index), source)


_MISSING = object()


def _lookup(data: dict[Any, Any], name: str) -> Any:
    """Find a constructed value by its key text (YAML may have typed the key, e.g. ``1`` or ``true``)."""
    if name in data:
        return data[name]
    for candidate, value in data.items():
        if str(candidate) == name or (isinstance(candidate, bool) and name.lower() in _BOOLS):
            return value
    return _MISSING


_BOOLS = {"true", "false", "yes", "no", "on", "off"}


def dotted(key: PathKey) -> str:
    """``("cases", 0, "expect")`` -> ``cases[0].expect``: the notation errors use for keys."""
    out = ""
    for part in key:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out

