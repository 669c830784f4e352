"""The corpus of malformed suites: each gives one SuiteError naming the file, the line and the key.

Every ``tests/data/bad_suites/*.yaml`` starts with a header comment saying what the loader must
report::

    # expect: line=7 key="cases[0].expect[1]" message="did you mean 'regex'"

``key=-`` means the error is about the file as a whole (empty, not a mapping, two documents).
``message`` is a substring of the rendered error, hint included. Support files (data files,
schemas) live in ``bad_suites/data/``; module names that must not exist start with ``pc_no_such``.
"""

from __future__ import annotations

import importlib.util
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

# pytester's in-process run restores sys.modules afterwards: import what a run imports first.
import promptcheck.collection  # noqa: F401  # isort: skip
from promptcheck.backends.base import BACKENDS
from promptcheck.errors import SuiteError
from promptcheck.project import ProjectConfig
from promptcheck.suite import is_suite_file
from promptcheck.suite.loader import load_suite

CORPUS = Path(__file__).parents[2] / "data" / "bad_suites"
FILES = sorted(CORPUS.glob("*.yaml"))


@dataclass(frozen=True)
class Expectation:
    """What one corpus file's header says its error must be."""

    line: int
    key: str | None
    message: str

    @classmethod
    def of(cls, path: Path) -> Expectation:
        header = path.read_bytes().split(b"\n", 1)[0].decode("ascii")
        prefix = "# expect:"
        assert header.startswith(prefix), f"{path.name}: the first line must be '{prefix} ...'"
        fields = dict(part.split("=", 1) for part in shlex.split(header[len(prefix) :]))
        assert set(fields) == {"line", "key", "message"}, f"{path.name}: bad header {header!r}"
        key = None if fields["key"] == "-" else fields["key"]
        return cls(int(fields["line"]), key, fields["message"])


@pytest.fixture(autouse=True)
def _backends_without_local(monkeypatch: pytest.MonkeyPatch) -> None:
    """While the local backend is being written, its missing module must not break lookups."""
    if importlib.util.find_spec("promptcheck.backends.local") is None:
        monkeypatch.setattr(BACKENDS, "_builtin_modules", ("promptcheck.backends.scripted",))


@pytest.fixture
def project() -> ProjectConfig:
    # the corpus names standard-library code to provoke errors about it: this project trusts it
    return ProjectConfig(base_dir=CORPUS, trusted_modules=("json", "textwrap", "string"))


def load_error(path: Path, project: ProjectConfig) -> SuiteError:
    with pytest.raises(SuiteError) as raised:
        load_suite(path, project)
    return raised.value


def test_the_corpus_is_large_enough() -> None:
    assert len(FILES) >= 45


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_a_bad_suite_gives_one_error_with_file_line_and_key(
    path: Path, project: ProjectConfig
) -> None:
    expected = Expectation.of(path)
    error = load_error(path, project)
    rendered = error.render()
    assert (error.path, error.line, error.key) == (path, expected.line, expected.key), rendered
    where = f"{path}:{expected.line}: " + (f"{expected.key}: " if expected.key else "")
    assert rendered.startswith(where), rendered
    assert expected.message in rendered
    # one clean message: no chained exception for pytest to print as a traceback
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    assert "Traceback" not in rendered


@pytest.mark.parametrize("path", FILES[:5], ids=[path.stem for path in FILES[:5]])
def test_the_same_error_on_every_load(path: Path, project: ProjectConfig) -> None:
    assert load_error(path, project).render() == load_error(path, project).render()


@pytest.fixture
def collected_corpus(pytester: pytest.Pytester) -> list[Path]:
    """The corpus copied into pytester's directory; the files pytest collects as suites."""
    target = pytester.path / "suites"
    shutil.copytree(CORPUS, target)
    pytester.makepyprojecttoml(
        '[tool.promptcheck]\ntrusted_modules = ["json", "textwrap", "string"]\n'
    )
    pytester.makeconftest(
        "import importlib.util\n"
        "from promptcheck.backends.base import BACKENDS\n"
        "if importlib.util.find_spec('promptcheck.backends.local') is None:\n"
        "    BACKENDS._builtin_modules = ('promptcheck.backends.scripted',)\n"
    )
    return [path for path in sorted(target.glob("*.yaml")) if is_suite_file(path)]


def test_every_bad_suite_is_one_collection_error_without_traceback(
    pytester: pytest.Pytester, collected_corpus: list[Path]
) -> None:
    result = pytester.runpytest("--promptcheck", "suites", "-p", "no:cacheprovider")
    output = result.stdout.str()
    result.assert_outcomes(errors=len(collected_corpus))
    for path in collected_corpus:
        expected = Expectation.of(path)
        where = f"suites/{path.name}:{expected.line}: "
        assert where + (f"{expected.key}: " if expected.key else "") in output, path.name
    assert "Traceback" not in output
    assert "promptcheck/" not in output
