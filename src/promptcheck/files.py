"""Reading the files a suite names: data for variables, JSON Schemas, the suite itself.

A suite is data written by anyone, so what it makes promptcheck read is bounded:

* only regular files: a FIFO, a device, a socket or a directory gets a message saying which it is
  (never a read that blocks forever or never ends);
* only inside the project root, after every symbolic link is resolved, or inside a folder that
  ``[tool.promptcheck] allow_paths`` names: ``../`` and absolute paths cannot reach /etc/passwd;
  a link that leads back to itself (``a -> b -> a``) is named as a loop;
* at most :data:`~promptcheck.config.MAX_FILE_BYTES` bytes, and text that is valid Unicode all
  the way down (a JSON ``"\\ud800"`` escape is refused at collection, not met by the store later);
* YAML through the hardened loader (:mod:`promptcheck.yamlsource`: bounded aliases and nesting).

Errors are ConfigErrors; the suite loader places them at the key that named the file.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptcheck.config import MAX_FILE_BYTES
from promptcheck.errors import ConfigError, SuiteError

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str | None:
    """What a file that is not a regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def link_loop(path: Path, what: str) -> ConfigError:
    """The error for a file whose symbolic links lead back to themselves (``a -> b -> a``)."""
    return ConfigError(
        f"{what} {path} is a symbolic link loop (its links lead back to themselves), "
        "not a regular file",
        hint="point the link at a real file",
    )


def is_link_loop(path: Path) -> bool:
    """Whether ``path`` is a symbolic link whose links lead back to themselves."""
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    except ValueError:  # a NUL in the name
        return False
    return False


def resolve_links(path: Path, what: str) -> Path:
    """``path`` absolute, with every symbolic link resolved; a loop is a ConfigError.

    Python up to 3.12 raises RuntimeError on a loop, later ones OSError (ELOOP) or, not strict,
    return the looping part unresolved (the read that follows then meets ELOOP, see
    :func:`read_regular`).
    """
    try:
        return path.resolve()
    except RuntimeError:
        raise link_loop(path, what) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise link_loop(path, what) from None
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    except ValueError as exc:  # a NUL in the name
        raise ConfigError(f"cannot read {what} {path}: {exc}") from None


def read_regular(path: Path, max_bytes: int, what: str) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes`` bytes.

    The file is opened without blocking and checked again once open, so a FIFO swapped in after
    the first look cannot stall the read.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise ConfigError(f"{what} {path} does not exist (its name is too long)") from None
        if exc.errno == errno.ELOOP:
            raise link_loop(path, what) from None
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    except ValueError as exc:  # a NUL in the name
        raise ConfigError(f"cannot read {what} {path}: {exc}") from None
    kind = file_kind(mode)
    if kind is not None:
        raise ConfigError(f"{what} {path} is {kind}, not a regular file")
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # made a loop after the first look
            raise link_loop(path, what) from None
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    with os.fdopen(descriptor, "rb") as handle:
        opened = os.fstat(handle.fileno())
        kind = file_kind(opened.st_mode)
        if kind is not None:
            raise ConfigError(f"{what} {path} is {kind}, not a regular file")
        if opened.st_size > max_bytes:
            raise ConfigError(f"{what} {path} is larger than {max_bytes} bytes")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ConfigError(f"{what} {path} is larger than {max_bytes} bytes")
    return data


def invalid_text(value: Any) -> str | None:
    """The first string in ``value`` (recursively) that is not valid Unicode, escaped for a
    message; None when every string is. Lone surrogates come from JSON and YAML escapes."""
    found = find_invalid_text(value)
    return found.escaped if found is not None else None


@dataclass(frozen=True)
class InvalidText:
    """Where the first text that is not valid Unicode sits in a nested value: the keys and
    list indices down to it (``in_name``: the last key is itself the text), and the run of
    characters UTF-8 cannot encode."""

    location: tuple[str | int, ...]
    characters: str
    in_name: bool = False

    @property
    def escaped(self) -> str:
        """The characters written as ``\\udXXX`` escapes, for a message."""
        return self.characters.encode("utf-8", "backslashreplace").decode()


