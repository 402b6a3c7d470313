"""Per-session pacing: a token bucket, for seconds of audio and for messages."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["RateLimit"]


class RateLimit:
    """Up to ``rate`` units per wall-clock second, plus a burst of up to ``burst`` units ahead of
    that (a client catching up after a network hiccup)."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._credit = burst
        self._at = clock()

    def take(self, amount: float) -> bool:
        """Whether ``amount`` may be taken now; if so, it is counted."""
        now = self._clock()
        self._credit = min(self.burst, self._credit + (now - self._at) * self.rate)
        self._at = now
        if amount > self._credit:
            return False
        self._credit -= amount
        return True
