"""What is particular to cluster mode: task keys, dependencies resolved by
the scheduler, batching, HPYX_CLUSTER, and the optional dependency."""

from __future__ import annotations

import gc
import os
import time

import pytest
from _cluster_helpers import add, inc
from conftest import WAIT
from fresh_interpreter import check_py

import hpyx
from hpyx._cluster import _future, _submit


def test_import_hpyx_does_not_import_distributed():
    check_py(
        "import sys, hpyx\n"
        "assert 'distributed' not in sys.modules\n"
        "assert 'dask' not in sys.modules\n"
    )


def test_init_with_the_same_client_is_idempotent_and_another_is_an_error(on_cluster):
    hpyx.init(cluster=on_cluster)
    with pytest.raises(RuntimeError, match="already runs on the cluster"):
        hpyx.init(cluster="tcp://127.0.0.1:1")
    assert hpyx.is_running()


def test_init_rejects_what_is_not_a_cluster():
    with pytest.raises(TypeError, match=r"scheduler address or a distributed\.Client"):
        hpyx.init(cluster=42)


def test_shutdown_gives_back_the_local_runtime(cluster_client):
    local_async = hpyx.async_
    hpyx.init(cluster=cluster_client)
    assert hpyx.async_ is not local_async
    hpyx.shutdown()
    assert hpyx.async_ is local_async
    assert hpyx.async_(os.getpid).result(timeout=WAIT) == os.getpid()


def test_task_keys_are_the_node_name_and_an_id(on_cluster):
    f = hpyx.async_(hpyx.named("load", inc), 1)
    g = f.then(inc)
    assert g.result(timeout=WAIT) == 3
    name, _, token = f.key.rpartition("-")
    assert name == "load" and len(token) == 32
    assert g.key.startswith("inc-")


def test_dependencies_are_resolved_by_the_scheduler(on_cluster):
    a = hpyx.async_(inc, 1)
    b = hpyx.async_(inc, 2)
    c = hpyx.dataflow(add, a, b)
    assert c.result(timeout=WAIT) == 5

    def dependencies(key, dask_scheduler=None):
        return sorted(dts.key for dts in dask_scheduler.tasks[key].dependencies)

    assert on_cluster.run_on_scheduler(dependencies, c.key) == sorted([a.key, b.key])


def test_values_stay_on_the_workers_until_result(on_cluster):
    a = hpyx.async_(inc, 1)
    b = a.then(inc)
    assert b.result(timeout=WAIT) == 3
    # `a` was never asked for: its promise only knows that it succeeded.
    assert a._fetched is _future._NOTHING
    assert a.result(timeout=WAIT) == 2


def _task_keys(dask_scheduler):
    return list(dask_scheduler.tasks)


def test_dropped_futures_leave_the_scheduler_without_a_garbage_collection(on_cluster):
    # With the cycle collector off, as it mostly is on the free-threaded
    # build: only reference counting may free what the scheduler holds.
    gc.collect()
    gc.disable()
    try:
        parts = [hpyx.async_(inc, i) for i in range(2000)]
        total = hpyx.dataflow(lambda *xs: sum(xs), *parts)
        assert total.result(timeout=WAIT) == sum(range(1, 2001))
        keys = {f.key for f in [*parts, total]}
        del parts, total
        deadline = time.monotonic() + WAIT
        while left := keys & set(on_cluster.run_on_scheduler(_task_keys)):
            assert time.monotonic() < deadline, (
                "the scheduler kept %d of the dropped futures' tasks" % len(left)
            )
            time.sleep(0.05)
    finally:
        gc.enable()


def test_nodes_built_before_a_result_go_in_few_batches(on_cluster, monkeypatch):
    sends = []
    submit_graph = _submit._submit_graph

    def counting(client, graph, order):
        sends.append(len(graph))
        return submit_graph(client, graph, order)

    monkeypatch.setattr(_submit, "_submit_graph", counting)
    futures = [hpyx.async_(inc, i) for i in range(2000)]
    assert hpyx.when_all(futures).result(timeout=4 * WAIT) == tuple(range(1, 2001))
    assert sum(sends) == 2001
    assert len(sends) <= 200, sends


def test_hpyx_cluster_runs_a_script_unchanged(cluster_client):
    proc = check_py(
        "import os, sys\n"
        "import hpyx\n"
        "assert 'distributed' not in sys.modules\n"
        "pids = {hpyx.async_(os.getpid).result(timeout=60) for _ in range(4)}\n"
        "with hpyx.HPXExecutor() as ex:\n"
        "    pids |= set(ex.map(lambda _: os.getpid(), range(4)))\n"
        "print(sorted(pids))\n"
        "assert os.getpid() not in pids\n",
        env={"HPYX_CLUSTER": cluster_client.scheduler.address},
        timeout=120,
    )
    worker_pids = set(cluster_client.run(os.getpid).values())
    assert set(eval(proc.stdout)) <= worker_pids


def test_a_missing_distributed_is_named():
    proc = check_py(
        "import sys\n"
        "sys.modules['distributed'] = None\n"
        "import hpyx\n"
        "try:\n"
        "    hpyx.init(cluster='tcp://127.0.0.1:8786')\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    assert "'distributed' package" in proc.stdout
    assert "pip install" in proc.stdout
