"""Work that can run long, off the event loop: each piece within its time limit, one hand-off for
all of them.

Checks such as a regular expression, a user's function or a JSON Schema can run for ever on a
hostile output. On the event loop that every case shares, one such check would stall every
request in flight; a worker thread per check would cost more in hand-offs than the checks cost
(a third of the runner's throughput). So a batch goes to one worker thread, which notes when it
starts each piece; the loop waits for the batch and, only if the batch is not done in time, looks
at the piece in hand: one that has overrun is given up (its thread is abandoned, since a thread
cannot be stopped) and the rest continue in a fresh worker.
"""

from __future__ import annotations

import asyncio
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
        abandoned = threading.Event()
        in_hand = [(start, time.monotonic())]  # (piece, when it started): one atomic cell

        def work(first: int, gone: threading.Event, cell: list[tuple[int, float]]) -> None:
            for index in range(first, len(pieces)):
                if gone.is_set():
                    return
                cell[0] = (index, time.monotonic())
                result = pieces[index]()
                if not gone.is_set():
                    results[index] = result

        worker = loop.run_in_executor(None, work, start, abandoned, in_hand)
        wait = timeout
        while True:
            finished, _ = await asyncio.wait({worker}, timeout=wait)
            if finished:
                worker.result()  # an error of the machinery itself, not of a piece
                start = len(pieces)
                break
            index, since = in_hand[0]
            overrun = time.monotonic() - since
            if overrun >= timeout:
                abandoned.set()
                results[index] = given_up(index)
                start = index + 1
                break
            wait = timeout - overrun
    return [results[index] for index in range(len(pieces))]
