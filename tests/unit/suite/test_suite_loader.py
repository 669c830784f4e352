"""Compiling a suite: defaults and overrides, rendered prompts, built checks, resolved models."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from promptcheck.backends.base import BACKENDS, Message, SamplingParams
from promptcheck.backends.scripted import ScriptedParams
from promptcheck.checks.base import CheckContext, Status
from promptcheck.errors import ConfigError, SuiteError
from promptcheck.project import ModelEntry, ProjectConfig
from promptcheck.suite.loader import SuiteSpec, load_suite, resolve_model

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _backends_without_local(monkeypatch: pytest.MonkeyPatch) -> None:
    """While the local backend is being written, its missing module must not break lookups."""
    if importlib.util.find_spec("promptcheck.backends.local") is None:
        monkeypatch.setattr(BACKENDS, "_builtin_modules", ("promptcheck.backends.scripted",))


Write = Callable[..., Path]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """``write(text, name="suite.yaml")``: a file in the suite directory (dedented)."""

    def write(text: str, name: str = "suite.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


def load(path: Path) -> SuiteSpec:
    return load_suite(path, ProjectConfig(base_dir=path.parent))


def refused(path: Path) -> SuiteError:
    with pytest.raises(SuiteError) as raised:
        load(path)
    assert raised.value.path == path
    return raised.value


SUITE = """\
suite: demo
description: A suite.
defaults:
  samples: 12
  temperature: 0.3
  top_p: 0.9
  max_tokens: 50
  stop: ["\\n\\n"]
  seed: 7
  threshold: 0.9
  tolerance: 0.02
  model: fake
models:
  fake:
    backend: scripted
    default: ["{}"]
cases:
  - id: inherits
    description: Takes every default.
    prompt: Say hi to {{ name }}.
    vars: {name: [Ann, Bob]}
    expect: [json]
  - id: overrides
    prompt: Say bye.
    samples: 3
    temperature: 0.0
    top_p: 0.5
    max_tokens: 5
    stop: []
    threshold: 0.5
    tolerance: 0.1
    tags: [critical, smoke]
    models: [fake]
    expect:
      - json
      - regex: {pattern: "^A", mode: match}
