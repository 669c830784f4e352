"""The review's HTML: Jinja2 templates (``templates/``, package data) rendered with autoescaping,
and the Content-Security-Policy that admits only the page's own style and script.

Model outputs, prompts, notes and labels are untrusted text: every value goes through the
templates' autoescaping and nothing is marked safe, so an output holding ``<script>`` shows as
text. The policy admits the one stylesheet and the one script by their SHA-256 (both inlined, so
the app serves no files and needs no network), forbids every other source, framing and form
targets elsewhere; an escape that were missed still could not run.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import urllib.parse
from collections.abc import Mapping
from typing import Any

import jinja2


@functools.cache
def environment() -> jinja2.Environment:
    """Built once: every value escaped, an unknown name an error."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("promptcheck.review", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["quote"] = lambda text: urllib.parse.quote(str(text), safe="")
    env.filters["percent"] = percent
    env.filters["interval"] = interval
    return env


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def interval(bounds: tuple[float, float] | list[float], digits: int = 1) -> str:
    low, high = bounds
    return f"{100 * low:.{digits}f}-{100 * high:.{digits}f}%"


@functools.cache
def _asset(name: str) -> str:
    return environment().get_template(name).render()


def _digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@functools.cache
def content_security_policy() -> str:
    """Only the page's own inline style and script, by digest; forms post to this server."""
    return (
        "default-src 'none'; "
        f"style-src 'sha256-{_digest(_asset('review.css'))}'; "
        f"script-src 'sha256-{_digest(_asset('review.js'))}'; "
        "img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def render(template: str, context: Mapping[str, Any]) -> str:
    """A page; the base template includes review.css and review.js verbatim, which is what
    :func:`content_security_policy` hashes."""
    return environment().get_template(template).render(**context)
