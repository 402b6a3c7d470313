"""Keeping a long-running server's resident memory at its working set.

Decodes allocate large buffers of varying size in several threads; glibc keeps what they free for
reuse. ``malloc_trim`` returns those free pages; voxrt calls it when a realtime session or a REST
request ends (at most once a second, and once more after a burst). Two native caches would still
grow with the variety of inputs, and glibc would keep a free top in every thread's arena, so
``voxrt serve`` bounds them at start (``bound_native_caches``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import time

__all__ = ["ONEDNN_CACHE_CAPACITY", "bound_native_caches", "trim_heap"]

_MIN_INTERVAL_S = 1.0
# voxrt's encoder runs at a few fixed lengths (partial, final, REST, 30 s window): these stay cached
ONEDNN_CACHE_CAPACITY = 16
_M_ARENA_MAX = -8  # mallopt parameter, <malloc.h>


def _libc_function(name: str) -> ctypes._NamedFuncPointer | None:
    try:  # the symbols the process already has loaded: no library search, no subprocess
        function: ctypes._NamedFuncPointer = getattr(ctypes.CDLL(None), name)
    except AttributeError:  # not glibc (musl, macOS)
        return None
    return function


_trim = _libc_function("malloc_trim")
_mallopt = _libc_function("mallopt")
_last = -_MIN_INTERVAL_S  # when the heap was last trimmed (monotonic clock)
_due = 0.0  # when the trim already scheduled runs


def trim_heap() -> None:
    """Return free heap pages to the OS (glibc only; a few ms), at most once a second. A call within
    that second schedules one trim at its end on the running event loop, so that what the last of
    several sessions closing together freed is returned too."""
    global _due
    if _trim is None:
        return
    now = time.monotonic()
    if now - _last >= _MIN_INTERVAL_S:
        _trim_now()
    elif now >= _due:  # none scheduled yet
        with contextlib.suppress(RuntimeError):  # no running loop: the next call trims
            asyncio.get_running_loop().call_later(_last + _MIN_INTERVAL_S - now, _trim_now)
            _due = _last + _MIN_INTERVAL_S


def _trim_now() -> None:
    global _last
    _last = time.monotonic()
    if _trim is not None:
        _trim(0)


def bound_native_caches() -> None:
    """Bound the native memory that would otherwise grow with each new input length; call before
    any model loads or thread starts. An operator's own setting of either variable is kept.

    * oneDNN (CTranslate2's convolutions; PyTorch's too) keeps one primitive per input shape, up
      to 1024, and every Whisper encoder length is a new shape (~1.3 MB each): resident memory
      grew with each new utterance length. ``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` is read when the
      first primitive is made, so setting it here is in time.
    * glibc gives threads up to 8 arenas per core, and ``malloc_trim`` never shrinks the free top
      of any arena but the main one: each decode thread kept the free top of its largest decode
      (30 s of audio: tens of MB). One arena lets ``trim_heap`` return all of it. The variable
      ``MALLOC_ARENA_MAX`` is read only at process start; ``mallopt`` does the same now, for the
      threads started after it.
    """
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(ONEDNN_CACHE_CAPACITY))
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if _mallopt is not None and "MALLOC_ARENA_MAX" not in os.environ and "arena_max" not in tunables:
        _mallopt(_M_ARENA_MAX, 1)
