"""voxrt.runtime.memory: the native caches bounded at start, an operator's own settings kept."""

from __future__ import annotations

import asyncio
import os

import pytest

from voxrt.runtime import memory


@pytest.fixture
def mallopt_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    calls: list[tuple[int, int]] = []

    def mallopt(param: int, value: int) -> int:
        calls.append((param, value))
        return 1

    monkeypatch.setattr(memory, "_mallopt", mallopt)
    for name in ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "MALLOC_ARENA_MAX", "GLIBC_TUNABLES"):
        monkeypatch.delenv(name, raising=False)
    return calls


def test_caches_are_bounded(mallopt_calls: list[tuple[int, int]]) -> None:
    memory.bound_native_caches()
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == str(memory.ONEDNN_CACHE_CAPACITY)
    assert mallopt_calls == [(-8, 1)]  # M_ARENA_MAX: one arena


def test_an_operators_settings_win(
    mallopt_calls: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "1024")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    memory.bound_native_caches()
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")
    memory.bound_native_caches()
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "1024" and mallopt_calls == []


def test_a_burst_of_trims_is_followed_by_one_more(monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    monkeypatch.setattr(memory, "_trim", trims.append)
    monkeypatch.setattr(memory, "_MIN_INTERVAL_S", 0.05)
    monkeypatch.setattr(memory, "_last", -1.0)
    monkeypatch.setattr(memory, "_due", 0.0)

    async def sessions_closing() -> None:
        for _ in range(5):
            memory.trim_heap()
        assert trims == [0]  # the first at once, the rest within the interval
        await asyncio.sleep(0.15)
        assert trims == [0, 0]  # one more once the interval is over, for what the others freed

    asyncio.run(sessions_closing())
    memory.trim_heap()
    memory.trim_heap()  # within the interval and no event loop: nothing to schedule on, no error
    assert len(trims) == 3
