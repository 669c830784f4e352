"""``promptcheck init``: a scaffold that passes at once, written without clobbering anything."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from promptcheck.cli import main
from promptcheck.config import ExitCode

SCAFFOLD = (
    "suites/example.yaml",
    "suites/suite.schema.json",
    "plugins/__init__.py",
    "plugins/checks.py",
    ".github/workflows/promptcheck.yml",
    "pyproject.toml",
    ".gitignore",
)


def test_init_writes_a_project_whose_suite_passes_on_the_demo_model(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(pytester.path)]) == ExitCode.OK
    out = capsys.readouterr().out
    for name in SCAFFOLD:
        assert (pytester.path / name).is_file(), name
    assert "next: cd" in out
    settings = tomllib.loads((pytester.path / "pyproject.toml").read_text())
    assert settings["tool"]["promptcheck"] == {
        "model": "tiny-dolly",
        "plugins": ["plugins.checks"],
    }
    suite = (pytester.path / "suites/example.yaml").read_text()
    assert suite.startswith("# yaml-language-server: $schema=suite.schema.json")
    result = pytester.runpytest("--promptcheck", "suites/", "--promptcheck-model", "demo")
    result.assert_outcomes(passed=2)
    assert ".promptcheck/" in (pytester.path / ".gitignore").read_text()


def test_init_appends_to_an_existing_pyproject_and_keeps_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = '[project]\nname = "mine"\n\n[tool.ruff]\nline-length = 90\n'
    (tmp_path / "pyproject.toml").write_text(original)
    (tmp_path / ".gitignore").write_text("build/")
    assert main(["init", str(tmp_path)]) == ExitCode.OK
    text = (tmp_path / "pyproject.toml").read_text()
    assert text.startswith(original)
    parsed = tomllib.loads(text)
    assert parsed["project"]["name"] == "mine"
    assert parsed["tool"]["ruff"]["line-length"] == 90
    assert parsed["tool"]["promptcheck"]["model"] == "tiny-dolly"
    assert (tmp_path / ".gitignore").read_text() == "build/\n.promptcheck/\n"


def test_init_keeps_an_existing_promptcheck_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = '[tool.promptcheck]\nmodel = "gpt"\n'
    (tmp_path / "pyproject.toml").write_text(original)
    assert main(["init", str(tmp_path)]) == ExitCode.OK
    assert (tmp_path / "pyproject.toml").read_text() == original
    out = capsys.readouterr().out
    assert "kept the [tool.promptcheck] table" in out
    # the kept table does not name the example's check module: init says what to add
    assert 'warning: the example suite needs plugins = ["plugins.checks"]' in out


def test_a_kept_table_that_names_the_plugins_passes_at_once(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    original = '[tool.promptcheck]\nmodel = "demo"\nplugins = ["plugins.checks"]\n'
    (pytester.path / "pyproject.toml").write_text(original)
    assert main(["init", str(pytester.path)]) == ExitCode.OK
    assert "warning" not in capsys.readouterr().out
    pytester.runpytest("--promptcheck", "suites/").assert_outcomes(passed=2)


def test_init_refuses_to_overwrite_the_schema_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = tmp_path / "suites" / "suite.schema.json"
    schema.parent.mkdir()
    schema.write_text('{"mine": 1}')
    assert main(["init", str(tmp_path)]) == ExitCode.USAGE
    assert "suites/suite.schema.json already exist" in capsys.readouterr().err
    assert schema.read_text() == '{"mine": 1}'


def test_a_directory_that_cannot_be_made_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("")
    assert main(["init", str(tmp_path / "afile" / "sub")]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "cannot write the project into" in err and "Traceback" not in err


def test_an_unreadable_gitignore_stops_init_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".gitignore").write_bytes(b"build/\n\xff\xfe\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "mine"\n')
    assert main(["init", str(tmp_path)]) == ExitCode.USAGE
    assert ".gitignore: cannot read" in capsys.readouterr().err
    assert not (tmp_path / "suites").exists()
    assert (tmp_path / "pyproject.toml").read_text() == '[project]\nname = "mine"\n'


def test_a_new_pyproject_starts_with_the_settings_comment(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path)]) == ExitCode.OK
    assert (tmp_path / "pyproject.toml").read_text().startswith("# promptcheck:")


def test_the_workflow_installs_no_package_of_that_name_from_the_registry() -> None:
    """The name promptcheck on PyPI belongs to another project: the scaffold's workflow must
    install this one from where the user says, never by the bare name."""
    from importlib import resources

    workflow = (resources.files("promptcheck.cli") / "scaffold" / "workflow.yml.tmpl").read_text()
    installs = [line for line in workflow.splitlines() if "pip install" in line]
    assert installs
    assert not any('"promptcheck[' in line or " promptcheck" in line for line in installs)
    assert "PROMPTCHECK_INSTALL" in workflow


def test_init_refuses_to_overwrite_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "suites" / "example.yaml"
    suite.parent.mkdir()
    suite.write_text("suite: mine\n")
    assert main(["init", str(tmp_path)]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "suites/example.yaml already exist" in err and "--force" in err
    assert suite.read_text() == "suite: mine\n"
    assert not (tmp_path / "plugins").exists()  # nothing written when refusing
    assert main(["init", str(tmp_path), "--force"]) == ExitCode.OK
    assert suite.read_text().startswith("# yaml-language-server")


def test_init_refuses_a_pyproject_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.promptcheck\n")
    assert main(["init", str(tmp_path)]) == ExitCode.USAGE
    assert "pyproject.toml: cannot read" in capsys.readouterr().err
    assert not (tmp_path / "suites").exists()


def test_a_project_without_a_model_runs_on_the_builtin_tiny_dolly(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(
        ".yaml",
        suite="suite: bare\ncases:\n  - id: one\n    prompt: hello\n    expect: [{max_words: 5}]\n",
    )
    result = pytester.runpytest("--promptcheck", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "*no model configured: running on the built-in 'tiny-dolly'*",
            "suite.yaml::one[[]tiny-dolly[]]",
        ]
    )
