"""The cluster backend: what each hpyx API does in cluster mode.

Every API builds the same graph as locally: a node is a ClusterFuture whose
task is queued for the cluster (see ``_submit``); its inputs are other
nodes, referred to by task key. ``when_any`` and ``ready_future`` have no
task: their futures complete in the client.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
import uuid

from .. import _core
from .._future import _cancel, _done
from . import _errors, _observe, _task
from ._client import Connection
from ._future import LOCAL, SENDING, ClusterFuture
from ._submit import Dep, Submitter
from ._watchdog import Watchdog

# How long cancel() waits for the scheduler to learn of a task just sent.
_CANCEL_PATIENCE = 10.0


def _name_and_fn(fn):
    if isinstance(fn, _core.Named):
        return fn.name, fn.func
    if not callable(fn):
        raise TypeError("%r object is not callable" % type(fn).__name__)
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return name, fn


async def _cancel_unstarted(key, client_id, dask_scheduler=None):
    """Runs on the scheduler: cancels task ``key`` unless it started.
    Returns "cancelled", "unknown" or the task's state.

    A task handed to a worker may still wait there: the worker is asked
    (``claim_cancel``). Between its answer and the cancellation nothing else
    runs on the scheduler's loop; if the task moved meanwhile (stolen by
    another worker) it is left alone.
    """
    from distributed.protocol import Serialized, deserialize
    from distributed.protocol.pickle import dumps

    ts = dask_scheduler.tasks.get(key)
    if ts is None:
        return "unknown"
    if ts.state == "processing":
        worker = ts.processing_on
        replies = await dask_scheduler.broadcast(
            msg={
                "op": "run",
                "function": dumps(_task.claim_cancel),
                "args": dumps((key,)),
                "wait": True,
            },
            workers=[worker.address],
            on_error="return",
        )
        reply = replies.get(worker.address)
        claimed = isinstance(reply, dict) and reply.get("status") == "OK"
        if claimed:
            claimed = reply["result"]
            if isinstance(claimed, Serialized):
                claimed = deserialize(claimed.header, claimed.frames)
        if claimed is not True or ts.state != "processing" or ts.processing_on is not worker:
            return "processing"
    elif ts.state not in ("released", "waiting", "no-worker", "queued"):
        return ts.state
    dask_scheduler.stimulus_cancel(
        [key], client_id, force=False, reason="cancelled by hpyx", msg=None
    )
    return "cancelled"


class ClusterBackend:
    """hpyx's runtime when it is a dask.distributed cluster."""

    def __init__(self, target):
        self.connection = Connection(target)
        self.watchdog = Watchdog(self.connection)
        self.submitter = Submitter(self.connection, self.watchdog)

    @property
    def address(self):
        return self.connection.address

    def close(self):
        self.submitter.close()
        self.watchdog.close()
        self.connection.close()

    # -- nodes -----------------------------------------------------------------------

    def node(self, fn, args, kwargs, deps=()):
        name, fn = _name_and_fn(fn)
        future = ClusterFuture(self, name, "%s-%s" % (name, uuid.uuid4().hex))
        if _observe.watching():
            future._observed = _observe.node_made(future, future._key, deps)
        self.submitter.add(future, fn, args, kwargs, deps)
        return future

    def async_(self, fn, /, *args, **kwargs):
        return self.node(fn, args, kwargs)

    def then(self, future, fn, args, kwargs):
        return self.node(fn, (Dep(future), *args), kwargs, (future,))

    def dataflow(self, fn, /, *args, **kwargs):
        deps = []

        def mark(arg):
            if isinstance(arg, cf.Future):
                deps.append(arg)
                return Dep(arg)
            return arg

        args = tuple(mark(arg) for arg in args)
        kwargs = {key: mark(arg) for key, arg in kwargs.items()}
        return self.node(fn, args, kwargs, deps)

    def when_all(self, futures):
        if not futures:
            return self.ready_future(())
        for future in futures:
            if not isinstance(future, cf.Future):
                raise TypeError("when_all() takes futures, got %s" % type(future).__name__)
        return self.node(
            _core.Named("when_all", _task.pack), [Dep(f) for f in futures], {}, futures
        )

    def when_any(self, futures):
        if not futures:
            raise ValueError("when_any() needs at least one future")
        result = ClusterFuture(self, "when_any")
        if _observe.watching():
            _observe.node_made(result, None, futures)
        lock = threading.Lock()
        chosen = []

        def first(index):
            def done(_):
                with lock:
                    if chosen:
                        return
                    chosen.append(index)
                result._promise.set_result((index, futures))

            return done

        for index, future in enumerate(futures):
            if not isinstance(future, cf.Future):
                raise TypeError("when_any() takes futures, got %s" % type(future).__name__)
            future.add_done_callback(first(index))
        return result

    def ready_future(self, value):
        future = ClusterFuture(self, "ready")
        future._promise.set_result(value)
        return future

    # -- a node's life -------------------------------------------------------------

    def fetch(self, future, timeout):
        """The value of a finished node, brought from the cluster."""
        try:
            return self.watchdog.fetch(future._dfut, self.connection.client, timeout)
        except cf.CancelledError as error:
            if _errors.is_connection_lost(error):
                raise _errors.connection_lost(self.address) from None
            raise

    def cancel(self, future):
        """True if ``future``'s task had not started: it then never runs."""
        if _done(future):
            return future.cancelled()
        if future._stage == LOCAL:
            return _cancel(future)
        if self.submitter.cancel_unsent(future):
            return True
        if future._stage == SENDING:
            self.submitter.wait_sent()
        client = self.connection.client
        deadline = time.monotonic() + _CANCEL_PATIENCE
        while True:
            try:
                state = client.run_on_scheduler(_cancel_unstarted, future._key, client.id)
            except Exception:
                return future.cancelled()
            if state == "cancelled":
                _cancel(future)
                return True
            if state != "unknown" or time.monotonic() > deadline:
                return future.cancelled()
            time.sleep(0.01)

    def executor_core(self):
        from ._executor import ClusterExecutorCore

        return ClusterExecutorCore(self)
