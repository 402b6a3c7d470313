"""voxrt.runtime.memory: the native caches bounded at start, an operator's own settings kept."""

from __future__ import annotations

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
