"""Prompts, chat messages and variable data kept in files: Jinja files, YAML/JSON messages,
Parquet files and Hugging Face datasets saved on disk (issue 17, item 4)."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from promptcheck.errors import SuiteError
from promptcheck.project import ProjectConfig
from promptcheck.suite import load_suite, tables


def write_suite(root: Path, body: str) -> Path:
    path = root / "suites" / "files.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("suite: files\ncases:\n" + textwrap.indent(textwrap.dedent(body), "  "))
    return path


def load(root: Path, body: str):  # type: ignore[no-untyped-def]
    return load_suite(write_suite(root, body), ProjectConfig(base_dir=root))


def refused(root: Path, body: str) -> SuiteError:
    with pytest.raises(SuiteError) as raised:
        load(root, body)
    return raised.value


def test_a_prompt_and_a_system_message_from_files_render_like_inline_ones(tmp_path: Path) -> None:
    prompts = tmp_path / "suites" / "prompts"
    prompts.mkdir(parents=True)
    (prompts / "triage.j2").write_text("Classify: {{ ticket }}\n{% if urgent %}URGENT{% endif %}")
    (prompts / "system.txt").write_text("You answer in JSON about {{ ticket|length }} chars.")
    suite = load(
        tmp_path,
        """
        - id: triage
          prompt: {file: prompts/triage.j2}
          system: {file: prompts/system.txt}
          vars: {ticket: [printer on fire], urgent: [true]}
          expect: [json]
        """,
    )
    [combination] = suite.cases[0].combinations
    system, user = combination.messages or ()
    assert (system.role, system.content) == ("system", "You answer in JSON about 15 chars.")
    assert user.content == "Classify: printer on fire\nURGENT"


def test_chat_messages_from_a_yaml_file(tmp_path: Path) -> None:
    folder = tmp_path / "suites" / "prompts"
    folder.mkdir(parents=True)
    (folder / "chat.yaml").write_text(
        "- {role: system, content: 'Be brief.'}\n"
        "- {role: user, content: 'Hi {{ name }}'}\n"
        "- {role: assistant, content: 'Hello.'}\n"
        "- {role: user, content: 'Spell {{ name }}'}\n"
    )
    suite = load(
        tmp_path,
        """
        - id: chat
          messages: {file: prompts/chat.yaml}
          vars: {name: [Ada]}
          expect: [json]
        """,
    )
    messages = suite.cases[0].combinations[0].messages or ()
    assert [(m.role, m.content) for m in messages] == [
        ("system", "Be brief."),
        ("user", "Hi Ada"),
        ("assistant", "Hello."),
        ("user", "Spell Ada"),
    ]


def test_an_undefined_variable_in_a_prompt_file_is_reported_at_the_prompt(tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "p.j2").write_text("Hello {{ who }}")
    error = refused(tmp_path, "- {id: a, prompt: {file: p.j2}, expect: [json]}\n")
    assert error.line == 3 and "undefined template variable 'who'" in error.message


def test_a_syntax_error_in_a_prompt_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "p.j2").write_text("line one\n{% if %}")
    error = refused(tmp_path, "- {id: a, prompt: {file: p.j2}, expect: [json]}\n")
    assert error.message.startswith("p.j2: template syntax error on line 2")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda s: None, "does not exist"),
        (lambda s: (s / "p.j2").mkdir(), "is a directory"),
        (lambda s: (s / "p.j2").symlink_to("/etc/hostname"), "outside the project root"),
    ],
    ids=["missing", "a directory", "a link out of the project"],
)
def test_a_prompt_file_that_cannot_be_read_is_a_clean_error(tmp_path: Path, setup, message) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "suites").mkdir()
    setup(tmp_path / "suites")
    error = refused(tmp_path, "- {id: a, prompt: {file: p.j2}, expect: [json]}\n")
    assert error.key == "cases[0].prompt.file" and message in error.message


def test_a_messages_file_must_hold_messages(tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "m.json").write_text('[{"role": "robot", "content": "x"}]')
    error = refused(tmp_path, "- {id: a, messages: {file: m.json}, expect: [json]}\n")
    assert error.key == "cases[0].messages.file" and "m.json: a message's role" in error.message


@pytest.fixture
def parquet(tmp_path: Path) -> Path:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    folder = tmp_path / "suites" / "data"
    folder.mkdir(parents=True)
    table = pa.table({"text": [f"ticket {i}" for i in range(40)], "p": list(range(40))})
    pq.write_table(table, folder / "tickets.parquet")
    return folder / "tickets.parquet"


def test_variables_from_a_parquet_file(tmp_path: Path, parquet: Path) -> None:
    suite = load(
        tmp_path,
        """
        - id: first
          prompt: "{{ t }}"
          vars: {t: {file: data/tickets.parquet, field: text, limit: 3}}
          expect: [json]
        """,
    )
    assert [c.variables["t"] for c in suite.cases[0].combinations] == [
        "ticket 0",
        "ticket 1",
        "ticket 2",
    ]


def test_a_sample_is_seeded_stable_and_in_file_order(tmp_path: Path, parquet: Path) -> None:
    body = """
        - id: drawn
          prompt: "{{ t }}"
          vars: {t: {file: data/tickets.parquet, field: p, sample: 5}}
          expect: [json]
        """
    first = [c.variables["t"] for c in load(tmp_path, body).cases[0].combinations]
    again = [c.variables["t"] for c in load(tmp_path, body).cases[0].combinations]
    assert first == again and first == sorted(first) and len(set(first)) == 5
    reseeded = load(tmp_path, body.replace("- id: drawn", "- id: other"))
    assert [c.variables["t"] for c in reseeded.cases[0].combinations] != first


def test_limit_and_sample_together_are_refused(tmp_path: Path, parquet: Path) -> None:
    error = refused(
        tmp_path,
        "- {id: a, prompt: '{{ t }}', vars: {t: {file: data/tickets.parquet, limit: 2, "
        "sample: 2}}, expect: [json]}\n",
    )
    assert "not both" in error.message


@pytest.fixture
def saved_dataset(tmp_path: Path) -> Path:
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "suites" / "data"
    rows = {"question": ["2+2?", "3+3?", "4+4?"], "answer": ["4", "6", "8"]}
    datasets.Dataset.from_dict(rows).save_to_disk(str(folder / "flat"))
    split = datasets.DatasetDict(
        {"train": datasets.Dataset.from_dict(rows), "test": datasets.Dataset.from_dict(rows)}
    )
    split.save_to_disk(str(folder / "split"))
    return folder


def test_variables_from_a_dataset_saved_on_disk(tmp_path: Path, saved_dataset: Path) -> None:
    suite = load(
        tmp_path,
        """
        - id: flat
          prompt: "{{ q }}"
          vars: {q: {dataset: data/flat, field: question}}
          expect: [json]
        - id: split
          prompt: "{{ row.question }} {{ row.answer }}"
          vars: {row: {dataset: data/split, split: test, limit: 2}}
          expect: [json]
        """,
    )
    assert [c.variables["q"] for c in suite.cases[0].combinations] == ["2+2?", "3+3?", "4+4?"]
    assert [c.prompt for c in suite.cases[1].combinations] == ["2+2? 4", "3+3? 6"]


def test_a_dataset_with_splits_needs_one_named(tmp_path: Path, saved_dataset: Path) -> None:
    error = refused(
        tmp_path, "- {id: a, prompt: '{{ q }}', vars: {q: {dataset: data/split}}, expect: [json]}\n"
    )
    assert "has splits ['test', 'train']: name one with 'split'" in error.message


def test_a_dataset_outside_the_project_is_refused(tmp_path: Path, saved_dataset: Path) -> None:
    error = refused(
        tmp_path, "- {id: a, prompt: '{{ q }}', vars: {q: {dataset: ../../x}}, expect: [json]}\n"
    )
    assert "outside the project root" in error.message


def test_a_saved_dataset_naming_a_data_file_outside_its_folder_is_refused_before_loading(
    tmp_path: Path, saved_dataset: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    flat = saved_dataset / "flat"
    [arrow] = flat.glob("*.arrow")
    arrow.rename(outside / arrow.name)
    state = json.loads((flat / "state.json").read_text())
    for name in (str(outside / arrow.name), f"../../../outside/{arrow.name}"):
        state["_data_files"] = [{"filename": name}]
        (flat / "state.json").write_text(json.dumps(state))
        error = refused(
            tmp_path,
            "- {id: a, prompt: '{{ q }}', vars: {q: {dataset: data/flat}}, expect: [json]}\n",
        )
        assert f"names {name!r}, which is not inside it" in error.message
        assert (error.line, error.key) == (3, "cases[0].vars.q.dataset")


def test_a_saved_dataset_linking_a_data_file_outside_is_refused(
    tmp_path: Path, saved_dataset: Path
) -> None:
    flat = saved_dataset / "flat"
    [arrow] = flat.glob("*.arrow")
    target = tmp_path / "elsewhere.arrow"
    arrow.rename(target)
    arrow.symlink_to(target)
    error = refused(
        tmp_path, "- {id: a, prompt: '{{ q }}', vars: {q: {dataset: data/flat}}, expect: [json]}\n"
    )
    assert "which is not inside it" in error.message


def test_a_split_folder_outside_the_dataset_is_refused(tmp_path: Path, saved_dataset: Path) -> None:
    (saved_dataset / "split" / "dataset_dict.json").write_text('{"splits": ["../flat", "test"]}')
    error = refused(
        tmp_path,
        "- {id: a, prompt: '{{ q }}', vars: {q: {dataset: data/split, split: test}}, "
        "expect: [json]}\n",
    )
    assert "names '../flat', which is not inside it" in error.message


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda state: state.pop("_data_files"), "state.json does not list its data files"),
        (lambda state: state.pop("_fingerprint"), "cannot be loaded: KeyError"),
        (lambda state: state.update(_split=[1]), "cannot be loaded"),
    ],
)
def test_a_damaged_saved_dataset_is_a_suite_error_not_a_traceback(
    tmp_path: Path, saved_dataset: Path, damage: Any, message: str
) -> None:
    state_file = saved_dataset / "flat" / "state.json"
    state = json.loads(state_file.read_text())
    damage(state)
    state_file.write_text(json.dumps(state))
    error = refused(
        tmp_path, "- {id: a, prompt: '{{ q }}', vars: {q: {dataset: data/flat}}, expect: [json]}\n"
    )
    assert message in error.message
    assert (error.line, error.key) == (3, "cases[0].vars.q.dataset")


def test_a_saved_dataset_with_garbage_for_state_is_a_suite_error(
    tmp_path: Path, saved_dataset: Path
) -> None:
    (saved_dataset / "flat" / "state.json").write_text("{not json")
    error = refused(
        tmp_path, "- {id: a, prompt: '{{ q }}', vars: {q: {dataset: data/flat}}, expect: [json]}\n"
    )
    assert "state.json is not valid JSON" in error.message


def test_loading_a_dataset_leaves_the_process_environment_as_it_was(
    tmp_path: Path, saved_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    load(
        tmp_path, "- {id: a, prompt: '{{ q }}', vars: {q: {dataset: data/flat}}, expect: [json]}\n"
    )
    assert "HF_DATASETS_OFFLINE" not in os.environ
    assert os.environ["HF_HUB_OFFLINE"] == "0"


@pytest.fixture
def dictionary_bomb(tmp_path: Path) -> Path:
    """A few hundred bytes of Parquet whose rows decode to 200 MB: one 10 kB string, 20,000
    times, dictionary-encoded and compressed."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    folder = tmp_path / "suites" / "data"
    folder.mkdir(parents=True)
    column = pa.array(["x" * 10_000] * 20_000).dictionary_encode()
    table = pa.table({"text": column, "n": list(range(20_000))})
    pq.write_table(table, folder / "bomb.parquet", compression="zstd")
    assert (folder / "bomb.parquet").stat().st_size < 200_000
    return folder / "bomb.parquet"


