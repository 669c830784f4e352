"""The tiny Dolly shipped in the package is the recipe's, file for file (weights/manifest.json).

Regenerate with ``python tests/scripts/ship_tiny_dolly.py`` after any change to the recipe or to
the code that turns it into weights; the digest test below fails until then. A change that
cannot alter the weights (a comment, a message) is re-stamped with ``--restamp``, which rebuilds
every variant and updates the digests only when the rebuilt weights are byte-identical.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from promptcheck.backends.tiny import (
    MANIFEST_FILE,
    VARIANTS,
    TinyDollyParams,
    shipped_checkpoint,
    weights_dir,
)
from promptcheck.train.tiny import NOT_WEIGHTS, RECIPE_MODULES, VARIANT_MODULES, TinyRecipe

MANIFEST = json.loads((weights_dir() / MANIFEST_FILE).read_text())


def test_every_variant_ships_with_a_manifest_entry() -> None:
    assert sorted(MANIFEST["variants"]) == sorted(VARIANTS)
    assert sorted(TinyDollyParams.model_fields["variant"].annotation.__args__) == sorted(VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_shipped_files_are_the_manifests(variant: str) -> None:
    entry = MANIFEST["variants"][variant]
    folder = shipped_checkpoint(variant)
    on_disk = {path.name for path in folder.iterdir()}
    assert on_disk == set(entry["files"]), "a file shipped that the manifest does not list"
    for name, digest in entry["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_shipped_weights_were_built_from_the_current_recipe(variant: str) -> None:
    """A change to the recipe, or to the code that turns it into weights, must be re-shipped."""
    assert MANIFEST["variants"][variant]["recipe_sha256"] == TinyRecipe(variant=variant).digest(), (
        "the tiny Dolly recipe changed since the weights were shipped: run "
        "python tests/scripts/ship_tiny_dolly.py (or --restamp, for a change that cannot alter "
        "the weights)"
    )
    recipe = json.loads((shipped_checkpoint(variant) / "tiny_recipe.json").read_text())
    assert recipe["variant"] == variant


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_manifest_has_the_conformance_of_every_example_case(variant: str) -> None:
    suites = Path(__file__).resolve().parents[3] / "suites"
    cases = MANIFEST["variants"][variant]["conformance"]
    names = {name.split("::")[0] for name in cases}
    assert names == {path.name for path in suites.glob("*.yaml")}
    assert all(0 <= figure["k"] <= figure["n"] for figure in cases.values())


def test_every_module_the_build_imports_is_in_the_recipe_digest() -> None:
    """A module the build imports but the digest leaves out could change the weights unseen."""
    import grimp

    graph = grimp.build_graph("promptcheck")
    imported = graph.find_upstream_modules("promptcheck.train.tiny")
    variant_modules = {name for names in VARIANT_MODULES.values() for name in names}
    accounted = {*RECIPE_MODULES, *variant_modules, *NOT_WEIGHTS}
    named = {module.removeprefix("promptcheck.").replace(".", "/") for module in imported}
    assert named, "the import graph lists nothing: the test would pass vacuously"
    assert named <= accounted, f"not in the recipe digest: {sorted(named - accounted)}"
    assert "train/tiny" in RECIPE_MODULES
