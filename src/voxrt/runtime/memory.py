"""Handing freed heap memory back to the operating system.

Decodes allocate large buffers of varying size in several threads; glibc keeps what they free in
per-thread arenas for reuse, so a long-running server's resident memory climbs to the sum of every
arena's high-water mark. ``malloc_trim`` returns those free pages; voxrt calls it when a realtime
session or a REST request ends, at most once a second.
"""

from __future__ import annotations

import ctypes
import time

__all__ = ["trim_heap"]

_MIN_INTERVAL_S = 1.0


def _malloc_trim() -> ctypes._NamedFuncPointer | None:
    try:  # the symbols the process already has loaded: no library search, no subprocess
        return ctypes.CDLL(None).malloc_trim
    except AttributeError:  # not glibc (musl, macOS): nothing to trim
        return None


_trim = _malloc_trim()
_last = -_MIN_INTERVAL_S


def trim_heap() -> None:
    """Return free heap pages to the OS (glibc only; at most once a second, a few ms)."""
    global _last
    now = time.monotonic()
    if _trim is None or now - _last < _MIN_INTERVAL_S:
        return
    _last = now
    _trim(0)
