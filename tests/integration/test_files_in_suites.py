"""A suite whose prompt, messages and data live in files runs like an inline one."""

from __future__ import annotations

import pytest

from .conftest import GOOD, Project, scripted_model, suite_yaml


def test_prompt_messages_and_parquet_data_from_files(project: Project) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    project.configure({"demo": scripted_model(rules=[{"match": ".", "outputs": [GOOD]}])})
    project.write("suites/prompts/ask.j2", "Answer {{ item }} with one word.")
    project.write(
        "suites/prompts/chat.json",
        '[{"role": "system", "content": "Be terse."}, {"role": "user", "content": "{{ item }}"}]',
    )
    (project.path / "suites" / "data").mkdir(parents=True)
    pq.write_table(pa.table({"item": ["a", "b", "c", "d"]}), project.path / "suites/data/x.parquet")
    project.suite(
        "files",
        suite_yaml(
            "files",
            """
            - id: prompt-file
              prompt: {file: prompts/ask.j2}
              vars: {item: {file: data/x.parquet, field: item, sample: 2}}
              expect: [{equals: GOOD}]
            - id: messages-file
              messages: {file: prompts/chat.json}
              vars: {item: {file: data/x.parquet, field: item, limit: 3}}
              expect: [{equals: GOOD}]
            """,
        ),
    )
    result = project.run()
    result.assert_outcomes(passed=2)
    results = project.last_results()
    prompts = {s.prompt for s in results["prompt-file[demo]"].samples}
    assert len(prompts) == 2 and all(p.startswith("Answer ") for p in prompts)
    chats = {s.prompt for s in results["messages-file[demo]"].samples}
    assert chats == {f"[system] Be terse.\n[user] {item}" for item in "abc"}
