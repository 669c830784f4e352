"""Reading a case's templates from its suite file, and rendering them as the loader does."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptcheck.adapt.templates import PromptTemplate, case_source, read_case_sources
from promptcheck.errors import ConfigError, SuiteError
from promptcheck.files import ProjectFiles
from promptcheck.project import ProjectConfig
from promptcheck.suite import load_suite

SUITE = """\
suite: shapes
cases:
  - id: inline
    prompt: "Say {{ word }}.\\n\\nWord: {{ word }}"
    system: Be brief.
    vars: {word: [yes, no]}
    expect: [{equals: "yes"}]
  - id: chat
    messages:
      - {role: system, content: "You classify."}
      - {role: user, content: "Ticket: {{ t }}"}
    vars: {t: [a, b, c]}
    expect: [json]
  - id: from-file
    prompt: {file: prompts/p.j2}
    vars: {x: [1]}
    expect: [{contains: "1"}]
"""


@pytest.fixture
def suite_path(tmp_path: Path) -> Path:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "p.j2").write_text("Count to {{ x }}.")
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE)
    return path


def test_every_shape_is_read_as_written(suite_path: Path) -> None:
    files = ProjectFiles(root=suite_path.parent)
    sources = read_case_sources(suite_path, files)
    assert sources["inline"].template == PromptTemplate(
        prompt="Say {{ word }}.\n\nWord: {{ word }}", system="Be brief."
    )
    assert sources["chat"].template.messages == (
        ("system", "You classify."),
        ("user", "Ticket: {{ t }}"),
    )
    assert sources["from-file"].template.prompt == "Count to {{ x }}."
    assert sources["from-file"].from_files == ("prompt",)
    assert sources["chat"].index == 1
    assert sources["inline"].expect == ({"equals": "yes"},)
    with pytest.raises(SuiteError, match="not in the file"):
        case_source(suite_path, "gone", files)


def test_rendering_gives_the_loaders_combinations(suite_path: Path) -> None:
    suite = load_suite(suite_path, ProjectConfig(base_dir=suite_path.parent))
    sources = read_case_sources(suite_path, ProjectFiles(root=suite_path.parent))
    for case in suite.cases:
        template = sources[case.id].template
        for combination in case.combinations:
            assert template.render(combination.index, combination.variables) == combination


def test_main_text_variables_and_display() -> None:
    chat = PromptTemplate(messages=(("user", "a {{ x }}"), ("assistant", "b"), ("user", "c")))
    assert chat.main == "c"
    assert chat.with_main("d {{ y }}").messages == (
        ("user", "a {{ x }}"),
        ("assistant", "b"),
        ("user", "d {{ y }}"),
    )
    assert chat.variables() == {"x"}
    assert chat.display() == "[user] a {{ x }}\n[assistant] b\n[user] c"
    system = PromptTemplate(prompt="p", system="s")
    assert system.texts() == ("s", "p") and system.display() == "[system] s\n[user] p"
    with pytest.raises(ConfigError):
        PromptTemplate(prompt="{{ broken").variables()
