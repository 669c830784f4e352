"""Records from columnar sources: a Parquet file, or a Hugging Face ``datasets`` dataset saved on
disk (``Dataset.save_to_disk``).

Teams keep evaluation data in these forms; a suite's variable names one with ``file: x.parquet``
or ``dataset: folder`` and gets its rows as records, like a JSONL file's. Both libraries are
optional (the ``data`` extra), imported only when a suite names such a source, and nothing is
ever downloaded: a dataset is read from the folder named, inside the project, with the
``datasets`` library told to stay offline.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from promptcheck.errors import ConfigError
from promptcheck.files import ProjectFiles, refuse_invalid_text

_INSTALL = "pip install 'promptcheck[data]'"


def parquet_records(path: Path, files: ProjectFiles) -> list[Any]:
    """The rows of a Parquet file as dicts, the file read as the project allows (bounded)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(
            f"{path}: reading Parquet needs pyarrow", key=("file",), hint=_INSTALL
        ) from None
    data = files.read_bytes(path, "data file")
    try:
        rows: list[Any] = pq.read_table(pa.BufferReader(data)).to_pylist()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable Parquet file: {exc}", key=("file",)) from None
    _check_text(rows, path)
    return rows


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
    size = sum(path.stat().st_size for path in resolved.rglob("*") if path.is_file())
    if size > files.max_bytes:
        raise ConfigError(
            f"dataset folder {folder} holds more than {files.max_bytes} bytes", key=("dataset",)
        )
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # a saved dataset needs no network
    try:
        import datasets
    except ImportError:
        raise ConfigError(
            f"{folder}: reading a saved dataset needs the datasets package",
            key=("dataset",),
            hint=_INSTALL,
        ) from None
    try:
        loaded: Any = datasets.load_from_disk(str(resolved))
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise ConfigError(
            f"dataset folder {folder} cannot be loaded: {exc}", key=("dataset",)
        ) from None
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
    rows: list[Any] = loaded.to_list()
    _check_text(rows, folder)
    return rows


def _check_text(rows: list[Any], where: Path) -> None:
    try:
        refuse_invalid_text(rows, str(where))
    except ConfigError as exc:
        raise ConfigError(exc.message, key=("file",), hint=exc.hint) from None
