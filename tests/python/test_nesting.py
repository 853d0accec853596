"""Waiting inside tasks (nested parallelism) and cycles.

A worker blocked in ``result()``
runs other ready tasks (its own most recent first), so nested
``submit().result()`` never deadlocks, even with one worker, and hpyx never
starts extra threads to get out of it. Nesting per worker is bounded by
``max_help_depth`` (default 512): past it ``result()`` raises a
``RuntimeError`` naming ``max_help_depth``; Python's own recursion limit may
trigger first (``RecursionError``, also a ``RuntimeError``). A wait that can
never finish (a cycle) ends at its timeout.

Tests that fix the pool's size run in a subprocess.
"""

from __future__ import annotations

import concurrent.futures as cf
import sys
import time

import pytest
from fresh_interpreter import assert_clean_exit, describe, run_py

import hpyx

WAIT = 30.0


# -- the stdlib docs' deadlock ------------------------------------------------

# From the concurrent.futures docs ("Deadlocks can occur when the callable
# associated with a Future waits on the results of another Future"), plus
# the shapes a helping wait must handle on a single worker: the awaited task
# at the bottom of the worker's deque, a continuation that only becomes
# ready while waiting, a when_all, and a chain of nested waits.
_ONE_WORKER_DEADLOCKS = """
import time
import hpyx

ex = hpyx.HPXExecutor({max_workers})

def wait_on_future():
    f = ex.submit(pow, 5, 2)
    # This would never complete on a one-worker ThreadPoolExecutor.
    return f.result(timeout=10)

def fan_in():
    fs = [ex.submit(pow, 2, i) for i in range(50)]
    # fs[0] is the *oldest* of this worker's queued tasks.
    return sum(f.result(timeout=10) for f in fs)

def continuation():
    return hpyx.async_(pow, 3, 2).then(lambda v: v + 1).result(timeout=10)

def all_of():
    return hpyx.when_all([ex.submit(abs, -i) for i in range(10)]).result(timeout=10)

def chain(n):
    if n == 0:
        return 0
    return ex.submit(chain, n - 1).result(timeout=10) + 1

t0 = time.monotonic()
assert ex.submit(wait_on_future).result(timeout=10) == 25
elapsed = time.monotonic() - t0
assert hpyx.debug.get_num_worker_threads() == 1, hpyx.debug.get_num_worker_threads()
assert ex.submit(fan_in).result(timeout=10) == 2 ** 50 - 1
assert ex.submit(continuation).result(timeout=10) == 10
assert ex.submit(all_of).result(timeout=10) == tuple(range(10))
assert ex.submit(chain, 100).result(timeout=10) == 100
print("ok first=%.3fs" % elapsed)
"""


@pytest.mark.parametrize("how", ["HPYX_OS_THREADS=1", "max_workers=1"], ids=["env", "max_workers"])
def test_stdlib_docs_deadlock_completes_on_one_worker(how):
    if how == "max_workers=1":
        proc = run_py(_ONE_WORKER_DEADLOCKS.format(max_workers="max_workers=1"), timeout=60)
    else:
        proc = run_py(
            _ONE_WORKER_DEADLOCKS.format(max_workers=""),
            env={"HPYX_OS_THREADS": "1"},
            timeout=60,
        )
    assert_clean_exit(proc)
    assert "ok first=" in proc.stdout, describe(proc)
    # It completes, and does not get there by waiting out a timeout.
    first = float(proc.stdout.split("ok first=")[1].split("s")[0])
    assert first < 5.0, describe(proc)


# -- recursive fib with nested waits --------------------------------------------


