"""Memory, leaks and load.

- Trivial tasks submitted and their futures dropped, ten rounds: the
  process's RSS (after handing freed memory back: ``_core._release_memory()``
  for the extension's mimalloc, ``malloc_trim`` for glibc) and
  ``tracemalloc``'s count of Python allocations stay within 10% of the
  round-1 plateau. 100,000 tasks a round in the default suite, the full
  1,000,000 behind ``-m slow``. In a fresh process each (a clean baseline).
- ``as_completed`` over 100,000 futures does not keep the futures it
  already yielded alive (bpo-27144).
- A done callback that captures its own future (a cycle through the
  Rust node, which gc cannot see) is freed once the future finishes,
  because the node clears its callback list; likewise failed tasks and
  their dependents leave no reference cycle. Checked with
  ``gc.DEBUG_SAVEALL``: anything freed only by the cycle collector would be
  kept in ``gc.garbage`` and so stay alive, failing the test.
- 100 rounds of executor create / use / shutdown: the OS thread count
  stays at its baseline and no file descriptor leaks.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import gc
import logging
import sys
import threading
import time
import weakref

import pytest
from conftest import WAIT
from fresh_interpreter import check_py

import hpyx

# -- dropped tasks leave memory flat -------------------------------------------------

_ROUNDS = r"""
import ctypes, gc, os, sys, tracemalloc
import hpyx

N = {n}
ROUNDS = 10
MB = 2 ** 20
libc = ctypes.CDLL("libc.so.6")

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE")

def release():
    gc.collect()
    hpyx._core._release_memory()
    libc.malloc_trim(0)
    return rss()

def noop():
    pass

def one_round():
    done = []
    with hpyx.HPXExecutor() as ex:
        for i in range(N):
            ex.submit(noop)           # the future is dropped at once
        # A last task per round proves the pool ran them (FIFO from outside
        # is not promised, so wait through shutdown below instead).
        ex.submit(done.append, 1)
    # shutdown(wait=True) waited for every task of this handle.
    assert done == [1], done

one_round()  # warm-up: the pool, caches, the interpreter's free lists
tracemalloc.start()
rss_after, py_after = [], []
for r in range(ROUNDS):
    one_round()
    rss_after.append(release())
    py_after.append(tracemalloc.get_traced_memory()[0])
tracemalloc.stop()
print("rss MB", [round(x / MB, 1) for x in rss_after])
print("tracemalloc KB", [round(x / 1024, 1) for x in py_after])
base_rss, base_py = rss_after[0], py_after[0]
# 10% of round 1, with at least 4 MiB of slack: with a small baseline the
# allocators' own fragmentation moves the RSS by a few MB, while a leak of
# even 8 bytes a task grows it by N * 8 bytes every round.
rss_slack = max(base_rss * 0.10, 4 * MB)
for r in range(1, ROUNDS):
    assert rss_after[r] <= base_rss + rss_slack, ("RSS grew", r, rss_after)
    # 10% of round 1, and at least 256 KiB of slack for interpreter caches.
    py_limit = max(base_py * 1.10, base_py + 256 * 1024)
    assert py_after[r] <= py_limit, ("Python memory grew", r, py_after)
