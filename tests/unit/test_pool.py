"""The decode pool: finals before partials, cancelled jobs skipped, errors reach the caller."""

from __future__ import annotations

import threading
import time
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


def test_with_two_workers_one_is_kept_free_of_uploads() -> None:
    pool = PriorityPool(2, "test")
    release = threading.Event()
    running: list[str] = []

    def upload(name: str) -> None:
        running.append(name)
        assert release.wait(5)

    first = pool.submit(Priority.REST, lambda: upload("rest-1"))
    second = pool.submit(Priority.REST, lambda: upload("rest-2"))
    while not first.running():
        time.sleep(0.001)
    final = pool.submit(Priority.FINAL, lambda: running.append("final"))
    final.result(5)  # ran beside the upload, on the worker uploads never take
    assert running == ["rest-1", "final"] and not second.running()
    release.set()
    first.result(5), second.result(5)
    assert running == ["rest-1", "final", "rest-2"]
    pool.shutdown(timeout_s=5)
