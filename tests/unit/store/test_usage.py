"""Usage per model and per run: read from any backend, worded for the terminal, stored with the
run, shown by ``promptcheck show`` and the JSON report, and never carrying an API key."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from promptcheck.backends.base import BackendContext
from promptcheck.backends.openai_backend import build_openai
from promptcheck.backends.openai_params import OpenAIParams
from promptcheck.backends.pacing import Usage
from promptcheck.backends.sampler import SamplerUsage
from promptcheck.cli import main
from promptcheck.comparison.engine import compare_results
from promptcheck.report import json_report
from promptcheck.store.database import RunInfo, Store
from promptcheck.store.usage import (
    backend_usage,
    combine,
    describe,
    format_cost,
    usage_lines,
)

SECRET = "sk-test-SECRET-0123456789"


def hosted(**counts: Any) -> SimpleNamespace:
    """A backend with the ``openai`` backend's usage tally."""
    prices = {
        k: counts.pop(k) for k in ("price_per_1k_input", "price_per_1k_output") if k in counts
    }
    usage = Usage(**prices)
    for name, value in counts.items():
        setattr(usage, name, value)
    return SimpleNamespace(usage=usage)


def test_the_openai_backends_usage_is_read_with_its_cost() -> None:
    backend = hosted(
        requests=2000,
        retries=3,
        prompt_tokens=100_000,
        completion_tokens=20_345,
        price_per_1k_input=0.0003,
        price_per_1k_output=0.0006,
    )
    assert backend_usage(backend) == {
        "requests": 2000,
        "retries": 3,
        "failed_requests": 0,
        "prompt_tokens": 100_000,
        "completion_tokens": 20_345,
        "cost": pytest.approx(0.042207),
    }
    assert usage_lines({"gpt": backend}) == [
        "model gpt: 2,000 requests, 3 retries, 120,345 tokens, $0.04"
    ]


def test_a_line_says_only_what_the_backend_counted() -> None:
    local = SimpleNamespace(usage=SamplerUsage(requests=1, prompt_tokens=10, completion_tokens=5))
    unpriced = hosted(requests=4, retries=1, failed_requests=2, prompt_tokens=7)
    backends = {("tiny", "/suites"): local, ("gpt", "/suites"): unpriced, "judge": object()}
    assert usage_lines(backends) == [
        "model gpt: 4 requests, 1 retry, 2 failed, 7 tokens",
        "model tiny: 1 request, 15 tokens",
    ]
    assert describe({}) == "no usage reported"


def test_usage_of_one_model_adds_up_and_a_cost_needs_every_price() -> None:
    priced = {"requests": 2, "prompt_tokens": 10, "cost": 0.5}
    assert combine([priced, {"requests": 3, "retries": 1, "cost": 0.25}]) == {
        "requests": 5,
        "prompt_tokens": 10,
        "retries": 1,
        "cost": 0.75,
    }
    assert combine([priced, {"requests": 1, "cost": None}])["cost"] is None
    assert "cost" not in combine([{"requests": 1}, {"requests": 1}])
    split = {("gpt", "/a"): hosted(requests=1), ("gpt", "/b"): hosted(requests=2)}
    assert usage_lines(split) == ["model gpt: 3 requests, 0 retries, 0 tokens"]


@pytest.mark.parametrize(
    ("cost", "text"), [(0.0, "$0.00"), (0.0042, "$0.0042"), (0.42, "$0.42"), (1234.5, "$1,234.50")]
)
def test_costs_are_dollars(cost: float, text: str) -> None:
    assert format_cost(cost) == text


def test_only_numeric_counters_are_read() -> None:
    """Whatever else a backend's usage holds (a key, a URL, an object) is left behind."""
    leaky = SimpleNamespace(
        usage={
            "requests": 3,
            "retries": True,  # not a count
            "prompt_tokens": float("nan"),
            "api_key": SECRET,
            "base_url": f"https://user:{SECRET}@example.com",
            "cost": "0.5",
        }
    )
    assert backend_usage(leaky) == {"requests": 3, "cost": None}
    assert backend_usage(SimpleNamespace(usage="lots")) is None
    assert backend_usage(SimpleNamespace()) is None


