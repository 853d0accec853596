"""dask graphs run natively on hpyx's task graph.

Importing this module registers ``"hpyx"`` among dask's schedulers, so any
dask collection can run on hpyx with a one-word change::

    import hpyx.dask

    x.compute(scheduler="hpyx")            # dask.array, dataframe, bag, delayed
    dask.config.set(scheduler="hpyx")      # for everything after
    dask.compute(x, y, scheduler=hpyx.dask.get)

``get`` keeps ``dask.threaded.get``'s contract. The whole graph is handed to
hpyx's Rust core in one call: every task the requested keys need becomes one
node of hpyx's graph with an edge to each task it needs, and runs on the
work-stealing pool as soon as its inputs are done. No Python loop schedules
anything while the graph runs, and a result is released as soon as every
task that needs it has run.

``import hpyx`` does not import dask; this module does.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Mapping

from dask import config
from dask._task_spec import (
    Alias,
    DataNode,
    Dict,
    GraphNode,
    List,
    Set,
    Task,
    TaskRef,
    Tuple,
    convert_legacy_graph,
    convert_legacy_task,
)
from dask.base import named_schedulers
from dask.callbacks import local_callbacks, unpack_callbacks

from . import _core

__all__ = ["get"]


class _AllKeys:
    """The keys of a graph and of its cache of known results (dask's
    ``all_keys`` for reading the legacy form)."""

    __slots__ = ("cache", "dsk")

    def __init__(self, dsk, cache):
        self.dsk = dsk
        self.cache = cache

    def __contains__(self, key):
        try:
            return key in self.dsk or (self.cache is not None and key in self.cache)
        except TypeError:
            return False


def _convert_legacy(value, dsk, cache):
    # The legacy forms the Rust walk leaves to dask (named tuples).
    return convert_legacy_task(None, value, _AllKeys(dsk, cache))


_core._dask_spec_types(
    GraphNode, Task, TaskRef, DataNode, Alias, List, Tuple, Set, Dict, _convert_legacy
)


def get(dsk, keys, cache=None, num_workers=None, pool=None, **kwargs):
    """Threaded cached implementation of dask.get, on hpyx's task graph

    Parameters
    ----------

    dsk: dict
        A dask dictionary specifying a workflow
    keys: key or list of keys
        Keys corresponding to desired data
    num_workers: integer of thread count
        Accepted for ``dask.threaded.get``'s signature; the tasks run on
        hpyx's process-wide pool (sized by ``hpyx.init``)
    cache: dict-like (optional)
        Temporary storage of results

    Examples
    --------
    >>> inc = lambda x: x + 1
    >>> add = lambda x, y: x + y
    >>> dsk = {'x': 1, 'y': 2, 'z': (inc, 'x'), 'w': (add, 'z', 'y')}
    >>> get(dsk, 'w')
    4
    >>> get(dsk, ['w', 'y'])
    (4, 2)
    """
    if not isinstance(dsk, Mapping):
        dsk = dsk.__dask_graph__()
    if type(dsk) is not dict:
        dsk = dict(dsk)
    if cache is None:
        cache = config.get("cache", None)
    # Results known already are read from a dict; the requested keys'
    # results are stored back into the caller's own object, as dask does.
    storage = cache
    if cache is not None and type(cache) is not dict:
        cache = dict(cache)
    flat = []
    _flatten(keys, flat)
    context = contextvars.copy_context()
    with local_callbacks(kwargs.get("callbacks")) as callbacks:
        if callbacks:
            values = _get_with_callbacks(dsk, flat, cache, context, callbacks)
        else:
            values = _core._dask_get(dsk, flat, cache, context)
    if storage is not None:
        for key, value in zip(flat, values, strict=True):
            storage[key] = value
    return _nest(keys, iter(values))


def _flatten(keys, out):
    if isinstance(keys, list):
        for key in keys:
            _flatten(key, out)
    else:
        out.append(keys)


def _nest(keys, values):
    # dask's nested_get: a list of keys gives a tuple of values.
    if isinstance(keys, list):
        return tuple(_nest(key, values) for key in keys)
    return next(values)


def _get_with_callbacks(dsk, flat, cache, context, callbacks):
    """``get`` with dask's local-scheduler callbacks: called in dask's order
    with a ``state`` dict of dask's shape, ``pretask``/``posttask`` from the
    worker that runs the task, one at a time."""
    dsk = convert_legacy_graph(dsk)
    _, _, pretask_cbs, posttask_cbs, _ = unpack_callbacks(callbacks)
    started = []
    succeeded = False
    state = {}
    try:
        for cb in callbacks:
            if cb[0]:
                cb[0](dsk)
            started.append(cb)
        state = _start_state(dsk, flat, cache)
        for _, start_state, _, _, _ in callbacks:
            if start_state:
                start_state(dsk, state)
        lock = threading.Lock()
        waiting, ready, running, finished = (
            state["waiting"],
            state["ready"],
            state["running"],
            state["finished"],
        )

        def pre(key):
            with lock:
                if waiting.pop(key, None) is None:
                    ready.discard(key)
                running.add(key)
                for f in pretask_cbs:
                    f(key, dsk, state)

        def post(key, value):
            worker_id = threading.get_ident()
            with lock:
                running.discard(key)
                finished.add(key)
                for f in posttask_cbs:
                    f(key, value, dsk, state, worker_id)

        values = _core._dask_get(dsk, flat, cache, context, (pre, post))
        succeeded = True
    finally:
        for _, _, _, _, finish in started:
            if finish:
                finish(dsk, state, not succeeded)
    return values


def _start_state(dsk, flat, cache):
    """dask's scheduler state for the tasks ``flat`` needs, before any ran."""
    dependencies = {}
    stack = list(flat)
    while stack:
        key = stack.pop()
        if key in dependencies:
            continue
        task = dsk.get(key)
        deps = set(task.dependencies) if task is not None else set()
        dependencies[key] = deps
        stack.extend(deps)
    dependents = {key: set() for key in dependencies}
    for key, deps in dependencies.items():
        for dep in deps:
            dependents[dep].add(key)
    data = {}
    for key in dependencies:
        task = dsk.get(key)
        if cache is not None and key in cache:
            data[key] = cache[key]
        elif isinstance(task, DataNode):
            data[key] = task()
    waiting = {}
    ready = set()
    for key, deps in dependencies.items():
        if key in data:
            continue
        missing = deps.difference(data)
        if missing:
            waiting[key] = missing
        else:
            ready.add(key)
    return {
        "dependencies": dependencies,
        "dependents": dependents,
        "waiting": waiting,
        "waiting_data": {},
        "ready": ready,
        "running": set(),
        "finished": set(),
        "released": set(),
        "cache": data,
    }


named_schedulers["hpyx"] = get
