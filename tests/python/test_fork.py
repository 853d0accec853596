"""Import starts no threads; fork before and after the pool.

Before the pool starts, ``os.fork()`` is harmless (the
child starts its own pool on first use). After the pool has started, every
hpyx call in the child that would need the pool -- including waiting on a
future that is not finished yet -- raises a clear ``RuntimeError`` that
mentions fork; the child never hangs, not even at exit, and the parent is
unaffected. Every test runs in a subprocess.

``faulthandler.dump_traceback_later`` is not fork-safe on CPython 3.11 (the
child deadlocks on the watchdog's lock), so scripts that fork cancel it
around the fork and use ``signal.alarm`` in the child.
"""

from __future__ import annotations

from fresh_interpreter import assert_clean_exit, describe, run_py

# Waits for a child with a deadline; a hung child is killed and reported.
_WAIT_CHILD = """
import os, signal, time

def wait_child(pid, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError("the forked child hung")
"""


def test_import_starts_no_threads_and_fork_right_after_is_harmless():
    # No faulthandler here: its watchdog is a thread, and this test counts
    # threads (and -W error would turn 3.12+'s fork-with-threads warning
    # into an error, which is the point).
    proc = run_py(
        _WAIT_CHILD
        + """
import sys, threading

def counts():
    return threading.active_count(), len(os.listdir("/proc/self/task"))

before = counts()
import hpyx
import hpyx.debug
assert counts() == before, ("import hpyx started threads", before, counts())
assert not hpyx.is_running()
assert hpyx.debug.get_num_worker_threads() == 0
ex = hpyx.HPXExecutor()              # no max_workers: does not start the pool
assert ex._max_workers >= 1
assert counts() == before, ("HPXExecutor() started threads", before, counts())
assert not hpyx.is_running()

pid = os.fork()                      # -W error: any DeprecationWarning fails
if pid == 0:
    signal.alarm(20)
    # The pool was never started: the child gets a working pool of its own.
    ok = hpyx.async_(pow, 2, 10).result(timeout=10) == 1024
    ok = ok and hpyx.is_running()
    sys.stdout.write("child ok\\n" if ok else "child WRONG\\n")
    sys.stdout.flush()
    sys.exit(0 if ok else 3)         # normal exit: atexit drains the child's pool
code = wait_child(pid)
assert code == 0, ("child exit code", code)
assert hpyx.async_(pow, 3, 3).result(timeout=10) == 27
print("parent ok")
""",
        flags=("-W", "error"),
        watchdog=False,
        timeout=60,
    )
    assert_clean_exit(proc)
    assert "child ok" in proc.stdout and "parent ok" in proc.stdout, describe(proc)


