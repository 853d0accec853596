"""Free-threaded Python.

- On a free-threaded build, ``import hpyx`` leaves the GIL disabled and
  emits no ``RuntimeWarning`` (the extension declares ``gil_used = false``).
- Python callbacks run truly in parallel on the workers. Shown without wall
  time: two tasks that can only finish if they run at the same time -- a
  ``threading.Barrier`` (both builds: waiting releases the GIL) and a pure
  spin handshake through plain Python objects with a switch interval of
  1000 s (on 3.13t it completes; on the GIL build it cannot, which the same
  test asserts, so it shows it can tell the two apart).
- Every worker keeps one Python thread state for its whole life:
  ``threading.get_ident()``, ``threading.local`` data and the
  ``threading.current_thread()`` object persist from task to task on the
  same worker (``hpyx.debug.get_worker_thread_id()``).
- Many Python threads sharing futures at once: nothing lost, nothing doubled.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import random
import sys
import sysconfig
import threading

import pytest
from conftest import WAIT
from fresh_interpreter import assert_clean_exit, describe, run_py

import hpyx

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


@pytest.mark.skipif(not FREE_THREADED, reason="needs a free-threaded (3.13t) build")
def test_import_keeps_gil_disabled_without_runtime_warning():
    proc = run_py(
        """
import sys, warnings
assert not sys._is_gil_enabled(), "the GIL was enabled before import"
import hpyx
import hpyx._core
assert not sys._is_gil_enabled(), "import hpyx enabled the GIL"
# Using it (starting workers, running Python on them) keeps it disabled.
powers = hpyx.when_all([hpyx.async_(pow, 2, i) for i in range(100)]).result(timeout=30)
assert powers == tuple(2 ** i for i in range(100))
assert hpyx.HPXExecutor().submit(sum, [1, 2]).result(timeout=30) == 3
assert not sys._is_gil_enabled(), "running tasks enabled the GIL"
print("gil disabled")
""",
        flags=("-W", "error::RuntimeWarning"),
        timeout=60,
    )
    assert_clean_exit(proc)
    assert "gil disabled" in proc.stdout, describe(proc)
    assert "RuntimeWarning" not in proc.stderr, describe(proc)


_PARALLEL = """
import sys, threading, time
import hpyx

assert hpyx.debug.get_num_worker_threads() in (0, 2)
hpyx.init(os_threads=2)

def meet(barrier):
    barrier.wait()                   # raises BrokenBarrierError on timeout
    return hpyx.debug.get_worker_thread_id()

# 1. Barrier: both tasks must be running at the same time.
for round_ in range(20):
    barrier = threading.Barrier(2, timeout=20)
    a = hpyx.async_(meet, barrier)
    b = hpyx.async_(meet, barrier)
    ids = hpyx.when_all(a, b).result(timeout=30)
    assert sorted(ids) == [0, 1], ids
print("barrier ok")

# 2. Spin handshake through plain Python objects, no blocking call at all:
#    A sets flag a and busy-waits for flag b, B the reverse, for ROUNDS
#    rounds. With a 1000 s switch interval the GIL build never hands the
#    GIL over from a spinning thread, so this completes only if the two
#    Python callbacks really run at once.
sys.setswitchinterval(1000)
ROUNDS = 2000
PATIENCE = 20.0 if sys.argv[1] == "free-threaded" else 1.0
flags = [0, 0]

def player(me, start):
    other = 1 - me
    start.wait()
    deadline = time.monotonic() + PATIENCE
    for r in range(1, ROUNDS + 1):
        flags[me] = r
        while flags[other] < r:
            if time.monotonic() > deadline:
                return "stuck at round %d" % r
    return "done"

