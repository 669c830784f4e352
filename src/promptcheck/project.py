"""Project settings from ``[tool.promptcheck]`` in pyproject.toml.

Models are usually defined once for a project (a team has one baseline and one candidate), so
suites can stay model-free. Suite-level ``models`` override project ones of the same name.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from promptcheck.errors import ConfigError

Identifier = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:+-]*$",
        max_length=200,
        description="Letters, digits and _ . : + -, starting with a letter or digit.",
    ),
]


class ModelEntry(BaseModel):
    """A model: the backend name and that backend's parameters."""

    model_config = ConfigDict(extra="allow", frozen=True)

    backend: str = Field(description="Backend name: local, openai, scripted, or a plugin's.")


class ProjectModel(BaseModel):
    """The ``[tool.promptcheck]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(None, description="Default model name.")
    models: dict[Identifier, ModelEntry] = Field(default_factory=dict)
    plugins: list[str] = Field(default_factory=list, description="Modules imported first.")
    store: str | None = Field(None, description="Path of the SQLite run store.")
    concurrency: int | None = Field(None, ge=1, le=4096)


@dataclass(frozen=True)
class ProjectConfig:
    """Validated project settings; ``base_dir`` is where relative paths in them resolve from."""

    base_dir: Path
    source: Path | None = None
    model: str | None = None
    models: dict[str, ModelEntry] = field(default_factory=dict)
    plugins: tuple[str, ...] = ()
    store: str | None = None
    concurrency: int | None = None


def load_project_config(root: Path) -> ProjectConfig:
    """Read ``root/pyproject.toml``; a missing file or table gives the defaults."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return ProjectConfig(base_dir=root)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    tool: Any = document.get("tool", {})
    table: Any = tool.get("promptcheck", {}) if isinstance(tool, dict) else {}
    try:
        parsed = ProjectModel.model_validate(table)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(
            f"{path}: [tool.promptcheck] {where}: {first['msg']}",
            hint="see docs/cli.md for the [tool.promptcheck] keys",
        ) from None
    return ProjectConfig(
        base_dir=root,
        source=path,
        model=parsed.model,
        models=dict(parsed.models),
        plugins=tuple(parsed.plugins),
        store=parsed.store,
        concurrency=parsed.concurrency,
    )