print("ok")
"""


def _check_rounds(n, timeout):
    proc = check_py(_ROUNDS.format(n=n), timeout=timeout)
    assert proc.stdout.rstrip().endswith("ok"), proc.stdout


@pytest.mark.thread_unsafe(reason="measures a subprocess's memory; heavy")
def test_100k_dropped_tasks_ten_rounds_memory_flat():
    _check_rounds(100_000, timeout=240)


@pytest.mark.slow
@pytest.mark.thread_unsafe(reason="measures a subprocess's memory; heavy")
def test_1m_dropped_tasks_ten_rounds_memory_flat():
    _check_rounds(1_000_000, timeout=1800)


# -- as_completed lets go of what it yielded ------------------------------------------


def _make_futures(n):
    ex = hpyx.HPXExecutor()
    try:
        futures = [ex.submit(int, i) for i in range(n)]
    finally:
        ex.shutdown(wait=False)
    return futures


@pytest.mark.thread_unsafe(reason="gc.collect() counting with 100,000 futures")
def test_as_completed_does_not_keep_yielded_futures_alive():
    n = 100_000
    futures = _make_futures(n)
    refs = []
    it = cf.as_completed(futures, timeout=4 * WAIT)
    del futures  # from now on only as_completed holds the futures
    total = 0
    alive_midway = None
    for k, f in enumerate(it):
        total += f.result(timeout=0)
        refs.append(weakref.ref(f))
        del f
        if k == n // 2:
            gc.collect()
            hpyx.debug.get_worker_thread_id()
            alive_midway = sum(r() is not None for r in refs)
    assert total == n * (n - 1) // 2
    assert len(refs) == n
    # Yielded futures are released as the iteration goes on (a few may still
    # be in the stdlib's local variables).
    assert alive_midway is not None and alive_midway <= 2, alive_midway
    del it
    gc.collect()
    assert sum(r() is not None for r in refs) == 0


def test_as_completed_with_pending_futures_releases_them_too():
    gate = threading.Event()
    ex = hpyx.HPXExecutor()
    futures = [ex.submit(gate.wait, WAIT) for _ in range(1000)]
    refs = []
    it = cf.as_completed(futures, timeout=WAIT)
    del futures
    gate.set()
    for f in it:
        assert f.result(timeout=0) is True
        refs.append(weakref.ref(f))
        del f
    del it
    ex.shutdown(wait=True)
    gc.collect()
    assert sum(r() is not None for r in refs) == 0


# -- no reference cycles through nodes and callbacks ----------------------------------


class Payload:
    pass


@contextlib.contextmanager
def _cycles_are_kept():
    """While active, whatever only the cycle collector could free is kept
    in gc.garbage (gc.DEBUG_SAVEALL) instead of being freed; ``_freed``
    then tells an object freed by reference counting (no cycle) from one
    the collector found in a cycle."""
    gc.collect()
    gc.garbage.clear()
    old = gc.get_debug()
    gc.set_debug(old | gc.DEBUG_SAVEALL)
    try:
        yield
    finally:
        gc.set_debug(old)
        gc.garbage.clear()
        gc.collect()


def _track(obj):
    return (weakref.ref(obj), id(obj), type(obj))


def _freed(tracked):
    """True if the object is gone and was not in a reference cycle."""
    ref, ident, kind = tracked
    # A worker that dropped the last reference while detached leaves the
    # decref to PyO3's pool, which the next hpyx call flushes; on 3.13t a
    # cross-thread decref may wait for a gc pass to be merged.
    deadline = time.monotonic() + 5
    while ref() is not None and time.monotonic() < deadline:
        hpyx.debug.get_worker_thread_id()
        gc.collect()
        time.sleep(0.01)
    if ref() is not None:
        return False
    gc.collect()
    # gc clears weakrefs to cyclic garbage too, but under DEBUG_SAVEALL the
    # object itself is still there, in gc.garbage.
    return not _kept_by_a_cycle(ident, kind)


def _kept_by_a_cycle(ident, kind):
    """Is the object in gc.garbage, reachable there from a reference cycle?

    On 3.13t, an object whose last reference was dropped by a thread other
    than its owner (here: created on a worker, dropped by the test) waits in
    the owner's queue until a gc pass merges its count: that pass finds it
    unreachable without any cycle, and DEBUG_SAVEALL keeps it, and what it
    refers to, in gc.garbage. So only a real cycle counts."""
    garbage = {id(o): o for o in gc.garbage}
    target = garbage.get(ident)
    if target is None or type(target) is not kind:
        return False
    edges = {
        i: [id(r) for r in gc.get_referents(o) if id(r) in garbage] for i, o in garbage.items()
    }

    def reaches(start, goal):
        seen, stack = set(), list(edges[start])
        while stack:
            node = stack.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                stack.extend(edges[node])
        return False

    on_cycle = [i for i in garbage if reaches(i, i)]
    return any(i == ident or reaches(i, ident) for i in on_cycle)


pytestmark_f35 = pytest.mark.thread_unsafe(reason="gc.set_debug(DEBUG_SAVEALL) is process-global")


@pytestmark_f35
@pytest.mark.parametrize("kind", ["task", "promise", "ready"])
def test_callback_capturing_its_own_future_is_freed_after_it_finishes(kind):
    calls = []
    gate = threading.Event()
    with _cycles_are_kept():
        if kind == "task":
            f = hpyx.async_(gate.wait, WAIT)
        elif kind == "promise":
            f = hpyx.Future()
        else:
            f = hpyx.ready_future(1)
        payload = Payload()
        payload_ref = _track(payload)

        def cb(fut, me=f, payload=payload):
            # The callback holds the future: future -> node -> callback -> future.
            calls.append(fut is me)

        f.add_done_callback(cb)
        future_ref = _track(f)
        del cb, payload
        if kind == "task":
            gate.set()
        elif kind == "promise":
            f.set_result(1)
        assert f.result(timeout=WAIT) in (True, 1)
        del f
        assert _freed(future_ref), "the future (in a cycle with its callback) was not freed"
        assert _freed(payload_ref)
        assert calls == [True]


@pytestmark_f35
def test_stdlib_helpers_on_a_future_leave_no_cycle():
    # cf.wait installs the lazy condition and a completion callback that is
    # a bound method of the future itself.
    with _cycles_are_kept():
        gate = threading.Event()
        f = hpyx.async_(gate.wait, WAIT)
        done, not_done = cf.wait([f], timeout=0.01)
        assert f in not_done
        gate.set()
        done, not_done = cf.wait([f], timeout=WAIT)
        assert f in done
        ref = _track(f)
        del f, done, not_done
        assert _freed(ref)


@pytest.mark.parametrize("how", ["setattr", "vars"])
@pytest.mark.parametrize("make", ["submit", "async_"])
def test_untracked_task_futures_are_tracked_before_they_can_close_a_cycle(make, how):
    # Futures made by tasks start untracked by the cycle collector (a million
    # tracked ones make full collections slow); any attribute can close a
    # cycle, so they are tracked first and such a cycle is still collected.
    with hpyx.HPXExecutor() as ex:
        f = ex.submit(int, 3) if make == "submit" else hpyx.async_(int, 3)
        assert f.result(timeout=WAIT) == 3
        # GIL builds only: the free-threaded collector handles untracked
        # objects badly (see `wrap` in python/src/future/make.rs).
        assert gc.is_tracked(f) == (not getattr(sys, "_is_gil_enabled", lambda: True)())
        if how == "setattr":
            f.me = [f]
        else:
            vars(f)["me"] = [f]
        assert gc.is_tracked(f)
        ref = weakref.ref(f)
        del f
        gc.collect()
        assert ref() is None, "a cycle through an attribute of a future was not collected"


class Boom(Exception):
    pass


def _fail_with(payload):
    raise Boom("failing with a payload")


@pytestmark_f35
def test_failed_task_and_its_dependents_leave_no_cycle():
    with _cycles_are_kept():
        payload = Payload()
        payload_ref = _track(payload)
        f = hpyx.async_(_fail_with, payload)
        g = f.then(lambda v: v)
        h = hpyx.dataflow(lambda a, b: a, f, g)
        j = hpyx.when_all(f, hpyx.ready_future(0))
        del payload
        for fut in (f, g, h, j):
            try:
                fut.result(timeout=WAIT)
            except Boom:
                pass
            else:
                pytest.fail("no error")
        exc_ref = _track(f.exception(timeout=WAIT))
        refs = [_track(x) for x in (f, g, h, j)]
        del f, g, h, j, fut
        assert _freed(exc_ref), "the task's exception was not freed"
        assert _freed(payload_ref), "the failing task's argument was not freed"
        assert all(_freed(r) for r in refs)


@pytestmark_f35
def test_a_raising_callback_leaves_no_cycle():
    logger = logging.getLogger("hpyx")
    old = logger.propagate, logger.handlers[:]
    # The callback's exception is logged; pytest's log capture would keep the
    # record (and its traceback) alive, so log into nothing here.
    logger.propagate = False
    logger.handlers[:] = [logging.NullHandler()]
    try:
        with _cycles_are_kept():
            f = hpyx.Future()
            payload = Payload()
            payload_ref = _track(payload)

            def cb(fut, payload=payload):
                raise RuntimeError("callback fails")

            f.add_done_callback(cb)
            del cb, payload
            f.set_result(1)
            ref = _track(f)
            del f
            assert _freed(ref)
            assert _freed(payload_ref)
    finally:
        logger.propagate, logger.handlers[:] = old[0], old[1]


# -- executor create / use / shutdown leaks no thread or fd ----------------------------

_EXECUTOR_ROUNDS = r"""
import os, threading
import hpyx