@pytest.mark.parametrize("workers,n", [(2, 25), (1, 20)])
def test_recursive_fib_nested_waits_no_extra_threads(workers, n):
    proc = run_py(
        """
import os, sys
import hpyx

def nthreads():
    return len(os.listdir("/proc/self/task"))

baseline = nthreads()          # the main thread (and nothing else)
ex = hpyx.HPXExecutor()
seen = [0]

def fib(n):
    if n < 2:
        return n
    if n % 4 == 0:
        seen[0] = max(seen[0], nthreads())
    return ex.submit(fib, n - 1).result() + ex.submit(fib, n - 2).result()

N = int(sys.argv[1])
value = ex.submit(fib, N).result(timeout=120)
expected = [0, 1]
for _ in range(N):
    expected.append(expected[-1] + expected[-2])
assert value == expected[N], (value, expected[N])
workers = hpyx.debug.get_num_worker_threads()
print("baseline=%d workers=%d max_seen=%d after=%d" % (baseline, workers, seen[0], nthreads()))
""",
        env={"HPYX_OS_THREADS": str(workers)},
        args=(str(n),),
        timeout=150,
        watchdog=False,  # its watchdog would be one more thread
    )
    assert_clean_exit(proc)
    fields = dict(kv.split("=") for kv in proc.stdout.split())
    baseline, nworkers, max_seen, after = (
        int(fields[k]) for k in ("baseline", "workers", "max_seen", "after")
    )
    assert nworkers == workers, describe(proc)
    # hpyx never adds threads to get out of nested waits: exactly the
    # workers, whatever the nesting.
    assert max_seen <= baseline + workers, describe(proc)
    assert after <= baseline + workers, describe(proc)


# -- nesting 10,000 deep ----------------------------------------------------------

_DEEP = """
import sys
import hpyx

cfg = [c for c in sys.argv[1:] if c.startswith("max_help_depth")]
if cfg:
    hpyx.init(cfg=cfg)
for a in sys.argv[1:]:
    if a.startswith("recursionlimit="):
        sys.setrecursionlimit(int(a.split("=")[1]))
ex = hpyx.HPXExecutor()

def deep(n):
    if n == 0:
        return 0
    return ex.submit(deep, n - 1).result() + 1

try:
    value = ex.submit(deep, 10_000).result(timeout=120)
except RuntimeError as e:       # RecursionError is a RuntimeError too
    print("raised %s: %s" % (type(e).__name__, str(e).splitlines()[0]))
else:
    print("completed %d" % value)
# The pool is fine afterwards.
assert ex.submit(deep, 50).result(timeout=30) == 50
assert hpyx.async_(pow, 2, 8).result(timeout=30) == 256
print("pool ok")
"""


@pytest.mark.parametrize(
    "settings",
    [
        (),
        ("recursionlimit=100000",),
        ("max_help_depth=20000", "recursionlimit=100000"),
        ("max_help_depth=20000",),
    ],
    ids=["defaults", "big-recursionlimit", "big-both", "big-help-depth"],
)
@pytest.mark.parametrize("workers", [1, 2])
def test_nested_blocking_10000_deep_no_crash(settings, workers):
    proc = run_py(_DEEP, env={"HPYX_OS_THREADS": str(workers)}, args=settings, timeout=150)
    # Never a segfault or an abort: the process ends on its own terms.
    assert proc.returncode == 0, describe(proc)
    assert "Fatal Python error" not in proc.stderr, describe(proc)
    assert "pool ok" in proc.stdout, describe(proc)
    out = proc.stdout
    if "completed" in out:
        assert "completed 10000" in out, describe(proc)
    else:
        assert "raised" in out, describe(proc)
        # The error names the limit that was hit.
        assert ("raised RuntimeError" in out and "max_help_depth" in out) or (
            "raised RecursionError" in out and "recursion" in out
        ), describe(proc)
    if settings == ("recursionlimit=100000",):
        if sys.version_info[:2] == (3, 12):
            # CPython 3.12 caps C recursion at a fixed depth whatever the
            # recursion limit: its RecursionError comes first (about 500
            # nested calls), cleanly.
            assert "raised RecursionError" in out, describe(proc)
        else:
            # With Python's limit out of the way, hpyx's own limit (512) is
            # what stops the recursion, well before the thread's stack is
            # at risk.
            assert "raised RuntimeError" in out and "max_help_depth=512" in out, describe(proc)