def test_a_parquet_file_that_decodes_past_the_bound_is_refused(
    tmp_path: Path, dictionary_bomb: Path
) -> None:
    error = refused(
        tmp_path,
        "- {id: a, prompt: '{{ t }}', vars: {t: {file: data/bomb.parquet, field: text}}, "
        "expect: [json]}\n",
    )
    assert "decodes to more than" in error.message
    assert error.key == "cases[0].vars.t.file"


def test_parquet_reads_only_the_named_field_and_stops_at_the_limit(
    tmp_path: Path, dictionary_bomb: Path
) -> None:
    only_n = load(
        tmp_path,
        "- {id: a, prompt: '{{ n }}', vars: {n: {file: data/bomb.parquet, field: n, sample: 3}}, "
        "expect: [json]}\n",
    )
    drawn = [c.variables["n"] for c in only_n.cases[0].combinations]
    assert len(drawn) == 3 and max(drawn) > 255  # drawn from every row, past the first batch
    first = load(
        tmp_path,
        "- {id: a, prompt: '{{ t.text[:3] }}', vars: {t: {file: data/bomb.parquet, limit: 2}}, "
        "expect: [json]}\n",
    )
    assert [c.prompt for c in first.cases[0].combinations] == ["xxx", "xxx"]


def test_a_parquet_field_that_is_not_a_column_is_refused(tmp_path: Path, parquet: Path) -> None:
    error = refused(
        tmp_path,
        "- {id: a, prompt: '{{ t }}', vars: {t: {file: data/tickets.parquet, field: txt}}, "
        "expect: [json]}\n",
    )
    assert "has no field 'txt' (it has text, p)" in error.message
    assert error.key == "cases[0].vars.t.field"


