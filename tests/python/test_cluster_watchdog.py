"""A hung scheduler: stopped (SIGSTOP), not killed, it keeps its connections
open and dask.distributed never fails the pending futures. hpyx's watchdog
fails every pending ``result()`` with a ``ClusterError`` naming the
scheduler within ``HPYX_CLUSTER_TIMEOUT``; bad values of the variable are
clear errors."""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
import time

import pytest
from _cluster_helpers import SCHEDULER_SCRIPT, inc, start_server, wait_for_file
from conftest import WAIT
from fresh_interpreter import run_py

import hpyx

_WORKER = """
import asyncio, sys
from distributed import Worker

async def main():
    async with Worker(sys.argv[1], host="127.0.0.1", nthreads=1) as w:
        print(w.address, flush=True)
        await w.finished()

asyncio.run(main())
"""


@pytest.fixture
def cluster_processes():
    """A scheduler process and one worker process on 127.0.0.1; the
    scheduler is resumed and both are killed at the end, whatever happened."""
    procs = []
    try:
        scheduler, address = start_server(SCHEDULER_SCRIPT)
        procs.append(scheduler)
        worker, _ = start_server(_WORKER, address)
        procs.append(worker)
        yield scheduler, address
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
            proc.wait(timeout=WAIT)
            proc.stdout.close()


def test_a_stopped_scheduler_fails_every_pending_result_with_a_clear_error(
    cluster_processes, monkeypatch, tmp_path
):
    scheduler, address = cluster_processes
    monkeypatch.setenv("HPYX_CLUSTER_TIMEOUT", "2")
    hpyx.init(cluster=address)
    try:
        finished = hpyx.async_(inc, 1)
        done, _ = cf.wait([finished], timeout=WAIT)
        assert finished in done
        gate = tmp_path / "never"
        pending = [hpyx.async_(wait_for_file, str(gate)), hpyx.async_(inc, 2)]
        pending.append(hpyx.when_all(pending))
        while any(f._dfut is None for f in pending):
            time.sleep(0.01)
        scheduler.send_signal(signal.SIGSTOP)
        # The value of `finished` is on the cluster: fetching it needs the
        # scheduler too.
        for future in [finished, *pending]:
            with pytest.raises(hpyx.ClusterError) as info:
                future.result(timeout=4 * WAIT)
            message = str(info.value)
            assert address in message
            assert "did not answer for 2 s (HPYX_CLUSTER_TIMEOUT)" in message
        later = hpyx.async_(inc, 3)
        with pytest.raises(hpyx.ClusterError, match="did not answer"):
            later.result(timeout=4 * WAIT)
    finally:
        scheduler.send_signal(signal.SIGCONT)
        hpyx.shutdown()


@pytest.mark.parametrize("value", ["soon", "0", "-5", "inf", "nan"])
def test_a_bad_cluster_timeout_is_a_clear_error_at_init(monkeypatch, value):
    monkeypatch.setenv("HPYX_CLUSTER_TIMEOUT", value)
    with pytest.raises(ValueError) as info:
        hpyx.init(cluster="tcp://127.0.0.1:9")
    assert "HPYX_CLUSTER_TIMEOUT must be a positive number of seconds" in str(info.value)
    assert repr(value) in str(info.value)
    assert hpyx._runtime._cluster is None  # still local


def test_a_bad_cluster_timeout_with_hpyx_cluster_fails_the_first_result():
    env = dict(os.environ, HPYX_CLUSTER="tcp://127.0.0.1:9", HPYX_CLUSTER_TIMEOUT="1m")
    proc = run_py(
        "import hpyx\n"
        "try:\n"
        "    hpyx.async_(abs, -1).result(timeout=100)\n"
        "except ValueError as error:\n"
        "    print(error)\n",
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "HPYX_CLUSTER_TIMEOUT must be a positive number of seconds" in proc.stdout
    assert "'1m'" in proc.stdout
