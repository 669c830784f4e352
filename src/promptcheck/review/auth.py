"""Who is rating: raters' tokens, login sessions, and the CSRF token of each session.

A rater is named and logs in with a token, given once as a link (``/login?token=...``). The store
keeps only the token's SHA-256, so a copied store file logs nobody in. Logging in starts a session
whose id travels in an ``HttpOnly``, ``SameSite=Strict`` cookie; each session has its own random
CSRF token, put in a hidden field of every form and checked on every request that changes
anything. Sessions live in the server's memory: restarting the server logs everyone out, and the
login links still work.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import secrets
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from promptcheck.errors import ConfigError

#: Name of the session cookie.
COOKIE = "promptcheck_review"
#: Shortest token a raters file may give: guessing one must be hopeless.
MIN_TOKEN_CHARS = 16
#: How long a login lasts without use.
SESSION_IDLE_S = 12 * 3600.0


def token_digest(token: str) -> str:
    """What the store keeps of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(24)


def default_rater_name() -> str:
    """The local user's name, for the rater a loopback review creates when none is defined."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        name = ""
    return name or "reviewer"


def read_raters_file(path: Path) -> dict[str, str]:
    """``[raters]`` of a TOML file: ``name = "token"`` per rater."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read the raters file: {exc}",
            hint='write one line per rater under [raters]: alice = "a long random token"',
        ) from None
    table = document.get("raters")
    if not isinstance(table, dict) or not table:
        raise ConfigError(
            f"{path}: no [raters] table",
            hint='write one line per rater under [raters]: alice = "a long random token"',
        )
    raters = {}
    for name, token in table.items():
        if not isinstance(token, str) or len(token) < MIN_TOKEN_CHARS:
            raise ConfigError(
                f"{path}: [raters] {name}: a token is a string of at least {MIN_TOKEN_CHARS} "
                "characters",
                hint="python -c 'import secrets; print(secrets.token_urlsafe(24))' makes one",
            )
        raters[str(name)] = token
    return raters


@dataclass
class Session:
    """One logged-in browser."""

    rater: str
    csrf: str
    last_used: float


class Sessions:
    """The server's login sessions, by the id in the cookie."""

    def __init__(self, idle_s: float = SESSION_IDLE_S) -> None:
        self._sessions: dict[str, Session] = {}
        self._idle_s = idle_s
        self._lock = threading.Lock()

    def start(self, rater: str) -> tuple[str, Session]:
        session_id = secrets.token_urlsafe(32)
        session = Session(rater, secrets.token_urlsafe(32), time.monotonic())
        with self._lock:
            self._sessions[session_id] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_used > self._idle_s:
                del self._sessions[session_id]
                return None
            session.last_used = now
            return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._sessions.pop(session_id, None)


def csrf_ok(session: Session, given: object) -> bool:
    """Whether a form's CSRF field is the session's token (compared in constant time)."""
    return isinstance(given, str) and hmac.compare_digest(given.encode(), session.csrf.encode())
