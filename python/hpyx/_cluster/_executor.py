"""The core of an ``HPXExecutor`` created in cluster mode.

``HPXExecutor`` keeps its own code and calls this object where it calls the
local ``ExecutorCore``: ``submit``, ``map`` and ``close``. Each submitted
call is a cluster node; the executor's handle tracks its pending futures so
that ``shutdown(wait=True, cancel_futures=...)`` behaves as locally.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time


class _Pending:
    """A submitted future as ``HPXExecutor.shutdown`` sees it."""

    __slots__ = ("future",)

    def __init__(self, future):
        self.future = future

    def cancel(self):
        return self.future.cancel()

    def running(self):
        return self.future.running()

    def wait(self, timeout=None):
        done, _ = cf.wait([self.future], timeout)
        return bool(done)


class ClusterExecutorCore:
    """submit/map/close of one executor handle, on the cluster."""

    def __init__(self, backend):
        self._backend = backend
        self._lock = threading.Lock()
        self._pending = {}
        self._closed = False

    def submit(self, fn, /, *args, **kwargs):
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
        future = self._backend.node(fn, args, kwargs)
        key = id(future)
        with self._lock:
            self._pending[key] = future
        future._on_complete(lambda: self._forget(key))
        return future

    def _forget(self, key):
        with self._lock:
            self._pending.pop(key, None)

    def map(self, fn, items, timeout):
        deadline = None if timeout is None else time.monotonic() + timeout
        futures = [self.submit(fn, *item) for item in items]
        return _results_in_order(futures, deadline)

    def close(self):
        with self._lock:
            self._closed = True
            pending = list(self._pending.values())
        return [_Pending(future) for future in pending]

    def __len__(self):
        with self._lock:
            return len(self._pending)


def _results_in_order(futures, deadline):
    """The results of ``futures`` in order, as ``Executor.map`` yields them;
    the first failure (or closing the iterator) cancels the rest."""
    futures.reverse()
    try:
        while futures:
            if deadline is None:
                yield futures.pop().result()
            else:
                yield futures.pop().result(deadline - time.monotonic())
    finally:
        for future in futures:
            future.cancel()