start = threading.Barrier(2, timeout=20)
players = [hpyx.async_(player, 0, start), hpyx.async_(player, 1, start)]
outcome = hpyx.when_all(*players).result(timeout=60)
print("spin:", outcome)
"""


def test_python_tasks_run_in_parallel():
    mode = "free-threaded" if FREE_THREADED else "gil"
    proc = run_py(_PARALLEL, args=(mode,), timeout=120)
    assert_clean_exit(proc)
    assert "barrier ok" in proc.stdout, describe(proc)
    spin = [ln for ln in proc.stdout.splitlines() if ln.startswith("spin:")]
    assert spin, describe(proc)
    if FREE_THREADED:
        assert spin[0] == "spin: ('done', 'done')", describe(proc)
    else:
        # Under the GIL the two spinners cannot run at once: the handshake
        # gets stuck until the first one gives up. (Callbacks run in
        # parallel on free-threaded builds only.)
        assert "stuck" in spin[0], describe(proc)


def test_each_worker_keeps_its_python_thread_state():
    local = threading.local()

    def probe(_):
        wid = hpyx.debug.get_worker_thread_id()
        ident = threading.get_ident()
        previous = getattr(local, "tag", None)
        if previous is None:
            local.tag = (wid, ident)
        return wid, ident, previous, id(threading.current_thread())

    results = []
    # One at a time (each task may land on any worker) ...
    for i in range(100):
        results.append(hpyx.async_(probe, i).result(timeout=WAIT))
    # ... and in batches, which spread over the workers.
    for _ in range(20):
        results.extend(
            hpyx.when_all([hpyx.async_(probe, i) for i in range(8)]).result(timeout=WAIT)
        )

    by_worker = collections.defaultdict(list)
    for wid, ident, previous, thread_obj in results:
        assert wid >= 0, "a task ran outside the pool"
        by_worker[wid].append((ident, previous, thread_obj))
    assert by_worker, results
    for wid, seen in by_worker.items():
        idents = {ident for ident, _, _ in seen}
        assert len(idents) == 1, ("worker %d ran on several OS threads" % wid, idents)
        (ident,) = idents
        # The threading.local set by the worker's first probe is still there
        # in every later task on that worker: same thread state.
        firsts = [p for _, p, _ in seen if p is None]
        assert len(firsts) == 1, ("threading.local data lost on worker %d" % wid, len(firsts))
        assert all(p == (wid, ident) for _, p, _ in seen if p is not None)
        # threading.current_thread() is the same object each time.
        assert len({obj for _, _, obj in seen}) == 1, "current_thread() changed on worker %d" % wid
    # Some worker ran many tasks, so persistence was really exercised.
    assert max(len(seen) for seen in by_worker.values()) >= 10


def test_threads_sharing_futures_lose_and_double_nothing():
    threads_n, iterations = 8, 150
    promises = [hpyx.Future() for _ in range(40)]
    winners = []
    callback_hits = []
    callbacks_added = []
    errors = []
    lock = threading.Lock()
    start = threading.Barrier(threads_n, timeout=WAIT)

    def player(tid):
        rng = random.Random(tid)
        try:
            start.wait()
            for i in range(iterations):
                f = hpyx.async_(int.__add__, tid, i)
                g = f.then(int.__mul__, 2)
                assert g.result(timeout=WAIT) == 2 * (tid + i)
                p = promises[rng.randrange(len(promises))]
                token = (tid, i)
                p.add_done_callback(lambda _f, token=token: callback_hits.append(token))
                callbacks_added.append(token)
                cont = p.then(lambda v: v)
                if rng.random() < 0.3:
                    cont.cancel()
                if rng.random() < 0.2:
                    try:
                        p.set_result(tid)
                    except cf.InvalidStateError:
                        pass
                    else:
                        with lock:
                            winners.append(p)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=player, args=(t,)) for t in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 4)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors
    for p in promises:
        if not p.done():
            p.set_result(-1)
    for p in promises:
        assert p.result(timeout=WAIT) is not None
    # Each promise was completed by exactly one set_result.
    assert len(winners) == len(set(map(id, winners)))
    # Every callback ran exactly once.
    assert sorted(callback_hits) == sorted(callbacks_added)
    assert len(callbacks_added) == threads_n * iterations


def test_gil_state_matches_build():
    # Guards the build-specific expectations above: the test interpreter is
    # the build it claims to be, and hpyx (imported by this test process)
    # did not re-enable the GIL.
    if FREE_THREADED:
        assert not sys._is_gil_enabled()
    else:
        assert getattr(sys, "_is_gil_enabled", lambda: True)()
