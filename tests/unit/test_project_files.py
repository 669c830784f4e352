"""Which files a suite may make promptcheck read (``promptcheck.files``): symbolic link loops.

A loop (``a -> b -> a``, a link to itself, a folder on the way that is one) made
``Path.resolve`` raise RuntimeError (Python up to 3.12; OSError ELOOP, or nothing, later) and
escape as a traceback. Each is a ConfigError naming the file, however it is reached.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from promptcheck.errors import ConfigError
from promptcheck.files import ProjectFiles, is_link_loop, read_regular, resolve_links
from promptcheck.suite import suites_under

pytestmark = pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")


def two_links(folder: Path) -> Path:
    (folder / "a.json").symlink_to("b.json")
    (folder / "b.json").symlink_to("a.json")
    return folder / "a.json"


def itself(folder: Path) -> Path:
    (folder / "self.json").symlink_to("self.json")
    return folder / "self.json"


def through_a_folder(folder: Path) -> Path:
    (folder / "dir").symlink_to("dir")
    return folder / "dir" / "schema.json"


def by_absolute_links(folder: Path) -> Path:
    (folder / "x.json").symlink_to(folder / "y.json")
    (folder / "y.json").symlink_to(folder / "x.json")
    return folder / "x.json"


LOOPS: list[Callable[[Path], Path]] = [two_links, itself, through_a_folder, by_absolute_links]


@pytest.mark.parametrize("make", LOOPS)
def test_a_loop_is_a_config_error_naming_the_file(
    tmp_path: Path, make: Callable[..., Path]
) -> None:
    path = make(tmp_path)
    files = ProjectFiles(tmp_path)
    for read in (files.read_bytes, files.read_text, files.load_document):
        with pytest.raises(ConfigError) as raised:
            read(path, "schema file")
        assert raised.value.message.startswith(f"schema file {path} is a symbolic link loop")
        assert raised.value.hint == "point the link at a real file"


@pytest.mark.parametrize("make", LOOPS)
def test_resolving_and_reading_a_loop_say_so(tmp_path: Path, make: Callable[..., Path]) -> None:
    path = make(tmp_path)
    with pytest.raises(ConfigError, match="is a symbolic link loop"):
        read_regular(path, 100, "data file")  # the check of a reader that did not resolve first
    with pytest.raises(ConfigError, match="is a symbolic link loop"):
        ProjectFiles(tmp_path).confined(path, "dataset folder")
    assert is_link_loop(path)


def test_a_loop_outside_the_project_is_still_named_a_loop_or_refused(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "data.csv").symlink_to(two_links(tmp_path))
    with pytest.raises(ConfigError, match=r"symbolic link loop|outside the project root"):
        ProjectFiles(root).read_bytes(root / "data.csv", "data file")


def test_links_that_end_somewhere_are_resolved(tmp_path: Path) -> None:
    (tmp_path / "real.json").write_text("{}")
    (tmp_path / "one.json").symlink_to("real.json")
    (tmp_path / "two.json").symlink_to("one.json")
    assert resolve_links(tmp_path / "two.json", "x") == (tmp_path / "real.json").resolve()
    assert not is_link_loop(tmp_path / "two.json")
    assert not is_link_loop(tmp_path / "missing.json")
    assert ProjectFiles(tmp_path).load_document(tmp_path / "two.json", "schema file") == {}


def test_walking_a_folder_lists_loops_among_suites_and_does_not_loop(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text("suite: ok\ncases: []\n")
    (tmp_path / "data.yaml").write_text("just: data\n")
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to("..")  # a folder link back up: not entered
    (tmp_path / "sub" / "again").symlink_to("again")
    assert suites_under(tmp_path) == [tmp_path / "loop.yaml", tmp_path / "ok.yaml"]
