"""Submitting nodes to the cluster in batches.

A node is queued, not sent: ``submit`` stays non-blocking and costs no
round trip. The queue is sent as one graph (one ``update-graph`` message to
the scheduler) when a caller needs a queued node's result, or a moment
after the first node of a batch was queued (``LINGER``). Inside a batch a
node refers to its inputs by task key, so the scheduler resolves every
dependency; inputs that live in the client (``ready_future``, stdlib
futures, ``when_any``) are sent inline as values.

Sending a batch pickles it whole. If that fails, each node is pickled on its
own to find the ones that cannot be sent: they fail with an error naming the
function or argument, everything that depends on them fails the same way,
and the rest is sent.
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref

from .._future import _cancel, _done
from . import _errors, _observe, _task
from ._future import QUEUED, SENDING, SENT, WAITING, ClusterFuture

# How long the first queued node of a batch waits for company (seconds).
LINGER = 0.002


class Dep:
    """Marks a node's argument that is another future's value."""

    __slots__ = ("future",)

    def __init__(self, future):
        self.future = future


class _Skip(Exception):
    """A node completed in the client, while its batch is built."""


def blocks(future):
    """True if ``future`` must finish before a node using it can be queued:
    a client-side future still pending (a cluster node that is queued or sent
    is referred to by its key instead)."""
    if isinstance(future, ClusterFuture):
        return future._stage == WAITING or (future._key is None and not _done(future))
    return not future.done()


class Submitter:
    """The queue of nodes not sent yet, and the thread that sends it."""

    def __init__(self, connection, watchdog):
        self._connection = connection
        self._watchdog = watchdog
        self._lock = threading.Lock()
        # Held while a batch is built and sent: batches reach the scheduler
        # in the order they were taken (a later one may name an earlier one's
        # keys).
        self._flush_lock = threading.Lock()
        self._queue = []
        self._wake = threading.Event()
        self._closed = False
        self._thread = None

    # -- queueing ----------------------------------------------------------------

    def add(self, future, fn, args, kwargs, deps):
        """Queues ``future``'s node ``fn(*args, **kwargs)``, whose Dep
        arguments are ``deps``, once every client-side input is done."""
        waiting = [dep for dep in deps if blocks(dep)]
        if not waiting:
            self._enqueue(future, fn, args, kwargs)
            return
        future._stage = WAITING
        remaining = [len(waiting)]
        lock = threading.Lock()

        def input_done(_):
            with lock:
                remaining[0] -= 1
                last = remaining[0] == 0
            if last:
                self._enqueue(future, fn, args, kwargs)

        for dep in waiting:
            dep.add_done_callback(input_done)

    def _enqueue(self, future, fn, args, kwargs):
        with self._lock:
            if _done(future):  # cancelled while it waited for its inputs
                return
            future._stage = QUEUED
            queue = self._queue
            queue.append((future, fn, args, kwargs))
            first = len(queue) == 1
            if self._thread is None:
                self._start_thread()
        if first:
            self._wake.set()

    def cancel_unsent(self, future):
        """Cancels ``future`` if it was not taken for sending yet."""
        with self._lock:
            if future._stage in (SENDING, SENT):
                return False
            return _cancel(future)

    def wait_sent(self):
        """Returns once no batch is being sent."""
        with self._flush_lock:
            pass

    # -- sending -------------------------------------------------------------------

    def _start_thread(self):
        self._thread = threading.Thread(
            target=self._send_soon, name="hpyx-cluster-submit", daemon=True
        )
        self._thread.start()

    def _send_soon(self):
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            time.sleep(LINGER)
            self.flush()

    def close(self):
        """Sends what is queued and stops the sending thread."""
        self.flush()
        self._closed = True
        self._wake.set()

    def flush(self):
        """Sends every queued node now, as one graph."""
        with self._flush_lock:
            with self._lock:
                batch, self._queue = self._queue, []
                for node in batch:
                    node[0]._stage = SENDING
            if batch:
                self._send(batch)
                batch.clear()  # see the end of _send

    def _send(self, batch):
        try:
            self._watchdog.check()
            self._connection.check_running()
        except Exception as error:
            _fail_all(batch, error)
            return
        while batch:
            graph, order = _graph(batch)
            if not graph:
                return
            client = self._connection.client
            if any(node[0]._observed for node in order):
                _observe.subscribe(client)
            try:
                dfuts = _submit_graph(client, graph, order)
            except Exception as error:
                batch = _drop_unpicklable(order, error)
                continue
            # Tracked before a done-callback can complete one (and untrack it).
            self._watchdog.track(node[0] for node in order)
            for node in order:
                future = node[0]
                dfut = dfuts[future._key]
                future._dfut = dfut
                future._stage = SENT
                dfut.add_done_callback(_completer(future))
            # dask keeps frames of its own in reference cycles, and a frame
            # keeps its callers' frames, this one and flush()'s among them,
            # with their variables: let go of the nodes before returning, or
            # the last batch's futures (and their tasks on the cluster) wait
            # for the cycle collector.
            del dfuts, dfut, future, node
            order.clear()
            batch.clear()
            return


def _completer(future):
    """The done-callback of ``future``'s distributed future. It holds the
    future weakly: dask keeps a finished callback's arguments in reference
    cycles (exception tracebacks of its event loop) that only the cycle
    collector frees, and a strong reference there would keep the future, and
    so its task on the cluster, alive until then. While the task runs, the
    watchdog's ``sent`` table holds the future."""
    ref = weakref.ref(future)

    def complete(dfut):
        future = ref()
        if future is not None:
            future._complete_from(dfut)

    return complete


