"""Records from columnar sources: a Parquet file, or a Hugging Face ``datasets`` dataset saved on
disk (``Dataset.save_to_disk``).

Teams keep evaluation data in these forms; a suite's variable names one with ``file: x.parquet``
or ``dataset: folder`` and gets its rows as records, like a JSONL file's. Both libraries are
optional (the ``data`` extra), imported only when a suite names such a source, and nothing is
ever downloaded.

A suite is data written by anyone, so both are read as :mod:`promptcheck.files` reads any file,
and more, since their sizes on disk say little about what they hold:

* a Parquet file's rows are counted from its metadata before any is decoded
  (:data:`~promptcheck.config.MAX_DATA_ROWS`), only the named ``field`` is read, and the decoded
  batches count against the byte bound (a dictionary-encoded kilobyte can decode to gigabytes);
* a saved dataset's folder names its data files in JSON (``state.json``, ``dataset_dict.json``),
  and ``datasets`` opens whatever those name, absolute paths and ``..`` included: they are read
  here first, and every file they name must be a regular file inside the folder;
* whatever goes wrong while loading, a damaged folder included, is a ConfigError at the key.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from promptcheck.config import MAX_DATA_ROWS
from promptcheck.errors import ConfigError
from promptcheck.files import ProjectFiles, read_regular, refuse_invalid_text

_INSTALL = "pip install 'promptcheck[data]'"
#: Rows decoded at a time, so that the byte bound stops a bomb after one batch.
_BATCH_ROWS = 256
#: The files ``datasets`` names in a saved folder (its ``config`` module's names).
_STATE = "state.json"
_INFO = "dataset_info.json"
_DICT = "dataset_dict.json"


def parquet_records(
    path: Path, files: ProjectFiles, *, field: str | None = None, first: int | None = None
) -> list[Any]:
    """The rows of a Parquet file as dicts (only ``field`` in each when one is named), the first
    ``first`` of them when given; the file read as the project allows and decoded within bounds."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(
            f"{path}: reading Parquet needs pyarrow", key=("file",), hint=_INSTALL
        ) from None
    data = files.read_bytes(path, "data file")
    rows: list[Any] = []
    decoded = 0
    try:
        table = pq.ParquetFile(pa.BufferReader(data))
        _check_row_count(table.metadata.num_rows, path, ("file",))
        names = table.schema_arrow.names
        if field is not None and field not in names:
            raise ConfigError(
                f"{path} has no field {field!r} (it has {', '.join(names)})",
                key=("field",),
                hint="every record must have the field named by 'field'",
            )
        columns = None if field is None else [field]
        for batch in table.iter_batches(batch_size=_BATCH_ROWS, columns=columns):
            decoded += sum(_decoded_bytes(column) for column in batch.columns)
            if decoded > files.max_bytes:
                raise ConfigError(
                    f"{path} decodes to more than {files.max_bytes} bytes", key=("file",)
                )
            rows.extend(batch.to_pylist())
            if first is not None and len(rows) >= first:
                del rows[first:]
                break
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable Parquet file: {exc}", key=("file",)) from None
    _check_text(rows, path)
    return rows


