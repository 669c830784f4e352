"""The subcommands promptcheck's CLI mounts: cheap to import, exit code 2 with a clear message."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from promptcheck.train.commands import add_commands


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="promptcheck")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_importing_the_commands_imports_no_torch() -> None:
    code = (
        "import sys, promptcheck.train.commands; "
        "print(sorted({'torch', 'transformers', 'peft', 'accelerate'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_data_synth_writes_the_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "synth.jsonl"
    assert (
        run("data", "synth", "--out", str(out), "--n", "50", "--seed", "3", "--mix", "no-json") == 0
    )
    lines = out.read_text().splitlines()
    assert len(lines) == 50
    assert set(json.loads(lines[0])) == {"instruction", "context", "response", "category"}
    assert "wrote 50 records (no-json, seed 3)" in capsys.readouterr().out


def test_a_bad_mix_is_exit_code_2_with_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("data", "synth", "--out", str(tmp_path / "x.jsonl"), "--mix", "no-jsn") == 2
    err = capsys.readouterr().err
    assert "promptcheck data synth: error: unknown mix item 'no-jsn'" in err
    assert "Traceback" not in err


def test_data_check_lists_bad_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "d.jsonl"
    good = json.dumps({"instruction": "a", "response": "b"})
    path.write_bytes(f"{good}\n{good}\nnot json\n{good}\n".encode())
    assert run("data", "check", str(path)) == 1
    assert f"{path}:3: invalid JSON" in capsys.readouterr().out
    assert run("data", "check", str(path), "--strict") == 2
    assert f"{path}:3: invalid JSON" in capsys.readouterr().err


def test_finetune_on_bad_data_in_strict_mode_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(
        b'{"instruction": "a", "response": "b"}\n{"instruction": "x", "response": ""}\n'
    )
    config = tmp_path / "c.json"
    config.write_text("{}")
    argv = ["finetune", "--init", str(config), "--data", str(path), "--out", str(tmp_path / "o")]
    assert run(*argv, "--strict") == 2
    err = capsys.readouterr().err
    assert f"promptcheck finetune: error: {path}:2: empty response" in err
    assert "Traceback" not in err


def test_finetune_needs_a_start_point(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        run("finetune", "--data", "d.jsonl", "--out", "o")
    assert caught.value.code == 2


def test_a_missing_init_config_is_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"instruction": "a", "response": "b"}\n')
    argv = ["finetune", "--init", str(tmp_path / "nope.json"), "--data", str(path), "--out", "o"]
    assert run(*argv) == 2
    assert "nope.json: no such file" in capsys.readouterr().err


def test_tiny_build_refuses_unknown_variants() -> None:
    with pytest.raises(SystemExit):
        run("tiny", "build", "--out", "x", "--variant", "large")
