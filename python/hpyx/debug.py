"""Debugging helpers: worker queries (graph export and tracing to come)."""

from __future__ import annotations

from . import _core


def get_worker_thread_id():
    """The calling thread's 0-based worker index, or -1 outside the pool."""
    return _core.get_worker_thread_id()


def get_num_worker_threads():
    """The number of worker threads in the pool (0 if it is not running)."""
    return _core.pool_size() or 0