def _decoded_bytes(column: Any) -> int:
    """What ``column`` holds once decoded: a dictionary-encoded column stores each distinct value
    once, and every row that points at it becomes a copy of its own."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_dictionary(column.type):
        return int(column.nbytes)
    values, indices = column.dictionary, column.indices
    if (
        pa.types.is_string(values.type)
        or pa.types.is_binary(values.type)
        or (pa.types.is_large_string(values.type) or pa.types.is_large_binary(values.type))
    ):
        lengths = pc.take(pc.binary_length(values), indices)
        return int(pc.sum(lengths).as_py() or 0) + int(indices.nbytes)
    return int(len(column) * -(-values.nbytes // max(len(values), 1)))


def dataset_records(folder: Path, split: str | None, files: ProjectFiles) -> list[Any]:
    """The rows of a dataset saved with ``save_to_disk`` (a ``DatasetDict`` needs ``split``)."""
    try:
        resolved = files.confined(folder, "dataset folder")
    except ConfigError as exc:
        raise ConfigError(exc.message, key=("dataset",), hint=exc.hint) from None
    if not resolved.is_dir():
        raise ConfigError(
            f"dataset folder {folder} is not a folder saved by datasets' save_to_disk",
            key=("dataset",),
        )
    read: list[Path] = []
    size = _checked_size(resolved, folder, files.max_bytes, read)
    if size > files.max_bytes:
        raise ConfigError(
            f"dataset folder {folder} holds more than {files.max_bytes} bytes", key=("dataset",)
        )
    if files.log is not None:
        for path in read:
            files.log.add_file(path)
    try:
        import datasets
    except ImportError:
        raise ConfigError(
            f"{folder}: reading a saved dataset needs the datasets package",
            key=("dataset",),
            hint=_INSTALL,
        ) from None
    try:
        with _offline():
            loaded: Any = datasets.load_from_disk(str(resolved))
    except Exception as exc:  # datasets raises anything (KeyError, TypeError) on a damaged folder
        raise _damaged(folder, exc) from None
    if isinstance(loaded, datasets.DatasetDict):
        if split is None:
            raise ConfigError(
                f"dataset {folder} has splits {sorted(loaded)}: name one with 'split'",
                key=("split",),
            )
        if split not in loaded:
            raise ConfigError(
                f"dataset {folder} has no split {split!r} (it has {sorted(loaded)})",
                key=("split",),
            )
        loaded = loaded[split]
    elif split is not None:
        raise ConfigError(f"dataset {folder} has no splits; leave 'split' out", key=("split",))
    try:
        _check_row_count(loaded.num_rows, folder, ("dataset",))
        rows: list[Any] = loaded.to_list()
    except ConfigError:
        raise
    except Exception as exc:
        raise _damaged(folder, exc) from None
    _check_text(rows, folder)
    return rows


def _checked_size(resolved: Path, shown: Path, max_bytes: int, read: list[Path]) -> int:
    """The bytes ``datasets`` will read from the saved folder ``resolved``: its JSON files and
    every data file they name, each required to be a regular file inside the folder (and
    listed in ``read``)."""
    is_dataset = (resolved / _STATE).is_file() and (resolved / _INFO).is_file()
    if not is_dataset and (resolved / _DICT).is_file():  # the order datasets tells them apart
        splits = _json(resolved / _DICT, resolved, shown, max_bytes)
        names = splits.get("splits") if isinstance(splits, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(
                f"dataset folder {shown}: {_DICT} does not list its splits", key=("dataset",)
            )
        size = (resolved / _DICT).stat().st_size
        read.append(resolved / _DICT)
        for name in names:
            split = _inside(resolved, name, shown, directory=True)
            size += _checked_size(split, shown, max_bytes, read)
        return size
    if not is_dataset:
        raise ConfigError(
            f"dataset folder {shown} is not a folder saved by datasets' save_to_disk "
            f"(it has neither {_STATE} and {_INFO} nor {_DICT})",
            key=("dataset",),
        )
    state = _json(resolved / _STATE, resolved, shown, max_bytes)
    _json(resolved / _INFO, resolved, shown, max_bytes)
    entries = state.get("_data_files") if isinstance(state, dict) else None
    if not isinstance(entries, list) or not all(
        isinstance(entry, dict) and isinstance(entry.get("filename"), str) for entry in entries
    ):
        raise ConfigError(
            f"dataset folder {shown}: {_STATE} does not list its data files", key=("dataset",)
        )
    size = (resolved / _STATE).stat().st_size + (resolved / _INFO).stat().st_size
    read.extend((resolved / _STATE, resolved / _INFO))
    for entry in entries:
        data_file = _inside(resolved, entry["filename"], shown)
        size += data_file.stat().st_size
        read.append(data_file)
    return size


def _inside(folder: Path, name: str, shown: Path, *, directory: bool = False) -> Path:
    """``folder``/``name`` (as ``datasets`` joins them) if it is a regular file, or a folder,
    inside ``folder`` once its links are resolved."""
    target = Path(posixpath.join(str(folder), name)).resolve()
    if not target.is_relative_to(folder) or target == folder:
        raise ConfigError(
            f"dataset folder {shown} names {name!r}, which is not inside it",
            key=("dataset",),
            hint="a saved dataset's files must lie in its folder; save it again with save_to_disk",
        )
    if directory and not target.is_dir():
        raise ConfigError(f"dataset folder {shown} has no split folder {name!r}", key=("dataset",))
    if not directory and not target.is_file():  # resolved: a link to a FIFO is no file
        raise ConfigError(
            f"dataset folder {shown}: {name!r} is missing or not a regular file", key=("dataset",)
        )
    return target


def _json(path: Path, folder: Path, shown: Path, max_bytes: int) -> Any:
    """A JSON file of the saved folder, itself required to lie inside it."""
    inside = _inside(folder, path.name, shown)
    try:
        return json.loads(read_regular(inside, max_bytes, "dataset file"))
    except ConfigError as exc:
        raise ConfigError(f"dataset folder {shown}: {exc.message}", key=("dataset",)) from None
    except (ValueError, RecursionError) as exc:
        raise ConfigError(
            f"dataset folder {shown}: {path.name} is not valid JSON ({exc})", key=("dataset",)
        ) from None


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    """``datasets`` told to stay offline while it loads, without changing the process for
    anything else (a saved folder needs no network anyway: this is belt and braces)."""
    saved = {name: os.environ.get(name) for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")}
    os.environ.update(dict.fromkeys(saved, "1"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _damaged(folder: Path, exc: Exception) -> ConfigError:
    detail = str(exc).splitlines()[0] if str(exc) else ""
    return ConfigError(
        f"dataset folder {folder} cannot be loaded: {type(exc).__name__}"
        + (f": {detail}" if detail else ""),
        key=("dataset",),
        hint="save it again with datasets' save_to_disk",
    )


def _check_row_count(rows: int, where: Path, key: tuple[str, ...]) -> None:
    if rows > MAX_DATA_ROWS:
        raise ConfigError(f"{where} holds {rows} rows, more than {MAX_DATA_ROWS}", key=key)


def _check_text(rows: list[Any], where: Path) -> None:
    try:
        refuse_invalid_text(rows, str(where))
    except ConfigError as exc:
        raise ConfigError(exc.message, key=("file",), hint=exc.hint) from None
