"""ClusterFuture: the ``hpyx.Future`` of a node that runs on the cluster.

It is an ``hpyx.Future`` like any other (a promise-backed node, so
``concurrent.futures.wait``, ``as_completed``, ``add_done_callback`` and
``await`` work unchanged), completed from the done-callback of the
dask.distributed future that runs the node. The value stays on the cluster:
a successful node's promise only records that it succeeded, and ``result()``
fetches the value on demand (once; it is kept afterwards). Later nodes
(``then``, ``dataflow``, ``when_all`` ...) refer to the node by its task key,
so the cluster's scheduler resolves the dependency worker to worker.

A ClusterFuture without a task on the cluster (``ready_future``,
``when_any``, or a node that failed before it could be sent) holds its value
or exception here, in the client; later nodes receive that value inline.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading

from .. import _core
from .._future import Future, _cancel, _done, _FutureBase, _result
from . import _errors
from ._task import stepping_out


class OnCluster:
    """What a finished cluster node's promise holds: the value is remote."""

    __slots__ = ()

    def __repr__(self):
        return "<value on the cluster>"


ON_CLUSTER = OnCluster()
# The thread that runs the done-callbacks of dask.distributed futures.
_CALLBACK_THREAD = "Dask-Callback-Thread"
_NOTHING = object()

# States of a ClusterFuture on its way to the cluster.
LOCAL = "local"  # no task: the promise holds the value (or is still pending)
WAITING = "waiting"  # waits for client-side inputs before it can be queued
QUEUED = "queued"  # in the submission buffer, not sent yet
SENDING = "sending"  # taken from the buffer: its batch is being sent
SENT = "sent"  # a task on the cluster: `_dfut` is its distributed future


class ClusterFuture(Future):
    """An ``hpyx.Future`` whose node runs as a task on a dask cluster."""

    _dfut = None
    _key = None
    _backend = None
    _stage = LOCAL
    _fetched = _NOTHING
    # True if a recording or trace watches it: its task reports its run.
    _observed = False

    def __new__(cls, backend, name, key=None):
        promise = _core.promise(name)
        self = _FutureBase.__new__(cls, promise)
        self._promise = promise
        self._backend = backend
        self._key = key
        return self

    def __init__(self, *args, **kwargs):
        """Made by hpyx's cluster backend, never by clients."""

    @property
    def key(self):
        """The task key on the cluster (``name-<id>``), or None for a future
        that has no task there (``ready_future``, ``when_any``)."""
        return self._key

    # -- completion from the cluster -----------------------------------------

    def _complete_from(self, dfut):
        """The done-callback of this node's distributed future (it runs on
        dask's callback thread)."""
        self._backend.watchdog.sent.pop(self._key, None)
        if _done(self):
            return
        status = dfut.status
        try:
            if status == "finished":
                self._promise.set_result(ON_CLUSTER)
            elif status == "error":
                error = dfut.exception()
                self._promise.set_exception(error.with_traceback(dfut.traceback()))
            elif _errors.is_connection_lost(dfut._state.exception):
                self._promise.set_exception(_errors.connection_lost(self._backend.address))
            else:
                _cancel(self)
        except cf.InvalidStateError:
            pass  # completed meanwhile (cancelled by the client)
        except BaseException as error:
            try:
                self._promise.set_exception(_errors.connection_lost(self._backend.address, error))
            except cf.InvalidStateError:
                pass

    def _fail(self, error):
        try:
            self._promise.set_exception(error)
        except cf.InvalidStateError:
            pass

    def __del__(self):
        # Tells the scheduler at once that this client no longer wants the
        # task (dask's future would say so only when it is freed, and dask
        # keeps it in reference cycles that wait for the cycle collector,
        # which runs rarely on the free-threaded build).
        dfut = self._dfut
        if dfut is not None:
            dfut.release()

    # -- the stdlib's API ------------------------------------------------------

    def result(self, timeout=None):
        try:
            value = self._wait(_result, timeout)
            if value is ON_CLUSTER:
                value = self._fetched
                if value is _NOTHING:
                    value = self._fetched = self._backend.fetch(self, timeout)
            return value
        finally:
            self = None

    def exception(self, timeout=None):
        return self._wait(Future.exception, timeout)

    # The stdlib's docstrings, as on every hpyx.Future.
    result.__doc__ = Future.result.__doc__
    exception.__doc__ = Future.exception.__doc__

    def _wait(self, how, timeout):
        if _done(self):
            return how(self, timeout)
        if self._stage == QUEUED:
            self._backend.submitter.flush()
        dfut = self._dfut
        if dfut is not None and threading.current_thread().name.startswith(_CALLBACK_THREAD):
            # A done-callback waits: dask's one callback thread, which would
            # complete this future, is the waiting thread. Complete it here.
            try:
                dfut.exception(timeout)  # waits for the task
            except cf.CancelledError:
                pass
            self._complete_from(dfut)
            return how(self, 0)
        with stepping_out():
            return how(self, timeout)

    def cancel(self):
        return self._backend.cancel(self)

    cancel.__doc__ = Future.cancel.__doc__

    def set_result(self, result):
        """Not for a task's future: its task completes it."""
        self._check_settable()
        raise cf.InvalidStateError("a cluster task's future is completed by its task")

    def set_exception(self, exception):
        """Not for a task's future: its task completes it."""
        self._check_settable()
        raise cf.InvalidStateError("a cluster task's future is completed by its task")

    # -- beyond the stdlib -------------------------------------------------------

    def then(self, fn, /, *args, **kwargs):
        """Runs ``fn(value, *args, **kwargs)`` on the cluster once this future
        succeeds; returns its future. If this future failed or was cancelled,
        ``fn`` is not called and the new future fails the same way."""
        return self._backend.then(self, fn, args, kwargs)

    def __reduce__(self):
        raise TypeError(
            "an hpyx future cannot be pickled: pass it to dataflow(), "
            "when_all() or Future.then() to use its value in a cluster task"
        )
