"""runtime.iterate: a blocking iterator consumed in the pool, one job per item, stopped when abandoned."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import pytest

from voxrt.runtime import Priority, PriorityPool, iterate

pytestmark = pytest.mark.anyio


class Counted:
    """A blocking generator that records what it produced and whether it was closed."""

    def __init__(self, n: int, gate: threading.Event | None = None) -> None:
        self.n, self.gate = n, gate
        self.produced: list[int] = []
        self.closed = False
        self.threads: set[str] = set()

    def __call__(self) -> Iterator[int]:
        try:
            for i in range(self.n):
                self.threads.add(threading.current_thread().name)
                if self.gate is not None:
                    assert self.gate.wait(5)
                self.produced.append(i)
                yield i
        finally:
            self.closed = True


async def test_items_in_order_from_the_pool() -> None:
    pool = PriorityPool(1, "t")
    gen = Counted(5)
    assert [i async for i in iterate(pool, Priority.FINAL, gen)] == [0, 1, 2, 3, 4]
    assert gen.threads == {"t-0"} and gen.closed
    pool.shutdown()


async def test_errors_reach_the_consumer() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise ValueError("model failed")

    pool = PriorityPool(1, "t")
    seen = []
    with pytest.raises(ValueError, match="model failed"):
        async for i in iterate(pool, Priority.FINAL, broken):
            seen.append(i)
    assert seen == [1]
    pool.shutdown()


async def test_a_consumer_that_leaves_stops_the_iterator() -> None:
    pool = PriorityPool(1, "t")
    gen = Counted(100)
    async with contextlib.aclosing(iterate(pool, Priority.LLM, gen)) as items:
        async for i in items:
            if i == 2:
                break
    assert gen.produced == [0, 1, 2] and gen.closed
    pool.shutdown()


async def test_cancelled_mid_step_waits_for_the_step_then_stops() -> None:
    pool = PriorityPool(1, "t")
    gate = threading.Event()
    gen = Counted(100, gate)
    started = asyncio.Event()

    async def consume() -> None:
        started.set()
        async for _ in iterate(pool, Priority.TTS, gen):
            pass

    task = asyncio.create_task(consume())
    await started.wait()
    await asyncio.sleep(0.05)  # the first step is now blocked on the gate in the worker
    task.cancel()
    asyncio.get_running_loop().call_later(0.05, gate.set)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gen.produced == [0] and gen.closed  # the running step finished, no other started
    pool.shutdown()


async def test_urgent_work_runs_between_items() -> None:
    pool = PriorityPool(1, "t")
    order: list[str] = []

    def bulk() -> Iterator[str]:
        for i in range(3):
            order.append(f"rest-{i}")
            yield "x"

    async for _ in iterate(pool, Priority.REST, bulk):
        if len(order) == 1:  # a final arrives while the upload is being decoded
            final = pool.submit(Priority.FINAL, lambda: order.append("final"))
            pool.submit(Priority.REST, lambda: order.append("other-rest"))
    final.result(5)
    assert order[:2] == ["rest-0", "final"]
    pool.shutdown()
