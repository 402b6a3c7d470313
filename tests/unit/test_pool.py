"""The decode pool: finals before partials, cancelled jobs skipped, errors reach the caller."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import pytest

from voxrt.runtime.pool import Priority, PriorityPool


def _blocked_pool() -> tuple[PriorityPool, threading.Event, list[Any]]:
    """A one-worker pool whose worker is held busy until the returned event is set."""
    pool = PriorityPool(1, "test")
    release, started = threading.Event(), threading.Event()
    ran: list[Any] = []

    def hold() -> None:
        started.set()
        release.wait(5)

    pool.submit(Priority.FINAL, hold)
    assert started.wait(5)
    return pool, release, ran


def test_finals_run_before_queued_partials() -> None:
    pool, release, ran = _blocked_pool()
    futures = [
        pool.submit(Priority.PARTIAL, lambda: ran.append("partial-1")),
        pool.submit(Priority.FINAL, lambda: ran.append("final-1")),
        pool.submit(Priority.PARTIAL, lambda: ran.append("partial-2")),
        pool.submit(Priority.FINAL, lambda: ran.append("final-2")),
    ]
    assert pool.pending() == 4
    release.set()
    for future in futures:
        future.result(5)
    assert ran == ["final-1", "final-2", "partial-1", "partial-2"]
    pool.shutdown()


def test_cancelled_jobs_are_skipped_and_errors_reach_the_caller() -> None:
    pool, release, ran = _blocked_pool()
    skipped = pool.submit(Priority.PARTIAL, lambda: ran.append("skipped"))
    assert skipped.cancel()

    def fail() -> None:
        raise RuntimeError("model exploded")

    failing: list[Future[Any]] = [pool.submit(Priority.FINAL, fail) for _ in range(2)]
    release.set()
    for future in failing:
        with pytest.raises(RuntimeError, match="model exploded"):
            future.result(5)
    pool.submit(Priority.FINAL, lambda: ran.append("after")).result(5)
    assert ran == ["after"]  # the pool survived the failure; the cancelled job never ran
    pool.shutdown()
