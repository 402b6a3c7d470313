"""The cross-session batcher: concurrent requests share one call, each gets its own result."""

from __future__ import annotations

import threading
import time

import pytest

from voxrt.asr.batcher import Batcher


class _Recorder:
    """A ``run`` that records its batches; the first call can be held until released."""

    def __init__(self, hold_first: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.release = threading.Event()
        self.started = threading.Event()
        if not hold_first:
            self.release.set()

    def __call__(self, items: list[str]) -> list[str]:
        self.started.set()
        self.release.wait(5)
        self.batches.append(items)
        if "boom" in items:
            raise ValueError("model failed")
        return [item.upper() for item in items]


def _batcher(run: _Recorder, max_batch: int = 4, wait_s: float = 0.5) -> Batcher[str, str]:
    return Batcher(run, max_batch=max_batch, wait_s=wait_s, key=lambda item: item[0], name="test")


def test_concurrent_requests_run_in_one_batch_each_with_its_own_result() -> None:
    run = _Recorder()
    batcher = _batcher(run)
    results: dict[str, str] = {}
    ready = threading.Barrier(2)

    def caller(item: str) -> None:
        with batcher.preparing():  # both are being prepared when the first is submitted
            ready.wait(5)
            future = batcher.submit(item)
        results[item] = future.result(5)

    threads = [threading.Thread(target=caller, args=(item,)) for item in ("alpha", "apple")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    batcher.close()
    assert results == {"alpha": "ALPHA", "apple": "APPLE"}
    assert [sorted(b) for b in run.batches] == [["alpha", "apple"]]
    assert list(batcher.batch_sizes) == [2]


def test_a_lone_request_does_not_wait() -> None:
    batcher = _batcher(_Recorder(), wait_s=5.0)
    started = time.perf_counter()
    assert batcher.submit("solo").result(5) == "SOLO"
    assert time.perf_counter() - started < 1.0
    batcher.close()


def test_requests_arriving_during_a_batch_form_the_next_one_by_key_and_size() -> None:
    run = _Recorder(hold_first=True)
    batcher = _batcher(run, max_batch=2)
    first = batcher.submit("a0")
    assert run.started.wait(5)
    later = [batcher.submit(item) for item in ("a1", "b1", "a2", "a3")]
    run.release.set()
    assert [f.result(5) for f in [first, *later]] == ["A0", "A1", "B1", "A2", "A3"]
    batcher.close()
    # oldest first, same key only, at most max_batch
    assert run.batches == [["a0"], ["a1", "a2"], ["b1"], ["a3"]]


def test_a_failed_batch_fails_each_caller_and_the_batcher_goes_on() -> None:
    run = _Recorder(hold_first=True)
    batcher = _batcher(run)
    first = batcher.submit("a")
    assert run.started.wait(5)
    failing = [batcher.submit("boom"), batcher.submit("bob")]
    cancelled = batcher.submit("bye")
    assert cancelled.cancel()  # a caller that left before its batch ran: not run
    run.release.set()
    assert first.result(5) == "A"
    for future in failing:
        with pytest.raises(ValueError, match="model failed"):
            future.result(5)
    assert batcher.submit("ok").result(5) == "OK"
    batcher.close()
    assert ["bye"] not in run.batches and all("bye" not in b for b in run.batches)
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit("late")
