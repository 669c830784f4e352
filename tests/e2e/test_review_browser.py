"""Human review in a real headless browser: ``promptcheck review`` in its own process, two raters
in two chromium sessions rating the same items with the keyboard, a lock that stops a rating,
the figures on the page against hand-computed ones, and an export that round-trips.

The run has one case of six outputs, scored by a format check and a judge:

====== ========================= ====== ===== ===== =====
sample output                    format judge alice bob
====== ========================= ====== ===== ===== =====
0      {"priority": "P1"}        pass   pass  p     p
1      {"priority": "P2"}        pass   pass  p     f
2      <script>...               fail   fail  f     f
3      {"priority": "P9"}        pass   fail  f     f
4      not json                  fail   pass  f     f
5      {"priority": "P3"}        pass   pass  p     p
====== ========================= ====== ===== ===== =====

By hand: alice and bob agree on 5 of 6 (alice 3 pass, bob 2): Cohen's kappa = (5/6 - 1/2) /
(1 - 1/2) = 2/3. Their majority labels sample 1 as split; of the other five, humans pass 0 and 5
and the judge passes both (sensitivity 2/2), humans fail 2, 3, 4 and the judge fails 2 and 3
(specificity 2/3). The queue's strata: passing 0, 1, 5 (two labelled: weight 3/2 each),
failing 2, disagreement 3 and 4 (weight 1). Judge-human kappa on the weighted table [[3, 0],
[1, 2]] at Kish's effective size 36/7.5 = 4.8 (scale 0.8): p_o = 5/6, p_e = 1/2, kappa = 2/3;
sensitivity and specificity are unchanged (equal weights within each). The judge passes 4 of 6
in the run: Rogan-Gladen (2/3 + 2/3 - 1) / (1 + 2/3 - 1) = 1/2. The human rate weights the strata:
3/6 x 2/2 + 1/6 x 0/1 + 2/6 x 0/2 = 1/2, undecided with so few labels per stratum, and nothing
is left to label (sample 1 is split).

Skipped, with the reason, where chromium, chromedriver or selenium is missing. Set
``PROMPTCHECK_REVIEW_SCREENSHOTS=docs/images`` to refresh the screenshots docs/review.md shows.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptcheck import cli
from promptcheck.config import ExitCode
from promptcheck.results import Status
from promptcheck.review import ReviewWorkspace
from promptcheck.store.database import Store

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
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the fakes package

from fakes.judged_runs import judged_case, record_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
P, F = Status.PASS, Status.FAIL
HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
SAMPLES = [
    ('{"priority": "P1"}', True, P),
    ('{"priority": "P2"}', True, P),
    (HOSTILE, False, F),
    ('{"priority": "P9"}', True, F),
    ("not json", False, P),
    ('{"priority": "P3"}', True, P),
]
ALICE = {0: "p", 1: "p", 2: "f", 3: "f", 4: "f", 5: "p"}
BOB = {**ALICE, 1: "f"}
TOKENS = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789ab"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WAIT_S = 20


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project directory with a store of two runs, and a pristine copy of the store."""
    root = tmp_path_factory.mktemp("review")
    with Store(root / "store.db") as store:
        record_run(store, "run-small", [judged_case("ticket-json", SAMPLES)])
        bigger = [
            ('{"priority": "P1", "team": "billing"}', True, P),
            ('{"priority": "P2", "team": "support"}', True, P),
            ('{"priority": "P0", "team": "sre"}', True, P),
            ('{"priority": "P2", "team": "billing"}', True, F),
            ('{"priority": "P3"}', True, P),
            ('{"priority": "P3", "team": "support"}', True, P),
        ]
        record_run(
            store,
            "run-big",
            [judged_case("ticket-json", bigger, model="big")],
            model="big",
            at=5.0,
        )
    shutil.copyfile(root / "store.db", root / "pristine.db")
    raters = "[raters]\n" + "".join(f'{name} = "{token}"\n' for name, token in TOKENS.items())
    (root / "raters.toml").write_text(raters, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[str]:
    """``promptcheck review`` in a child process; yields its base URL."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    command = [
        sys.executable,
        "-c",
        "import sys; from promptcheck.cli import main; sys.exit(main(sys.argv[1:]))",
        "review",
        "--store",
        str(project / "store.db"),
        "--port",
        "0",
        "--raters",
        str(project / "raters.toml"),
        "--overlap",
        "2",
    ]
    process = subprocess.Popen(
        command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(
        target=lambda: [lines.put(line) for line in process.stdout],
        daemon=True,  # type: ignore[union-attr]
    ).start()
    try:
        first = lines.get(timeout=60)
        assert first.startswith("promptcheck review: serving "), first
        url = first.split(" on ", 1)[1].split("/ (", 1)[0]
        assert url.startswith("http://127.0.0.1:")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def new_browser() -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # --no-sandbox: CI containers run as root, where chromium's sandbox refuses to start
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.add_argument("--window-size=1300,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture(scope="module")
def browsers() -> Iterator[dict[str, WebDriver]]:
    """One chromium per rater: two sessions, two cookies."""
    opened: dict[str, WebDriver] = {}
    try:
        for name in TOKENS:
            opened[name] = new_browser()
        yield opened
    finally:
        for driver in opened.values():
            driver.quit()


def severe(browser: WebDriver) -> list[str]:
    """The console's errors since the last call (chromium logs CSP violations there)."""
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def press(browser: WebDriver, keys: str) -> None:
    ActionChains(browser).send_keys(keys).perform()


def wait_for(browser: WebDriver, condition: object) -> None:
    WebDriverWait(browser, WAIT_S).until(condition)  # type: ignore[arg-type]


def sample_shown(browser: WebDriver) -> int:
    output = browser.find_element(By.CSS_SELECTOR, "pre.output").text
    return next(i for i, (text, _, _) in enumerate(SAMPLES) if text == output)


def rate_queue(browser: WebDriver, verdicts: dict[int, str]) -> list[tuple[int, str]]:
    """Press the rater's way through their queue: ``s`` to start, ``p``/``f`` to answer, ``j``
    for the next item, until the set page says nothing is left; returns the samples rated, each
    with its item's URL."""
    press(browser, "s")
    wait_for(browser, lambda d: "/items/" in d.current_url)
    rated: list[tuple[int, str]] = []
    while "/items/" in browser.current_url:
        sample = sample_shown(browser)
        if not rated:  # the first item gets a label and a note, typed through the shortcuts
            press(browser, "l")
            press(browser, "wrong-priority" + Keys.ESCAPE)
            press(browser, "n")
            press(browser, "checked by hand" + Keys.ESCAPE)
        press(browser, verdicts[sample])
        wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".revealed"))
        rated.append((sample, browser.current_url))
        mine = browser.find_element(By.CSS_SELECTOR, ".revealed b.mine").text
        assert mine == {"p": "pass", "f": "fail"}[verdicts[sample]]
        checks = browser.find_element(By.CSS_SELECTOR, "ul.checks").text
        assert "json_schema" in checks and "judge" in checks  # shown once answered
        here = browser.current_url
        press(browser, "j")
        wait_for(browser, lambda d, here=here: d.current_url != here)
    assert "done=1" in browser.current_url
    return rated


