"""A worker pool that runs the work a person is waiting for first.

Under load the queue fills with inference jobs; a session waiting for the final
transcript of an utterance must not wait behind other sessions' partials or a
REST upload, so jobs carry a priority (lower runs first, FIFO within one priority).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
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


_Job = tuple[int, int, Callable[[], Any], "Future[Any]"]


class PriorityPool:
    """``workers`` threads taking jobs in priority order.

    With two workers or more, the first never takes ``REST`` jobs: a live session's final never
    waits for a whole step of someone's upload to finish (one 30 s Whisper window, seconds on a
    busy CPU).
    """

    def __init__(self, workers: int, name: str) -> None:
        self._live: list[_Job] = []  # heaps
        self._bulk: list[_Job] = []
        self._changed = threading.Condition()
        self._closing = False
        self._order = itertools.count()
        self._threads = [
            threading.Thread(
                target=self._work, args=(i > 0 or workers == 1,), name=f"{name}-{i}", daemon=True
            )
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, priority: Priority, fn: Callable[[], Any]) -> Future[Any]:
        """Queue ``fn``; its result or exception lands in the returned future."""
        future: Future[Any] = Future()
        with self._changed:
            heapq.heappush(
                self._bulk if priority >= Priority.REST else self._live,
                (int(priority), next(self._order), fn, future),
            )
            self._changed.notify_all()
        return future

    def pending(self) -> int:
        """Jobs queued and not yet started."""
        with self._changed:
            return len(self._live) + len(self._bulk)

    @property
    def workers(self) -> int:
        """How many worker threads the pool has."""
        return len(self._threads)

    def alive(self) -> bool:
        """Whether a worker thread still runs (False once ``shutdown`` has let them all finish)."""
        return any(thread.is_alive() for thread in self._threads)

    def shutdown(self, timeout_s: float | None = None) -> None:
        """Stop the workers once the jobs queued before this call are done; with ``timeout_s``,
        wait that long for them (a native decode still running when the interpreter exits aborts
        the process)."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        if timeout_s is not None:
            deadline = time.monotonic() + timeout_s
            for thread in self._threads:
                thread.join(max(0.0, deadline - time.monotonic()))

    def _next(self, takes_bulk: bool) -> _Job | None:
        with self._changed:
            while True:
                if self._live:
                    return heapq.heappop(self._live)
                if takes_bulk and self._bulk:
                    return heapq.heappop(self._bulk)
                if self._closing:
                    return None
                self._changed.wait()

    def _work(self, takes_bulk: bool) -> None:
        while (job := self._next(takes_bulk)) is not None:
            _, _, fn, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)
