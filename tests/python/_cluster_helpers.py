"""Helpers for the cluster tests: real dask.distributed clusters on 127.0.0.1.

``local_cluster(**kwargs)`` starts a ``distributed.LocalCluster`` with worker
processes (2 workers, 1 thread each unless told otherwise), on loopback
only, without dask's statistical profiler (it reads the frames of running
threads, which crashes free-threaded 3.13t); ``start_server(script, *args)``
runs a scheduler (``SCHEDULER_SCRIPT``) or worker script in a process of its
own, for tests that stop or kill it; ``worker_pids(client)`` maps worker
address -> pid.
The functions below run as tasks: they live in an importable module so the
worker processes load them by reference.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import dask
import distributed


def local_cluster(**kwargs):
    options = {
        "processes": True,
        "n_workers": 2,
        "threads_per_worker": 1,
        "host": "127.0.0.1",
        "dashboard_address": "127.0.0.1:0",
        "silence_logs": 50,
    }
    options.update(kwargs)
    with dask.config.set({"distributed.worker.profile.enabled": False}):
        return distributed.LocalCluster(**options)


SCHEDULER_SCRIPT = """
import asyncio
from distributed import Scheduler

async def main():
    async with Scheduler(host="127.0.0.1", port=0, dashboard_address=None) as s:
        print(s.address, flush=True)
        await s.finished()

asyncio.run(main())
"""


def start_server(script, *args):
    """Runs a dask server ``script`` (it prints its address first) in its
    own process, without the profiler; returns the process and the address.
    The caller kills the process."""
    env = dict(os.environ, DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED="False")
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(__file__), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    address = proc.stdout.readline().strip()
    if not address.startswith("tcp://127.0.0.1:"):
        proc.kill()
        proc.wait()
        raise AssertionError("the server printed %r, not its address" % address)
    return proc, address


def worker_pids(client):
    return client.run(os.getpid)


def pid(*_args, **_kwargs):
    return os.getpid()


def add(a, b):
    return a + b


def inc(x):
    return x + 1


def fail(message):
    raise KeyError(message)


def sleep_then(seconds, value):
    time.sleep(seconds)
    return value


def fib(n):
    """Nested waits: each level waits for two tasks of the next."""
    import hpyx

    if n < 2:
        return n
    a = hpyx.async_(fib, n - 1)
    b = hpyx.async_(fib, n - 2)
    return a.result() + b.result()


def wait_for_file(path, started=None):
    """Blocks until ``path`` exists (a gate that works across processes);
    creates ``started`` first, if given."""
    if started is not None:
        open(started, "w").close()
    deadline = time.monotonic() + 120
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError("gate %s never opened" % path)
        time.sleep(0.01)
    return os.getpid()


def record_and_wait(directory, gate):
    """Leaves ``started-<pid>`` in ``directory``, then waits for ``gate``."""
    open(os.path.join(directory, "started-%d" % os.getpid()), "w").close()
    return wait_for_file(gate)


def started_pids(directory):
    return [
        int(name.split("-")[1]) for name in os.listdir(directory) if name.startswith("started-")
    ]


def mark_ran(path):
    """Leaves ``path`` behind: proof that the task ran."""
    open(path, "w").close()
    return os.getpid()
