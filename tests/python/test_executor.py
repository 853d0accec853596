"""HPXExecutor beyond what the conformance module checks against
ThreadPoolExecutor (pool sharing, per-handle shutdown, arguments)."""

from __future__ import annotations

import concurrent.futures as cf
import threading

import pytest
from conftest import WAIT, blocked_workers
from fresh_interpreter import check_py

import hpyx


def identity(x):
    return x


def test_is_an_executor_with_pool_size(executor):
    assert isinstance(executor, cf.Executor)
    assert executor.submit(int).result(timeout=WAIT) == 0
    assert executor._max_workers == hpyx.debug.get_num_worker_threads() >= 1
    assert isinstance(executor.submit(int), hpyx.Future)


def test_max_workers_equal_to_pool_size_does_not_warn():
    # filterwarnings = error: a warning would fail this test.
    n = hpyx.HPXExecutor()._max_workers
    hpyx.async_(int).result(timeout=WAIT)
    ex = hpyx.HPXExecutor(max_workers=n)
    assert ex._max_workers == n
    assert ex.submit(identity, 1).result(timeout=WAIT) == 1


@pytest.mark.parametrize("bad", ["2", 2.5, True, [1]])
def test_max_workers_of_wrong_type(bad):
    with pytest.raises(TypeError):
        hpyx.HPXExecutor(max_workers=bad)


@pytest.mark.parametrize("bad", [0, -1, -100])
def test_max_workers_not_positive(bad):
    with pytest.raises(ValueError, match="max_workers must be greater than 0"):
        hpyx.HPXExecutor(max_workers=bad)


def test_submit_none_is_type_error_at_submit(executor):
    # Unlike ThreadPoolExecutor (which fails the future), hpyx checks the
    # callable at submit time.
    with pytest.raises(TypeError):
        executor.submit(None)
    with pytest.raises(TypeError):
        executor.submit()  # no callable at all
    assert executor.submit(identity, 2).result(timeout=WAIT) == 2


def test_shutdown_does_not_stop_runtime_and_pool_serves_others():
    a, b = hpyx.HPXExecutor(), hpyx.HPXExecutor()
    a.shutdown()
    assert hpyx.is_running()
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        a.submit(int)
    assert b.submit(identity, 1).result(timeout=WAIT) == 1
    assert hpyx.async_(identity, 2).result(timeout=WAIT) == 2
    with hpyx.HPXExecutor() as c:
        assert c.submit(identity, 3).result(timeout=WAIT) == 3
    assert hpyx.is_running()
    b.shutdown()


def test_shutdown_wait_waits_only_for_this_handles_tasks():
    mine, other = hpyx.HPXExecutor(), hpyx.HPXExecutor()
    release = threading.Event()
    started = threading.Event()

    def block():
        started.set()
        return release.wait(WAIT)

    fs = [mine.submit(identity, i) for i in range(20)]
    cf.wait(fs, timeout=WAIT)
    blocker = other.submit(block)
    try:
        assert started.wait(WAIT)
        mine.shutdown(wait=True)  # would hang if it waited for `blocker`
        assert all(f.done() for f in fs)
        assert not blocker.done()
    finally:
        release.set()
    assert blocker.result(timeout=WAIT) is True
    other.shutdown()


def test_shutdown_cancel_futures_only_cancels_this_handles_tasks():
    mine, other = hpyx.HPXExecutor(), hpyx.HPXExecutor()
    with blocked_workers(other):
        theirs = other.submit(identity, "theirs")
        ours = [mine.submit(identity, i) for i in range(10)]
        mine.shutdown(wait=False, cancel_futures=True)
        assert all(f.cancelled() for f in ours)
        assert not theirs.done() and not theirs.cancelled()
    assert theirs.result(timeout=WAIT) == "theirs"
    other.shutdown()


def test_shutdown_wait_after_cancel_futures_returns():
    ex = hpyx.HPXExecutor()
    with blocked_workers(ex) as blocked:
        queued = [ex.submit(identity, i) for i in range(10)]
        timer = threading.Timer(0.05, blocked.release)
        timer.start()
        ex.shutdown(wait=True, cancel_futures=True)
        timer.join(WAIT)
    assert all(f.cancelled() for f in queued)
    assert all(f.done() for f in blocked.futures)


def test_shutdown_from_inside_a_task_of_the_same_executor():
    ex = hpyx.HPXExecutor()
    f = ex.submit(lambda: ex.shutdown(wait=False))
    assert f.result(timeout=WAIT) is None
    with pytest.raises(RuntimeError):
        ex.submit(int)
    assert hpyx.is_running()


def test_shutdown_wait_from_inside_its_own_task_does_not_hang():
    # ThreadPoolExecutor raises RuntimeError('cannot join current thread');
    # hpyx waits for every other task of the handle and skips the caller's.
    ex = hpyx.HPXExecutor()
    gate = threading.Event()
    other = ex.submit(gate.wait, WAIT)
    closer = ex.submit(ex.shutdown)  # wait=True
    try:
        with pytest.raises(TimeoutError):
            closer.result(timeout=0.05)  # still waiting for `other`
    finally:
        gate.set()
    assert closer.result(timeout=WAIT) is None
    assert other.result(timeout=0) is True
    with pytest.raises(RuntimeError):
        ex.submit(int)
    with hpyx.HPXExecutor() as ex2:
        f = ex2.submit(lambda: ex2.shutdown(wait=True, cancel_futures=True))
        assert f.result(timeout=WAIT) is None


def test_many_executors_come_and_go():
    for i in range(100):
        with hpyx.HPXExecutor() as ex:
            assert ex.submit(identity, i).result(timeout=WAIT) == i