def test_two_raters_rate_with_the_keyboard_then_a_lock_stops_a_rating(
    server: str, project: Path, browsers: dict[str, WebDriver]
) -> None:
    alice, bob = browsers["alice"], browsers["bob"]
    for name, browser in browsers.items():
        browser.get(f"{server}/login?token={TOKENS[name]}")
        assert browser.find_element(By.ID, "rater").text == name
        assert severe(browser) == []

    alice.find_element(By.CSS_SELECTOR, "#runs tr:nth-child(2) button").click()  # run-small
    wait_for(alice, lambda d: "/sets/" in d.current_url)
    set_url = alice.current_url
    assert "run-small" in set_url

    alice_rated = rate_queue(alice, ALICE)
    assert sorted(sample for sample, _ in alice_rated) == list(range(6))
    assert alice_rated[0][0] in (3, 4)  # judge-check disagreements first
    bob.get(set_url)
    bob_rated = rate_queue(bob, BOB)
    assert [sample for sample, _ in bob_rated] == [sample for sample, _ in alice_rated]
    with Store(project / "store.db") as store:
        ratings = store.ratings("run:run-small")
    assert len(ratings) == 12
    assert {(r.rater, r.label, r.note) for r in ratings if r.label} == {
        ("alice", "wrong-priority", "checked by hand"),
        ("bob", "wrong-priority", "checked by hand"),
    }

    alice.get(set_url)
    # figures against the hand-computed ones (module docstring)
    page = alice
    agreement = page.find_element(By.ID, "agreement").text
    assert "Cohen's kappa over 6 items rated by 2 raters (alice, bob): 0.667" in agreement
    case_row = page.find_element(By.CSS_SELECTOR, "#cases tr[data-run='run-small']").text
    assert "50.0%" in case_row and "2 of 5 labelled pass" in case_row
    assert "undecided" in case_row and "not decidable from the outputs left" in case_row
    calibration = page.find_element(By.CSS_SELECTOR, "#calibration tbody tr").text
    assert "5 (2 / 3)" in calibration
    assert "100.0%" in calibration and "66.7%" in calibration and "0.667" in calibration
    assert "run-small: 66.7% → 50.0%" in calibration
    assert severe(page) == []
    screenshots(alice, "review-set")
    screenshots(alice, "review-calibration", page.find_element(By.ID, "calibration"))

    # bob opens an item (he may change his answer) ... then alice locks the set
    item_url = bob_rated[-1][1]
    bob.get(item_url)
    assert bob.find_element(By.ID, "save").text == "Change your answer"
    alice.find_element(By.CSS_SELECTOR, "#lock button").click()
    wait_for(alice, lambda d: d.find_elements(By.ID, "lock-state"))
    assert "the ratings are as locked" in alice.find_element(By.ID, "lock-state").text
    press(bob, "p")  # ... and the server refuses
    wait_for(bob, lambda d: d.find_elements(By.ID, "message"))
    assert "is locked: it takes no ratings" in bob.find_element(By.ID, "message").text
    bob.get(item_url)
    assert bob.find_element(By.ID, "locked").is_displayed()
    press(bob, "p")  # a locked page's form does not even submit
    assert "/items/" in bob.current_url
    with Store(project / "store.db") as store:
        assert len(store.ratings("run:run-small")) == 12

    # the export round-trips into the store as it was before anyone rated
    exported, again = project / "set.jsonl", project / "again.jsonl"
    here = ["--store", str(project / "store.db")]
    pristine = ["--store", str(project / "pristine.db")]
    assert cli.main(["review", "export", "run:run-small", "--out", str(exported), *here]) == 0
    assert cli.main(["review", "import", str(exported), *pristine]) == ExitCode.OK
    assert cli.main(["review", "export", "run:run-small", "--out", str(again), *pristine]) == 0
    assert again.read_text(encoding="utf-8") == exported.read_text(encoding="utf-8")
    assert cli.main(["review", "verify", *pristine]) == ExitCode.OK


