"""Per-session pacing of incoming audio: a token bucket over seconds of audio."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["AudioRateLimit"]


class AudioRateLimit:
    """Audio may arrive at ``rate`` seconds of audio per wall-clock second, plus a burst of up to
    ``burst_s`` seconds ahead of that (a client catching up after a network hiccup)."""

    def __init__(self, rate: float, burst_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst_s = burst_s
        self._clock = clock
        self._credit = burst_s
        self._at = clock()

    def take(self, seconds: float) -> bool:
        """Whether ``seconds`` of audio may be taken now; if so, they are counted."""
        now = self._clock()
        self._credit = min(self.burst_s, self._credit + (now - self._at) * self.rate)
        self._at = now
        if seconds > self._credit:
            return False
        self._credit -= seconds
        return True
