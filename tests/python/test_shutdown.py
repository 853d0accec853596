"""Exit with work in flight, atexit, finalization.

``hpyx.shutdown()`` and the ``atexit`` hook DRAIN -- every
queued task runs (like ``ThreadPoolExecutor`` at exit), continuations that
become ready while draining run too -- then stop the pool for good: every
later call that needs it raises ``RuntimeError`` ("cannot be restarted").
A script that ends with tasks pending or running exits 0: no "Fatal Python
error", no traceback, no hang. Every test runs in a subprocess, like the
stdlib's ``test_interpreter_shutdown``.
"""

from __future__ import annotations

import concurrent.futures
import os

import pytest
from fresh_interpreter import assert_clean_exit, describe, run_py

# -- the script ends with work pending or running ------------------------------------


def test_exit_with_pending_and_running_tasks_drains(tmp_path):
    proc = run_py(
        """
import os, sys, threading, time
import hpyx

out = sys.argv[1]
ex = hpyx.HPXExecutor()

def touch(name, delay=0.0, value=None):
    time.sleep(delay)
    with open(os.path.join(out, name), "w") as f:
        f.write("done")
    return value

# Running at exit: occupies both workers for a while.
ex.submit(touch, "running-0", 0.3)
hpyx.async_(touch, "running-1", 0.3)
# Queued behind them (not started at exit).
for i in range(20):
    ex.submit(touch, "queued-%d" % i, 0.01)
# Continuations that only become ready while the pool drains.
f = hpyx.async_(touch, "chain-0", 0.1, 1)
for k in range(1, 4):
    f = f.then(lambda v, k=k: touch("chain-%d" % k, 0.01, v + 1))
hpyx.dataflow(lambda a, b: touch("dataflow", 0.0, a + b), f, hpyx.async_(touch, "input", 0.05, 2))
# Work that can never become ready must not hold up the exit.
never = hpyx.Future()
never.then(lambda v: touch("never"))
hpyx.when_all(never, f)
print("main done", flush=True)
""",
        env={"HPYX_OS_THREADS": "2"},
        args=(str(tmp_path),),
        timeout=60,
    )
    assert_clean_exit(proc)
    assert "main done" in proc.stdout, describe(proc)
    written = set(os.listdir(tmp_path))
    expected = (
        {"running-0", "running-1", "input", "dataflow"}
        | {"queued-%d" % i for i in range(20)}
        | {"chain-%d" % k for k in range(4)}
    )
    assert expected <= written, "not drained: %s\n%s" % (sorted(expected - written), describe(proc))
    assert "never" not in written


def test_exit_with_a_thousand_queued_tasks_on_one_worker(tmp_path):
    log = tmp_path / "log"
    proc = run_py(
        """
import os, sys
import hpyx

fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND)

def record(i):
    os.write(fd, b"%d\\n" % i)

ex = hpyx.HPXExecutor()
for i in range(1000):
    ex.submit(record, i)
""",
        env={"HPYX_OS_THREADS": "1"},
        args=(str(log),),
        timeout=60,
    )
    assert_clean_exit(proc)
    lines = log.read_text().split()
    assert sorted(map(int, lines)) == list(range(1000)), describe(proc)


def test_explicit_shutdown_drains_then_refuses_everything():
    proc = run_py(
        """
import threading, time
import hpyx

ex = hpyx.HPXExecutor()
ran = []
queued = [ex.submit(lambda i=i: (time.sleep(0.01), ran.append(i))[1] or i) for i in range(30)]
promise = hpyx.Future()
waits_on_promise = promise.then(lambda v: v + 1)
done = hpyx.async_(pow, 2, 3)
assert done.result(timeout=10) == 8
# Another thread blocked on queued work while the pool drains.
seen = []
waiter = threading.Thread(target=lambda: seen.append(queued[-1].result(timeout=30)))
waiter.start()

hpyx.shutdown()
waiter.join(30)
assert seen == [29], seen
assert sorted(ran) == list(range(30)), ran          # drained
assert all(f.done() for f in queued)
assert not hpyx.is_running()
assert hpyx.debug.get_num_worker_threads() == 0

def refused(call):
    try:
        call()
    except RuntimeError as e:
        assert "cannot be restarted" in str(e) or "after shutdown" in str(e), e
        return True
    return False

assert refused(lambda: hpyx.async_(abs, 1))
assert refused(lambda: ex.submit(abs, 1))
assert refused(lambda: hpyx.HPXExecutor().submit(abs, 1))
assert refused(hpyx.init)
assert refused(lambda: hpyx.init(os_threads=2))
assert refused(hpyx.Future)
assert refused(lambda: hpyx.ready_future(1))
assert refused(lambda: done.then(str))
assert refused(lambda: hpyx.when_all(done))
assert refused(lambda: hpyx.dataflow(abs, done))
with hpyx.HPXExecutor() as later:          # creating one is fine; using it is not
    assert refused(lambda: later.submit(abs, 1))
hpyx.shutdown()                             # idempotent
# Finished futures stay readable.
assert done.result(timeout=1) == 8 and queued[3].result(timeout=1) == 3
# A continuation whose input completes after shutdown cannot run: it ends
# cancelled instead of staying pending forever.
promise.set_result(1)
try:
    waits_on_promise.result(timeout=10)
except Exception as e:
    print("late continuation:", type(e).__name__)
else:
    raise AssertionError("a continuation ran after shutdown")
assert waits_on_promise.done()
print("ok")
""",
        env={"HPYX_OS_THREADS": "2"},
        timeout=60,
    )
    assert_clean_exit(proc)
    assert "late continuation: CancelledError" in proc.stdout, describe(proc)
    assert "ok" in proc.stdout.split(), describe(proc)


