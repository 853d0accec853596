"""Faults on a real cluster: a worker killed mid-task, the scheduler lost or
unreachable, and payloads that cannot be pickled."""

from __future__ import annotations

import os
import signal
import threading
import time

import distributed
import pytest
from _cluster_helpers import (
    SCHEDULER_SCRIPT,
    add,
    inc,
    local_cluster,
    record_and_wait,
    start_server,
    started_pids,
    worker_pids,
)
from conftest import WAIT
from fresh_interpreter import check_py

import hpyx


@pytest.fixture
def cluster():
    with local_cluster() as cluster:
        yield cluster


@pytest.fixture
def on_cluster(cluster):
    client = distributed.Client(cluster, set_as_default=False)
    hpyx.init(cluster=client)
    try:
        yield client
    finally:
        hpyx.shutdown()
        client.close()


def _wait_until(predicate, what, timeout=2 * WAIT):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_worker_killed_mid_task_reruns_it_elsewhere(on_cluster, tmp_path):
    gate = str(tmp_path / "gate")
    task = hpyx.async_(record_and_wait, str(tmp_path), gate)
    after = task.then(lambda pid: pid)
    _wait_until(lambda: started_pids(tmp_path), "the task never started")
    (victim,) = started_pids(tmp_path)
    assert victim in worker_pids(on_cluster).values()
    os.kill(victim, signal.SIGKILL)
    _wait_until(
        lambda: [p for p in started_pids(tmp_path) if p != victim],
        "the task did not run again after its worker was killed",
    )
    open(gate, "w").close()
    rerun = task.result(timeout=2 * WAIT)
    assert rerun != victim
    assert after.result(timeout=WAIT) == rerun
    assert hpyx.dataflow(add, task, 1).result(timeout=WAIT) == rerun + 1


@pytest.fixture
def scheduler_process():
    proc, address = start_server(SCHEDULER_SCRIPT)
    try:
        yield proc, address
    finally:
        proc.kill()
        proc.wait(timeout=WAIT)
        proc.stdout.close()


def test_a_lost_scheduler_fails_every_pending_result_with_a_clear_error(
    scheduler_process,
):
    proc, address = scheduler_process
    hpyx.init(cluster=address)
    try:
        # No worker ever joins: the tasks stay pending on the scheduler.
        # (A builtin: the scheduler process unpickles the graph.)
        sent = [hpyx.async_(abs, -i) for i in range(5)]
        _wait_until(lambda: all(f._dfut is not None for f in sent), "the batch was never sent")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=WAIT)
        for f in sent:
            with pytest.raises(
                hpyx.ClusterError, match="lost the connection to the dask scheduler"
            ):
                f.result(timeout=4 * WAIT)
        later = hpyx.async_(abs, -1)
        with pytest.raises(hpyx.ClusterError, match=address):
            later.result(timeout=4 * WAIT)
    finally:
        hpyx.shutdown()


def test_an_unreachable_scheduler_fails_results_with_a_clear_error():
    proc = check_py(
        "import hpyx\n"
        "from hpyx._cluster import _client\n"
        "_client.CONNECT_TIMEOUT = 2\n"
        "hpyx.init(cluster='tcp://127.0.0.1:9')\n"
        "try:\n"
        "    hpyx.async_(len, 'abc').result(timeout=100)\n"
        "except hpyx.ClusterError as error:\n"
        "    print(error)\n",
        timeout=120,
    )
    assert "cannot connect to the dask scheduler at tcp://127.0.0.1:9" in proc.stdout


def test_an_unpicklable_argument_fails_its_node_and_names_it(on_cluster):
    lock = threading.Lock()
    good = hpyx.async_(inc, 1)
    bad = hpyx.async_(len, lock)
    dependent = bad.then(inc)
    also_good = good.then(inc)
    with pytest.raises(TypeError, match=r"cannot send task 'len'.*argument 0.*cannot be pickled"):
        bad.result(timeout=WAIT)
    with pytest.raises(TypeError, match="cannot be pickled"):
        dependent.result(timeout=WAIT)
    assert also_good.result(timeout=WAIT) == 3


def test_an_unpicklable_function_fails_its_node_and_names_it(on_cluster):
    lock = threading.Lock()

    def uses_lock():
        with lock:
            return 1

    f = hpyx.async_(uses_lock)
    with pytest.raises(TypeError, match=r"uses_lock.*function.*cannot be pickled"):
        f.result(timeout=WAIT)


def test_an_hpyx_future_as_a_plain_argument_says_how_to_pass_it(on_cluster):
    inner = hpyx.async_(inc, 1)
    with pytest.raises(TypeError, match="pass it to dataflow"):
        hpyx.async_(str, inner).result(timeout=WAIT)
