"""A bounded soak of ``promptcheck serve`` on loopback: hundreds of connections that idle,
stall in their request heads or bodies, or send a request and hang up (streaming or not),
against a real tiny Dolly checkpoint with a small connection cap, while a real client (the
official ``openai`` client, retrying as it does by default) keeps asking. The real client is
served every time, the cap holds, departed clients' work is cancelled, and the server is left
with its idle connections closed and nothing in its log but one-line notes."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("openai")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fakes

import openai
from fakes.branching_model import build_branching_dolly, torch_threads
from fakes.malformed_requests import LogWatch, watching_logs

from promptcheck.serve import BackgroundServer, load_engine
from promptcheck.serve.batching import BatchingEngine
from promptcheck.serve.limits import ServerLimits

KEY = "soak-key"
MODEL = "yes-no"
LIMITS = ServerLimits(max_connections=48, idle_timeout_s=1.5, body_timeout_s=1.0)
SOAK_LIMIT_S = 120.0  # the whole soak; it takes a few seconds
QUESTION = [{"role": "user", "content": "Is it raining? Answer YES or NO."}]


@pytest.fixture(scope="module")
def soaked(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, BatchingEngine, LogWatch]]:
    checkpoint = build_branching_dolly(tmp_path_factory.mktemp("soak") / MODEL, 0.8)
    engine = load_engine(checkpoint)
    server = BackgroundServer(engine, api_key=KEY, limits=LIMITS)
    with torch_threads(1), watching_logs() as watch, server as url:
        yield url, engine, watch


def origin(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").removesuffix("/v1").rsplit(":", 1)
    return host, int(port)


def health(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=30) as response:
        data: dict[str, Any] = json.load(response)
    return data


def chat_request(stream: bool, max_tokens: int = 8) -> bytes:
    body = json.dumps(
        {"model": MODEL, "messages": QUESTION, "max_tokens": max_tokens, "stream": stream}
    ).encode()
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: soak\r\nAuthorization: Bearer %s\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
    ) % (KEY.encode(), len(body), body)


async def idler(host: str, port: int, kind: int) -> bool:
    """A connection that sends nothing, half a head, or a head and half its body, then waits
    for the server to close it; whether it did (the wait is bounded, and generous)."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return True  # refused at the door is closed too
    partial = [b"", b"GET /v1/models HTTP/1.1\r\nHost: soak\r\nX-Slow: ", chat_request(False)[:-20]]
    writer.write(partial[kind % 3])
    try:
        await asyncio.wait_for(reader.read(), 10 * LIMITS.idle_timeout_s)
    except TimeoutError:
        return False
    except OSError:
        pass  # reset by the server: closed
    finally:
        writer.close()
    return True


async def leaver(host: str, port: int, stream: bool, wait_s: float) -> None:
    """A client that sends a whole request and hangs up before (or while) it is answered."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return
    try:
        writer.write(chat_request(stream, max_tokens=64))
        await writer.drain()
        if stream:
            await asyncio.wait_for(reader.read(200), 10)  # the first chunk, or a refusal
        else:
            await asyncio.sleep(wait_s)
    except (TimeoutError, OSError):
        pass
    finally:
        writer.close()


async def soak(url: str) -> list[str]:
    host, port = origin(url)
    rng = random.Random(7)
    idlers = [idler(host, port, k) for k in range(240)]
    noise: list[Any] = [
        *idlers,
        *(leaver(host, port, k % 2 == 0, rng.uniform(0, 0.05)) for k in range(60)),
    ]
    rng.shuffle(noise)
    answers: list[str] = []
    closed: list[bool] = []

    async def real_client() -> None:
        client = openai.AsyncOpenAI(base_url=url, api_key=KEY, timeout=30)  # default retries
        async with client:
            for _ in range(15):
                answer = await client.chat.completions.create(
                    model=MODEL, messages=QUESTION, max_tokens=8
                )
                answers.append(answer.choices[0].message.content)
                await asyncio.sleep(0.05)

    async def waves() -> None:
        waiting = []
        for start in range(0, len(noise), 50):  # bursts of 50 connections
            waiting += [asyncio.ensure_future(n) for n in noise[start : start + 50]]
            await asyncio.sleep(0.2)
        closed.extend(r for r in await asyncio.gather(*waiting) if isinstance(r, bool))

    await asyncio.gather(waves(), real_client())
    assert len(closed) == 240 and all(closed)  # every idle or stalled connection was closed
    return answers


def test_a_real_client_is_served_through_idle_stalled_and_departing_clients(
    soaked: tuple[str, BatchingEngine, LogWatch],
) -> None:
    url, engine, watch = soaked
    answers = asyncio.run(asyncio.wait_for(soak(url), SOAK_LIMIT_S))
    assert len(answers) == 15 and set(answers) <= {"YES", "NO"}
    counters = health(url)["connections"]
    assert counters["peak"] <= LIMITS.max_connections  # the cap held
    assert counters["evicted"] > 0  # and idle connections made room for others
    assert engine.stats.departed > 0  # clients that hung up had their work cancelled
    assert watch.problems() == []


def test_afterwards_idle_connections_are_closed(
    soaked: tuple[str, BatchingEngine, LogWatch],
) -> None:
    url, _, watch = soaked

    async def settled() -> int:
        while (opened := health(url)["connections"]["open"]) > 1:  # the health request's own
            await asyncio.sleep(0.2)
        return opened

    assert asyncio.run(asyncio.wait_for(settled(), 10 * LIMITS.idle_timeout_s)) <= 1
    assert watch.problems() == []