def test_shutdown_from_a_worker_is_refused():
    proc = run_py(
        """
import hpyx

def stop():
    hpyx.shutdown()

try:
    hpyx.async_(stop).result(timeout=10)
except RuntimeError as e:
    print("refused:", e)
assert hpyx.is_running()
assert hpyx.async_(abs, -2).result(timeout=10) == 2
""",
        timeout=60,
    )
    assert_clean_exit(proc)
    assert "refused:" in proc.stdout and "worker" in proc.stdout, describe(proc)


# -- submit from an atexit hook ------------------------------------------------------


def test_atexit_hook_running_after_hpyx_shutdown_gets_runtime_error():
    # atexit runs hooks last-registered-first: a hook registered before
    # hpyx is imported runs after hpyx's own shutdown hook.
    proc = run_py(
        """
import atexit

def late_hook():
    import hpyx
    for label, call in [
        ("async_", lambda: hpyx.async_(abs, -1)),
        ("submit", lambda: EX.submit(abs, -1)),
        ("Future", hpyx.Future),
    ]:
        try:
            call()
        except RuntimeError as e:
            print("%s: RuntimeError: %s" % (label, e), flush=True)
        else:
            print("%s: no error" % label, flush=True)
    print("finished value still readable:", DONE.result(timeout=1), flush=True)

atexit.register(late_hook)

import hpyx
EX = hpyx.HPXExecutor()
DONE = EX.submit(pow, 2, 5)
DONE.result(timeout=10)
EX.submit(pow, 3, 3)           # pending at exit: drained before the hook runs
""",
        timeout=60,
    )
    assert_clean_exit(proc)
    for label in ("async_", "Future"):
        assert "%s: RuntimeError: the hpyx runtime has been shut down" % label in proc.stdout, (
            describe(proc)
        )
    # An executor refuses in the stdlib's words.
    assert (
        "submit: RuntimeError: cannot schedule new futures after interpreter shutdown"
        in proc.stdout
    ), describe(proc)
    assert "finished value still readable: 32" in proc.stdout, describe(proc)


def test_uncaught_error_in_late_atexit_hook_is_printed_not_a_crash():
    proc = run_py(
        """
import atexit

def late_hook():
    import hpyx
    hpyx.HPXExecutor().submit(print, "never runs")

atexit.register(late_hook)
import hpyx
hpyx.async_(abs, 1).result(timeout=10)
""",
        timeout=60,
    )
    # atexit reports the exception on stderr and the exit code stays 0.
    assert proc.returncode == 0, describe(proc)
    assert "Fatal Python error" not in proc.stderr, describe(proc)
    assert "panicked" not in proc.stderr, describe(proc)
    assert "RuntimeError" in proc.stderr and "interpreter shutdown" in proc.stderr, describe(proc)
    assert "never runs" not in proc.stdout, describe(proc)


def test_atexit_hook_running_before_hpyx_shutdown_can_still_submit(tmp_path):
    marker = tmp_path / "from-hook"
    proc = run_py(
        """
import atexit, sys
import hpyx

def early_hook():
    # Registered after hpyx's hook, so it runs first: the pool still runs.
    f = hpyx.async_(pow, 2, 10)
    print("hook got", f.result(timeout=10), flush=True)
    # Left pending for hpyx's drain.
    hpyx.async_(lambda: open(sys.argv[1], "w").write("x"))

atexit.register(early_hook)
hpyx.async_(abs, 1).result(timeout=10)
""",
        args=(str(marker),),
        timeout=60,
    )
    assert_clean_exit(proc)
    assert "hook got 1024" in proc.stdout, describe(proc)
    assert marker.exists(), describe(proc)


def test_atexit_hook_after_explicit_shutdown_gets_runtime_error():
    proc = run_py(
        """
import atexit
import hpyx

def hook():
    try:
        hpyx.async_(abs, -1)
    except RuntimeError as e:
        print("hook: RuntimeError:", e, flush=True)

atexit.register(hook)
hpyx.async_(abs, 1).result(timeout=10)
hpyx.shutdown()
""",
        timeout=60,
    )
    assert_clean_exit(proc)
    assert "hook: RuntimeError: the hpyx runtime has been shut down" in proc.stdout, describe(proc)


