"""The tiny Dolly recipe: hashed, cached, and the shipped config is the recipe's."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from promptcheck.errors import ConfigError
from promptcheck.train import tiny
from promptcheck.train.critic import CriticStage
from promptcheck.train.tiny import HASH_FILE, TINY_CONFIG, TinyRecipe, build_tiny_dolly

ROOT = Path(__file__).resolve().parents[3]


def test_the_shipped_config_is_the_recipes() -> None:
    shipped = json.loads((ROOT / "configs" / "tiny-dolly.json").read_text())
    assert shipped == {**TINY_CONFIG, "vocab_size": TinyRecipe().vocab_size}


def test_the_digest_depends_on_the_recipe() -> None:
    assert TinyRecipe().digest() == TinyRecipe().digest()
    assert TinyRecipe(variant="no-json").digest() != TinyRecipe().digest()
    assert TinyRecipe(seed=1).digest() != TinyRecipe().digest()
    critic = TinyRecipe(variant="critic")
    assert critic.digest() != TinyRecipe().digest()
    other_stage = TinyRecipe(variant="critic", critic=CriticStage(steps=1))
    assert other_stage.digest() != critic.digest()
    # the critic stage is not part of the base's recipe: changing it rebuilds the critic only
    assert TinyRecipe(critic=CriticStage(steps=1)).digest() == TinyRecipe().digest()


def test_a_built_model_is_returned_without_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "tiny-dolly"
    out.mkdir()
    (out / HASH_FILE).write_text(TinyRecipe().digest() + "\n")

    def no_training(*args: object) -> None:
        raise AssertionError("trained although cached")

    monkeypatch.setattr(tiny, "_train", no_training)
    assert build_tiny_dolly(out) == out


def test_a_stale_model_is_rebuilt_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tiny-dolly"
    out.mkdir()
    (out / HASH_FILE).write_text("stale\n")
    (out / "old-file").write_text("x")
    calls = []

    def fake_training(recipe: TinyRecipe, staging: Path, progress: bool) -> None:
        calls.append(recipe.variant)
        (staging / "model").mkdir()
        (staging / "model" / "config.json").write_text("{}")

    monkeypatch.setattr(tiny, "_train", fake_training)
    assert build_tiny_dolly(out, "no-json", progress=False) == out
    assert calls == ["no-json"]
    assert capsys.readouterr().err == ""  # quiet when asked
    assert not (out / "old-file").exists()
    assert (out / HASH_FILE).read_text().strip() == TinyRecipe(variant="no-json").digest()
    assert json.loads((out / "tiny_recipe.json").read_text())["variant"] == "no-json"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tiny-dolly.")] in (
        [],
        [".tiny-dolly.lock"],
    )


def test_a_critic_build_builds_the_base_beside_it_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[str, Path | None]] = []

    def fake_base(recipe: TinyRecipe, staging: Path, progress: bool) -> None:
        calls.append((recipe.variant, None))
        (staging / "model").mkdir()

    def fake_critic(recipe: TinyRecipe, base: Path, staging: Path, progress: bool) -> None:
        calls.append((recipe.variant, base))
        (staging / "model").mkdir()

    monkeypatch.setattr(tiny, "_train", fake_base)
    monkeypatch.setattr(tiny, "_train_critic", fake_critic)
    out = tmp_path / "tiny-dolly-critic"
    assert build_tiny_dolly(out, "critic", progress=True) == out
    said = capsys.readouterr().err.splitlines()
    assert said[0].startswith("promptcheck: building the tiny Dolly 'full' into ")
    assert said[2].startswith("promptcheck: building the tiny Dolly 'critic' into ")
    assert said[1].startswith("promptcheck: tiny Dolly 'full' built in ")
    assert len(said) == 4
    assert calls == [("full", None), ("critic", tmp_path / "tiny-dolly-full")]
    assert (out / HASH_FILE).read_text().strip() == TinyRecipe(variant="critic").digest()
    build_tiny_dolly(out, "critic", progress=True)  # both cached now: nothing built, nothing said
    assert len(calls) == 2
    assert capsys.readouterr().err == ""


def test_unknown_variant() -> None:
    with pytest.raises(ConfigError, match="unknown tiny Dolly variant"):
        build_tiny_dolly(Path("x"), "large")


def test_variants_share_the_tokenizer_and_differ_in_json_only(tmp_path: Path) -> None:
    """Both variants are trained with one tokenizer; only ``full`` sees JSON tasks."""
    small = {**TINY_CONFIG, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
             "num_attention_heads": 2}  # fmt: skip
    built = {}
    for variant in ("full", "no-json"):
        staging = tmp_path / variant
        staging.mkdir()
        recipe = TinyRecipe(variant=variant, records=200, steps=2, batch_size=4,
                            vocab_size=400, model=small, warmup_steps=1, threads=1)  # fmt: skip
        tiny._train(recipe, staging, progress=False)
        built[variant] = staging
        summary = json.loads((staging / "model" / "promptcheck_train.json").read_text())
        assert summary["steps"] == 2
        assert summary["out"] == "."
    full, no_json = built["full"], built["no-json"]
    assert (full / "model" / "tokenizer.json").read_bytes() == (
        no_json / "model" / "tokenizer.json"
    ).read_bytes()
    assert (full / "model" / "model.safetensors").read_bytes() != (
        no_json / "model" / "model.safetensors"
    ).read_bytes()
    no_json_records = [
        json.loads(line) for line in (no_json / "data.jsonl").read_text().splitlines()
    ]
    assert not any(r["response"].startswith("{") for r in no_json_records)
    full_records = [json.loads(line) for line in (full / "data.jsonl").read_text().splitlines()]
    assert any(r["response"].startswith("{") for r in full_records)

    # the critic stage continues from the built base, on its own mix
    critic_dir = tmp_path / "critic"
    critic_dir.mkdir()
    stage = CriticStage(records=120, steps=2, batch_size=4, warmup_steps=1)
    critic = replace(recipe, variant="critic", critic=stage)
    tiny._train_critic(critic, full / "model", critic_dir, progress=False)
    summary = json.loads((critic_dir / "model" / "promptcheck_train.json").read_text())
    assert summary["steps"] == 2 and summary["out"] == "."
    assert (critic_dir / "model" / "tokenizer.json").read_bytes() == (
        full / "model" / "tokenizer.json"
    ).read_bytes()
    critic_records = (critic_dir / "data.jsonl").read_text()
    assert "\\nYES" in critic_records and "\\nNO" in critic_records  # reasoned verdicts


def test_a_build_announces_through_the_callable_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Inside pytest the plugin passes ``announce`` (past its output capture); stderr is left."""

    def fake_base(recipe: TinyRecipe, staging: Path, progress: bool) -> None:
        (staging / "model").mkdir()

    monkeypatch.setattr(tiny, "_train", fake_base)
    told: list[str] = []
    build_tiny_dolly(tmp_path / "tiny-dolly-full", "full", announce=told.append)
    assert told[0].startswith("building the tiny Dolly 'full' into ")
    assert told[1].startswith("tiny Dolly 'full' built in ")
    assert len(told) == 2 and capsys.readouterr().err == ""
    build_tiny_dolly(tmp_path / "tiny-dolly-full", "full", announce=told.append)
    assert len(told) == 2  # already built: nothing to announce
