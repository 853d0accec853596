"""hpyx's own views of a dask computation (``debug.record()``, its exports
and JSONL tracing) show each task as a node named by its dask key, with
an edge from each key to the tasks that need it."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("dask", reason="hpyx.dask needs dask installed")

import hpyx.debug
from hpyx.dask import get


def inc(x):
    return x + 1


def add(x, y):
    return x + y


DSK = {"x": 1, ("y", 0): (inc, "x"), "w": (add, ("y", 0), "x"), "unused": (inc, 5)}


def test_a_recording_shows_the_tasks_by_key_with_their_edges():
    with hpyx.debug.record() as recording:
        assert get(DSK, "w") == 3
    graph = json.loads(recording.to_json())
    names = {node["id"]: node["name"] for node in graph["nodes"]}
    edges = {(names[e["from"]], names[e["to"]]) for e in graph["edges"]}
    assert {"x", "('y', 0)", "w"} <= set(names.values())
    # dask computes only what the requested keys need.
    assert "unused" not in names.values()
    assert {("x", "('y', 0)"), ("x", "w"), ("('y', 0)", "w")} <= edges
    states = {node["name"]: node["state"] for node in graph["nodes"]}
    assert states["w"] == states["('y', 0)"] == "succeeded"
    assert "label=\"('y', 0)\"" in recording.to_dot()


def test_a_trace_has_one_line_per_task_named_by_its_key(tmp_path):
    path = tmp_path / "trace.jsonl"
    hpyx.debug.enable_tracing(path)
    try:
        assert get(DSK, "w") == 3
    finally:
        hpyx.debug.disable_tracing()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    ran = {line["name"]: line["state"] for line in lines}
    assert ran["('y', 0)"] == ran["w"] == "succeeded"
    assert "unused" not in ran