# -- Python activity during finalization --------------------------------------------------

_FINALIZATION = """
import sys, threading, time
import hpyx

MODE = sys.argv[1]

if MODE == "daemon_blocked_in_result":
    # A daemon thread still blocked in result() while the interpreter
    # finalizes: its wait keeps checking for signals (attaching) every 20 ms.
    # (A *task* blocked forever would hold up the drain, as a blocked task
    # holds up ThreadPoolExecutor's exit: that is the drain policy.)
    never = hpyx.Future()
    threading.Thread(target=never.result, daemon=True).start()
    queued = hpyx.async_(time.sleep, 0.2)
    threading.Thread(target=queued.result, daemon=True).start()
    threading.Thread(target=lambda: hpyx.when_all(never, queued).result(), daemon=True).start()
elif MODE == "daemon_submitting":
    # A daemon thread submitting and waiting in a loop through shutdown.
    def loop():
        while True:
            try:
                hpyx.async_(sum, range(100)).result()
            except RuntimeError:
                pass                # shut down: keep trying
    for _ in range(4):
        threading.Thread(target=loop, daemon=True).start()
elif MODE == "busy_task":
    # Tasks busy in Python when the main thread ends; callbacks and
    # continuations that touch Python run during the drain.
    def busy(n):
        end = time.monotonic() + 0.3
        junk = []
        while time.monotonic() < end:
            junk.append([str(i) for i in range(50)])
            junk = junk[-10:]
        return n
    for n in range(4):
        f = hpyx.async_(busy, n)
        f.add_done_callback(lambda f: [repr(i) for i in range(1000)])
        f.then(lambda v: {str(i): i for i in range(1000)})
elif MODE == "del_at_finalization":
    # Objects whose __del__ uses hpyx, collected during finalization (after
    # the pool is gone): "Exception ignored", not a crash.
    class UsesHpyx:
        def __del__(self):
            hpyx.async_(print, "from __del__").result(timeout=5)
    keep = UsesHpyx()
    cycle = UsesHpyx()
    cycle.self = cycle
elif MODE == "task_result_with_del":
    # Task results whose __del__ runs Python on whichever thread drops them.
    class Noisy:
        def __del__(self):
            [str(i) for i in range(100)]
    futures = [hpyx.async_(Noisy) for _ in range(100)]
    chained = [f.then(lambda v: Noisy()) for f in futures]
else:
    raise SystemExit("unknown mode")
time.sleep(0.1)
print("main done", flush=True)
"""


@pytest.mark.parametrize(
    "mode",
    [
        "daemon_blocked_in_result",
        "daemon_submitting",
        "busy_task",
        "del_at_finalization",
        "task_result_with_del",
    ],
)
def test_python_activity_during_finalization_does_not_crash(mode):
    # Races (a daemon thread re-attaching just as finalization starts must
    # not abort the process): a few rounds.
    for _ in range(5 if mode.startswith("daemon") else 2):
        proc = run_py(_FINALIZATION, args=(mode,), env={"HPYX_OS_THREADS": "2"}, timeout=60)
        info = describe(proc)
        assert proc.returncode == 0, info
        assert "Fatal Python error" not in proc.stderr, info
        assert "panicked" not in proc.stderr, info
        assert "Segmentation" not in proc.stderr, info
        assert "main done" in proc.stdout, info
        if mode == "del_at_finalization":
            # The late __del__ is refused cleanly, reported as ignored.
            assert "from __del__" not in proc.stdout, info
            assert "Traceback" not in proc.stderr or "RuntimeError" in proc.stderr, info
        elif mode != "daemon_submitting":
            assert "Traceback" not in proc.stderr, info


_DAEMONS_WAITING = """
import threading, time
import hpyx

never = hpyx.Future()
for _ in range(8):
    threading.Thread(target=never.result, daemon=True).start()
time.sleep(0.1)
print("main done", flush=True)
"""


def test_daemon_threads_waiting_through_finalization_never_touch_python():
    # Daemon threads still waiting when the interpreter finalizes wake every
    # 20 ms to check for signals. Once finalization has freed their thread
    # states, attaching for that check would crash the process after
    # faulthandler is gone (a bare SIGSEGV), so the check is skipped while
    # finalizing and a wait ending then parks. The window is narrow (a crash
    # in about 1 run in 30 on 3.13t without the skip): 80 rounds, four at a
    # time, so enough of them fit in a few seconds.
    def one_round(_):
        return run_py(_DAEMONS_WAITING, env={"HPYX_OS_THREADS": "2"}, timeout=60, watchdog=False)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        rounds = list(pool.map(one_round, range(80)))
    for proc in rounds:
        info = describe(proc)
        assert proc.returncode == 0, info
        assert "main done" in proc.stdout, info
        assert "Traceback" not in proc.stderr, info