def test_a_parquet_file_with_more_rows_than_the_cap_is_refused_from_its_metadata(
    tmp_path: Path, parquet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tables, "MAX_DATA_ROWS", 39)
    error = refused(
        tmp_path,
        "- {id: a, prompt: '{{ t }}', vars: {t: {file: data/tickets.parquet, limit: 1}}, "
        "expect: [json]}\n",
    )
    assert "holds 40 rows, more than 39" in error.message


def test_the_suite_digest_covers_the_files_it_reads(tmp_path: Path, saved_dataset: Path) -> None:
    prompts = tmp_path / "suites" / "prompts"
    prompts.mkdir(parents=True)
    (prompts / "ask.j2").write_text("Q: {{ q }}")
    body = """
        - id: a
          prompt: {file: prompts/ask.j2}
          vars: {q: {dataset: data/flat, field: question}}
          expect: [json]
        """
    first = load(tmp_path, body).sha256
    assert load(tmp_path, body).sha256 == first
    (prompts / "ask.j2").write_text("Question: {{ q }}")
    reworded = load(tmp_path, body).sha256
    assert reworded != first
    datasets = pytest.importorskip("datasets")
    rows = {"question": ["5+5?"], "answer": ["10"]}
    datasets.Dataset.from_dict(rows).save_to_disk(str(saved_dataset / "flat"))
    assert load(tmp_path, body).sha256 not in (first, reworded)


def test_a_suite_that_reads_no_file_keeps_the_digest_of_its_text(tmp_path: Path) -> None:
    import hashlib

    path = write_suite(tmp_path, "- {id: a, prompt: hi, expect: [json]}\n")
    suite = load_suite(path, ProjectConfig(base_dir=tmp_path))
    assert suite.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
