"""CodePolicy: what a suite may name is the project's own code, not whatever that code imports."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptcheck.errors import PluginImportError
from promptcheck.importing import CodePolicy

MODULE = """
import json
import os.path
from json import loads
from functools import partial


def conforms(output):
    return True


class Validator:
    @staticmethod
    def check(output):
        return True


strict = partial(conforms)
"""


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A project whose ``pc_policy_checks`` module imports the standard library."""
    (tmp_path / "pc_policy_checks.py").write_text(MODULE)
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    sys.modules.pop("pc_policy_checks", None)


def test_the_projects_own_function_and_a_method_of_its_class_are_allowed(project: Path) -> None:
    policy = CodePolicy(root=project)
    assert policy.import_object("pc_policy_checks:conforms")("x") is True
    assert policy.import_object("pc_policy_checks:Validator.check")("x") is True


@pytest.mark.parametrize(
    ("spec", "reached"),
    [
        ("pc_policy_checks:json.codecs.builtins.eval", "'json'"),  # through imported modules
        ("pc_policy_checks:os.path.os.system", "'os'"),
        ("pc_policy_checks:loads", "'json'"),  # imported by name: defined elsewhere
        ("pc_policy_checks:strict", "'functools'"),  # an instance of a foreign class
    ],
)
def test_code_reached_through_a_project_module_is_refused(
    project: Path, spec: str, reached: str
) -> None:
    with pytest.raises(PluginImportError, match=f"code from module {reached}"):
        CodePolicy(root=project).import_object(spec)


@pytest.mark.parametrize(
    "spec", ["pc_policy_checks:__builtins__", "pc_policy_checks:conforms.__globals__", "m:_x"]
)
def test_private_and_special_names_are_refused_before_anything_is_imported(
    project: Path, spec: str
) -> None:
    (project / "m.py").write_text("raise SystemExit('imported')\n")
    for execute in (True, False):
        with pytest.raises(PluginImportError, match="is not a public name"):
            CodePolicy(root=project, execute=execute).import_object(spec)


def test_configuration_can_trust_the_module_the_code_comes_from(project: Path) -> None:
    policy = CodePolicy(root=project, trusted=("json",))
    assert policy.import_object("pc_policy_checks:loads")("[1]") == [1]


def test_validate_imports_nothing_and_cannot_see_the_attribute_path(project: Path) -> None:
    policy = CodePolicy(root=project, execute=False)
    assert policy.import_object("pc_policy_checks:json.codecs.builtins.eval") is None
    assert "pc_policy_checks" not in sys.modules
