"""HPXExecutor: a ``concurrent.futures.ThreadPoolExecutor`` over the hpyx pool."""

from __future__ import annotations

import concurrent.futures as cf
import functools
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import _base
from concurrent.futures.thread import BrokenThreadPool
from typing import Any, ParamSpec, TypeVar, cast

from . import _core, _runtime
from ._future import Future

T = TypeVar("T")
P = ParamSpec("P")

# The stdlib's words for an executor whose initializer failed.
_BROKEN = "A thread initializer failed, the thread pool is not usable anymore"


class HPXExecutor(cf.ThreadPoolExecutor):
    """An Executor that runs calls on hpyx's process-global work-stealing pool.

    A drop-in replacement for ``ThreadPoolExecutor``, and one in its type
    (``loop.set_default_executor`` accepts it), though every behaviour is
    its own: it starts no thread of its own and keeps no queue. The pool is
    shared by every executor in the process: ``max_workers`` only seeds the
    pool's size if it has not started yet (a different value later emits a
    ``RuntimeWarning`` and the running pool is reused); it does not limit
    how many of this executor's tasks run at once. ``initializer`` runs once
    in each worker before that worker first runs a task of this executor;
    ``thread_name_prefix`` names a worker only while it runs one of this
    executor's tasks. ``shutdown()`` retires this executor, not the pool;
    ``atexit`` owns the pool's teardown.
    """

    # What the stdlib keeps per executor and code reads: not shut down, not
    # broken (the message once broken).
    _shutdown = False
    _broken = False

    def __init__(
        self,
        max_workers: int | None = None,
        thread_name_prefix: str = "",
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        """Initializes a new HPXExecutor instance.

        Args:
            max_workers: The number of worker threads the pool starts with if
                it is not running yet (advisory: the pool is process-global).
            thread_name_prefix: An optional name prefix for the worker
                running one of this executor's tasks, while it runs it.
            initializer: A callable used to initialize worker threads.
            initargs: A tuple of arguments to pass to the initializer.
        """
        if max_workers is not None:
            if not isinstance(max_workers, int) or isinstance(max_workers, bool):
                raise TypeError("max_workers must be an int, not %s" % type(max_workers).__name__)
            if max_workers <= 0:
                raise ValueError("max_workers must be greater than 0")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        if max_workers is not None:
            running = _core.pool_size()
            if running is None:
                _core.init(os_threads=max_workers)
            elif running != max_workers:
                warnings.warn(
                    "hpyx's worker pool is process-global and already runs %d "
                    "workers; HPXExecutor(max_workers=%d) reuses it" % (running, max_workers),
                    RuntimeWarning,
                    stacklevel=2,
                )
        self._thread_name_prefix = thread_name_prefix
        self._initializer = initializer  # type: ignore[assignment]  # any return value is ignored
        self._initargs = initargs
        # The threads that have run (or are running) the initializer.
        self._initialized: set[int] = set()
        # The closed flag and the tracked futures live in Rust: `submit` is
        # one call, race-free on free-threaded builds too.
        cluster = _runtime._cluster
        self._core = _core.ExecutorCore() if cluster is None else cluster.executor_core()
        if (
            type(self).submit is HPXExecutor.submit
            and initializer is None
            and not thread_name_prefix
        ):
            # The Rust method itself, bound to this executor: the same call
            # without a Python frame per task (a subclass's own submit, or a
            # task wrapped for an initializer or a name, goes through Python).
            self.submit = self._core.submit  # type: ignore[method-assign]

    # At runtime the constructor's signature is the stdlib's exactly, which
    # carries no annotations (type checkers read the ones above).
    __init__.__annotations__.clear()

    @property
    def _max_workers(self) -> int:  # type: ignore[override]
        size = _core.pool_size()
        return size if size is not None else _core.default_pool_size()

    def __call__(self, dsk: dict[Any, Any], keys: Any, **kwargs: Any) -> Any:
        """dask's scheduler protocol: ``dask.compute(x, scheduler=executor)``
        runs the graph on hpyx's task graph (``hpyx.dask.get``)."""
        from .dask import get

        return get(dsk, keys, **kwargs)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Submits a callable to be executed with the given arguments.

        Schedules the callable to be executed as fn(*args, **kwargs) and returns
        a Future instance representing the execution of the callable.

        Returns:
            A Future representing the given call.
        """
        if self._broken:
            raise BrokenThreadPool(self._broken)
        return cast("Future[T]", self._core.submit(self._task(fn), *args, **kwargs))

    def map(
        self,
        fn: Callable[..., T],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
    ) -> Iterator[T]:
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
        # in order. As with the stdlib's generator, once an iteration has
        # started, its first exception, close() or dropping it cancels the
        # rest; a result never iterated cancels nothing.
        if type(self).submit is not HPXExecutor.submit:
            # A subclass's own submit sees every item, as with the stdlib.
            return cf.Executor.map(self, fn, *iterables, timeout=timeout, chunksize=chunksize)
        if self._broken:
            raise BrokenThreadPool(self._broken)
        return self._core.map(self._task(fn), zip(*iterables, strict=False), timeout)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
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
        self._shutdown = True
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

    def _adjust_thread_count(self) -> None:
        """Does nothing: the pool is hpyx's, shared and already sized."""

    def _initializer_failed(self) -> None:
        """Marks this executor broken, as the stdlib does.

        ``submit`` then raises ``BrokenThreadPool``, and each of its tasks not
        yet started fails with it when a worker picks it up, without running.
        """
        self._broken = _BROKEN  # type: ignore[assignment]  # the stdlib stores its message too

    # -- tasks wrapped for an initializer or a thread name -----------------

    def _task(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn``, or, with an initializer or a thread name prefix, a callable
        that runs it through ``_run`` under ``fn``'s task name."""
        if self._initializer is None and not self._thread_name_prefix:
            return fn
        name: Any
        if isinstance(fn, _core.Named):
            name, fn = fn.name, fn.func
        elif callable(fn):
            name = getattr(fn, "__qualname__", None)
            if name is None:
                name = type(fn).__qualname__
            elif not isinstance(name, str):
                name = str(name)
        else:
            raise TypeError("'%s' object is not callable" % type(fn).__qualname__)
        return _core.Named(name, functools.partial(self._run, fn))

    def _run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        if self._broken:
            raise BrokenThreadPool(self._broken)
        if self._initializer is not None:
            ident = threading.get_ident()
            if ident not in self._initialized:
                # Noted first: a task of this executor that the initializer
                # waits for may run nested on this same worker.
                self._initialized.add(ident)
                try:
                    self._initializer(*self._initargs)
                except BaseException as exc:
                    _base.LOGGER.critical("Exception in initializer:", exc_info=True)
                    self._initializer_failed()
                    raise BrokenThreadPool(self._broken) from exc
        if not self._thread_name_prefix:
            return fn(*args, **kwargs)
        thread = threading.current_thread()
        name = thread.name
        thread.name = "%s_%d" % (self._thread_name_prefix, _core.get_worker_thread_id())
        try:
            return fn(*args, **kwargs)
        finally:
            thread.name = name


def _runs_on(node: _core.Node, worker: int) -> bool:
    """True if ``node`` is running on worker ``worker`` (a rare, slow path)."""
    for entry in _core.snapshot_of([node]).nodes():
        if entry["id"] == node.id:
            return entry["state"] == "running" and entry["worker"] == worker
    return False
