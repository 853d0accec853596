"""HPXExecutor: a ``concurrent.futures.Executor`` over the hpyx pool."""

from __future__ import annotations

import concurrent.futures as cf
import warnings

from . import _core


class HPXExecutor(cf.Executor):
    """An Executor that runs calls on hpyx's process-global work-stealing pool.

    A drop-in replacement for ``ThreadPoolExecutor``. The pool is shared by
    every executor in the process: ``max_workers`` only seeds the pool's size
    if it has not started yet (a different value later emits a
    ``RuntimeWarning`` and the running pool is reused). ``shutdown()`` retires
    this executor, not the pool; ``atexit`` owns the pool's teardown.
    """

    def __init__(self, max_workers=None):
        """Initializes a new HPXExecutor instance.

        Args:
            max_workers: The number of worker threads the pool starts with if
                it is not running yet (advisory: the pool is process-global).
        """
        if max_workers is not None:
            if not isinstance(max_workers, int) or isinstance(max_workers, bool):
                raise TypeError(
                    "max_workers must be an int, not %s" % type(max_workers).__name__
                )
            if max_workers <= 0:
                raise ValueError("max_workers must be greater than 0")
            running = _core.pool_size()
            if running is None:
                _core.init(os_threads=max_workers)
            elif running != max_workers:
                warnings.warn(
                    "hpyx's worker pool is process-global and already runs %d "
                    "workers; HPXExecutor(max_workers=%d) reuses it"
                    % (running, max_workers),
                    RuntimeWarning,
                    stacklevel=2,
                )
        # The closed flag and the tracked futures live in Rust: `submit` is
        # one call, race-free on free-threaded builds too.
        self._core = _core.ExecutorCore()
        if type(self).submit is HPXExecutor.submit:
            # The Rust method itself, bound to this executor: the same call
            # without a Python frame per task (a subclass's own submit wins).
            self.submit = self._core.submit

    @property
    def _max_workers(self):
        size = _core.pool_size()
        return size if size is not None else _core.default_pool_size()

    def __call__(self, dsk, keys, **kwargs):
        """dask's scheduler protocol: ``dask.compute(x, scheduler=executor)``
        runs the graph on hpyx's task graph (``hpyx.dask.get``)."""
        from .dask import get

        return get(dsk, keys, **kwargs)

    def submit(self, fn, /, *args, **kwargs):
        """Submits a callable to be executed with the given arguments.

        Schedules the callable to be executed as fn(*args, **kwargs) and returns
        a Future instance representing the execution of the callable.

        Returns:
            A Future representing the given call.
        """
        return self._core.submit(fn, *args, **kwargs)

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        """Returns an iterator equivalent to map(fn, iter).

        Args:
            fn: A callable that will take as many arguments as there are
                passed iterables.
            timeout: The maximum number of seconds to wait. If None, then there
                is no limit on the wait time.
            chunksize: The size of the chunks the iterable will be broken into
                before being passed to a child process. This argument is only
                used by ProcessPoolExecutor; it is ignored by
                ThreadPoolExecutor.

        Returns:
            An iterator equivalent to: map(func, *iterables) but the calls may
            be evaluated out-of-order.

        Raises:
            TimeoutError: If the entire result iterator could not be generated
                before the given timeout.
            Exception: If fn(*args) raises for any values.
        """
        # The stdlib's Executor.map in one Rust call: every item scheduled
        # now, no Future object per item; the iterator waits for each result
        # in order, and its first exception (or dropping it) cancels the rest.
        if type(self).submit is not HPXExecutor.submit:
            # A subclass's own submit sees every item, as with the stdlib.
            return super().map(fn, *iterables, timeout=timeout, chunksize=chunksize)
        return self._core.map(fn, zip(*iterables), timeout)

    def shutdown(self, wait=True, *, cancel_futures=False):
        """Clean-up the resources associated with the Executor.

        It is safe to call this method several times. Otherwise, no other
        methods can be called after this one.

        Args:
            wait: If True then shutdown will not return until all running
                futures have finished executing and the resources used by the
                executor have been reclaimed.
            cancel_futures: If True then shutdown will cancel all pending
                futures. Futures that are completed or running will not be
                cancelled.
        """
        nodes = self._core.close()
        if cancel_futures:
            for node in nodes:
                node.cancel()
        if wait:
            worker = _core.get_worker_thread_id()
            for node in nodes:
                if worker >= 0 and node.running() and _runs_on(node, worker):
                    # Called from inside this task (or from a task nested in
                    # its wait, on the same worker): waiting for it would
                    # never end.
                    continue
                node.wait()


def _runs_on(node, worker):
    """True if ``node`` is running on worker ``worker`` (a rare, slow path)."""
    for entry in _core.snapshot_of([node]).nodes():
        if entry["id"] == node.id:
            return entry["state"] == "running" and entry["worker"] == worker
    return False
