"""Prompts, chat messages and variable data kept in files: Jinja files, YAML/JSON messages,
Parquet files and Hugging Face datasets saved on disk (issue 17, item 4)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from promptcheck.errors import SuiteError
from promptcheck.project import ProjectConfig
from promptcheck.suite import load_suite


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
