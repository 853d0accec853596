"""HPXExecutor where a ThreadPoolExecutor is required: asyncio's default
executor, ``isinstance`` checks, and none of the stdlib pool's machinery."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import concurrent.futures.thread as cf_thread
import threading

import pytest
from conftest import WAIT

import hpyx
from hpyx import debug


def test_an_hpx_executor_is_a_thread_pool_executor():
    ex = hpyx.HPXExecutor()
    try:
        assert isinstance(ex, cf.ThreadPoolExecutor)
        assert isinstance(ex, cf.Executor)
        assert issubclass(hpyx.HPXExecutor, cf.ThreadPoolExecutor)
    finally:
        ex.shutdown()


def test_no_thread_pool_executor_behaviour_is_inherited():
    # Every method and attribute ThreadPoolExecutor defines is hpyx's own
    # (a stdlib one would start stdlib threads or read stdlib state); only
    # its class-level name counter is left, which nothing of hpyx calls.
    inherited = [
        name
        for name in vars(cf.ThreadPoolExecutor)
        if name not in ("__module__", "__doc__", "_counter")
        and next(k for k in hpyx.HPXExecutor.__mro__ if name in vars(k)) is cf.ThreadPoolExecutor
    ]
    assert inherited == []


def test_set_default_executor_runs_to_thread_and_run_in_executor_on_the_pool():
    ex = hpyx.HPXExecutor()

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ex)
        via_to_thread = await asyncio.to_thread(debug.get_worker_thread_id)
        via_none = await loop.run_in_executor(None, debug.get_worker_thread_id)
        return via_to_thread, via_none

    via_to_thread, via_none = asyncio.run(main())
    assert via_to_thread >= 0 and via_none >= 0, "ran outside hpyx's workers"
    # asyncio.run shut the default executor down (shutdown(wait=True) from a
    # thread of its own): the executor is retired, the pool runs on.
    assert ex._shutdown
    with pytest.raises(RuntimeError, match=r"^cannot schedule new futures after shutdown$"):
        ex.submit(abs, -1)
    assert hpyx.is_running()
    assert hpyx.async_(abs, -2).result(timeout=WAIT) == 2


def test_run_in_executor_hands_back_the_hpyx_future():
    ex = hpyx.HPXExecutor()
    seen = []
    submit = ex.submit

    def spy(fn, /, *args):
        future = submit(fn, *args)
        seen.append(future)
        return future

    ex.submit = spy

    async def main():
        asyncio.get_running_loop().set_default_executor(ex)
        return await asyncio.to_thread(sum, [1, 2, 3])

    try:
        assert asyncio.run(main()) == 6
    finally:
        ex.shutdown()
    assert len(seen) == 1 and type(seen[0]) is hpyx.Future


def test_no_stdlib_worker_thread_is_ever_started():
    before = {t.ident for t in threading.enumerate()}
    queues_before = len(cf_thread._threads_queues)
    ex = hpyx.HPXExecutor(thread_name_prefix="mine", initializer=int)
    ex._adjust_thread_count()
    assert ex.submit(abs, -1).result(timeout=WAIT) == 1
    assert list(ex.map(abs, [-1, -2])) == [1, 2]

    async def main():
        asyncio.get_running_loop().set_default_executor(ex)
        return await asyncio.to_thread(abs, -3)

    assert asyncio.run(main()) == 3
    started = [t for t in threading.enumerate() if t.ident not in before]
    # The workers hpyx's pool had started already may show up as dummy
    # threads (a task touched `threading`); nothing the stdlib pool starts.
    assert [t for t in started if not isinstance(t, threading._DummyThread)] == []
    assert len(cf_thread._threads_queues) == queues_before


def test_stdlib_bookkeeping_attributes_have_hpyx_meanings():
    ex = hpyx.HPXExecutor(thread_name_prefix="io", initializer=int, initargs=("7",))
    try:
        assert ex._max_workers == debug.get_num_worker_threads()
        assert ex._shutdown is False
        assert ex._broken is False
        assert ex._thread_name_prefix == "io"
        assert ex._initializer is int
        assert ex._initargs == ("7",)
        # The stdlib's queue and thread set do not exist: hpyx's pool is not
        # the stdlib's, and an empty stand-in would lie about the backlog.
        for name in ("_work_queue", "_threads", "_idle_semaphore"):
            assert not hasattr(ex, name), name
    finally:
        ex.shutdown()
    assert ex._shutdown is True
