"""The executor and the combinators, run locally and on a dask cluster.

Every test takes ``where``: once with hpyx's local pool, once with
``hpyx.init(cluster=client)`` over a ``distributed.LocalCluster`` of two
worker processes (one thread each) on 127.0.0.1. The same code must give the
same results, and on the cluster the tasks must run in the worker processes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import os
import time
import traceback
import types

import pytest
from _cluster_helpers import (
    add,
    fail,
    fib,
    inc,
    mark_ran,
    pid,
    sleep_then,
    wait_for_file,
    worker_pids,
)
from conftest import WAIT

import hpyx


@pytest.fixture(params=["local", "cluster"])
def where(request):
    """Where tasks run: ``.pids`` (the processes that may run them),
    ``.slots`` (how many run at once), ``.client`` (None locally)."""
    if request.param == "local":
        yield types.SimpleNamespace(
            pids={os.getpid()}, slots=hpyx.HPXExecutor()._max_workers, client=None
        )
        return
    client = request.getfixturevalue("cluster_client")
    hpyx.init(cluster=client)
    try:
        yield types.SimpleNamespace(
            pids=set(worker_pids(client).values()),
            slots=sum(client.nthreads().values()),
            client=client,
        )
    finally:
        hpyx.shutdown()


def test_submit_runs_the_call_where_the_runtime_is(where):
    with hpyx.HPXExecutor() as ex:
        futures = [ex.submit(pid) for _ in range(6)]
        ran = {f.result(timeout=WAIT) for f in futures}
    assert all(isinstance(f, hpyx.Future) for f in futures)
    assert all(isinstance(f, cf.Future) for f in futures)
    assert ran <= where.pids
    if where.client is not None:
        assert os.getpid() not in ran


def test_map_yields_results_in_order(where):
    with hpyx.HPXExecutor() as ex:
        assert list(ex.map(add, range(20), range(20), timeout=WAIT)) == [2 * i for i in range(20)]


def test_map_reraises_the_first_failure(where):
    with hpyx.HPXExecutor() as ex:
        results = ex.map(fail, ["boom"], timeout=WAIT)
        with pytest.raises(KeyError, match="boom"):
            list(results)


def test_submit_after_shutdown_raises(where):
    ex = hpyx.HPXExecutor()
    ex.shutdown()
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        ex.submit(pid)


def test_then_chain_reads_as_a_pipeline(where):
    f = hpyx.async_(inc, 1).then(inc).then(add, 10)
    assert isinstance(f, hpyx.Future)
    assert f.result(timeout=WAIT) == 13


def test_async_and_then_run_where_the_runtime_is(where):
    first = hpyx.async_(pid)
    second = first.then(pid)
    assert {first.result(timeout=WAIT), second.result(timeout=WAIT)} <= where.pids


def test_dataflow_replaces_futures_by_their_values(where):
    a = hpyx.async_(inc, 1)
    b = hpyx.async_(inc, 2)
    f = hpyx.dataflow(add, a, b=b)
    g = hpyx.dataflow(add, f, 100)
    assert g.result(timeout=WAIT) == 105


def test_when_all_gives_the_values_in_input_order(where):
    futures = [hpyx.async_(sleep_then, 0.05 * (5 - i), i) for i in range(5)]
    assert hpyx.when_all(futures).result(timeout=WAIT) == (0, 1, 2, 3, 4)
    assert hpyx.when_all(*futures[:2]).result(timeout=WAIT) == (0, 1)
    assert hpyx.when_all().result(timeout=WAIT) == ()


def test_when_any_gives_the_first_index_and_the_same_futures(where):
    slow = hpyx.async_(sleep_then, 30, "slow")
    fast = hpyx.ready_future("fast")
    index, futures = hpyx.when_any(slow, fast).result(timeout=WAIT)
    assert index == 1
    assert futures[0] is slow and futures[1] is fast
    slow.cancel()
    with pytest.raises(ValueError):
        hpyx.when_any()


def test_ready_future_feeds_later_nodes(where):
    ready = hpyx.ready_future(41)
    assert ready.done() and ready.result() == 41
    assert ready.then(inc).result(timeout=WAIT) == 42
    assert hpyx.dataflow(add, ready, hpyx.async_(inc, 0)).result(timeout=WAIT) == 42


def test_stdlib_helpers_work_on_the_futures(where):
    futures = [hpyx.async_(inc, i) for i in range(8)]
    done, not_done = cf.wait(futures, timeout=WAIT)
    assert not not_done and len(done) == 8
    assert sorted(f.result() for f in cf.as_completed(futures, timeout=WAIT)) == list(range(1, 9))
    seen = []
    futures[0].add_done_callback(seen.append)
    assert seen == [futures[0]]

    async def main():
        return await hpyx.async_(add, 2, 3)

    assert asyncio.run(main()) == 5


def test_done_callbacks_run_when_the_task_finishes(where):
    calls = cf.Future()
    f = hpyx.async_(sleep_then, 0.2, 7)
    f.add_done_callback(calls.set_result)
    assert calls.result(timeout=WAIT) is f
    assert f.result() == 7


def test_an_exception_comes_back_with_its_class_message_and_traceback(where):
    f = hpyx.async_(fail, "no such key")
    with pytest.raises(KeyError, match="no such key") as info:
        f.result(timeout=WAIT)
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert "fail" in frames
    assert isinstance(f.exception(timeout=WAIT), KeyError)


def test_a_failure_propagates_to_dependents_without_calling_them(where):
    failed = hpyx.async_(fail, "upstream")
    for f in (
        failed.then(pid),
        hpyx.dataflow(add, failed, 1),
        hpyx.when_all(hpyx.async_(inc, 1), failed),
    ):
        with pytest.raises(KeyError, match="upstream"):
            f.result(timeout=WAIT)


def test_cancel_before_start_cancels_the_task_and_its_dependents(where, tmp_path):
    gate = str(tmp_path / "gate")
    with hpyx.HPXExecutor() as ex:
        blockers = [ex.submit(wait_for_file, gate) for _ in range(where.slots)]
        victim = ex.submit(pid)
        dependent = victim.then(pid)
        try:
            assert victim.cancel() is True
            assert victim.cancelled() and victim.done()
            with pytest.raises(cf.CancelledError):
                victim.result(timeout=WAIT)
            with pytest.raises(cf.CancelledError):
                dependent.result(timeout=WAIT)
        finally:
            open(gate, "w").close()
        assert {b.result(timeout=WAIT) for b in blockers} <= where.pids


def test_cancel_of_a_started_task_returns_false(where, tmp_path):
    gate, started = str(tmp_path / "gate"), str(tmp_path / "started")
    f = hpyx.async_(wait_for_file, gate, started)
    try:
        deadline = time.monotonic() + WAIT
        while not os.path.exists(started):
            assert time.monotonic() < deadline, "the task never started"
            time.sleep(0.01)
        assert f.cancel() is False
        assert not f.cancelled()
    finally:
        open(gate, "w").close()
    assert f.result(timeout=WAIT) in where.pids


def test_nested_result_inside_tasks_does_not_deadlock(where):
    # fib(7) waits 20 levels deep at once: far more than the slots.
    assert hpyx.async_(fib, 7).result(timeout=4 * WAIT) == 13


def test_named_nodes_keep_their_name(where):
    f = hpyx.async_(hpyx.named("load", inc), 1)
    assert f.result(timeout=WAIT) == 2
    assert f.name == "load"


def test_many_nodes_built_before_the_first_result(where):
    total = hpyx.ready_future(0)
    for i in range(300):
        total = total.then(add, i)
    assert total.result(timeout=4 * WAIT) == sum(range(300))


def test_a_done_callback_may_wait_for_another_future(where):
    slow = hpyx.async_(sleep_then, 0.3, 5)
    seen = cf.Future()
    hpyx.async_(inc, 1).add_done_callback(
        lambda f: seen.set_result(f.result() + slow.result(timeout=WAIT))
    )
    assert seen.result(timeout=WAIT) == 7


def test_dataflow_and_when_all_take_stdlib_futures_once_they_are_done(where):
    plain = cf.Future()
    f = hpyx.dataflow(add, plain, hpyx.async_(inc, 1))
    g = hpyx.when_all(plain, hpyx.ready_future(2))
    assert not f.done() and not g.done()
    plain.set_result(40)
    assert f.result(timeout=WAIT) == 42
    assert g.result(timeout=WAIT) == (40, 2)
    failed = cf.Future()
    h = hpyx.dataflow(add, 1, failed)
    failed.set_exception(KeyError("plain"))
    with pytest.raises(KeyError, match="plain"):
        h.result(timeout=WAIT)


def test_cancel_of_a_task_a_worker_holds_but_has_not_started(where, tmp_path):
    # Sent and handed to a busy worker (on the cluster) or queued behind
    # busy workers (locally): not started, so cancel() is True and it never runs.
    gate, ran = str(tmp_path / "gate"), str(tmp_path / "ran")
    with hpyx.HPXExecutor() as ex:
        blockers = [ex.submit(wait_for_file, gate) for _ in range(where.slots)]
        victim = ex.submit(mark_ran, ran)
        dependent = hpyx.dataflow(add, victim, 1)
        if where.client is not None:
            deadline = time.monotonic() + WAIT
            while victim._stage != "sent":
                assert time.monotonic() < deadline, "the victim was never sent"
                time.sleep(0.01)
        try:
            assert victim.cancel() is True
            with pytest.raises(cf.CancelledError):
                dependent.result(timeout=WAIT)
        finally:
            open(gate, "w").close()
        assert {b.result(timeout=WAIT) for b in blockers} <= where.pids
        # Everything submitted after it has run: had the victim run, it
        # would have too.
        assert [ex.submit(pid).result(timeout=WAIT) for _ in range(4)]
    assert not os.path.exists(ran)
    assert victim.cancelled()
