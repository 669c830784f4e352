"""What every test starts from."""

from __future__ import annotations

import pytest

#: What GitHub Actions sets that makes promptcheck write annotations, a job summary and step
#: outputs: run inside a real CI job, the tests would write into that job's summary and outputs.
GITHUB_VARIABLES = ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT")


@pytest.fixture(autouse=True)
def _outside_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run as outside GitHub Actions unless they set these variables themselves."""
    for name in GITHUB_VARIABLES:
        monkeypatch.delenv(name, raising=False)
