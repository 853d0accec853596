"""Seeing cluster nodes on a real cluster: ``debug.record()``, its DOT and
JSON exports, JSONL tracing and ``progress()`` show each node by its task
key, with its edges, its state, the worker that ran it and its run's times."""

from __future__ import annotations

import io
import json
import re

import pytest
from _cluster_helpers import add, fail, inc
from conftest import WAIT

import hpyx

TOPIC = "hpyx-task-ran"


def _workers(client):
    return set(client.scheduler_info()["workers"])


def _small_dag():
    """a, b -> c -> d; c, d -> e. Returns the futures by letter."""
    a = hpyx.async_(inc, 1)
    b = hpyx.async_(inc, 2)
    c = hpyx.dataflow(add, a, b)
    d = c.then(inc)
    e = hpyx.when_all([c, d])
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


# The edges of `_small_dag`, input to dependent.
EDGES = {("a", "c"), ("b", "c"), ("c", "d"), ("c", "e"), ("d", "e")}


def _run_recorded():
    with hpyx.debug.record() as rec:
        futures = _small_dag()
        assert futures["e"].result(timeout=WAIT) == (5, 6)
    return rec, futures


def test_a_recording_names_every_cluster_node_by_its_key_with_its_edges_and_worker(
    on_cluster,
):
    rec, futures = _run_recorded()
    snap = rec.snapshot()
    letter_of = {f._node.id: letter for letter, f in futures.items()}
    nodes = {n["id"]: n for n in snap.nodes() if n["id"] in letter_of}
    assert len(nodes) == len(futures)
    for node_id, node in nodes.items():
        future = futures[letter_of[node_id]]
        assert re.fullmatch(r"\w+-[0-9a-f]{32}", future.key)
        assert node["name"] == future.key
        assert node["state"] == "succeeded"
        assert node["worker_address"] in _workers(on_cluster)
        assert node["started_ns"] is not None
        assert node["started_ns"] <= node["finished_ns"]
    edges = {
        (letter_of[a], letter_of[b]) for a, b in snap.edges() if a in letter_of and b in letter_of
    }
    assert edges == EDGES


def test_the_dot_export_of_a_cluster_recording_has_keys_edges_and_workers(on_cluster):
    rec, futures = _run_recorded()
    dot = rec.to_dot()
    for future in futures.values():
        assert 'label="%s"' % future.key in dot
    ids = {letter: f._node.id for letter, f in futures.items()}
    for a, b in EDGES:
        assert "n%d -> n%d" % (ids[a], ids[b]) in dot
    shown = set(re.findall(r"worker (tcp://127\.0\.0\.1:\d+)", dot))
    assert shown and shown <= _workers(on_cluster)


def test_the_json_export_of_a_cluster_recording_has_keys_edges_and_workers(on_cluster):
    rec, futures = _run_recorded()
    export = json.loads(rec.to_json())
    assert export["schema"] == "hpyx.graph/1"
    by_id = {n["id"]: n for n in export["nodes"]}
    for future in futures.values():
        node = by_id[future._node.id]
        assert node["name"] == future.key
        assert node["worker_address"] in _workers(on_cluster)
    ids = {letter: f._node.id for letter, f in futures.items()}
    edges = {(e["from"], e["to"]) for e in export["edges"]}
    assert {(ids[a], ids[b]) for a, b in EDGES} <= edges


def test_a_trace_names_each_cluster_task_with_the_worker_that_ran_it(on_cluster, tmp_path):
    path = tmp_path / "trace.jsonl"
    hpyx.debug.enable_tracing(path)
    try:
        futures = _small_dag()
        assert futures["e"].result(timeout=WAIT) == (5, 6)
        bad = hpyx.async_(fail, "boom")
        after_bad = bad.then(inc)
        with pytest.raises(KeyError):
            after_bad.result(timeout=WAIT)
    finally:
        hpyx.debug.disable_tracing()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    by_name = {}
    for line in lines:
        by_name.setdefault(line["name"], []).append(line)
    for future in futures.values():
        (line,) = by_name[future.key]
        assert line["node_id"] == future._node.id
        assert line["state"] == "succeeded"
        assert line["worker_address"] in _workers(on_cluster)
        assert line["duration_ns"] >= 0
    (line,) = by_name[bad.key]
    assert line["state"] == "failed"
    assert line["worker_address"] in _workers(on_cluster)
    # Its dependent never ran on a worker: traced, without an address.
    (line,) = by_name[after_bad.key]
    assert line["state"] == "failed"
    assert "worker_address" not in line


def test_progress_over_cluster_futures_reaches_the_total(on_cluster):
    futures = [hpyx.async_(inc, i) for i in range(6)]
    futures.append(hpyx.when_all(futures[:3]))
    out = io.StringIO()
    done = hpyx.debug.progress(futures, file=out, interval=0.05)
    assert all(f.done() for f in done)
    assert "7/7" in out.getvalue()
    assert [f.result(timeout=WAIT) for f in futures[:3]] == [1, 2, 3]


def test_unwatched_cluster_tasks_report_nothing(on_cluster):
    before = len(on_cluster.get_events(TOPIC))
    assert hpyx.dataflow(add, hpyx.async_(inc, 1), 2).result(timeout=WAIT) == 4
    with hpyx.debug.record():
        assert hpyx.async_(inc, 1).result(timeout=WAIT) == 2
    assert len(on_cluster.get_events(TOPIC)) == before + 1


def test_the_chrome_trace_of_a_cluster_recording_has_a_track_per_worker(on_cluster):
    rec, futures = _run_recorded()
    events = json.loads(rec.to_chrome_trace())["traceEvents"]
    tracks = {
        e["tid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"
    }
    keys = {f.key for f in futures.values()}
    slices = [e for e in events if e["ph"] == "X" and e["name"] in keys]
    assert {e["name"] for e in slices} == keys
    for e in slices:
        address = tracks[e["tid"]].removeprefix("worker ")
        assert address in _workers(on_cluster)