@pytest.mark.thread_unsafe(reason="counts the futures of the shared executor fixture")
def test_finished_futures_are_not_kept_forever(executor):
    # The handle remembers its futures for shutdown(); finished ones are
    # pruned as it goes, so a long-lived executor does not grow.
    for _ in range(3):
        fs = [executor.submit(identity, i) for i in range(1500)]
        cf.wait(fs, timeout=WAIT)
    executor.submit(int).result(timeout=WAIT)
    assert len(executor._core) < 3000


_RESULT_DEL_SUBMITS = r"""
import concurrent.futures as cf
import time
import hpyx

ex = hpyx.HPXExecutor()
freed = []
resubmitted = []

class Resubmits:
    def __del__(self):
        freed.append(1)
        if len(resubmitted) < 100:  # a few: each may itself trigger a pruning
            resubmitted.append(ex.submit(int, 7))

fs = [ex.submit(Resubmits) for _ in range(1500)]
cf.wait(fs, timeout=30)
del fs  # the executor's own list now holds the last references to the results
for _ in range(5000):  # past the next pruning of finished futures
    ex.submit(int)
# On 3.13t an object made on a worker is freed by that worker when it next
# runs Python bytecode (biased reference counting): give *every* worker some
# to run. One task at a time could land on the same worker each round and
# leave another worker's objects queued for good (a few hundred of the 1500
# never freed); a batch of naps longer than a hand-off keeps each worker busy at once.
def nap():
    time.sleep(0.002)
deadline = time.monotonic() + 30
while len(freed) < 1500 and time.monotonic() < deadline:
    cf.wait([ex.submit(nap) for _ in range(8)], timeout=30)
assert len(freed) == 1500, len(freed)
# (On 3.13t the __del__s run on several threads at once: 100 or a few more.)
assert len(resubmitted) >= 100 and {f.result(timeout=30) for f in resubmitted} == {7}
ex.shutdown(wait=True)
print("ok", len(freed))
"""


@pytest.mark.thread_unsafe(reason="runs a subprocess")
def test_result_freed_by_pruning_may_submit_to_the_same_executor():
    # Forgotten finished futures are dropped outside the executor's lock: a
    # result's __del__ may run any Python, here submit() on that executor
    # (under the lock it would deadlock).
    proc = check_py(_RESULT_DEL_SUBMITS, timeout=60)
    assert proc.stdout.startswith("ok"), proc.stdout
    assert int(proc.stdout.split()[1]) == 1500


def test_submit_from_many_threads(executor):
    results = [None] * 8

    def client(k):
        fs = [executor.submit(identity, (k, i)) for i in range(200)]
        results[k] = [f.result(timeout=WAIT) for f in fs]

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert results == [[(k, i) for i in range(200)] for k in range(8)]


def test_submit_returns_future_usable_in_graph(executor):
    a = executor.submit(identity, 2)
    b = executor.submit(identity, 3)
    assert hpyx.dataflow(pow, a, b).result(timeout=WAIT) == 8
    assert a.then(lambda v: v + 1).result(timeout=WAIT) == 3
    assert hpyx.when_all(a, b).result(timeout=WAIT) == (2, 3)


def test_map_is_lazy_in_results_and_returns_in_order(executor):
    it = executor.map(identity, range(1000))
    assert next(it) == 0
    assert list(it) == list(range(1, 1000))


def test_map_with_generator_input_and_timeout_none(executor):
    assert list(
        executor.map(lambda a, b: a * b, (i for i in range(5)), [10] * 5, timeout=None)
    ) == [
        0,
        10,
        20,
        30,
        40,
    ]


def test_map_first_exception_ends_it_and_cancels_the_rest(executor):
    gate = threading.Event()

    def f(x):
        if x == 0:
            raise ValueError("item 0")
        gate.wait(WAIT)
        return x

    with blocked_workers(executor):
        it = executor.map(f, range(5))
    # Item 0 may run before the others (any order): only its failure counts.
    with pytest.raises(ValueError, match="item 0"):
        next(it)
    gate.set()
    assert list(it) == [], "the iterator goes on after an exception"


def test_map_shared_by_threads_yields_each_result_once(executor):
    it = executor.map(identity, range(2000))
    seen = []
    lock = threading.Lock()

    def drain():
        for value in it:
            with lock:
                seen.append(value)

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert sorted(seen) == list(range(2000))


def test_map_iterable_raising_midway_raises_from_map(executor):
    def items():
        yield 1
        yield 2
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        executor.map(identity, items())


def test_map_after_shutdown_raises_runtime_error():
    ex = hpyx.HPXExecutor()
    ex.shutdown()
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        ex.map(identity, [1])


def test_submit_has_the_stdlib_signature_and_docstring(executor):
    import inspect

    stdlib = cf.ThreadPoolExecutor()
    try:
        assert inspect.signature(executor.submit) == inspect.signature(stdlib.submit)
        assert executor.submit.__doc__ == cf.Executor.submit.__doc__
        assert hpyx.HPXExecutor.submit.__doc__ == cf.Executor.submit.__doc__
    finally:
        stdlib.shutdown()


def test_a_subclass_submit_override_is_called():
    calls = []

    class Counting(hpyx.HPXExecutor):
        def submit(self, fn, /, *args, **kwargs):
            calls.append(fn)
            return super().submit(fn, *args, **kwargs)

    with Counting() as ex:
        assert ex.submit(pow, 2, 3).result(timeout=WAIT) == 8
        assert list(ex.map(abs, [-1])) == [1]
    assert calls == [pow, abs]
