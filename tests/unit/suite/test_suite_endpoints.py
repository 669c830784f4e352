"""Models a suite defines may send prompts and keys only where configuration allows."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptcheck.errors import SuiteError
from promptcheck.project import ProjectConfig
from promptcheck.suite.endpoints import check_suite_model, endpoint_trusted
from promptcheck.suite.loader import load_suite

SUITE = """suite: s
models:
  m: {MODEL}
defaults: {{model: m}}
cases:
  - id: a
    prompt: hi
    expect: [{{regex: "."}}]
"""


def write(tmp_path: Path, model: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(SUITE.format(MODEL=model))
    return path


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ('{backend: openai, model: x, base_url: "https://evil.example/v1"}', "base_url"),
        ("{backend: openai, model: x, api_key_env: AWS_SECRET_ACCESS_KEY}", "api_key_env"),
        ("{backend: anthropic, model: x, api_key_env: GITHUB_TOKEN}", "api_key_env"),
        (
            '{backend: openai, model: x, azure: {endpoint: "https://a.openai.azure.com", '
            "api_version: v1}}",
            "azure",
        ),
    ],
)
def test_a_suite_model_naming_where_keys_go_is_refused_at_its_key(
    tmp_path: Path, model: str, key: str
) -> None:
    with pytest.raises(SuiteError) as caught:
        load_suite(write(tmp_path, model), ProjectConfig(base_dir=tmp_path), execute=False)
    assert caught.value.key == f"models.m.{key}"
    assert caught.value.line == 3
    assert "trusted_endpoints" in caught.value.message


def test_a_listed_origin_lets_the_suite_use_it(tmp_path: Path) -> None:
    model = '{backend: openai, model: x, base_url: "http://127.0.0.1:8123/v1", api_key_env: K}'
    project = ProjectConfig(base_dir=tmp_path, trusted_endpoints=("http://127.0.0.1",))
    suite = load_suite(write(tmp_path, model), project, execute=False)
    assert suite.models["m"].raw["base_url"] == "http://127.0.0.1:8123/v1"


def test_models_without_connection_settings_need_no_trust(tmp_path: Path) -> None:
    model = "{backend: openai, model: x, temperature_default: 0.5}"
    assert check_suite_model("openai", {"model": "x"}, ()) is None
    assert check_suite_model("scripted", {"rules": []}, ()) is None
    with pytest.raises(SuiteError):  # an unknown field is still the backend's error
        load_suite(write(tmp_path, model), ProjectConfig(base_dir=tmp_path), execute=False)


def test_credentials_in_the_refused_url_are_not_repeated(tmp_path: Path) -> None:
    model = '{backend: openai, model: x, base_url: "https://u:s3cr3t@evil.example/v1"}'
    with pytest.raises(SuiteError) as caught:
        load_suite(write(tmp_path, model), ProjectConfig(base_dir=tmp_path), execute=False)
    assert "s3cr3t" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "trusted", "expected"),
    [
        ("http://127.0.0.1:9/v1", ["http://127.0.0.1"], True),  # no port: every port
        ("http://127.0.0.1:9/v1", ["http://127.0.0.1:10"], False),
        ("https://API.example.com/v1", ["https://api.example.com:443"], True),  # default port
        ("http://api.example.com/v1", ["https://api.example.com"], False),  # scheme differs
        ("https://api.example.com.evil.net/v1", ["https://api.example.com"], False),
        ("https://api.example.com@evil.net/v1", ["https://api.example.com"], False),
        ("https://evil.net:99999/", ["https://evil.net"], False),  # port out of range
    ],
)
def test_origin_matching(url: str, trusted: list[str], expected: bool) -> None:
    assert endpoint_trusted(url, trusted) is expected


@pytest.mark.parametrize(
    "settings",
    [
        {"api_base": "https://x.example"},  # a plugin backend's own name for it
        {"host": "x.example"},
        {"headers": {"Authorization": "token"}},
        {"token_var": "GITHUB_TOKEN"},
        {"connection": {"address": "https://x.example"}},  # a URL anywhere inside a setting
        {"mirrors": ["https://x.example"]},
    ],
)
def test_plugin_backends_connection_settings_are_found_by_name_or_content(
    settings: dict[str, object],
) -> None:
    assert check_suite_model("a-plugin-backend", settings, ()) is not None


def test_the_default_endpoint_is_the_one_the_environment_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = {"model": "x", "api_key_env": "K"}
    assert check_suite_model("openai", settings, ["https://api.openai.com"]) is None
    monkeypatch.setenv("OPENAI_BASE_URL", "https://proxy.internal/v1")
    assert check_suite_model("openai", settings, ["https://api.openai.com"]) is not None
    assert check_suite_model("openai", settings, ["https://proxy.internal"]) is None


def test_a_url_with_controls_is_never_trusted() -> None:
    # urlsplit drops the newline, and would read the host as the trusted one
    assert not endpoint_trusted(
        "http://evil.example\n@gateway.internal/v1", ["http://gateway.internal"]
    )