def threads():
    return len(os.listdir("/proc/self/task"))

def fds():
    return len(os.listdir("/proc/self/fd"))

def use():
    with hpyx.HPXExecutor() as ex:
        assert list(ex.map(abs, range(-50, 50))) == [abs(i) for i in range(-50, 50)]
        fs = [ex.submit(pow, 2, i) for i in range(50)]
        assert hpyx.when_all(fs).result(timeout=30) == tuple(2 ** i for i in range(50))
    ex = hpyx.HPXExecutor()
    gate, started = threading.Event(), threading.Event()
    blocker = ex.submit(lambda: (started.set(), gate.wait(30))[1])
    assert started.wait(30)
    queued = [ex.submit(int, i) for i in range(100)]
    ex.shutdown(wait=False, cancel_futures=True)
    gate.set()
    assert blocker.result(timeout=30) is True
    for f in queued:
        assert f.cancelled() or f.result(timeout=30) is not None
    with hpyx.HPXRuntime():
        assert hpyx.async_(sum, [1, 2]).result(timeout=30) == 3

use()
base_threads, base_fds = threads(), fds()
peak_threads, all_fds = base_threads, set()
for r in range(100):
    use()
    peak_threads = max(peak_threads, threads())
    all_fds.add(fds())
print("threads", base_threads, peak_threads, "fds", base_fds, sorted(all_fds))
assert peak_threads == base_threads, (base_threads, peak_threads)
assert all_fds == {base_fds}, (base_fds, all_fds)
assert threading.active_count() == 1 + 1  # main + the test watchdog? no: see below
"""


@pytest.mark.thread_unsafe(reason="counts a subprocess's threads and fds")
def test_executor_rounds_keep_thread_and_fd_counts_bounded():
    code = _EXECUTOR_ROUNDS.replace(
        "assert threading.active_count() == 1 + 1  # main + the test watchdog? no: see below\n",
        "assert threading.active_count() == 1, threading.enumerate()\nprint('ok')\n",
    )
    proc = check_py(code, timeout=120, watchdog=False)
    assert proc.stdout.rstrip().endswith("ok"), proc.stdout
