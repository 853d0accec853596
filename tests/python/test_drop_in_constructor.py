"""ThreadPoolExecutor's constructor arguments on a process-global pool:
``max_workers``, ``thread_name_prefix``, ``initializer`` and ``initargs``."""

from __future__ import annotations

import concurrent.futures as cf
import inspect
import logging
import threading
from concurrent.futures.thread import BrokenThreadPool

import pytest
from conftest import WAIT, blocked_workers
from fresh_interpreter import check_py

import hpyx

POOL_SIZE = hpyx.HPXExecutor()._max_workers

BROKEN = "A thread initializer failed, the thread pool is not usable anymore"


def raises_broken():
    # The stdlib's words as the message (hpyx adds a note naming the task,
    # which pytest's `match` would see too).
    return pytest.raises(BrokenThreadPool, check=lambda e: str(e) == BROKEN)


def test_takes_the_stdlib_constructor_signature():
    assert inspect.signature(hpyx.HPXExecutor) == inspect.signature(cf.ThreadPoolExecutor)
    # Positionally, in the stdlib's order.
    ex = hpyx.HPXExecutor(POOL_SIZE, "io", int, ("5",))
    try:
        assert ex.submit(abs, -1).result(timeout=WAIT) == 1
    finally:
        ex.shutdown()


def test_initializer_runs_once_per_worker_before_its_first_task():
    local = threading.local()
    calls = []
    lock = threading.Lock()

    def setup(tag):
        with lock:
            calls.append(threading.get_ident())
        local.tag = tag

    def task(i):
        return getattr(local, "tag", None), threading.get_ident()

    ex = hpyx.HPXExecutor(initializer=setup, initargs=("ready",))
    try:
        seen = [f.result(timeout=WAIT) for f in [ex.submit(task, i) for i in range(500)]]
        seen += list(ex.map(task, range(500)))
    finally:
        ex.shutdown()
    assert {tag for tag, _ in seen} == {"ready"}, "a task ran before its worker's initializer"
    assert len(calls) == len(set(calls)), "an initializer ran twice on one worker"
    assert set(calls) == {ident for _, ident in seen}, "the initializer ran where no task did"
    assert len(calls) <= POOL_SIZE


def test_initializer_belongs_to_its_executor_only():
    calls = []
    with hpyx.HPXExecutor(initializer=calls.append, initargs=("a",)) as a:
        a.submit(int).result(timeout=WAIT)
    plain = hpyx.HPXExecutor()
    with hpyx.HPXExecutor(initializer=calls.append, initargs=("b",)) as b:
        for f in [plain.submit(int) for _ in range(200)]:
            f.result(timeout=WAIT)
        b.submit(int).result(timeout=WAIT)
    plain.shutdown()
    # Each executor's own initializer, once on the worker that ran its task;
    # the plain executor's tasks ran none.
    assert calls.count("a") == 1 and calls.count("b") == 1
    assert len(calls) == 2


def failing_init():
    raise ValueError("error in initializer")


@pytest.mark.parametrize("cls", [cf.ThreadPoolExecutor, hpyx.HPXExecutor])
def test_a_raising_initializer_breaks_the_executor_as_the_stdlib_does(cls, caplog):
    ex = cls(max_workers=POOL_SIZE, initializer=failing_init)
    try:
        with caplog.at_level(logging.CRITICAL, logger="concurrent.futures"):
            try:
                future = ex.submit(int)
            except BrokenThreadPool:
                pass  # broken already
            else:
                with raises_broken():
                    future.result(timeout=WAIT)
        assert ex._broken == BROKEN
        with raises_broken():
            ex.submit(int)
        with raises_broken():
            ex.map(int, [1])
    finally:
        ex.shutdown(wait=True)
    record = next(r for r in caplog.records if r.name == "concurrent.futures")
    assert record.getMessage() == "Exception in initializer:"
    assert "error in initializer" in caplog.text


def test_pending_futures_of_a_broken_executor_fail_with_broken_thread_pool():
    ex = hpyx.HPXExecutor(initializer=failing_init)
    plain = hpyx.HPXExecutor()
    ran = []
    try:
        with blocked_workers(plain):
            pending = [ex.submit(ran.append, i) for i in range(20)]
            mapped = ex.map(ran.append, range(20))
        for f in pending:
            with raises_broken():
                f.result(timeout=WAIT)
        with raises_broken():
            next(mapped)
    finally:
        ex.shutdown()
        plain.shutdown()
    assert ran == [], "a task of a broken executor ran"


def test_thread_name_prefix_names_a_worker_only_while_it_runs_this_executors_task():
    def name():
        return threading.current_thread().name

    io = hpyx.HPXExecutor(thread_name_prefix="io")
    plain = hpyx.HPXExecutor()
    try:
        names = [f.result(timeout=WAIT) for f in [io.submit(name) for _ in range(200)]]
        others = [f.result(timeout=WAIT) for f in [plain.submit(name) for _ in range(200)]]
    finally:
        io.shutdown()
        plain.shutdown()
    assert names and all(n.startswith("io_") for n in names), names[:5]
    assert not any(n.startswith("io") for n in others), "a shared worker kept the name"


def test_initializer_must_be_callable_as_in_the_stdlib():
    for cls in (cf.ThreadPoolExecutor, hpyx.HPXExecutor):
        with pytest.raises(TypeError, match=r"^initializer must be a callable$"):
            cls(initializer=3)


def test_max_workers_is_advisory_not_a_limit_on_this_executor():
    # The pool is shared: max_workers=1 on a running pool of two workers
    # warns and does not make this executor run one task at a time.
    check_py(
        """
        import threading, warnings
        import hpyx

        hpyx.init(os_threads=2)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ex = hpyx.HPXExecutor(max_workers=1)
        assert [w.category for w in caught] == [RuntimeWarning], caught
        assert "process-global" in str(caught[0].message)
        assert ex._max_workers == 2
        barrier = threading.Barrier(2)
        both = [ex.submit(barrier.wait, 20) for _ in range(2)]
        assert sorted(f.result(timeout=30) for f in both) == [0, 1]
        """
    )
