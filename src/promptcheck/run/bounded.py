"""Work that can run long, off the event loop: each piece within its time limit, one hand-off for
all of them.

Checks such as a regular expression, a user's function or a JSON Schema can run for ever on a
hostile output. On the event loop that every case shares, one such check would stall every
request in flight; a worker thread per check would cost more in hand-offs than the checks cost
(a third of the runner's throughput). So a batch goes to one worker thread, which notes when it
starts each piece; the loop waits for the batch and, only if the batch is not done in time, looks
at the piece in hand: one that has overrun is given up and the rest continue in a fresh worker.

A thread cannot be stopped, so a given-up piece goes on in its thread until it returns. The
workers are daemon threads of their own (not the loop's executor, whose threads the interpreter
joins at exit): a function that never returns cannot hold the process open after the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


async def run_bounded(
    pieces: Sequence[Callable[[], T]], timeout: float, given_up: Callable[[int], T]
) -> list[T]:
    """The result of every piece, in order; ``given_up(i)`` for a piece that overran."""
    loop = asyncio.get_running_loop()
    results: dict[int, T] = {}
    start = 0
    while start < len(pieces):
        done: asyncio.Future[None] = loop.create_future()
        abandoned = threading.Event()
        in_hand = [(start, time.monotonic())]  # (piece, when it started): one atomic cell

        def work(
            first: int,
            gone: threading.Event,
            cell: list[tuple[int, float]],
            finished: asyncio.Future[None],
        ) -> None:
            failure: BaseException | None = None
            try:
                for index in range(first, len(pieces)):
                    if gone.is_set():
                        return
                    cell[0] = (index, time.monotonic())
                    result = pieces[index]()
                    if not gone.is_set():
                        results[index] = result
            except BaseException as exc:  # an error of the machinery, surfaced on the loop
                failure = exc
            finally:
                with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                    loop.call_soon_threadsafe(_settle, finished, failure)

        threading.Thread(
            target=work,
            args=(start, abandoned, in_hand, done),
            name="promptcheck-check",
            daemon=True,
        ).start()
        wait = timeout
        while True:
            finished, _ = await asyncio.wait({done}, timeout=wait)
            if finished:
                done.result()
                start = len(pieces)
                break
            index, since = in_hand[0]
            overrun = time.monotonic() - since
            if overrun >= timeout:
                abandoned.set()
                done.cancel()
                results[index] = given_up(index)
                start = index + 1
                break
            wait = timeout - overrun
    return [results[index] for index in range(len(pieces))]


def _settle(done: asyncio.Future[None], failure: BaseException | None) -> None:
    if done.done():  # given up already
        return
    if failure is None:
        done.set_result(None)
    else:
        done.set_exception(failure)
