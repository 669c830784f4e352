"""The review web app: aiohttp handlers over a :class:`ReviewWorkspace`, HTML from templates.

Every page needs a logged-in rater (a session started by a login link). Every request that
changes something is a POST whose form carries the session's CSRF token, checked here, and whose
``Origin`` (when the browser sends one) must name this server's host and port (not its scheme:
a TLS proxy in front makes the browser's origin https); the session cookie is
``SameSite=Strict``. When the server listens on loopback only, a request naming another host is
refused, so a web page elsewhere cannot reach it through DNS rebinding. Responses carry a
Content-Security-Policy (:mod:`.pages`), ``nosniff``, no framing, no referrer outside this
server (the login link's token never leaves it) and no caching.

Store work runs in a worker thread (``asyncio.to_thread``), so a page that computes figures
does not hold up another rater's request.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from promptcheck.errors import PromptcheckError
from promptcheck.review import pages
from promptcheck.review.auth import COOKIE, Session, Sessions, csrf_ok, token_digest
from promptcheck.review.items import ReviewItem
from promptcheck.review.transfer import export_csv, export_jsonl
from promptcheck.review.workspace import ReviewWorkspace
from promptcheck.store.reviews import ReviewSet, Verdict

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

WORKSPACE = web.AppKey("workspace", ReviewWorkspace)
SESSION = web.RequestKey("session", Session)
FORM = web.RequestKey("form", MultiDictProxy)
SESSIONS = web.AppKey("sessions", Sessions)
ALLOWED_HOSTS = web.AppKey("allowed_hosts", frozenset)

_POSITIONS = {1: ("only",), 2: ("left", "right")}


@dataclass(frozen=True)
class Settings:
    """How the app is reached: ``allowed_hosts``, the host:port names a request may carry
    (empty: any, for a non-loopback bind)."""

    allowed_hosts: frozenset[str] = frozenset()


def build_app(workspace: ReviewWorkspace, settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    app = web.Application(
        middlewares=[_headers, _known_host, _logged_in], client_max_size=64 * 1024
    )
    app[WORKSPACE] = workspace
    app[SESSIONS] = Sessions()
    app[ALLOWED_HOSTS] = settings.allowed_hosts
    app.router.add_get("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", index)
    app.router.add_post("/sets", open_set)
    app.router.add_get("/sets/{set_id}", review_set_page)
    app.router.add_get("/sets/{set_id}/next", next_item)
    app.router.add_get("/sets/{set_id}/items/{item_id}", item_page)
    app.router.add_post("/sets/{set_id}/items/{item_id}", rate)
    app.router.add_post("/sets/{set_id}/lock", lock)
    app.router.add_get("/sets/{set_id}/export.{form}", export)
    return app


# -- middlewares ------------------------------------------------------------------------------


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects and refusals: the same headers, then raised
        _secure(exc)
        raise
    except PromptcheckError as exc:  # a refused rating, a set that is not there: a page
        response = _page("message.html.j2", request, status=409, title="Not done", text=str(exc))
    _secure(response)
    return response


def _secure(response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = pages.content_security_policy()
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    # same-origin, not no-referrer: under no-referrer chromium sends "Origin: null" with a form
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"


@web.middleware
async def _known_host(request: web.Request, handler: Handler) -> web.StreamResponse:
    allowed = request.app[ALLOWED_HOSTS]
    if allowed and request.host.lower() not in allowed:
        raise web.HTTPMisdirectedRequest(text="this review server answers on loopback only")
    return await handler(request)


@web.middleware
async def _logged_in(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path == "/login":
        return await handler(request)
    session = request.app[SESSIONS].get(request.cookies.get(COOKIE))
    if session is None:
        return _page(
            "message.html.j2",
            request,
            status=401,
            title="Log in first",
            text="Open your login link: `promptcheck review --rater NAME` prints one, or ask "
            "whoever runs the review for yours.",
        )
    request[SESSION] = session
    if request.method == "POST":
        form = await request.post()
        origin = request.headers.get("Origin")
        if origin is not None and not same_host(origin, request.host):
            raise web.HTTPForbidden(text="cross-origin request refused")
        if not csrf_ok(session, form.get("csrf")):
            raise web.HTTPForbidden(text="missing or wrong CSRF token: reload the page")
        request[FORM] = form
    return await handler(request)


# -- helpers ----------------------------------------------------------------------------------


def same_host(origin: str, host: str) -> bool:
    """Whether a browser's ``Origin`` names the host:port the request was sent to. The scheme is
    not compared: behind a TLS-terminating proxy the browser's origin is https while this server
    sees plain http; the Host header the proxy passes on is what both agree on."""
    parsed = urllib.parse.urlsplit(origin)
    return parsed.scheme in ("http", "https") and parsed.netloc.lower() == host.lower()


def _session(request: web.Request) -> Session:
    return request[SESSION]


def _page(
    template: str, request: web.Request, *, status: int = 200, **context: Any
) -> web.Response:
    session = request.get(SESSION)
    body = pages.render(
        template,
        {
            "rater": session.rater if session else None,
            "csrf": session.csrf if session else "",
            **context,
        },
    )
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def _set_url(review_set: ReviewSet | str) -> str:
    set_id = review_set if isinstance(review_set, str) else review_set.id
    return "/sets/" + urllib.parse.quote(set_id, safe="")


def _case_query(request: web.Request) -> tuple[str, str] | None:
    suite_path, case_id = request.query.get("suite_path"), request.query.get("case_id")
    return (suite_path, case_id) if suite_path and case_id else None


def _with_case(url: str, case: tuple[str, str] | None) -> str:
    if case is None:
        return url
    return url + "?" + urllib.parse.urlencode({"suite_path": case[0], "case_id": case[1]})


async def _set(request: web.Request) -> ReviewSet:
    workspace = request.app[WORKSPACE]
    set_id = request.match_info["set_id"]
    sets = {s.id: s for s in await asyncio.to_thread(workspace.sets)}
    found = sets.get(set_id)
    if found is None:
        raise web.HTTPNotFound(text=f"no review set {set_id!r}")
    return found


async def _item(request: web.Request, review_set: ReviewSet) -> ReviewItem:
    workspace = request.app[WORKSPACE]
    item = await asyncio.to_thread(workspace.item, review_set, request.match_info["item_id"])
    if item is None:
        raise web.HTTPNotFound(text="no such item in this review set")
    return item


# -- handlers ---------------------------------------------------------------------------------


async def login(request: web.Request) -> web.StreamResponse:
    token = request.query.get("token", "")
    workspace = request.app[WORKSPACE]
    rater = await asyncio.to_thread(workspace.store.rater_for_token, token_digest(token))
    if not token or rater is None:
        return _page(
            "message.html.j2",
            request,
            status=401,
            title="Unknown login link",
            text="This link logs nobody in: its token is not a rater's (tokens change when a "
            "rater is given a new one).",
        )
    session_id, _ = request.app[SESSIONS].start(rater.name)
    redirect = web.HTTPSeeOther("/")
    redirect.set_cookie(COOKIE, session_id, httponly=True, samesite="Strict", path="/")
    raise redirect


async def logout(request: web.Request) -> web.StreamResponse:
    request.app[SESSIONS].end(request.cookies.get(COOKIE))
    redirect = web.HTTPSeeOther("/login")
    redirect.del_cookie(COOKIE, path="/")
    raise redirect


async def index(request: web.Request) -> web.StreamResponse:
    workspace = request.app[WORKSPACE]
    runs = await asyncio.to_thread(workspace.runs)
    sets = await asyncio.to_thread(workspace.sets)
    return _page("index.html.j2", request, title="promptcheck review", runs=runs, sets=sets)


async def open_set(request: web.Request) -> web.StreamResponse:
    form = request[FORM]
    run_a = str(form.get("run_a", ""))
    run_b = str(form.get("run_b", "")) or None
    review_set = await asyncio.to_thread(request.app[WORKSPACE].open_set, run_a, run_b)
    raise web.HTTPSeeOther(_set_url(review_set))


async def review_set_page(request: web.Request) -> web.StreamResponse:
    review_set = await _set(request)
    workspace = request.app[WORKSPACE]
    overview = await asyncio.to_thread(workspace.overview, review_set, _session(request).rater)
    return _page(
        "set.html.j2",
        request,
        title=f"Review {review_set.id}",
        overview=overview,
        set_url=_set_url(review_set),
        done=request.query.get("done") == "1",
        floor=workspace.floor,
    )


async def next_item(request: web.Request) -> web.StreamResponse:
    review_set = await _set(request)
    case = _case_query(request)
    item = await asyncio.to_thread(
        request.app[WORKSPACE].next_item, review_set, _session(request).rater, case
    )
    if item is None:
        raise web.HTTPSeeOther(_set_url(review_set) + "?done=1")
    raise web.HTTPSeeOther(_with_case(f"{_set_url(review_set)}/items/{item.id}", case))


async def item_page(request: web.Request) -> web.StreamResponse:
    review_set = await _set(request)
    item = await _item(request, review_set)
    return await _item_response(request, review_set, item)


async def _item_response(
    request: web.Request,
    review_set: ReviewSet,
    item: ReviewItem,
    *,
    status: int = 200,
    problem: str | None = None,
) -> web.Response:
    workspace = request.app[WORKSPACE]
    rater = _session(request).rater
    mine = await asyncio.to_thread(workspace.my_ratings, review_set, item, rater)
    order = workspace.sides_for(review_set, item, rater)
    latest = {rating.item: rating for rating in mine}
    shown = [
        {
            "position": position,
            "side": item.sides[index],
            "mine": latest.get(item.sides[index].key),
        }
        for position, index in zip(_POSITIONS[len(item.sides)], order, strict=True)
    ]
    case = _case_query(request)
    overview_progress = await asyncio.to_thread(workspace.progress, review_set, rater)
    current = await asyncio.to_thread(workspace.store.review_set, review_set.id)
    set_ratings = await asyncio.to_thread(workspace.store.ratings, review_set.id)
    return _page(
        "item.html.j2",
        request,
        status=status,
        title=f"{item.case_id}: rate the output",
        item=item,
        shown=shown,
        revealed=bool(mine),
        locked=current.lock is not None,
        problem=problem,
        progress=overview_progress,
        set_url=_set_url(review_set),
        action=_with_case(f"{_set_url(review_set)}/items/{item.id}", case),
        next_url=_with_case(f"{_set_url(review_set)}/next", case),
        labels=sorted({r.label for r in set_ratings if r.label}),
        review_set=current,
    )


async def rate(request: web.Request) -> web.StreamResponse:
    review_set = await _set(request)
    item = await _item(request, review_set)
    workspace = request.app[WORKSPACE]
    rater = _session(request).rater
    form = request[FORM]
    order = workspace.sides_for(review_set, item, rater)
    verdicts: list[Verdict | None] = [None] * len(item.sides)
    for position, index in zip(_POSITIONS[len(item.sides)], order, strict=True):
        given = form.get(f"verdict_{position}")
        verdicts[index] = "pass" if given == "pass" else "fail" if given == "fail" else None
    answered = [v for v in verdicts if v is not None]
    if len(answered) != len(verdicts):
        return await _item_response(
            request,
            review_set,
            item,
            status=400,
            problem="Answer pass or fail for every output (p / f).",
        )
    label = str(form.get("label", "") or "")
    note = str(form.get("note", "") or "")
    await asyncio.to_thread(workspace.rate, review_set, item, rater, answered, label, note)
    raise web.HTTPSeeOther(
        _with_case(f"{_set_url(review_set)}/items/{item.id}", _case_query(request))
    )


async def lock(request: web.Request) -> web.StreamResponse:
    review_set = await _set(request)
    await asyncio.to_thread(request.app[WORKSPACE].lock, review_set, _session(request).rater)
    raise web.HTTPSeeOther(_set_url(review_set))


async def export(request: web.Request) -> web.StreamResponse:
    review_set = await _set(request)
    form = request.match_info["form"]
    if form not in ("jsonl", "csv"):
        raise web.HTTPNotFound(text="export as .jsonl or .csv")
    workspace = request.app[WORKSPACE]
    ratings = await asyncio.to_thread(workspace.store.ratings, review_set.id)
    text = (export_jsonl if form == "jsonl" else export_csv)(review_set, ratings)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in review_set.id)
    return web.Response(
        text=text,
        content_type="application/x-ndjson" if form == "jsonl" else "text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe}.{form}"'},
    )