def _submit_graph(client, graph, order):
    """Sends ``graph`` in one scheduler update; its futures by key (what
    ``Client.submit`` does for one task, for a batch)."""
    from dask._expr import LLGExpr
    from distributed.spans import SpanMetadata

    keys = [node[0]._key for node in order]
    return client._graph_to_futures(
        LLGExpr(graph, _determ_token=uuid.uuid4().hex),
        keys,
        span_metadata=SpanMetadata(collections=[{"type": "hpyx"}]),
        internal_priority={key: i for i, key in enumerate(keys)},
    )


def _graph(batch):
    """The dask graph of ``batch`` and its nodes in order. Nodes cancelled
    meanwhile are left out; nodes whose client-side inputs failed or were
    cancelled complete the same way here."""
    from dask._task_spec import Task, TaskRef, parse_input

    graph = {}
    order = []
    for node in batch:
        future, fn, args, kwargs = node
        if _done(future):
            continue

        def value(arg):
            if type(arg) is not Dep:
                return parse_input(arg)
            dep = arg.future
            if isinstance(dep, ClusterFuture):
                if dep._stage == SENT and not dep.cancelled():
                    return TaskRef(dep._key)
                if dep._key in graph:
                    return TaskRef(dep._key)
            return _client_side_value(future, dep)  # noqa: B023 (called in this iteration only)

        try:
            task_args = [value(arg) for arg in args]
            task_kwargs = {name: value(arg) for name, arg in kwargs.items()}
        except _Skip:
            continue
        key = future._key
        if future._observed:
            graph[key] = Task(key, _task.run_observed, key, fn, *task_args, **task_kwargs)
        else:
            graph[key] = Task(key, _task.run, fn, *task_args, **task_kwargs)
        order.append(node)
    return graph, order


def _client_side_value(future, dep):
    """The value of a finished client-side input; a failed or cancelled one
    completes ``future`` the same way (and raises _Skip)."""
    if not dep.done():
        future._fail(_errors.ClusterError("an input of %r is not done" % (future,)))
        raise _Skip
    if dep.cancelled():
        _cancel(future)
        raise _Skip
    error = dep.exception(0)
    if error is not None:
        future._fail(error)
        raise _Skip
    from dask._task_spec import DataNode

    return DataNode(None, dep.result(0))


def _drop_unpicklable(order, error):
    """Fails the nodes that cannot be pickled; returns the others (to send
    again). With no culprit found, every node fails with ``error``."""
    from distributed.protocol.pickle import dumps

    culprits = 0
    for future, fn, args, kwargs in order:
        plain_args = [None if type(arg) is Dep else arg for arg in args]
        plain_kwargs = {k: v for k, v in kwargs.items() if type(v) is not Dep}
        problem = _errors.find_unpicklable(future.name, fn, plain_args, plain_kwargs, dumps)
        if problem is not None:
            culprits += 1
            future._fail(problem)
    if not culprits:
        _fail_all(order, error)
        return []
    return [node for node in order if not _done(node[0])]


def _fail_all(batch, error):
    for node in batch:
        node[0]._fail(error)