"""


class TestDefaultsAndOverrides:
    def test_a_case_inherits_the_defaults(self, write: Write) -> None:
        suite = load(write(SUITE))
        case = suite.cases[0]
        assert (case.id, case.suite, case.description) == (
            "inherits",
            "demo",
            "Takes every default.",
        )
        assert case.sampling == SamplingParams(
            temperature=0.3, top_p=0.9, max_tokens=50, stop=("\n\n",)
        )
        assert (case.samples, case.seed, case.threshold, case.tolerance) == (12, 7, 0.9, 0.02)
        assert case.tags == ()
        assert case.models is None

    def test_a_case_overrides_the_defaults(self, write: Write) -> None:
        case = load(write(SUITE)).cases[1]
        assert case.sampling == SamplingParams(temperature=0.0, top_p=0.5, max_tokens=5, stop=())
        assert (case.samples, case.threshold, case.tolerance) == (3, 0.5, 0.1)
        assert case.seed == 7
        assert case.tags == ("critical", "smoke")
        assert case.models == ("fake",)

    def test_without_defaults_the_built_in_ones_apply(self, write: Write) -> None:
        suite = load(write("suite: s\ncases:\n  - {id: a, prompt: p, expect: [json]}\n"))
        case = suite.cases[0]
        assert case.sampling == SamplingParams(temperature=0.8, top_p=1.0, max_tokens=200, stop=())
        assert (case.samples, case.seed, case.threshold, case.tolerance) == (20, 0, 0.95, 0.05)
        assert suite.default_model is None
        assert suite.models == {}

    def test_the_suite_itself(self, write: Write) -> None:
        path = write(SUITE)
        suite = load(path)
        assert (suite.id, suite.description, suite.path) == ("demo", "A suite.", path)
        assert suite.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert suite.default_model == "fake"
        assert [case.line for case in suite.cases] == [18, 23]
        assert all(case.path == path for case in suite.cases)


class TestPrompts:
    def test_one_combination_per_value_rendered(self, write: Write) -> None:
        case = load(write(SUITE)).cases[0]
        assert [c.prompt for c in case.combinations] == ["Say hi to Ann.", "Say hi to Bob."]
        assert [c.index for c in case.combinations] == [0, 1]
        assert [dict(c.variables) for c in case.combinations] == [{"name": "Ann"}, {"name": "Bob"}]
        assert all(c.messages is None for c in case.combinations)

    def test_a_case_without_variables_has_one_combination(self, write: Write) -> None:
        case = load(write(SUITE)).cases[1]
        assert [(c.prompt, dict(c.variables)) for c in case.combinations] == [("Say bye.", {})]

    def test_system_and_prompt_become_two_messages(self, write: Write) -> None:
        path = write(
            """\
            suite: s
            cases:
              - id: a
                system: You answer in {{ lang }}.
                prompt: Greet {{ name }}.
                vars: {lang: [German], name: [Ann]}
                expect: [json]
            """
        )
        (combination,) = load(path).cases[0].combinations
        assert combination.prompt is None
        assert combination.messages == (
            Message("system", "You answer in German."),
            Message("user", "Greet Ann."),
        )
        assert combination.display_prompt == "[system] You answer in German.\n[user] Greet Ann."

    def test_chat_messages_are_each_rendered(self, write: Write) -> None:
        path = write(
            """\
            suite: s
            cases:
              - id: a
                rows:
                  - {q: "2+2?", a: "4"}
                  - {q: "3+3?", a: "6"}
                messages:
                  - {role: system, content: Answer with a number.}
                  - {role: user, content: "{{ q }}"}
                  - {role: assistant, content: "{{ a }}"}
                  - {role: user, content: And doubled?}
                expect: [json]
            """
        )
        combinations = load(path).cases[0].combinations
        assert [[m.content for m in c.messages or ()] for c in combinations] == [
            ["Answer with a number.", "2+2?", "4", "And doubled?"],
            ["Answer with a number.", "3+3?", "6", "And doubled?"],
        ]
        assert [m.role for m in combinations[0].messages or ()] == [
            "system",
            "user",
            "assistant",
            "user",
        ]

    def test_data_files_are_relative_to_the_suite(self, write: Write) -> None:
        write('{"text": "one"}\n{"text": "two"}\n', "data/t.jsonl")
        path = write(
            "suite: s\ncases:\n  - id: a\n    prompt: '{{ t }}'\n"
            "    vars: {t: {file: data/t.jsonl, field: text}}\n    expect: [json]\n"
        )
        assert [c.prompt for c in load(path).cases[0].combinations] == ["one", "two"]

    def test_a_variable_used_only_by_some_rows_is_an_error_where_missing(
        self, write: Write
    ) -> None:
        path = write(
            "suite: s\ncases:\n  - id: a\n    prompt: '{{ x }} {{ y }}'\n"
            "    rows: [{x: 1, y: 2}, {x: 3}]\n    expect: [json]\n"
        )
        error = refused(path)
        assert (error.line, error.key) == (4, "cases[0].prompt")
        assert "'y' is undefined" in error.message


STRATEGY_SUITE = """\
suite: s
defaults: {{seed: {seed}}}
cases:
  - id: first
    prompt: "{{{{ n }}}}"
    vars: {{n: {{strategy: integers, min_value: 0, max_value: 1000000, count: 5}}}}
    expect: [json]
  - id: second
    prompt: "{{{{ n }}}}"
    vars: {{n: {{strategy: integers, min_value: 0, max_value: 1000000, count: 5}}}}
    expect: [json]