def test_fork_after_pool_started_child_gets_clear_error_parent_unaffected():
    proc = run_py(
        _WAIT_CHILD
        + """
import concurrent.futures as cf, faulthandler, sys, threading, warnings
import hpyx

ex = hpyx.HPXExecutor()
assert ex.submit(pow, 2, 3).result(timeout=10) == 8
done = hpyx.async_(pow, 2, 5)
assert done.result(timeout=10) == 32
gate = threading.Event()
running = ex.submit(gate.wait, 30)   # occupies a worker across the fork
promise = hpyx.Future()              # pending, set by nobody in the child
chained = promise.then(str)

faulthandler.cancel_dump_traceback_later()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)   # 3.12+: fork with threads
    pid = os.fork()
if pid == 0:
    signal.alarm(20)                 # a hang in the child dies of SIGALRM
    failures = []

    def expect_fork_error(label, call):
        try:
            value = call()
        except RuntimeError as e:
            if "fork" not in str(e):
                failures.append("%s: RuntimeError without 'fork': %s" % (label, e))
        except BaseException as e:
            failures.append("%s: %s: %s" % (label, type(e).__name__, e))
        else:
            failures.append("%s returned %r" % (label, value))

    expect_fork_error("async_", lambda: hpyx.async_(pow, 2, 3))
    expect_fork_error("submit", lambda: ex.submit(pow, 2, 3))
    expect_fork_error("new executor", lambda: hpyx.HPXExecutor().submit(pow, 2, 3))
    expect_fork_error("Future()", hpyx.Future)
    expect_fork_error("init", hpyx.init)
    expect_fork_error("ready_future", lambda: hpyx.ready_future(1))
    expect_fork_error("when_all", lambda: hpyx.when_all(done, running))
    expect_fork_error("dataflow", lambda: hpyx.dataflow(max, done, running))
    expect_fork_error("then", lambda: running.then(str))
    # Waiting on what the parent's workers would have finished: no hang.
    expect_fork_error("running.result()", lambda: running.result())
    expect_fork_error("promise.result()", lambda: promise.result())
    expect_fork_error("chained.exception()", lambda: chained.exception())
    expect_fork_error("add_done_callback", lambda: running.add_done_callback(print))
    expect_fork_error("cf.wait", lambda: cf.wait([running]))
    expect_fork_error("cf.as_completed", lambda: list(cf.as_completed([running])))
    if hpyx.is_running():
        failures.append("is_running() is True in the child")
    # A future finished before the fork never needs the pool: reading it
    # either works or raises the same clear error, but does not hang.
    try:
        assert done.result(timeout=1) == 32
    except RuntimeError as e:
        if "fork" not in str(e):
            failures.append("done.result(): %s" % e)
    for line in failures:
        sys.stdout.write("CHILD FAILURE: %s\\n" % line)
    sys.stdout.write("child checked\\n")
    sys.stdout.flush()
    sys.exit(4 if failures else 0)   # normal exit: the atexit hook must not hang
faulthandler.dump_traceback_later(50, exit=True)
code = wait_child(pid)
assert code == 0, ("child exit code", code)
# The parent is unaffected: its pool, its pending work, its promise.
assert not running.done()
gate.set()
assert running.result(timeout=10) is True
assert ex.submit(pow, 2, 4).result(timeout=10) == 16
promise.set_result(7)
assert chained.result(timeout=10) == "7"
assert hpyx.is_running()
print("parent ok")
""",
        timeout=60,
    )
    assert "CHILD FAILURE" not in proc.stdout, describe(proc)
    assert "child checked" in proc.stdout, describe(proc)
    assert_clean_exit(proc)
    assert "parent ok" in proc.stdout, describe(proc)


def test_fork_child_explicit_shutdown_and_os_exit_paths():
    # The child's exit paths: an explicit hpyx.shutdown() (nothing to join:
    # the threads are not there) and a second one, then a normal exit.
    proc = run_py(
        _WAIT_CHILD
        + """
import faulthandler, sys, warnings
import hpyx

assert hpyx.async_(abs, -3).result(timeout=10) == 3
faulthandler.cancel_dump_traceback_later()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    pid = os.fork()
if pid == 0:
    signal.alarm(20)
    hpyx.shutdown()
    hpyx.shutdown()
    sys.exit(0)
faulthandler.dump_traceback_later(50, exit=True)
assert wait_child(pid) == 0
assert hpyx.async_(abs, -4).result(timeout=10) == 4
print("parent ok")
""",
        timeout=60,
    )
    assert_clean_exit(proc)
    assert "parent ok" in proc.stdout, describe(proc)


def test_multiprocessing_fork_pool_reports_clear_error():
    proc = run_py(
        """
import multiprocessing as mp, warnings
import hpyx

def use_hpyx(x):
    return hpyx.async_(pow, x, 2).result(timeout=5)

def plain(x):
    return -x

if __name__ == "__main__":
    assert hpyx.HPXExecutor().submit(pow, 3, 2).result(timeout=10) == 9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pool = mp.get_context("fork").Pool(1)
    try:
        # Plain work in the forked worker is unaffected.
        assert pool.map_async(plain, [1, 2]).get(timeout=20) == [-1, -2]
        try:
            value = pool.apply_async(use_hpyx, (4,)).get(timeout=20)
        except RuntimeError as e:
            assert "fork" in str(e), e
            print("clear error:", str(e)[:60])
        else:
            raise AssertionError("hpyx in a forked pool worker returned %r" % (value,))
        # The worker survives the error and still runs plain work.
        assert pool.apply_async(plain, (5,)).get(timeout=20) == -5
    finally:
        pool.terminate()
        pool.join()
    assert hpyx.async_(pow, 2, 6).result(timeout=10) == 64
    print("parent ok")
""",
        timeout=90,
    )
    assert_clean_exit(proc)
    assert "clear error: hpyx: this process was forked" in proc.stdout, describe(proc)
    assert "parent ok" in proc.stdout, describe(proc)
