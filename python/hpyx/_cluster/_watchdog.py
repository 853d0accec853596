"""The watchdog: a hung scheduler fails pending results instead of hanging.

dask.distributed fails pending futures when its connection to the scheduler
closes, but a scheduler that stops answering without closing it (a stopped
process, a frozen machine, a silent network) leaves them pending forever:
the operating system keeps the connection open. While nodes are on the
cluster, the watchdog asks the scheduler for its identity every few seconds;
if an answer takes longer than ``HPYX_CLUSTER_TIMEOUT`` seconds (60 by
default), every pending node fails with a ``ClusterError`` naming the
scheduler's address, waiting ``result()`` calls included, and new batches
fail at once until the scheduler answers again.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
import threading

from ._errors import ClusterError

# Seconds a scheduler may take to answer before it counts as hung.
DEFAULT_TIMEOUT = 60.0
# The longest pause between two questions (seconds).
MAX_INTERVAL = 5.0


def configured_timeout():
    """``HPYX_CLUSTER_TIMEOUT`` in seconds (``DEFAULT_TIMEOUT`` if unset).

    Raises:
        ValueError: If it is not a positive, finite number.
    """
    text = os.environ.get("HPYX_CLUSTER_TIMEOUT")
    if text is None or not text.strip():
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            "HPYX_CLUSTER_TIMEOUT must be a positive number of seconds "
            "(how long the dask scheduler may take to answer), not %r" % text
        )
    return value


class Watchdog:
    """Watches one connection's scheduler while nodes are on the cluster."""

    def __init__(self, connection):
        self._connection = connection
        # Nodes sent and not completed, by task key.
        self.sent = {}
        # Completed with the ClusterError while the scheduler is hung.
        self.alarm = cf.Future()
        self.timeout = None
        self._fetching = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = None

    def check(self):
        """Raises the ClusterError if the scheduler is hung, or ValueError
        for a bad ``HPYX_CLUSTER_TIMEOUT``; starts watching on first use."""
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._closed:
                    self.timeout = configured_timeout()
                    self._thread = threading.Thread(
                        target=self._watch, name="hpyx-cluster-watchdog", daemon=True
                    )
                    self._thread.start()
        alarm = self.alarm
        if alarm.done():
            raise alarm.result()

    def track(self, futures):
        """``futures`` were just sent to the cluster."""
        sent = self.sent
        for future in futures:
            sent[future._key] = future

    def fetch(self, dfut, client, timeout):
        """The value of finished task ``dfut``, brought through ``client``;
        a hung scheduler fails it with the ClusterError."""
        import asyncio

        self.check()
        with self._lock:
            self._fetching += 1
            alarm = self.alarm
        try:
            gather = asyncio.run_coroutine_threadsafe(dfut._result(), client.loop.asyncio_loop)
            done, _ = cf.wait([gather, alarm], timeout, return_when=cf.FIRST_COMPLETED)
            if gather in done:
                return gather.result()
            gather.cancel()
            if alarm in done:
                raise alarm.result()
            raise TimeoutError()  # as concurrent.futures.Future.result
        finally:
            with self._lock:
                self._fetching -= 1

    def close(self):
        self._closed = True
        self._wake.set()

    # -- the watching thread ----------------------------------------------------

    def _watch(self):
        interval = min(self.timeout, MAX_INTERVAL)
        while True:
            self._wake.wait(interval)
            self._wake.clear()
            if self._closed:
                return
            if not (self.sent or self._fetching or self.alarm.done()):
                continue
            answered = self._ask()
            if answered is None:
                continue
            if answered:
                if self.alarm.done():
                    with self._lock:
                        self.alarm = cf.Future()
            elif not self.alarm.done():
                self._declare_hung()

    def _ask(self):
        """True if the scheduler answered in time, False if not, None if
        the client is not connected (dask itself reports that)."""
        try:
            client = self._connection.client
            if client.status != "running":
                return None
            client.sync(client.scheduler.identity, callback_timeout=self.timeout)
        except TimeoutError:
            return False
        except Exception:
            return None
        return True

    def _declare_hung(self):
        error = ClusterError(
            "the dask scheduler at %s did not answer for %g s (HPYX_CLUSTER_TIMEOUT): "
            "it is hung or unreachable; the task's result is gone"
            % (self._connection.address, self.timeout)
        )
        with self._lock:
            self.alarm.set_result(error)
        for key in list(self.sent):
            future = self.sent.pop(key, None)
            if future is not None:
                future._fail(error)
