"""Shared fixtures and helpers for hpyx's Python tests. Keep this file small.

What is here (for every test module, including the nesting / interrupts /
shutdown / fork / free-threading ones):

- ``WAIT``: the timeout (seconds) for every ``result(timeout=WAIT)`` in a test
  that is expected to finish; a hang then fails instead of blocking.
- An autouse fixture that arms ``faulthandler.dump_traceback_later`` for
  every test (``HPYX_TEST_HANG_TIMEOUT`` seconds, default 60), so a hang
  dumps every thread's stack to stderr; pytest-timeout (300 s) then fails it.
- ``executor`` fixture: an ``hpyx.HPXExecutor()`` (no ``max_workers``: the
  main test process's pool runs with the defaults, and a different
  ``max_workers`` would warn, which ``filterwarnings = error`` turns into a
  failure), shut down with ``cancel_futures=True`` after the test.
- ``blocked_workers(executor, n=None)``: a context manager that occupies
  ``n`` (default: all ``executor._max_workers``) workers with tasks waiting
  on an Event, waits until they all run, and yields an object with
  ``.futures`` (the blocking tasks) and ``.release()`` (lets them finish
  early; exiting the block always releases them and waits for them). Works
  for ``ThreadPoolExecutor`` too. Inside it, anything newly submitted stays
  pending (queued, not started) until ``release()``.

Test modules import the helpers with ``from conftest import WAIT,
blocked_workers``. Running a script in a fresh interpreter (``run_py``,
``check_py``) is ``fresh_interpreter``'s.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import threading
import time
import types

import pytest

import hpyx

WAIT = 30.0

HANG_TIMEOUT = float(os.environ.get("HPYX_TEST_HANG_TIMEOUT", "60"))


@pytest.fixture(autouse=True)
def _dump_stacks_on_hang(request):
    if request.node.get_closest_marker("slow"):
        # Long by design (minutes of soak): no dump at HANG_TIMEOUT. Dumping
        # the stacks of threads that are running Python is not safe on 3.13t
        # (faulthandler read a frame mid-update and crashed a 30-minute soak).
        yield
        return
    faulthandler.dump_traceback_later(HANG_TIMEOUT, exit=False)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def executor():
    """An ``hpyx.HPXExecutor()``, shut down (cancelling pending work) after the test."""
    ex = hpyx.HPXExecutor()
    try:
        yield ex
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def blocked_workers(executor, n=None):
    """Occupies ``n`` workers (default: all) until the ``with`` block ends."""
    n = executor._max_workers if n is None else n
    release = threading.Event()
    started = threading.Semaphore(0)

    def block():
        started.release()
        # Longer than the start deadline below, so a misuse (fewer free
        # workers than ``n``) fails there instead of passing late.
        return release.wait(4 * WAIT)

    blockers = [executor.submit(block) for _ in range(n)]
    try:
        deadline = time.monotonic() + WAIT
        for _ in range(n):
            assert started.acquire(timeout=max(0.0, deadline - time.monotonic())), (
                "the blocking tasks did not all start"
            )
        yield types.SimpleNamespace(futures=blockers, release=release.set)
    finally:
        release.set()
        for f in blockers:
            f.result(timeout=WAIT)


# -- a dask.distributed cluster, for the cluster-mode tests -------------------


@pytest.fixture(scope="module")
def cluster_client():
    """A client of a LocalCluster of two worker processes (one thread each)
    on 127.0.0.1, one per test module that asks for it."""
    import distributed
    from _cluster_helpers import local_cluster

    with local_cluster() as cluster:
        with distributed.Client(cluster, set_as_default=False) as client:
            yield client


@pytest.fixture
def on_cluster(cluster_client):
    """hpyx's runtime is ``cluster_client``'s cluster for the test."""
    hpyx.init(cluster=cluster_client)
    try:
        yield cluster_client
    finally:
        hpyx.shutdown()