"""


class TestStrategyDeterminism:
    @staticmethod
    def drawn(path: Path) -> list[list[str | None]]:
        return [[c.prompt for c in case.combinations] for case in load(path).cases]

    def test_the_same_suite_draws_the_same_prompts(self, write: Write) -> None:
        path = write(STRATEGY_SUITE.format(seed=0))
        assert self.drawn(path) == self.drawn(path)

    def test_each_case_draws_its_own_values(self, write: Write) -> None:
        first, second = self.drawn(write(STRATEGY_SUITE.format(seed=0)))
        assert first != second

    def test_the_suite_seed_changes_the_values(self, write: Write) -> None:
        assert self.drawn(write(STRATEGY_SUITE.format(seed=0), "a.yaml")) != self.drawn(
            write(STRATEGY_SUITE.format(seed=1), "b.yaml")
        )


class TestChecks:
    def test_checks_are_built_in_order_with_their_labels(self, write: Write) -> None:
        checks = load(write(SUITE)).cases[1].checks
        assert [(c.index, c.label) for c in checks] == [(0, "json"), (1, "regex")]
        context = CheckContext(prompt="p")
        assert checks[1].check.evaluate("A fine answer", context) == checks[0].check.evaluate(
            "{}", context
        )
        result = checks[1].check.evaluate("not A", context)
        assert not isinstance(result, type(None))
        assert getattr(result, "status", None) is Status.FAIL

    def test_a_plugin_module_is_imported_before_the_checks(
        self, write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        write(
            """\
            from pydantic import BaseModel

            from promptcheck.checks import CheckResult, register_check


            class Params(BaseModel):
                word: str


            class Shouts:
                name = "pc_test_shouts"

                def __init__(self, word):
                    self.word = word

                def evaluate(self, output, context):
                    if self.word.upper() in output:
                        return CheckResult.passed()
                    return CheckResult.failed("quiet")


            @register_check("pc_test_shouts", Params)
            def build(params, context):
                return Shouts(params.word)
            """,
            "pc_test_plugin.py",
        )
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.delitem(sys.modules, "pc_test_plugin", raising=False)
        path = write(
            "suite: s\nplugins: [pc_test_plugin]\ncases:\n  - id: a\n    prompt: p\n"
            "    expect: [{pc_test_shouts: {word: hey}}]\n"
        )
        (check,) = load(path).cases[0].checks
        assert check.label == "pc_test_shouts"

    def test_a_plugin_that_raises_on_import_is_a_suite_error(
        self, write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        write("raise RuntimeError('broken plugin')\n", "pc_test_broken.py")
        monkeypatch.syspath_prepend(str(tmp_path))
        path = write("suite: s\nplugins:\n  - pc_test_broken\ncases: []\n")
        error = refused(path)
        assert (error.line, error.key) == (3, "plugins[0]")
        assert "raised RuntimeError: broken plugin" in error.message

    def test_a_check_whose_build_crashes_is_a_suite_error(
        self, write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        write(
            """\
            from pydantic import BaseModel

            from promptcheck.checks import register_check


            class Params(BaseModel):
                n: int = 0


            @register_check("pc_test_crashes", Params)
            def build(params, context):
                return 1 / params.n
            """,
            "pc_test_crashing.py",
        )
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.delitem(sys.modules, "pc_test_crashing", raising=False)
        path = write(
            "suite: s\nplugins: [pc_test_crashing]\ncases:\n  - id: a\n    prompt: p\n"
            "    expect:\n      - pc_test_crashes\n"
        )
        error = refused(path)
        assert (error.line, error.key) == (7, "cases[0].expect[0]")
        assert "check 'pc_test_crashes' raised ZeroDivisionError" in error.message


class TestModels:
    def test_models_are_validated_against_their_backend(self, write: Write) -> None:
        model = load(write(SUITE)).models["fake"]
        assert (model.name, model.backend) == ("fake", "scripted")
        assert isinstance(model.params, ScriptedParams)
        assert dict(model.raw) == {"default": ["{}"]}

    def test_a_project_model_error_names_the_model(self) -> None:
        entry = ModelEntry.model_validate({"backend": "scripted", "rules": "nope"})
        with pytest.raises(ConfigError) as raised:
            resolve_model("baseline", entry, Path("."))
        assert raised.value.message.startswith("model 'baseline': rules:")

    def test_an_unknown_backend_of_a_project_model(self) -> None:
        entry = ModelEntry.model_validate({"backend": "scriptd"})
        with pytest.raises(SuiteError) as raised:
            resolve_model("baseline", entry, Path("."))
        assert raised.value.hint == "did you mean 'scripted'?"


class TestFileErrors:
    def test_a_directory_is_not_a_suite(self, tmp_path: Path) -> None:
        error = refused(tmp_path)
        assert error.message.startswith("cannot read suite")

    def test_a_missing_file(self, tmp_path: Path) -> None:
        assert "cannot read suite" in refused(tmp_path / "nope.yaml").message

    def test_invalid_utf8_names_line_and_key(self, tmp_path: Path) -> None:
        path = tmp_path / "latin1.yaml"
        path.write_bytes(b"suite: s\ncases:\n  - id: a\n    prompt: caf\xe9\n    expect: [json]\n")
        error = refused(path)
        assert (error.line, error.key) == (4, "cases[0].prompt")
        assert error.hint == "save it as UTF-8"


class TestExampleSuites:
    @pytest.mark.parametrize("name", ["triage.yaml", "options.yaml", "lists.yaml"])
    def test_the_examples_load(self, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
        path = ROOT / "suites" / name
        if not path.exists():
            pytest.skip(f"{name} is not in suites/")
        monkeypatch.chdir(ROOT)  # the examples name plugins.models and plugins.checks
        monkeypatch.syspath_prepend(str(ROOT))
        before = set(sys.modules)
        try:
            importlib.import_module("plugins.checks")  # the project's [tool.promptcheck] plugins
            suite = load_suite(path, ProjectConfig(base_dir=ROOT))
        finally:  # a `plugins` package left imported would shadow later test projects' own
            for name in set(sys.modules) - before:
                if name == "plugins" or name.startswith("plugins."):
                    del sys.modules[name]
        assert suite.cases
        assert all(case.combinations and case.checks for case in suite.cases)
