"""What runs on a worker: each node's call, and waits that step out.

Every node runs as ``run(fn, *args, **kwargs)``. On its first call in a
worker process it turns that process's hpyx into cluster mode over the
worker's own client, so hpyx calls inside a task (``async_``, ``submit``,
``result()`` ...) become tasks of the same cluster. A task that blocks on
another future steps out of its worker's thread slot while it waits
(``distributed.secede``/``rejoin``), so a worker with one thread runs the
awaited task instead of deadlocking. An observed node (a recording or a
trace watches it in the client) runs as ``run_observed``, which reports
where and when it ran (see ``_observe``).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import threading
import time

from .. import _runtime

_ACTIVATION_LOCK = threading.Lock()

# Keys of tasks that `claim_cancel` cancelled in this worker process before
# they started: `run` refuses them.
_CLAIMS_LOCK = threading.Lock()
_cancelled: set[object] = set()


def run(fn, /, *args, **kwargs):
    """Calls ``fn`` in a worker's task, with hpyx in cluster mode there."""
    if _runtime._cluster is None:
        _activate_on_worker()
    if _cancelled:
        _refuse_if_cancelled()
    return fn(*args, **kwargs)


def run_observed(key, fn, /, *args, **kwargs):
    """``run``, then a report of the run (its key, this worker's address,
    its start and end) on the dask event topic the client listens to."""
    if _runtime._cluster is None:
        _activate_on_worker()
    if _cancelled:
        _refuse_if_cancelled()
    start = time.time_ns()
    try:
        return fn(*args, **kwargs)
    finally:
        _report(key, start, time.time_ns())


def _report(key, start, end):
    from distributed import get_worker

    from ._observe import TOPIC

    try:
        worker = get_worker()
    except ValueError:
        return  # not in a worker (a task run by hand)
    worker.log_event(TOPIC, {"key": key, "worker": worker.address, "start": start, "end": end})


def claim_cancel(key, dask_worker=None):
    """Runs on the worker's event loop: True if task ``key``, which the
    scheduler handed to this worker, has not started here; it then never
    will (``run`` refuses it).

    The worker marks a task executing on this same loop before a thread
    starts it, so the answer cannot race with the start. A task the worker
    does not know yet is still on its way from the scheduler.
    """
    ts = dask_worker.state.tasks.get(key)
    if ts is not None and ts.state not in ("waiting", "ready", "constrained"):
        return False
    with _CLAIMS_LOCK:
        _cancelled.add(key)
    return True


def _refuse_if_cancelled():
    from distributed.worker import thread_state

    key = getattr(thread_state, "key", None)
    with _CLAIMS_LOCK:
        if key not in _cancelled:
            return
        _cancelled.discard(key)
    raise cf.CancelledError("task %r was cancelled before it started" % (key,))


def pack(*values):
    """The value of ``when_all``: its inputs' values as a tuple."""
    return values


def _activate_on_worker():
    from . import connect_worker

    with _ACTIVATION_LOCK:
        if _runtime._cluster is None:
            connect_worker()


def _task_thread_state():
    """distributed's thread state if this thread runs a dask task, else None."""
    import sys

    worker = sys.modules.get("distributed.worker")
    if worker is None:
        return None
    state = worker.thread_state
    if getattr(state, "key", None) is None or not getattr(state, "proceed", True):
        return None
    return state


@contextlib.contextmanager
def stepping_out():
    """Steps this thread out of its dask worker's thread slot for a wait
    (nothing outside a task, or if it already stepped out)."""
    if _task_thread_state() is None:
        yield
        return
    from distributed import rejoin, secede

    secede()
    try:
        yield
    finally:
        rejoin()