def find_invalid_text(value: Any) -> InvalidText | None:
    """The first string in ``value`` that UTF-8 cannot encode (a lone surrogate), depth first
    in the value's own order, a mapping's keys before its values (located by ``str`` of each
    key, by the index in a list); None when there is none."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        location, item = stack.pop()
        if isinstance(item, str):
            if (characters := _unencodable(item)) is not None:
                return InvalidText(location, characters)
        elif isinstance(item, dict):
            for key in item:
                if isinstance(key, str) and (characters := _unencodable(key)) is not None:
                    return InvalidText((*location, key), characters, in_name=True)
            stack.extend(reversed([((*location, str(key)), inner) for key, inner in item.items()]))
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed([((*location, i), inner) for i, inner in enumerate(item)]))
    return None


def _unencodable(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return text[exc.start : exc.end]
    return None


@dataclass
class ReadLog:
    """The files read through a :class:`ProjectFiles`, by resolved path, with the SHA-256 of
    what was read: a suite means what its prompt, messages, data and schema files say too, so
    its recorded digest folds theirs in (a comparison warns when any of them changed)."""

    digests: dict[Path, str] = field(default_factory=dict)

    def add(self, path: Path, data: bytes) -> None:
        self.digests[path] = hashlib.sha256(data).hexdigest()

    def add_file(self, path: Path) -> None:
        """A file read by a library (a saved dataset's), hashed here in pieces."""
        with open(path, "rb") as handle:
            self.digests[path] = hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass(frozen=True)
class ProjectFiles:
    """Which files a suite may make promptcheck read, and how much of each.

    ``root`` is the project root; ``allowed`` are further folders configuration opens
    (``[tool.promptcheck] allow_paths``). Paths are compared after resolving links. With a
    ``log``, every file read is noted there with its digest.
    """

    root: Path
    allowed: tuple[Path, ...] = ()
    max_bytes: int = MAX_FILE_BYTES
    log: ReadLog | None = field(default=None, compare=False)

    def confined(self, path: Path, what: str) -> Path:
        """``path`` with its links resolved, if it lies where a suite may read."""
        resolved = resolve_links(path, what)
        for folder in (self.root, *self.allowed):
            if resolved.is_relative_to(folder.resolve()):
                return resolved
        shown = f"{path} (which resolves to {resolved})" if resolved != path else str(path)
        raise ConfigError(
            f"{what} {shown} is outside the project root {self.root}",
            hint="keep suite files inside the project, or name the folder in "
            "[tool.promptcheck] allow_paths",
        )

    def read_bytes(self, path: Path, what: str) -> bytes:
        resolved = self.confined(path, what)
        data = read_regular(resolved, self.max_bytes, what)
        if self.log is not None:
            self.log.add(resolved, data)
        return data

    def read_text(self, path: Path, what: str) -> str:
        data = self.read_bytes(path, what)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise ConfigError(
                f"cannot read {what} {path}: line {line} is not valid UTF-8",
                hint="save it as UTF-8",
            ) from None

    def load_document(self, path: Path, what: str) -> Any:
        """A JSON (``.json``) or YAML (``.yaml``, ``.yml``) document, with valid text only."""
        from promptcheck.yamlsource import load_yaml

        text = self.read_text(path, what)
        if path.suffix.lower() in (".yaml", ".yml"):
            try:
                data, _ = load_yaml(text, path)
            except SuiteError as exc:
                where = f"{path}:{exc.line}" if exc.line is not None else str(path)
                raise ConfigError(
                    f"{what} {where}: {exc.message}; the file is not valid YAML", hint=exc.hint
                ) from None
        else:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"{what} {path} is not valid JSON at line {exc.lineno} col {exc.colno}: "
                    f"{exc.msg}"
                ) from None
            except RecursionError:
                raise ConfigError(f"{what} {path}: invalid JSON: nested too deeply") from None
        refuse_invalid_text(data, f"{what} {path}")
        return data


def refuse_invalid_text(value: Any, where: str) -> None:
    """A ConfigError when ``value`` holds text that is not valid Unicode (lone surrogates)."""
    bad = invalid_text(value)
    if bad is not None:
        raise ConfigError(
            f"{where} holds text that is not valid Unicode ({bad}, a lone surrogate)",
            hint="surrogates come from escapes such as \\ud800 that pair with nothing",
        )
