"""The decode pool: finals before partials, alike jobs batched, cancelled jobs skipped."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import pytest

from voxrt.asr.scheduler import Priority, PriorityPool


def _blocked_pool(max_batch: int = 1) -> tuple[PriorityPool, threading.Event, list[Any]]:
    """A one-worker pool whose worker is held busy until the returned event is set."""
    pool = PriorityPool(1, "test", max_batch=max_batch)
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


def test_alike_jobs_are_batched_up_to_the_limit() -> None:
    pool, release, _ = _blocked_pool(max_batch=3)
    calls: list[list[int]] = []

    def double(items: list[int]) -> list[int]:
        calls.append(items)
        return [2 * i for i in items]

    futures = [pool.submit_batched(Priority.PARTIAL, "k", i, double) for i in range(4)]
    futures.insert(2, pool.submit_batched(Priority.FINAL, "k", 10, double))
    other = pool.submit_batched(Priority.FINAL, "other-key", 7, double)
    release.set()
    assert [f.result(5) for f in futures] == [0, 2, 20, 4, 6]
    assert other.result(5) == 14
    # finals first, each key apart, partials in batches of at most 3: one priority and key a batch
    assert calls == [[10], [7], [0, 1, 2], [3]]
    pool.shutdown()


def test_cancelled_jobs_are_skipped_and_errors_reach_every_caller() -> None:
    pool, release, ran = _blocked_pool(max_batch=4)
    skipped = pool.submit(Priority.PARTIAL, lambda: ran.append("skipped"))
    assert skipped.cancel()

    def fail(items: list[int]) -> list[int]:
        raise RuntimeError("model exploded")

    failing: list[Future[Any]] = [pool.submit_batched(Priority.FINAL, "k", i, fail) for i in range(2)]
    release.set()
    for future in failing:
        with pytest.raises(RuntimeError, match="model exploded"):
            future.result(5)
    pool.submit(Priority.FINAL, lambda: ran.append("after")).result(5)
    assert ran == ["after"]  # the pool survived the failure; the cancelled job never ran
    pool.shutdown()
