"""Seeing cluster nodes: recordings and task traces.

A cluster node is a promise in this process; its task runs in a worker
process. The promise gives a recording or a trace the node's state; what
only the cluster knows is added here: the node's task key (its name in
exports), its edges to its inputs, and where and when it ran.

Nodes created while a recording is active or tracing is on are *observed*:
their task runs wrapped (``_task.run_observed``), and the wrapper reports
``(key, worker address, start, end)`` on the dask event topic ``TOPIC``,
which this process's client subscribes to. Unobserved nodes run unwrapped,
so cluster mode costs nothing while no one looks.

Worker times are wall-clock nanoseconds; they are moved onto this process's
graph clock as they arrive (exact on one machine, as good as the machines'
clock sync across machines).
"""

from __future__ import annotations

import threading
import time
import weakref

from .. import _core

# The dask event topic of finished observed tasks.
TOPIC = "hpyx-task-ran"

_LOCK = threading.Lock()
# Recordings still taking new nodes.
_recording: weakref.WeakSet[ClusterRecord] = weakref.WeakSet()
# Recordings still taking reports (stopped ones too, while they live).
_listening: weakref.WeakSet[ClusterRecord] = weakref.WeakSet()
# Traced nodes whose run was not reported yet: key -> node id.
_traced: dict[str, int] = {}
# Clients subscribed to TOPIC.
_subscribed: weakref.WeakSet[object] = weakref.WeakSet()


class ClusterRecord:
    """The cluster nodes one recording saw, and their reported runs."""

    def __init__(self):
        self.keys = {}  # node id -> task key
        self.edges = []  # (input id, dependent id)
        self.runs = {}  # node id -> (start_ns, end_ns, worker address)
        self._ids = {}  # task key -> node id

    def stop(self):
        with _LOCK:
            _recording.discard(self)

    def annotate(self, snapshot):
        """``snapshot`` (of this recording) with its cluster nodes completed."""
        with _LOCK:
            if not self.keys and not self.edges:
                return snapshot
            nodes = [
                (node_id, key, *self.runs.get(node_id, (None, None, None)))
                for node_id, key in self.keys.items()
            ]
            edges = list(self.edges)
        return snapshot.with_cluster_nodes(nodes, edges)

    def _add(self, node_id, key, inputs):
        if key is not None:
            self.keys[node_id] = key
            self._ids[key] = node_id
        self.edges.extend((input_id, node_id) for input_id in inputs)

    def _ran(self, key, run):
        node_id = self._ids.get(key)
        if node_id is not None:
            self.runs[node_id] = run


def start_recording():
    """A ClusterRecord for a recording that starts now."""
    record = ClusterRecord()
    with _LOCK:
        _recording.add(record)
        _listening.add(record)
    return record


def watching():
    """True if nodes created now are observed."""
    return bool(_recording) or _core.is_tracing()


def node_made(future, key, inputs):
    """Notes the node of ``future`` (task ``key``, or None for a node that
    runs no task) and its input futures, for the active recordings and the
    trace. True if its task must report its run."""
    from .._future import Future

    node_id = future._node.id
    input_ids = [f._node.id for f in inputs if isinstance(f, Future)]
    with _LOCK:
        for record in _recording:
            record._add(node_id, key, input_ids)
        if key is not None and _core._trace_cluster_node(node_id, key):
            _traced[key] = node_id
    return key is not None


def subscribe(client):
    """Makes ``client`` receive the reports of observed tasks (once)."""
    with _LOCK:
        if client in _subscribed:
            return
        _subscribed.add(client)
    client.subscribe_topic(TOPIC, _on_report)


def _on_report(event):
    """A worker's report of an observed task (on the client's event loop)."""
    _, report = event
    try:
        key = report["key"]
        start, end, address = int(report["start"]), int(report["end"]), str(report["worker"])
    except (TypeError, KeyError, ValueError):
        return  # not hpyx's report
    # Wall clock -> this process's graph clock.
    offset = time.time_ns() - _core.clock_ns()
    start = max(0, start - offset)
    end = max(start, end - offset)
    run = (start, end, address)
    with _LOCK:
        for record in _listening:
            record._ran(key, run)
        node_id = _traced.pop(key, None)
    if node_id is not None:
        _core._trace_cluster_run(node_id, start, end, address)


def forget_traced():
    """Tracing stopped: no trace line waits for a report any more."""
    with _LOCK:
        _traced.clear()
