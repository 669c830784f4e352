"""A case's prompt as its suite writes it: the templates before any variable is filled in.

Compiled cases (:class:`~promptcheck.suite.records.CaseSpec`) hold rendered prompts only; a rewrite
works on the templates, and a patch writes templates back. So ``adapt`` reads each case's
``prompt``, ``system`` and ``messages`` from the YAML (and from the files they name, as the
loader does), together with its ``expect`` list, which the requirements are worded from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from promptcheck.backends.base import Message
from promptcheck.errors import ConfigError, SuiteError
from promptcheck.files import ProjectFiles
from promptcheck.suite.records import Combination
from promptcheck.templating import Template
from promptcheck.yamlsource import load_yaml


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    """``prompt`` (with an optional ``system``), or chat ``messages`` as (role, content) pairs.

    The *main* text is what a rewrite changes: the prompt, or the last user message.
    """

    prompt: str | None = None
    system: str | None = None
    messages: tuple[tuple[str, str], ...] | None = None

    def texts(self) -> tuple[str, ...]:
        """Every template text, in the order a model reads them."""
        if self.messages is not None:
            return tuple(content for _, content in self.messages)
        return tuple(text for text in (self.system, self.prompt) if text is not None)

    def variables(self) -> frozenset[str]:
        """The variables the templates use; a template that does not compile is a ConfigError."""
        found: set[str] = set()
        for text in self.texts():
            found |= Template(text).variables
        return frozenset(found)

    @property
    def main(self) -> str:
        if self.messages is None:
            return self.prompt or ""
        return self.messages[self._main_index()][1]

    def with_main(self, text: str) -> PromptTemplate:
        """The same templates with the main text replaced."""
        if self.messages is None:
            return replace(self, prompt=text)
        index = self._main_index()
        messages = list(self.messages)
        messages[index] = (messages[index][0], text)
        return replace(self, messages=tuple(messages))

    def _main_index(self) -> int:
        assert self.messages is not None
        users = [i for i, (role, _) in enumerate(self.messages) if role == "user"]
        return users[-1] if users else len(self.messages) - 1

    def render(self, index: int, variables: Mapping[str, Any]) -> Combination:
        """The combination these templates make with ``variables``, as the loader renders it
        (ConfigError when a template does not render)."""
        if self.messages is not None:
            messages = tuple(
                Message(role, Template(content).render(variables))
                for role, content in self.messages
            )
            return Combination(index, variables, None, messages)
        prompt = Template(self.prompt or "").render(variables)
        if self.system is not None:
            system = Message("system", Template(self.system).render(variables))
            return Combination(index, variables, None, (system, Message("user", prompt)))
        return Combination(index, variables, prompt, None)

    def display(self) -> str:
        """The templates as one text for reports: the prompt, or ``[role] content`` lines."""
        if self.messages is not None:
            return "\n".join(f"[{role}] {content}" for role, content in self.messages)
        if self.system is not None:
            return f"[system] {self.system}\n[user] {self.prompt or ''}"
        return self.prompt or ""


@dataclass(frozen=True)
class CaseSource:
    """Where a case sits in its suite file: its position in ``cases``, its templates, its raw
    ``expect`` list, and whether a template came from a file (a patch writes it inline)."""

    index: int
    template: PromptTemplate
    expect: tuple[Any, ...]
    from_files: tuple[str, ...] = ()


def read_case_sources(path: Path, files: ProjectFiles) -> dict[str, CaseSource]:
    """Every case of the suite file at ``path`` by id. The file was compiled (and so validated)
    already; a template file that cannot be read now is a ConfigError."""
    text = files.read_text(path, "suite")
    data, _ = load_yaml(text, path)
    cases = data.get("cases", []) if isinstance(data, dict) else []
    found: dict[str, CaseSource] = {}
    for index, case in enumerate(cases):
        if isinstance(case, dict) and isinstance(case.get("id"), str):
            found[case["id"]] = _case_source(index, case, path.parent, files)
    return found


def _case_source(
    index: int, case: Mapping[str, Any], base: Path, files: ProjectFiles
) -> CaseSource:
    from_files: list[str] = []

    def text(value: Any, key: str) -> str | None:
        if isinstance(value, dict) and "file" in value:
            from_files.append(key)
            return files.read_text(base / str(value["file"]), "template file")
        return None if value is None else str(value)

    messages_value = case.get("messages")
    messages: tuple[tuple[str, str], ...] | None = None
    if isinstance(messages_value, dict) and "file" in messages_value:
        from_files.append("messages")
        loaded = files.load_document(base / str(messages_value["file"]), "messages file")
        messages = _messages(loaded)
    elif isinstance(messages_value, list):
        messages = _messages(messages_value)
    template = PromptTemplate(
        prompt=text(case.get("prompt"), "prompt"),
        system=text(case.get("system"), "system"),
        messages=messages,
    )
    expect = case.get("expect") or []
    return CaseSource(index, template, tuple(expect), tuple(from_files))


def _messages(items: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(items, list):
        raise ConfigError("a messages file must hold a list of {role, content}")
    return tuple((str(item["role"]), str(item["content"])) for item in items)


def case_source(path: Path, case_id: str, files: ProjectFiles) -> CaseSource:
    """One case of a suite file; a case missing from the file is a SuiteError."""
    found = read_case_sources(path, files).get(case_id)
    if found is None:
        raise SuiteError(f"case {case_id!r} is not in the file any more", path=path)
    return found