def test_max_help_depth_is_exact():
    proc = run_py(
        """
import hpyx
hpyx.init(cfg=["max_help_depth=8"])
ex = hpyx.HPXExecutor()

def deep(n):
    if n == 0:
        return 0
    return ex.submit(deep, n - 1).result() + 1

# A task started by the main thread runs at help depth 0; each nested wait
# adds one. 8 nested waits are allowed, the 9th is refused.
assert ex.submit(deep, 8).result(timeout=30) == 8
try:
    ex.submit(deep, 9).result(timeout=30)
except RuntimeError as e:
    assert "max_help_depth=8" in str(e), e
    assert type(e) is RuntimeError, type(e)
    print("refused:", str(e).splitlines()[0])
else:
    raise AssertionError("depth 9 was allowed with max_help_depth=8")
assert ex.submit(deep, 8).result(timeout=30) == 8
print("ok")
""",
        env={"HPYX_OS_THREADS": "1"},
        timeout=60,
    )
    assert_clean_exit(proc)
    assert "refused:" in proc.stdout and "ok" in proc.stdout, describe(proc)


# -- cyclic waits end at their timeout -------------------------------------------


def test_cycle_through_promise_and_continuation_times_out():
    a = hpyx.Future()
    b = a.then(lambda v: v + 1)  # b waits for a ...

    def close_cycle(f):  # ... and a waits for b
        if not a.done() and not f.cancelled() and f.exception() is None:
            a.set_result(f.result())

    b.add_done_callback(close_cycle)
    t0 = time.monotonic()
    with pytest.raises(cf.TimeoutError):
        b.result(timeout=0.2)
    with pytest.raises(cf.TimeoutError):
        a.exception(timeout=0.2)
    assert time.monotonic() - t0 < 10
    assert not a.done() and not b.done()
    # Breaking the cycle from outside lets everything finish.
    a.set_result(1)
    assert b.result(timeout=WAIT) == 2


@pytest.mark.parametrize("via", ["async_", "executor"])
def test_cycle_of_blocking_tasks_times_out(via):
    # The stdlib docs' other deadlock: A waits on B and B on A, each inside
    # a task. The gate makes sure both futures exist before either waits.
    ex = hpyx.HPXExecutor()
    submit = hpyx.async_ if via == "async_" else ex.submit
    gate = hpyx.Future()

    def wait_on(index):
        return gate.result(timeout=WAIT)[index].result(timeout=1.0)

    fa = submit(wait_on, 1)  # A waits on B
    fb = submit(wait_on, 0)  # B waits on A
    gate.set_result((fa, fb))
    t0 = time.monotonic()
    with pytest.raises(cf.TimeoutError):
        fa.result(timeout=0.3)
    with pytest.raises(cf.TimeoutError):
        hpyx.when_all(fa, fb).result(timeout=0.1)
    assert time.monotonic() - t0 < 1.0 + 5
    # The inner waits end at their own timeout: both tasks then fail with
    # TimeoutError instead of holding their workers forever.
    assert isinstance(fa.exception(timeout=WAIT), cf.TimeoutError)
    assert isinstance(fb.exception(timeout=WAIT), cf.TimeoutError)
    # The workers are free again.
    assert hpyx.async_(pow, 2, 3).result(timeout=WAIT) == 8
    ex.shutdown()


def test_cycle_on_one_worker_times_out():
    # On a single worker A's wait helps by running B nested, so B's wait on
    # A (below it on the same stack) can only end at B's timeout.
    proc = run_py(
        """
import concurrent.futures as cf
import hpyx

gate = hpyx.Future()

def wait_on(index):
    return gate.result(timeout=30)[index].result(timeout=0.5)

fa = hpyx.async_(wait_on, 1)
fb = hpyx.async_(wait_on, 0)
gate.set_result((fa, fb))
try:
    fa.result(timeout=0.2)
except cf.TimeoutError:
    print("outer wait timed out")
assert isinstance(fa.exception(timeout=30), cf.TimeoutError)
assert isinstance(fb.exception(timeout=30), cf.TimeoutError)
assert hpyx.async_(pow, 2, 3).result(timeout=30) == 8
print("ok")
""",
        env={"HPYX_OS_THREADS": "1"},
        timeout=60,
    )
    assert_clean_exit(proc)
    assert "outer wait timed out" in proc.stdout and "ok" in proc.stdout, describe(proc)
