"""``Executor.map``'s result behaves as the stdlib's generator does, on
ThreadPoolExecutor and HPXExecutor alike: every item runs unless an
iteration that has started is closed, raises or is dropped; ``close``,
``send`` and ``throw``; nothing yielded is kept."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import gc
import sysconfig
import threading
import time
import weakref

import pytest
from conftest import WAIT, blocked_workers

import hpyx

POOL_SIZE = hpyx.HPXExecutor()._max_workers

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


@pytest.fixture(params=["stdlib", "hpyx"])
def ex(request):
    if request.param == "stdlib":
        ex = cf.ThreadPoolExecutor(max_workers=POOL_SIZE)
    else:
        ex = hpyx.HPXExecutor()
    try:
        yield ex
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


class Recorder:
    """``record(x)`` notes ``x``; ``gated(x)`` does too, but items other than
    0 first wait for ``open()``."""

    def __init__(self):
        self.seen = []
        self.lock = threading.Lock()
        self.gate = threading.Event()

    def record(self, x):
        with self.lock:
            self.seen.append(x)
        return x

    def gated(self, x):
        if x != 0:
            self.gate.wait(WAIT)
        return self.record(x)

    def open(self):
        self.gate.set()


def test_a_map_never_iterated_runs_every_item(ex):
    r = Recorder()
    with blocked_workers(ex):
        ex.map(r.record, range(10))  # the result is dropped at once
    ex.shutdown(wait=True)
    assert sorted(r.seen) == list(range(10))


def test_a_map_closed_before_its_first_item_runs_every_item(ex):
    r = Recorder()
    with blocked_workers(ex):
        it = ex.map(r.record, range(10))
        it.close()
    ex.shutdown(wait=True)
    assert sorted(r.seen) == list(range(10))
    with pytest.raises(StopIteration):
        next(it)


def test_a_started_map_dropped_cancels_the_items_not_yet_run(ex):
    r = Recorder()
    it = ex.map(r.gated, range(100))
    assert next(it) == 0
    del it
    r.open()
    ex.shutdown(wait=True)
    # Item 0, and at most one item per worker started before the drop.
    assert 1 <= len(r.seen) <= 1 + POOL_SIZE, sorted(r.seen)


def test_closing_a_started_map_cancels_the_rest_and_ends_it(ex):
    r = Recorder()
    with contextlib.closing(ex.map(r.gated, range(100))) as it:
        assert next(it) == 0
    r.open()
    ex.shutdown(wait=True)
    assert 1 <= len(r.seen) <= 1 + POOL_SIZE, sorted(r.seen)
    with pytest.raises(StopIteration):
        next(it)
    assert it.close() is None


def test_throw_into_a_started_map_raises_it_and_cancels_the_rest(ex):
    r = Recorder()
    it = ex.map(r.gated, range(100))
    assert next(it) == 0
    with pytest.raises(KeyError, match="stop"):
        it.throw(KeyError("stop"))
    r.open()
    ex.shutdown(wait=True)
    assert 1 <= len(r.seen) <= 1 + POOL_SIZE, sorted(r.seen)
    with pytest.raises(StopIteration):
        next(it)


def test_throw_into_a_map_not_started_cancels_nothing(ex):
    r = Recorder()
    with blocked_workers(ex):
        it = ex.map(r.record, range(10))
        with pytest.raises(KeyError, match="stop"):
            it.throw(KeyError("stop"))
    ex.shutdown(wait=True)
    assert sorted(r.seen) == list(range(10))
    with pytest.raises(StopIteration):
        next(it)


def test_send(ex):
    it = ex.map(abs, [-1, -2, -3])
    with pytest.raises(TypeError, match=r"^can't send non-None value to a just-started generator$"):
        it.send(5)
    assert it.send(None) == 1
    assert it.send("ignored") == 2
    assert next(it) == 3
    with pytest.raises(StopIteration):
        it.send(None)


def test_a_timeout_cancels_the_item_waited_for_and_the_rest(ex):
    r = Recorder()
    with blocked_workers(ex):
        it = ex.map(r.record, range(5), timeout=0)
        with pytest.raises(TimeoutError):
            next(it)
    ex.shutdown(wait=True)
    assert r.seen == []
    with pytest.raises(StopIteration):
        next(it)


def test_a_timeout_that_is_not_a_number_is_a_type_error_at_the_call(ex):
    with pytest.raises(TypeError):
        ex.map(abs, [1], timeout="1")


class Payload:
    pass


def make_payload(_):
    return Payload()


def freed(ref):
    """True once ``ref``'s object is freed (within WAIT).

    The worker that ran a task may drop its handle on the task's node a
    moment after waking the caller, and a free-threaded build frees an
    object made on one thread and released on another only once the owning
    thread merges its reference count, or a collection does (the stdlib's
    pool alike): so this looks again until WAIT has passed.
    """
    deadline = time.monotonic() + WAIT
    while ref() is not None and time.monotonic() < deadline:
        if FREE_THREADED:
            gc.collect()
        time.sleep(0.001)
    return ref() is None


def test_map_keeps_nothing_it_has_yielded(ex):
    for obj in ex.map(make_payload, range(10)):
        ref = weakref.ref(obj)
        del obj
        assert freed(ref)


def test_an_executor_keeps_no_result_its_caller_dropped(ex):
    future = ex.submit(make_payload, 0)
    ref = weakref.ref(future.result(timeout=WAIT))
    del future
    assert freed(ref)
