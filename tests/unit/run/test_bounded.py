"""Work that can run long runs off the loop, each piece within its time limit."""

from __future__ import annotations

import asyncio
import threading
import time

from promptcheck.run.bounded import run_bounded


def test_every_piece_runs_in_order_in_a_thread_other_than_the_loops() -> None:
    seen: list[int] = []
    loop_thread = threading.get_ident()

    def piece(i: int):  # type: ignore[no-untyped-def]
        def run() -> int:
            assert threading.get_ident() != loop_thread
            seen.append(i)
            return i * i

        return run

    results = asyncio.run(run_bounded([piece(i) for i in range(5)], 5.0, lambda i: -1))
    assert results == [0, 1, 4, 9, 16] and seen == [0, 1, 2, 3, 4]


def test_a_piece_that_overruns_is_given_up_and_the_rest_still_run() -> None:
    release = threading.Event()

    def stuck() -> str:
        release.wait(30)  # far past the limit; released at the end so the thread ends
        return "late"

    pieces = [lambda: "a", stuck, lambda: "c", lambda: "d"]
    try:
        results = asyncio.run(run_bounded(pieces, 0.2, lambda i: f"given up {i}"))
    finally:
        release.set()
    assert results == ["a", "given up 1", "c", "d"]


def test_the_loop_stays_free_while_a_piece_runs() -> None:
    ticks = 0

    async def main() -> list[str]:
        nonlocal ticks

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        try:
            return await run_bounded([lambda: time.sleep(0.3) or "slept"], 5.0, lambda i: "x")
        finally:
            ticker.cancel()

    assert asyncio.run(main()) == ["slept"]
    assert ticks >= 5  # the loop ran other work while the check slept in its thread


def test_workers_are_daemon_threads_so_a_stuck_check_cannot_hold_the_process() -> None:
    daemon: list[bool] = []

    def piece() -> bool:
        daemon.append(threading.current_thread().daemon)
        return True

    asyncio.run(run_bounded([piece], 5.0, lambda i: False))
    assert daemon == [True]
