"""A blocking iterator (a model's lazy generator) consumed in the priority pool, as an async iterator.

One pool job per item: between two items, more urgent work queued meanwhile runs first, and a
consumer that stops (``break`` inside ``contextlib.aclosing``, cancellation, an exception) stops the
iterator before its next item: a queued step is dropped, a running one is waited for, then the
iterator is closed. So an abandoned decode or generation costs at most one more item of work.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

from voxrt.runtime.pool import Priority, PriorityPool

__all__ = ["iterate"]

T = TypeVar("T")
_DONE = object()


async def iterate(
    pool: PriorityPool, priority: Priority, make: Callable[[], Iterator[T]]
) -> AsyncGenerator[T, None]:
    """Yield the items of ``make()``; ``make`` and every ``next`` run in ``pool`` at ``priority``.

    Raises:
        Whatever ``make`` or the iterator raises, in the consumer's task.
    """
    iterator: Iterator[T] | None = None

    def step() -> Any:
        nonlocal iterator
        if iterator is None:
            iterator = make()
        return next(iterator, _DONE)

    running: Future[Any] | None = None
    try:
        while True:
            running = pool.submit(priority, step)
            item = await asyncio.wrap_future(running)  # cancelling this drops a step not yet started
            running = None
            if item is _DONE:
                return
            yield item
    finally:
        if running is not None and not running.cancel():  # mid-step in a worker: let it finish
            with contextlib.suppress(BaseException):
                await asyncio.wrap_future(running)
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
