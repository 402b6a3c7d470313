"""Cross-session batching: concurrent decode requests gathered into one model call.

Callers (the engine's worker threads) prepare a request, ``submit`` it and wait
on the returned future; one thread takes what is pending (up to ``max_batch``
requests of one key, oldest first) and runs them in a single ``run`` call. A
lone request runs at once: the batcher waits, for at most ``wait_s``, only while
another request is still being prepared (``preparing``), and requests that
arrive while a batch runs form the next one.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Batcher"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Request(Generic[T, R]):
    item: T
    key: Hashable
    future: Future[R]


class Batcher(Generic[T, R]):
    """Runs ``run(items) -> results`` (same length and order) on batches of submitted items;
    ``on_batch`` (for metrics) hears the size of each batch before it runs."""

    def __init__(
        self,
        run: Callable[[list[T]], list[R]],
        *,
        max_batch: int,
        wait_s: float,
        key: Callable[[T], Hashable],
        name: str,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._run = run
        self._max_batch = max_batch
        self._wait_s = wait_s
        self._key = key
        self._on_batch = on_batch
        self._pending: list[_Request[T, R]] = []
        self._preparing = 0
        self._closed = False
        self._changed = threading.Condition()
        self.batch_sizes: deque[int] = deque(maxlen=1000)  # the latest batches run, for benchmarks and tests
        self._thread = threading.Thread(target=self._work, name=f"{name}-batcher", daemon=True)
        self._thread.start()

    @contextlib.contextmanager
    def preparing(self) -> Iterator[None]:
        """Mark a request being prepared (submit it inside), so a batch about to run waits a moment
        for it."""
        with self._changed:
            self._preparing += 1
        try:
            yield
        finally:
            with self._changed:
                self._preparing -= 1
                self._changed.notify_all()

    def submit(self, item: T) -> Future[R]:
        """Queue ``item``; its result (or the batch's exception) lands in the future.

        Raises:
            RuntimeError: the batcher is closed.
        """
        future: Future[R] = Future()
        with self._changed:
            if self._closed:
                raise RuntimeError("the batcher is closed")
            self._pending.append(_Request(item, self._key(item), future))
            self._changed.notify_all()
        return future

    def close(self) -> None:
        """Run what is pending, then stop the thread."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._thread.join()

    def _work(self) -> None:
        while (batch := self._next_batch()) is not None:
            live = [r for r in batch if r.future.set_running_or_notify_cancel()]
            if not live:
                continue
            self.batch_sizes.append(len(live))
            if self._on_batch is not None:
                self._on_batch(len(live))
            try:
                results = self._run([r.item for r in live])
            except BaseException as exc:  # every caller of the batch sees the failure
                for request in live:
                    request.future.set_exception(exc)
                continue
            for request, result in zip(live, results, strict=True):
                request.future.set_result(result)

    def _next_batch(self) -> list[_Request[T, R]] | None:
        with self._changed:
            while not self._pending:
                if self._closed:
                    return None
                self._changed.wait()
            deadline = time.monotonic() + self._wait_s
            while self._preparing and len(self._batchable()) < self._max_batch and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            batch = self._batchable()
            taken = {id(r) for r in batch}
            self._pending = [r for r in self._pending if id(r) not in taken]
            return batch

    def _batchable(self) -> list[_Request[T, R]]:
        """The oldest pending request and those that share its key, up to ``max_batch``."""
        key = self._pending[0].key
        return [r for r in self._pending if r.key == key][: self._max_batch]
