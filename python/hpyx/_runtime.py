"""The process-global runtime: init, shutdown, auto-init, atexit, fork."""

from __future__ import annotations

import atexit
import os
from typing import TYPE_CHECKING, Any, Literal

from . import _core

if TYPE_CHECKING:
    from collections.abc import Iterable

# The cluster backend while hpyx runs on a dask.distributed cluster
# (`hpyx._cluster`), else None.
_cluster: Any = None


def init(
    *, os_threads: int | None = None, cfg: Iterable[str] | None = None, cluster: Any = None
) -> None:
    """Starts hpyx's process-global worker pool.

    Idempotent with the same arguments. Any API that needs the pool starts it
    on first use anyway (``HPYX_OS_THREADS`` sets its size there;
    ``HPYX_AUTOINIT=0`` turns auto-init off).

    Args:
        os_threads: The number of worker threads; None means the value of
            ``HPYX_OS_THREADS``, else ``os.cpu_count()``.
        cfg: A list of ``"key=value"`` engine settings: ``stack_size``
            (bytes per worker), ``max_help_depth`` (nested blocking waits
            per worker), ``thread_name`` (worker name prefix).
        cluster: A dask.distributed scheduler address (``"tcp://host:8786"``)
            or ``distributed.Client``: hpyx's runtime becomes that cluster
            and every task runs on its workers (``HPYX_CLUSTER`` sets the
            address for auto-init). Needs the ``distributed`` package.

    Raises:
        RuntimeError: If the pool already runs with different settings, or
            was shut down.
        ValueError: If ``os_threads`` is not positive or ``cfg`` has an
            unknown key or a bad value.
    """
    if cluster is not None:
        from ._cluster import connect

        connect(cluster)
        return
    _core.init(os_threads=os_threads, cfg=None if cfg is None else list(cfg))


def shutdown() -> None:
    """Drains and stops the worker pool: every queued task runs first.

    The pool cannot be restarted afterwards: every later call that needs it
    raises ``RuntimeError``. Normally ``atexit`` calls this for you. In
    cluster mode it disconnects from the cluster instead (closing the client
    hpyx created) and hpyx runs locally again.
    """
    if _cluster is not None:
        from ._cluster import disconnect

        disconnect()
        return
    _core.shutdown()


def is_running() -> bool:
    """Returns True while the worker pool runs (or hpyx runs on a cluster)."""
    return _cluster is not None or _core.is_running()


class HPXRuntime:
    """Context manager that starts the pool on entry (``init``).

    Exit does not stop the runtime: it cannot be restarted in-process, so
    ``atexit`` owns its teardown.

    Example:
        >>> import hpyx
        >>> with hpyx.HPXRuntime():
        ...     hpyx.async_(sum, [1, 2]).result()
        3
    """

    def __init__(self, os_threads: int | None = None, cfg: Iterable[str] | None = None) -> None:
        self._os_threads = os_threads
        self._cfg = cfg

    def __enter__(self) -> HPXRuntime:
        init(os_threads=self._os_threads, cfg=self._cfg)
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> Literal[False]:
        return False


def _connect_from_env() -> None:
    """``HPYX_CLUSTER=tcp://host:port``: cluster mode, connected on first use."""
    address = os.environ.get("HPYX_CLUSTER")
    if address:
        from ._cluster import connect

        connect(address, lazy=True)


# at_exit: from now on an executor refuses new work with the stdlib's words
# for the interpreter's exit.
atexit.register(_core.shutdown, at_exit=True)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_core._before_fork, after_in_child=_core._after_fork_in_child)
