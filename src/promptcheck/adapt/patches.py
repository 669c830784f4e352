"""Suite patches: an adapted case's new prompt written into a copy of its suite, and nothing else.

A reviewer must be able to read the change as a diff, so the patch edits the YAML text, not the
data: only the adapted cases' ``prompt``, ``system`` or ``messages`` values are replaced (or a
``system`` key added), every other byte of the file is kept, comments and layout included. The
value nodes' positions come from PyYAML's composer; a new value is written as a literal block
(``|-``) when it spans lines and as a double-quoted string otherwise. Each patch is checked by
loading the patched text again: the adapted cases must hold the new templates and everything
else must be equal to the original, or the patch is refused.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

from promptcheck.adapt.templates import PromptTemplate
from promptcheck.errors import ConfigError

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

_KEYS = ("prompt", "system", "messages")
#: Characters a literal block cannot hold as they are (YAML would not read them back).
_NOT_LITERAL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\u2028\u2029\r]")


def patch_suite(text: str, changes: Mapping[int, PromptTemplate], path: str = "suite") -> str:
    """``text`` with the cases at these positions of ``cases`` given these templates.

    Raises ConfigError when the file's layout cannot be patched safely (a case written in flow
    style, say); the check after patching guarantees that a returned text means what it should.
    """
    root = yaml.compose(text, Loader=_Loader)
    cases = _value(root, "cases")
    if not isinstance(cases, yaml.SequenceNode):
        raise ConfigError(f"{path}: no 'cases' list to patch")
    edits: list[tuple[int, int, str]] = []
    for index, template in changes.items():
        case = cases.value[index]
        if not isinstance(case, yaml.MappingNode) or case.flow_style:
            raise ConfigError(f"{path}: case {index} is not a block mapping; cannot patch it")
        edits.extend(_case_edits(text, case, template, path))
    patched = text
    for start, end, replacement in sorted(edits, reverse=True):
        patched = patched[:start] + replacement + patched[end:]
    _verify(text, patched, changes, path)
    return patched


def unified_diff(original: str, patched: str, path: str) -> str:
    """The patch as a unified diff, ``a/PATH`` against ``b/PATH``."""
    return "".join(
        difflib.unified_diff(
            original.splitlines(keepends=True),
            patched.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )


def _value(mapping: Any, key: str) -> Any:
    if not isinstance(mapping, yaml.MappingNode):
        return None
    for key_node, value_node in mapping.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return value_node
    return None


def _case_edits(
    text: str, case: yaml.MappingNode, template: PromptTemplate, path: str
) -> list[tuple[int, int, str]]:
    pairs = {
        key.value: (key, value)
        for key, value in case.value
        if isinstance(key, yaml.ScalarNode) and key.value in _KEYS
    }
    wanted: dict[str, Any] = {
        "prompt": template.prompt,
        "system": template.system,
        "messages": template.messages,
    }
    anchor_key, anchor_value = pairs.get("prompt") or pairs.get("messages") or (None, None)
    if anchor_key is None or anchor_value is None:
        raise ConfigError(f"{path}: a case without prompt or messages cannot be patched")
    column = anchor_key.start_mark.column
    edits = []
    for name in _KEYS:
        value = wanted[name]
        present = pairs.get(name)
        if present is not None and value is not None:
            key_node, value_node = present
            start, end = key_node.end_mark.index, value_node.end_mark.index
            old = text[start:end]
            trailing = old[len(old.rstrip()) :]
            edits.append((start, end, ":" + _rendered(name, value, column) + trailing))
        elif present is not None:
            edits.append(_removal(text, *present, path))
        elif value is not None:
            end = anchor_value.end_mark.index
            line = f"{' ' * column}{name}:{_rendered(name, value, column)}"
            if text[:end].endswith("\n") or text[:end].rstrip(" ") != text[:end]:
                # a block value ends at the next key's indentation: insert a line before it
                at = text.rfind("\n", 0, end) + 1
            else:  # a value on one line: insert after that line (and its comment)
                newline = text.find("\n", end)
                at = len(text) if newline < 0 else newline + 1
                line = line if newline >= 0 else "\n" + line
            edits.append((at, at, line + "\n"))
    return edits


def _removal(text: str, key: yaml.ScalarNode, value: yaml.Node, path: str) -> tuple[int, int, str]:
    line_start = text.rfind("\n", 0, key.start_mark.index) + 1
    if text[line_start : key.start_mark.index].strip():
        raise ConfigError(f"{path}: '{key.value}' opens its case's item; cannot remove it")
    end = value.end_mark.index
    if not text[:end].endswith("\n"):
        newline = text.find("\n", end)
        end = len(text) if newline < 0 else newline + 1
    else:
        end = text.rfind("\n", 0, end) + 1
    return line_start, end, ""


def _rendered(name: str, value: Any, column: int) -> str:
    """The value as YAML text to follow ``name:``, for keys at ``column``."""
    if name == "messages":
        indent = " " * (column + 2)
        lines = []
        for role, content in value:
            lines.append(f"{indent}- role: {json.dumps(role)}")
            lines.append(f"{indent}  content:{_scalar(content, column + 4)}")
        return "\n" + "\n".join(lines)
    return _scalar(str(value), column)


def _scalar(text: str, column: int) -> str:
    """A string as a literal block (several lines) or a double-quoted scalar (one line)."""
    if "\n" not in text.rstrip("\n") or _NOT_LITERAL.search(text) or text != text.lstrip(" \t"):
        return " " + json.dumps(text, ensure_ascii=False)
    body = text.rstrip("\n")
    trailing = len(text) - len(body)
    chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
    indent = " " * (column + 2)
    lines = [f"{indent}{line}" if line else "" for line in body.split("\n")]
    extra = [""] * (trailing - 1) if trailing > 1 else []
    return f" |{chomp}\n" + "\n".join([*lines, *extra])


def _verify(original: str, patched: str, changes: Mapping[int, PromptTemplate], path: str) -> None:
    """The patched text must mean the original with the adapted cases' templates changed."""
    try:
        before = yaml.load(original, Loader=_Loader)
        after = yaml.load(patched, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: the patched suite is not valid YAML ({exc})") from None
    expected = dict(before)
    expected["cases"] = list(before["cases"])
    for index, template in changes.items():
        case = {key: value for key, value in before["cases"][index].items() if key not in _KEYS}
        if template.messages is not None:
            case["messages"] = [{"role": r, "content": c} for r, c in template.messages]
        else:
            case["prompt"] = template.prompt
            if template.system is not None:
                case["system"] = template.system
        expected["cases"][index] = case
    if after != expected:
        raise ConfigError(
            f"{path}: patching the adapted cases would change more than their prompts",
            hint="write the case's prompt as a plain or block string and try again",
        )
