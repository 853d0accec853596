"""The connection to a dask.distributed cluster: one client per process.

``hpyx.init(cluster=...)`` takes an address (hpyx creates, owns and later
closes its ``distributed.Client``) or an existing ``Client`` (the caller
keeps owning it). ``HPYX_CLUSTER=tcp://host:port`` names an address that is
connected on first use. Inside a worker's task the worker's own client is
used. dask.distributed is imported here, on first use, never by
``import hpyx``.
"""

from __future__ import annotations

import threading

from . import _errors

# How long connecting to an address may take before it fails (seconds).
CONNECT_TIMEOUT = 30


def import_distributed():
    """The ``distributed`` package, or an ImportError that names it."""
    try:
        import distributed
    except ImportError as error:
        raise _errors.missing_distributed(error) from error
    return distributed


class Connection:
    """The process's client of the cluster, connected on first use."""

    def __init__(self, target):
        """``target``: an address, a ``distributed.Client``, or None for the
        client of the dask worker this process is."""
        self.target = target
        self.owns_client = isinstance(target, str)
        self._client = None if target is None or self.owns_client else target
        self._lock = threading.Lock()

    @property
    def client(self):
        client = self._client
        if client is None:
            with self._lock:
                client = self._client
                if client is None:
                    client = self._client = self._connect()
        return client

    def _connect(self):
        distributed = import_distributed()
        if self.target is None or _in_a_worker(distributed):
            # (HPYX_CLUSTER set for the workers too: they use their own client.)
            return distributed.get_client()
        try:
            return distributed.Client(self.target, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise _errors.ClusterError(
                "cannot connect to the dask scheduler at %s: %s" % (self.target, error)
            ) from error

    @property
    def address(self):
        if self._client is not None:
            return self._client.scheduler.address
        return self.target if isinstance(self.target, str) else "<worker's scheduler>"

    def check_running(self):
        """Raises ClusterError unless the client talks to its scheduler."""
        status = self.client.status
        if status != "running":
            raise _errors.connection_lost(self.address, "the client is %s" % status)

    def close(self):
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self.owns_client:
            client.close()

    def same_target(self, target):
        return target is self.target or (isinstance(target, str) and target == self.target)


def _in_a_worker(distributed):
    try:
        distributed.get_worker()
    except ValueError:
        return False
    return True
