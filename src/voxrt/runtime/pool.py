"""A worker pool that runs the work a person is waiting for first.

Under load the queue fills with inference jobs; a session waiting for the final
transcript of an utterance must not wait behind other sessions' partials or a
REST upload, so jobs carry a priority (lower runs first, FIFO within one priority).
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from enum import IntEnum
from typing import Any

__all__ = ["Priority", "PriorityPool"]


class Priority(IntEnum):
    """One order for all CPU inference: what ends a live turn first, bulk work last."""

    FINAL = 0  # the final transcript of a live utterance
    TTS = 1  # speech of the active reply
    LLM = 2  # tokens of the active reply
    PARTIAL = 3  # provisional transcripts
    REST = 4  # uploaded files


_Job = tuple[int, int, Callable[[], Any] | None, "Future[Any] | None"]


class PriorityPool:
    """``workers`` threads taking jobs in priority order."""

    def __init__(self, workers: int, name: str) -> None:
        self._jobs: queue.PriorityQueue[_Job] = queue.PriorityQueue()
        self._order = itertools.count()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, priority: Priority, fn: Callable[[], Any]) -> Future[Any]:
        """Queue ``fn``; its result or exception lands in the returned future."""
        future: Future[Any] = Future()
        self._jobs.put((int(priority), next(self._order), fn, future))
        return future

    def pending(self) -> int:
        """Jobs queued and not yet started."""
        return self._jobs.qsize()

    def shutdown(self) -> None:
        """Stop the workers once the jobs queued before this call are done."""
        for _ in self._threads:
            self._jobs.put((len(Priority), next(self._order), None, None))

    def _work(self) -> None:
        while True:
            _, _, fn, future = self._jobs.get()
            if fn is None or future is None:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)
