"""The malloc arena cap: taken by glibc, harmless elsewhere."""

from __future__ import annotations

import ctypes.util
import platform

import pytest

from kpi_context.server.allocator import limit_malloc_arenas


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_takes_the_arena_cap() -> None:
    assert limit_malloc_arenas() is True


def test_without_a_c_library_nothing_is_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    assert limit_malloc_arenas() is False
