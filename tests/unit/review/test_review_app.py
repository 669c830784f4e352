"""The review app's handlers over HTTP (aiohttp's test server on loopback): who may do what,
what a page shows when, and that a model's markup stays text."""

from __future__ import annotations

import asyncio
import re
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from markupsafe import escape

from promptcheck.results import Status
from promptcheck.review.app import Settings, build_app
from promptcheck.review.auth import COOKIE, token_digest
from promptcheck.review.items import side_order
from promptcheck.review.server import loopback_names
from promptcheck.review.workspace import ReviewWorkspace
from promptcheck.store.database import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fakes package

from fakes.judged_runs import judged_case, record_run

P, F = Status.PASS, Status.FAIL
STRATUM_WORDS = re.compile(r"\b(failing|passing|disagreement)\b")
HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="pwned()">'
TOKEN = "alice-token-0123456789"


@pytest.fixture
def workspace(tmp_path: Path) -> ReviewWorkspace:
    store = Store(tmp_path / "s.db")
    record_run(store, "r1", [judged_case("c1", [(HOSTILE, False, F), ('{"ok": 1}', True, P)])])
    record_run(
        store,
        "r2",
        [judged_case("c1", [("second A", True, P), ("second B", True, P)], model="big")],
        model="big",
        at=5.0,
    )
    store.save_rater("alice", token_digest(TOKEN), 0.0)
    return ReviewWorkspace(store, overlap=2)


Scenario = Callable[[TestClient], Awaitable[None]]


def serve(workspace: ReviewWorkspace, scenario: Scenario, settings: Settings | None = None) -> None:
    async def run() -> None:
        async with TestClient(TestServer(build_app(workspace, settings))) as client:
            await scenario(client)

    asyncio.run(asyncio.wait_for(run(), timeout=60))


async def login(client: TestClient) -> str:
    response = await client.get(f"/login?token={TOKEN}", allow_redirects=False)
    assert response.status == 303
    page = await (await client.get("/")).text()
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_nothing_without_a_login_and_a_login_sets_a_strict_cookie(
    workspace: ReviewWorkspace,
) -> None:
    async def scenario(client: TestClient) -> None:
        refused = await client.get("/")
        assert refused.status == 401 and "Log in first" in await refused.text()
        wrong = await client.get("/login?token=nope", allow_redirects=False)
        assert wrong.status == 401
        response = await client.get(f"/login?token={TOKEN}", allow_redirects=False)
        cookie = response.headers["Set-Cookie"]
        assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie and TOKEN not in cookie
        for page in (response, await client.get("/")):
            policy = page.headers["Content-Security-Policy"]
            assert "default-src 'none'" in policy and "script-src 'sha256-" in policy
            assert page.headers["X-Content-Type-Options"] == "nosniff"
            assert page.headers["Referrer-Policy"] == "same-origin"

    serve(workspace, scenario)


def test_every_change_needs_the_sessions_csrf_token_and_this_origin(
    workspace: ReviewWorkspace,
) -> None:
    async def scenario(client: TestClient) -> None:
        csrf = await login(client)
        for data in ({"run_a": "r1"}, {"run_a": "r1", "csrf": "forged"}):
            response = await client.post("/sets", data=data, allow_redirects=False)
            assert response.status == 403
        elsewhere = await client.post(
            "/sets",
            data={"run_a": "r1", "csrf": csrf},
            headers={"Origin": "http://evil.example"},
            allow_redirects=False,
        )
        assert elsewhere.status == 403
        here = f"{client.server.host}:{client.server.port}"
        for origin in ("null", f"http://{here}.evil.example", f"ftp://{here}"):
            refused = await client.post(
                "/sets",
                data={"run_a": "r1", "csrf": csrf},
                headers={"Origin": origin},
                allow_redirects=False,
            )
            assert refused.status == 403, origin
        assert workspace.sets() == []
        opened = await client.post(
            "/sets", data={"run_a": "r1", "csrf": csrf}, allow_redirects=False
        )
        assert opened.status == 303
        assert opened.headers["Location"] in ("/sets/run%3Ar1", "/sets/run:r1")
        # behind a TLS-terminating proxy the browser's origin is https, this server sees http
        proxied = await client.post(
            "/sets",
            data={"run_a": "r2", "csrf": csrf},
            headers={"Origin": f"https://{here}"},
            allow_redirects=False,
        )
        assert proxied.status == 303

    serve(workspace, scenario)


