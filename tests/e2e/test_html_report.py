"""The HTML report in a real headless browser: Debian's chromium, driven through chromedriver.

Two runs go into a real store, ``promptcheck compare --html`` writes the page, and chromium
loads it from disk as a reviewer would open a downloaded CI artifact: it must load without a
console error (a Content-Security-Policy violation counts), keep a model's ``<script>`` inert,
highlight the regression, and filter. Skipped, with the reason, where chromium, chromedriver or
selenium is missing (``apt-get install chromium chromium-driver``; selenium is in the dev extra).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptcheck import cli
from promptcheck.checks.base import Status
from promptcheck.config import ExitCode
from promptcheck.report.html import write_html
from promptcheck.results import CaseResult, CheckOutcome, CheckTally, SampleOutcome
from promptcheck.stats import threshold_verdict
from promptcheck.store.database import RunInfo, Store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip(
        "needs Debian's chromium and chromedriver on PATH "
        "(apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip(
    "selenium.webdriver", reason="needs selenium (pip install -e '.[dev]')"
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

GOOD = '{"category": "bug", "priority": "P2"}'
HOSTILE = (
    '<script>window.pwned = 1; console.error("pwned")</script>'
    '<img src=x onerror="window.pwned = 2">'
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: (case id, conforming baseline samples, conforming candidate samples) out of 200 and 150
CASES = [
    ("ticket-json", 200, 80),  # regressed
    ("contact-json", 150, 150),  # improved: 75% -> 100%
    ("three-options", 200, 150),  # unchanged
    ("yes-no", 30, 130),  # inconclusive: too few baseline samples to rule a drop out
]


def case_result(case_id: str, k: int, n: int) -> CaseResult:
    samples = tuple(
        SampleOutcome(
            index=i,
            combination=0,
            variables={},
            prompt=f"Classify this ticket ({case_id})",
            seed=i,
            output=GOOD if i < k else HOSTILE,
            checks=(
                CheckOutcome(
                    0,
                    "json_schema",
                    Status.PASS if i < k else Status.FAIL,
                    "" if i < k else "Expecting value: line 1 column 1 (char 0)",
                ),
            ),
        )
        for i in range(n)
    )
    return CaseResult(
        suite="triage",
        suite_path="suites/triage.yaml",
        case_id=case_id,
        model="m",
        samples=samples,
        verdict=threshold_verdict(k, n, 0.95),
        tallies=(CheckTally(0, "json_schema", k, n - k),),
    )


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A baseline run (200 samples a case, 30 for yes-no) and a candidate run (150)."""
    path = tmp_path_factory.mktemp("store") / "promptcheck.db"
    with Store(path) as store:
        for run_id, model, started, column in (("base", "old", 1.0, 1), ("cand", "new", 2.0, 2)):
            store.create_run(RunInfo(run_id, run_id, model, {"backend": "scripted"}, started))
            for case_id, *conforming in CASES:
                n = (30 if case_id == "yes-no" else 200) if column == 1 else 150
                store.record_case(run_id, case_result(case_id, conforming[column - 1], n))
            store.finish_run(run_id, started + 1.0)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # --no-sandbox: CI containers run as root, where chromium's sandbox refuses to start
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,1000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def load(browser: WebDriver, page: Path) -> list[str]:
    """Open ``page``; return the console's errors (chromium logs CSP violations there too)."""
    browser.get_log("browser")  # drop what an earlier page left
    browser.get(page.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def row(browser: WebDriver, case_id: str) -> WebDriver:
    return browser.find_element(By.ID, f"case-suites_triage.yaml__{case_id}")


def test_comparison_page_loads_filters_and_highlights(
    browser: WebDriver,
    store_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    page = tmp_path / "report.html"
    code = cli.main(["compare", "base", "cand", "--store", str(store_path), "--html", str(page)])
    assert code == ExitCode.FAILED, capsys.readouterr()

    assert load(browser, page) == []
    changes = {case_id: row(browser, case_id).get_attribute("data-change") for case_id, *_ in CASES}
    assert changes == {
        "ticket-json": "regressed",
        "contact-json": "improved",
        "three-options": "unchanged",
        "yes-no": "inconclusive",
    }
    assert browser.execute_script("return window.pwned === undefined")
    outputs = browser.find_elements(By.CSS_SELECTOR, "tr.change-regressed pre.output")
    assert any(element.text.startswith("<script>window.pwned = 1") for element in outputs)

    regressed, unchanged = row(browser, "ticket-json"), row(browser, "three-options")
    assert "change-regressed" in (regressed.get_attribute("class") or "").split()
    name_cell = "th.name"
    red = regressed.find_element(By.CSS_SELECTOR, name_cell).value_of_css_property("box-shadow")
    plain = unchanged.find_element(By.CSS_SELECTOR, name_cell).value_of_css_property("box-shadow")
    assert red != plain and "198, 40, 40" in red  # the red bar beside a regressed case
    failing = regressed.find_elements(By.CSS_SELECTOR, "li.check-fail")
    assert failing and failing[0].is_displayed()  # its failing samples are open, check marked

    shown = browser.find_element(By.ID, "shown")
    assert shown.text == "4 of 4 cases shown"
    browser.find_element(By.ID, "only-changed").click()
    assert not unchanged.is_displayed()
    for case_id in ("ticket-json", "contact-json", "yes-no"):
        assert row(browser, case_id).is_displayed(), case_id
    assert shown.text == "3 of 4 cases shown"
    browser.find_element(By.ID, "only-changed").click()
    assert unchanged.is_displayed()
    assert shown.text == "4 of 4 cases shown"

    screenshot = tmp_path / "report.png"
    assert browser.save_screenshot(str(screenshot))
    data = screenshot.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1_000


def test_single_run_page_loads_and_filters_on_the_verdict(
    browser: WebDriver, store_path: Path, tmp_path: Path
) -> None:
    page = tmp_path / "run.html"
    with Store(store_path) as store:
        write_html(page, None, [store.run("cand")], store)

    assert load(browser, page) == []
    assert browser.find_elements(By.CSS_SELECTOR, "td.change") == []
    passing, failing = row(browser, "three-options"), row(browser, "ticket-json")
    browser.find_element(By.ID, "only-changed").click()
    assert failing.is_displayed() and not passing.is_displayed()
    screenshot = tmp_path / "run.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes().startswith(PNG_SIGNATURE)
