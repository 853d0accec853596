"""hpyx on a dask.distributed cluster.

``hpyx.init(cluster=address_or_client)`` (or ``HPYX_CLUSTER``) makes the
process's hpyx runtime a dask.distributed cluster: ``connect`` replaces the
combinators of the ``hpyx`` namespace with the cluster backend's, and every
``HPXExecutor`` created afterwards submits to the cluster. The local
implementations are left untouched (cluster mode costs the local path
nothing) and come back with ``disconnect`` (``hpyx.shutdown()``).

Rooms: ``_client`` (the connection), ``_submit`` (batched submission),
``_future`` (ClusterFuture, completed from the cluster), ``_backend`` (each
API in cluster mode), ``_executor`` (an executor handle's core), ``_task``
(what runs on a worker), ``_watchdog`` (a hung scheduler), ``_observe``
(recordings and traces of cluster nodes) and ``_errors`` (faults in hpyx's
words).
"""

from __future__ import annotations

import threading

from .. import _runtime
from ._errors import ClusterError

# The names that cluster mode rebinds, in `hpyx` and `hpyx._combinators`.
_API = ("async_", "dataflow", "when_all", "when_any", "ready_future")

_LOCK = threading.Lock()
_saved: dict[str, object] = {}


def connect(target, *, lazy=False):
    """Makes ``target`` (an address or a ``distributed.Client``) this
    process's hpyx runtime. Idempotent with the same target. ``lazy``: do
    not import dask.distributed before the first task (``HPYX_CLUSTER``)."""
    if not lazy:
        from ._client import import_distributed
        from ._watchdog import configured_timeout

        configured_timeout()  # a bad HPYX_CLUSTER_TIMEOUT fails here

        distributed = import_distributed()
        if not isinstance(target, (str, distributed.Client)):
            raise TypeError(
                "cluster must be a scheduler address or a distributed.Client, "
                "not %s" % type(target).__name__
            )
    elif not isinstance(target, str):
        raise TypeError("HPYX_CLUSTER must be a scheduler address")
    _install(target)


def connect_worker():
    """Cluster mode over the client of the dask worker this process is."""
    _install(None)


def _install(target):
    from ._backend import ClusterBackend

    with _LOCK:
        current = _runtime._cluster
        if current is not None:
            if current.connection.same_target(target):
                return
            raise RuntimeError(
                "hpyx already runs on the cluster at %s; cannot switch to %s "
                "(hpyx.shutdown() disconnects first)" % (current.address, target)
            )
        backend = ClusterBackend(target)
        _saved.update(_swap(_cluster_api(backend)))
        _runtime._cluster = backend


def disconnect():
    """Leaves cluster mode: sends what is queued, closes a client hpyx
    created, and gives the namespace its local combinators back."""
    with _LOCK:
        backend = _runtime._cluster
        if backend is None:
            return
        _runtime._cluster = None
        _swap(_saved)
        _saved.clear()
    backend.close()


def _cluster_api(backend):
    from .._combinators import _futures_arg

    def when_all(*futures):
        return backend.when_all(_futures_arg(futures))

    def when_any(*futures):
        return backend.when_any(_futures_arg(futures))

    api = {
        "async_": backend.async_,
        "dataflow": backend.dataflow,
        "when_all": when_all,
        "when_any": when_any,
        "ready_future": backend.ready_future,
    }
    from .. import _combinators

    for name in _API:
        local = getattr(_combinators, name)
        api[name] = _with_doc(api[name], local)
    return api


def _with_doc(cluster_fn, local_fn):
    try:
        cluster_fn.__doc__ = local_fn.__doc__
    except AttributeError:
        pass  # a bound method: its function keeps its own docstring
    return cluster_fn


def _swap(api):
    """Rebinds the names of ``api``; returns what they were bound to."""
    import hpyx

    from .. import _combinators

    previous = {}
    for name, fn in api.items():
        previous[name] = getattr(_combinators, name)
        setattr(_combinators, name, fn)
        setattr(hpyx, name, fn)
    return previous


__all__ = ["ClusterError", "connect", "connect_worker", "disconnect"]