def test_markup_in_an_output_shows_as_text(
    server: str, project: Path, browsers: dict[str, WebDriver]
) -> None:
    alice = browsers["alice"]
    severe(alice)
    with Store(project / "store.db") as store:
        workspace = ReviewWorkspace(store)
        review_set = workspace.review_set("run:run-small")
        hostile = next(i for i in workspace.items(review_set) if i.sides[0].output == HOSTILE)
    alice.get(f"{server}/sets/run:run-small/items/{hostile.id}")
    shown = alice.find_element(By.CSS_SELECTOR, "pre.output").text
    assert shown == HOSTILE
    assert alice.execute_script("return window.pwned === undefined")
    assert alice.find_elements(By.CSS_SELECTOR, "pre.output img") == []
    assert severe(alice) == []


def test_a_comparison_shows_both_outputs_side_by_side(
    server: str, browsers: dict[str, WebDriver]
) -> None:
    bob = browsers["bob"]
    severe(bob)  # drop what an earlier test left (the refused rating's 409)
    bob.get(f"{server}/")
    form = bob.find_element(By.ID, "compare")
    form.find_element(By.CSS_SELECTOR, "select[name=run_a] option[value='run-small']").click()
    form.find_element(By.CSS_SELECTOR, "select[name=run_b] option[value='run-big']").click()
    form.find_element(By.CSS_SELECTOR, "button").click()
    wait_for(bob, lambda d: "comparison" in d.current_url)
    press(bob, "s")
    wait_for(bob, lambda d: "/items/" in d.current_url)
    sides = bob.find_elements(By.CSS_SELECTOR, "section.side")
    assert len(sides) == 2 and "pending" in (sides[0].get_attribute("class") or "")
    screenshots(bob, "review-item", bob.find_element(By.TAG_NAME, "main"))
    press(bob, "p")
    assert "pending" in (sides[1].get_attribute("class") or "")  # now answering output B
    press(bob, "f")
    wait_for(bob, lambda d: d.find_elements(By.CSS_SELECTOR, ".revealed"))
    mine = [e.text for e in bob.find_elements(By.CSS_SELECTOR, ".revealed b.mine")]
    assert mine == ["pass", "fail"]
    assert severe(bob) == []


def screenshots(browser: WebDriver, name: str, element: WebElement | None = None) -> None:
    """A PNG of the page (or of one element), checked; written to
    $PROMPTCHECK_REVIEW_SCREENSHOTS when set."""
    data = element.screenshot_as_png if element is not None else browser.get_screenshot_as_png()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1_000
    target = os.environ.get("PROMPTCHECK_REVIEW_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        (Path(target) / f"{name}.png").write_bytes(data)