def test_a_loopback_server_refuses_other_host_names(workspace: ReviewWorkspace) -> None:
    async def scenario(client: TestClient) -> None:
        assert (await client.get(f"/login?token={TOKEN}", allow_redirects=False)).status == 303
        rebound = await client.get("/", headers={"Host": "evil.example"})
        assert rebound.status == 421

    async def run() -> None:
        with socket.socket() as probe:  # a free port, so the allowed name is known beforehand
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        allowed = Settings(loopback_names(port))
        server = TestServer(build_app(workspace, allowed), host="127.0.0.1", port=port)
        async with TestClient(server) as client:
            await scenario(client)

    asyncio.run(asyncio.wait_for(run(), timeout=60))


def test_checks_stay_hidden_until_answered_and_markup_stays_text(
    workspace: ReviewWorkspace,
) -> None:
    async def scenario(client: TestClient) -> None:
        csrf = await login(client)
        await client.post("/sets", data={"run_a": "r1", "csrf": csrf})
        first = await client.get("/sets/run:r1/next", allow_redirects=False)
        item_url = first.headers["Location"]
        page = await (await client.get(item_url)).text()
        assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in page
        assert "<script>window.pwned" not in page and 'onerror="pwned' not in page
        assert "json_schema" not in page and "the judge said" not in page  # hidden
        assert not STRATUM_WORDS.search(page)  # nor the queue's stratum, an automatic verdict
        rated = await client.post(
            item_url,
            data={"csrf": csrf, "verdict_only": "fail", "label": "xss", "note": "<b>n</b>"},
            allow_redirects=False,
        )
        assert rated.status == 303
        page = await (await client.get(item_url)).text()
        assert "json_schema" in page and "the judge said fail" in page  # revealed
        assert STRATUM_WORDS.search(page)
        assert 'id="next-link"' in page
        await client.post(item_url, data={"csrf": csrf, "verdict_only": "pass"})
        other = (await client.get("/sets/run:r1/next", allow_redirects=False)).headers["Location"]
        assert other != item_url
        assert '<option value="xss">' in await (await client.get(other)).text()  # the set's labels
        (first_rating, second_rating) = workspace.store.ratings("run:r1")
        assert (first_rating.verdict, first_rating.label, first_rating.note) == (
            "fail",
            "xss",
            "<b>n</b>",
        )
        assert second_rating.verdict == "pass"  # a change is a new rating
        missing = await client.post(item_url, data={"csrf": csrf})
        assert missing.status == 400 and "Answer pass or fail" in await missing.text()

    serve(workspace, scenario)


def test_a_comparison_maps_left_and_right_back_to_the_runs(workspace: ReviewWorkspace) -> None:
    async def scenario(client: TestClient) -> None:
        csrf = await login(client)
        opened = await client.post(
            "/sets", data={"run_a": "r1", "run_b": "r2", "csrf": csrf}, allow_redirects=False
        )
        set_url = opened.headers["Location"]
        review_set = workspace.sets()[0]
        for item in workspace.items(review_set):
            page = await (await client.get(f"{set_url}/items/{item.id}")).text()
            left, right = side_order("alice", review_set.id, item)
            outputs = re.findall(r'<pre class="output">(.*?)</pre>', page, re.S)
            assert outputs == [
                str(escape(item.sides[left].output)),
                str(escape(item.sides[right].output)),
            ]
            await client.post(
                f"{set_url}/items/{item.id}",
                data={"csrf": csrf, "verdict_left": "pass", "verdict_right": "fail"},
            )
            verdicts = {
                r.item.run_id: r.verdict
                for r in workspace.store.ratings(review_set.id)
                if r.item.sample == item.sides[0].key.sample
            }
            expected = {item.sides[left].key.run_id: "pass", item.sides[right].key.run_id: "fail"}
            assert verdicts == expected

    serve(workspace, scenario)


def test_a_locked_set_refuses_ratings_and_exports(workspace: ReviewWorkspace) -> None:
    async def scenario(client: TestClient) -> None:
        csrf = await login(client)
        await client.post("/sets", data={"run_a": "r1", "csrf": csrf})
        first = await client.get("/sets/run:r1/next", allow_redirects=False)
        item_url = first.headers["Location"]
        await client.post(item_url, data={"csrf": csrf, "verdict_only": "fail"})
        locked = await client.post("/sets/run:r1/lock", data={"csrf": csrf}, allow_redirects=False)
        assert locked.status == 303
        refused = await client.post(item_url, data={"csrf": csrf, "verdict_only": "pass"})
        assert refused.status == 409 and "is locked: it takes no ratings" in await refused.text()
        page = await (await client.get("/sets/run:r1")).text()
        assert 'id="lock-state" class="intact"' in page and "the ratings are as locked" in page
        exported = await client.get("/sets/run:r1/export.jsonl")
        assert exported.headers["Content-Disposition"] == 'attachment; filename="run_r1.jsonl"'
        lines = (await exported.text()).splitlines()
        assert len(lines) == 2 and '"kind": "promptcheck.review"' in lines[0]

    serve(workspace, scenario)
