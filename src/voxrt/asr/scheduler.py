"""A worker pool that runs final decodes before partial ones, and batches alike jobs.

Under load the queue fills with decode jobs; a session waiting for the final
transcript of an utterance must not wait behind other sessions' partials, so
jobs carry a priority (lower runs first, FIFO within one priority). Jobs that
share a batch key are taken together, up to ``max_batch``, by whichever
worker comes to the first of them: one batched model call costs much less
than the same decodes one by one (cross-session micro-batching). Only jobs of
one priority share a batch.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

__all__ = ["Priority", "PriorityPool"]


class Priority(IntEnum):
    FINAL = 0
    PARTIAL = 1


@dataclass(order=True)
class _Job:
    priority: int
    order: int
    future: Future[Any] = field(compare=False)
    fn: Callable[[], Any] | None = field(compare=False, default=None)
    batch_key: Hashable | None = field(compare=False, default=None)
    item: Any = field(compare=False, default=None)
    batch_fn: Callable[[list[Any]], list[Any]] | None = field(compare=False, default=None)


class PriorityPool:
    """``workers`` threads taking jobs in priority order."""

    def __init__(self, workers: int, name: str, max_batch: int = 1) -> None:
        self._heap: list[_Job] = []
        self._ready = threading.Condition()
        self._order = itertools.count()
        self._max_batch = max_batch
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, priority: Priority, fn: Callable[[], Any]) -> Future[Any]:
        """Queue ``fn``; its result or exception lands in the returned future."""
        return self._push(_Job(int(priority), next(self._order), Future(), fn=fn))

    def submit_batched(
        self, priority: Priority, key: Hashable, item: Any, batch_fn: Callable[[list[Any]], list[Any]]
    ) -> Future[Any]:
        """Queue ``item``; it runs in a call ``batch_fn(items)`` with other items of the same
        ``key``, and its future gets the matching element of the returned list."""
        job = _Job(int(priority), next(self._order), Future(), batch_key=key, item=item, batch_fn=batch_fn)
        return self._push(job)

    def pending(self) -> int:
        """Jobs queued and not yet started."""
        with self._ready:
            return len(self._heap)

    def shutdown(self) -> None:
        """Stop the workers once the jobs already queued are done."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def _push(self, job: _Job) -> Future[Any]:
        with self._ready:
            heapq.heappush(self._heap, job)
            self._ready.notify()
        return job.future

    def _take(self) -> list[_Job] | None:
        """The next job, with the queued jobs of its batch key; None once shut down and empty."""
        with self._ready:
            while not self._heap:
                if self._closed:
                    return None
                self._ready.wait()
            first = heapq.heappop(self._heap)
            if first.batch_key is None or self._max_batch == 1:
                return [first]
            # same key and same priority: a final never waits for the extra work of partials
            alike = sorted(
                j for j in self._heap if j.batch_key == first.batch_key and j.priority == first.priority
            )[: self._max_batch - 1]
            if alike:
                taken = {id(j) for j in alike}
                self._heap = [j for j in self._heap if id(j) not in taken]
                heapq.heapify(self._heap)
            return [first, *alike]

    def _work(self) -> None:
        while (jobs := self._take()) is not None:
            jobs = [j for j in jobs if j.future.set_running_or_notify_cancel()]  # drop cancelled ones
            if not jobs:
                continue
            try:
                if jobs[0].batch_fn is None:
                    assert jobs[0].fn is not None
                    jobs[0].future.set_result(jobs[0].fn())
                else:
                    for job, result in zip(jobs, jobs[0].batch_fn([j.item for j in jobs]), strict=True):
                        job.future.set_result(result)
            except BaseException as exc:
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
