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

from promptcheck.config import JudgeFloor
from promptcheck.errors import ConfigError
from promptcheck.files import ProjectFiles
from promptcheck.importing import CodePolicy

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


class JudgeFloorModel(BaseModel):
    """``judge_floor``: the calibration a judge must show for its verdicts to gate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sensitivity: float = Field(JudgeFloor.sensitivity, ge=0.0, le=1.0)
    specificity: float = Field(JudgeFloor.specificity, ge=0.0, le=1.0)
    kappa: float | None = Field(None, ge=-1.0, le=1.0)
    min_items: int = Field(JudgeFloor.min_items, ge=1)


class ProjectModel(BaseModel):
    """The ``[tool.promptcheck]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(None, description="Default model name.")
    models: dict[Identifier, ModelEntry] = Field(default_factory=dict)
    plugins: list[str] = Field(default_factory=list, description="Modules imported first.")
    allow_paths: list[str] = Field(
        default_factory=list,
        description="Folders outside the project root that suites may read data and schema "
        "files from (relative to the project root).",
    )
    trusted_modules: list[str] = Field(
        default_factory=list,
        description="Modules outside the project that suites may name in python/pydantic "
        "checks and plugins lists (a package trusts its submodules).",
    )
    trusted_endpoints: list[Annotated[str, Field(pattern=r"^https?://[^/?#\s@]+/?$")]] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port]) that models defined in suites may send "
        "requests to with base_url, api_key_env and the like; without a port, every port.",
    )
    store: str | None = Field(None, description="Path of the SQLite run store.")
    concurrency: int | None = Field(None, ge=1, le=4096)
    max_stored_output: int | None = Field(
        None,
        ge=1,
        description="Longest output the run store keeps whole, in characters; a longer one is "
        "stored cut, with its full length, and is not cached.",
    )
    judge_floor: JudgeFloorModel | None = Field(
        None,
        description="The calibration against human ratings (promptcheck review) below which a "
        "judge's verdicts are reported but do not gate.",
    )
    review_overlap: int | None = Field(
        None, ge=1, le=50, description="How many raters each review item gets."
    )


#: The model a run uses when nothing names one: the tiny Dolly shipped with the package.
DEFAULT_MODEL = "tiny-dolly"

#: Models every project has without configuring them; a project's own model of the same name
#: wins. ``demo`` is a scripted stand-in whose answers fit ``promptcheck init``'s example suite.
_BUILTIN: dict[str, dict[str, Any]] = {
    "tiny-dolly": {"backend": "tiny-dolly", "variant": "full"},
    "tiny-dolly-no-json": {"backend": "tiny-dolly", "variant": "no-json"},
    "tiny-dolly-critic": {"backend": "tiny-dolly", "variant": "critic"},
    "demo": {
        "backend": "scripted",
        "rules": [
            {"match": "even number", "outputs": ["YES", "NO"]},
            {
                "match": "List exactly 3",
                "outputs": ["- apple\n- pear\n- plum", "- red\n- blue\n- green"],
            },
            {
                "match": "three options",
                "outputs": [
                    "A) Go hiking\nB) Visit a museum\nC) Try a new restaurant",
                    "A. Plan ahead\nB. Keep it simple\nC. Ask a friend",
                ],
            },
            {
                "match": "Classify this support ticket",
                "outputs": [
                    '{"category": "billing", "priority": "P2"}',
                    '{"category": "outage", "priority": "P0"}',
                ],
            },
        ],
    },
}
BUILTIN_MODELS = {name: ModelEntry.model_validate(raw) for name, raw in _BUILTIN.items()}


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
    max_stored_output: int | None = None
    trusted_modules: tuple[str, ...] = ()
    allow_paths: tuple[str, ...] = ()
    trusted_endpoints: tuple[str, ...] = ()
    judge_floor: JudgeFloor = field(default_factory=JudgeFloor)
    review_overlap: int | None = None

    def project_files(self) -> ProjectFiles:
        """What files suites may read: the project root and the folders allow_paths names."""
        allowed = tuple((self.base_dir / path).resolve() for path in self.allow_paths)
        return ProjectFiles(root=self.base_dir.resolve(), allowed=allowed)

    def code_policy(self, *, execute: bool = True) -> CodePolicy:
        """What code suites may name: the project's own modules, and what configuration trusts
        (its plugins and trusted modules); nothing is imported when ``execute`` is False."""
        return CodePolicy(
            root=self.base_dir,
            trusted=(*self.plugins, *self.trusted_modules),
            execute=execute,
        )

    def entry(self, name: str) -> ModelEntry | None:
        """The model ``name`` as the project defines it, else the built-in of that name."""
        return self.models.get(name) or BUILTIN_MODELS.get(name)

    @property
    def known_models(self) -> list[str]:
        """Every model name a suite or option may use: the project's and the built-ins."""
        return sorted({*self.models, *BUILTIN_MODELS})


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
        max_stored_output=parsed.max_stored_output,
        trusted_modules=tuple(parsed.trusted_modules),
        allow_paths=tuple(parsed.allow_paths),
        trusted_endpoints=tuple(parsed.trusted_endpoints),
        judge_floor=JudgeFloor(**parsed.judge_floor.model_dump())
        if parsed.judge_floor is not None
        else JudgeFloor(),
        review_overlap=parsed.review_overlap,
    )
