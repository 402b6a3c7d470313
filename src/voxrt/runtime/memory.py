"""Keeping a long-running server's resident memory at its working set.

Decodes allocate large buffers of varying size in several threads; glibc keeps what they free for
reuse. ``malloc_trim`` returns those free pages; voxrt calls it when a realtime session or a REST
request ends, at most once a second. Two native caches would still grow with the variety of
inputs, and glibc would keep a free top in every thread's arena, so ``voxrt serve`` bounds them at
start (``bound_native_caches``).
"""

from __future__ import annotations

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
_last = -_MIN_INTERVAL_S


def trim_heap() -> None:
    """Return free heap pages to the OS (glibc only; at most once a second, a few ms)."""
    global _last
    now = time.monotonic()
    if _trim is None or now - _last < _MIN_INTERVAL_S:
        return
    _last = now
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
