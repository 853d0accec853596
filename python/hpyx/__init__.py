"""hpyx: a fast, composable ``concurrent.futures`` on a Rust dataflow engine.

``HPXExecutor`` is a drop-in ``concurrent.futures.Executor``; ``async_``,
``Future.then``, ``dataflow``, ``when_all`` and ``when_any`` build a
dependency graph whose nodes run on a work-stealing pool as soon as their
inputs are done. Importing hpyx starts no threads.
"""

from . import debug
from ._cluster import ClusterError
from ._combinators import (
    async_,
    dataflow,
    named,
    ready_future,
    shared_future,
    when_all,
    when_any,
)
from ._core import InternalError, __version__
from ._executor import HPXExecutor
from ._future import Future
from ._runtime import HPXRuntime, _connect_from_env, init, is_running, shutdown

__all__ = [
    "ClusterError",
    "Future",
    "HPXExecutor",
    "HPXRuntime",
    "InternalError",
    "__version__",
    "async_",
    "dataflow",
    "debug",
    "init",
    "is_running",
    "named",
    "ready_future",
    "shared_future",
    "shutdown",
    "when_all",
    "when_any",
]

_connect_from_env()