def run(store: Store, run_id: str, model: str) -> None:
    store.create_run(RunInfo(run_id, "session", model, {"backend": "openai"}, 1_700_000_000.0))


def test_each_run_stores_its_models_usage_and_workers_add_up(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as store:
        run(store, "s-gpt", "gpt")
        run(store, "s-tiny", "tiny")
        backends = {
            ("gpt", "/p"): hosted(
                requests=10, prompt_tokens=100, price_per_1k_input=1.0, price_per_1k_output=2.0
            ),
            ("tiny", "/p"): SimpleNamespace(usage=SamplerUsage(2, 30, 40)),
            ("judge", "/p"): hosted(requests=99),  # no run of its own: not stored
        }
        ids = {"gpt": "s-gpt", "tiny": "s-tiny"}
        store.record_session_usage(ids, backends)
        store.record_session_usage(ids, backends)  # a second xdist worker
        gpt, tiny = store.run("s-gpt"), store.run("s-tiny")
    assert gpt.usage == {
        "requests": 20,
        "retries": 0,
        "failed_requests": 0,
        "prompt_tokens": 200,
        "completion_tokens": 0,
        "cost": 0.2,
    }
    assert tiny.usage == {"requests": 4, "prompt_tokens": 60, "completion_tokens": 80}


def test_usage_is_shown_by_show_and_the_json_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.db"
    with Store(path) as store:
        run(store, "s-gpt", "gpt")
        run(store, "s-old", "gpt")
        store.record_usage(
            "s-gpt", {"requests": 2000, "retries": 3, "prompt_tokens": 120_345, "cost": 0.42}
        )
        exported = store.export_run("s-gpt")
        summary, old = store.run("s-gpt"), store.run("s-old")
    assert exported["run"]["usage"]["requests"] == 2000
    assert main(["show", "s-gpt", "--store", str(path)]) == 0
    assert "usage: 2,000 requests, 3 retries, 120,345 tokens, $0.42" in capsys.readouterr().out
    assert main(["show", "s-old", "--store", str(path)]) == 0
    assert "usage" not in capsys.readouterr().out
    compared = json.loads(json_report.render(compare_results(old, [], summary, [])))
    assert compared["candidate"]["usage"]["cost"] == 0.42
    assert compared["baseline"]["usage"] is None


def test_the_api_key_never_reaches_the_lines_the_store_or_the_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("openai")
    monkeypatch.setenv("PROMPTCHECK_TEST_KEY", SECRET)
    params = OpenAIParams(
        model="gpt-test",
        base_url="http://127.0.0.1:9/v1",
        api_key_env="PROMPTCHECK_TEST_KEY",
        price_per_1k_input=0.5,
        price_per_1k_output=1.5,
    )
    backend = build_openai(params, BackendContext(tmp_path))
    backend.usage.requests, backend.usage.prompt_tokens = 5, 1000
    backends = {("gpt", str(tmp_path)): backend}
    lines = usage_lines(backends)
    assert lines == ["model gpt: 5 requests, 0 retries, 1,000 tokens, $0.50"]
    path = tmp_path / "p.db"
    with Store(path) as store:
        run(store, "s-gpt", "gpt")
        store.record_session_usage({"gpt": "s-gpt"}, backends)
        exported = json.dumps(store.export_run("s-gpt"))
        summary = store.run("s-gpt")
    main(["show", "s-gpt", "--store", str(path)])
    shown = capsys.readouterr().out
    compared = json_report.render(compare_results(summary, [], summary, []))
    texts = [*lines, exported, shown, compared]
    assert all(SECRET not in text for text in texts)
    assert "$0.50" in shown
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("p.db*"))
    assert SECRET.encode() not in stored
