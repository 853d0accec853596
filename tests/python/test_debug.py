"""hpyx.debug: recording, DOT/JSON/Chrome-trace export, rendering, progress.

DOT is validated with Graphviz's `dot -Tsvg` (installed by scripts/setup.sh;
a missing `dot` fails these tests rather than skipping them).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import threading
import time

import pytest
from conftest import WAIT
from fresh_interpreter import check_py

import hpyx

# Tracing, recording and the progress hooks are process-global.
pytestmark = pytest.mark.thread_unsafe(reason="tracing and recording are process-global")

ODD_NAMES = [
    'quote " in it',
    "back\\slash",
    "new\nline",
    "<angle> & {braces}",
    "ünïcødé ✓ 日本",
    "",
    "semi;colon -> arrow [x=1]",
]


def dot_accepts(text):
    dot = shutil.which("dot")
    assert dot, "Graphviz's dot is not installed (scripts/setup.sh installs it)"
    out = subprocess.run([dot, "-Tsvg"], input=text.encode(), capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    assert b"<svg" in out.stdout
    return out.stdout


def inc(x):
    return x + 1


def merge(a, b):
    return a + b


def fail(x):
    raise KeyError(x)


def test_recording_keeps_nodes_edges_and_states():
    with hpyx.debug.record() as rec:
        a = hpyx.async_(inc, 1)
        b = hpyx.async_(hpyx.named("second", inc), 2)
        c = hpyx.dataflow(merge, a, b)
        bad = c.then(fail)
        assert c.result(timeout=WAIT) == 5
        assert isinstance(bad.exception(timeout=WAIT), KeyError)
    assert len(rec) == 4
    snap = rec.snapshot()
    nodes = {n["id"]: n for n in snap.nodes()}
    by_name = {n["name"]: n for n in nodes.values()}
    assert set(by_name) == {"inc", "second", "merge", "fail"}
    assert by_name["merge"]["state"] == "succeeded"
    assert by_name["fail"]["state"] == "failed"
    assert by_name["fail"]["error_type"] == "KeyError"
    edges = {(nodes[a]["name"], nodes[b]["name"]) for a, b in snap.edges()}
    assert edges == {("inc", "merge"), ("second", "merge"), ("merge", "fail")}
    for n in nodes.values():
        assert n["created_ns"] <= n["started_ns"] <= n["finished_ns"]
        assert 0 <= n["worker"] < hpyx.debug.get_num_worker_threads()


def test_nodes_created_after_stop_are_not_recorded():
    rec = hpyx.debug.record()
    hpyx.async_(inc, 1).result(timeout=WAIT)
    rec.stop()
    hpyx.async_(inc, 2).result(timeout=WAIT)
    assert len(rec) == 1


def test_to_dot_labels_colours_and_failure_type():
    with hpyx.debug.record() as rec:
        ok = hpyx.async_(inc, 1)
        bad = ok.then(fail)
        bad.exception(timeout=WAIT)
    text = rec.to_dot()
    assert text.lstrip().startswith("digraph")
    assert 'label="inc"' in text
    assert "KeyError" in text
    assert text.count("->") == 1
    dot_accepts(text)


def test_cancelled_node_is_shown_cancelled():
    gate = hpyx.Future()
    with hpyx.debug.record() as rec:
        waiting = hpyx.dataflow(inc, gate)
        assert waiting.cancel()
    gate.set_result(1)
    states = {n["name"]: n["state"] for n in rec.snapshot().nodes()}
    assert states == {"inc": "cancelled"}
    dot_accepts(rec.to_dot())


@pytest.mark.parametrize("name", ODD_NAMES)
def test_any_name_gives_valid_dot(name):
    with hpyx.debug.record() as rec:
        f = hpyx.async_(hpyx.named(name, inc), 1).then(hpyx.named(name, fail))
        f.exception(timeout=WAIT)
    dot_accepts(rec.to_dot())
    dot_accepts(rec.to_dot(collapse=True))
    exported = json.loads(rec.to_json())
    assert {n["name"] for n in exported["nodes"]} == {name}


def test_json_schema():
    with hpyx.debug.record() as rec:
        a = hpyx.async_(inc, 1)
        b = a.then(fail)
        b.exception(timeout=WAIT)
    data = json.loads(rec.to_json())
    assert data["schema"] == "hpyx.graph/1"
    assert len(data["nodes"]) == 2 and len(data["edges"]) == 1
    for node in data["nodes"]:
        assert set(node) >= {
            "id",
            "name",
            "state",
            "created_ns",
            "started_ns",
            "finished_ns",
            "worker",
            "error_type",
        }
    failed = [n for n in data["nodes"] if n["state"] == "failed"]
    assert failed[0]["error_type"] == "KeyError"
    ids = {n["id"] for n in data["nodes"]}
    assert {data["edges"][0]["from"], data["edges"][0]["to"]} == ids


def test_chrome_trace_one_track_per_worker():
    with hpyx.debug.record() as rec:
        hpyx.when_all([hpyx.async_(inc, i) for i in range(50)]).result(timeout=WAIT)
    trace = json.loads(rec.to_chrome_trace())
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    complete = [e for e in events if e.get("ph") == "X"]
    assert len(complete) == 51
    workers = {e["tid"] for e in complete}
    names = {
        e["args"]["name"] for e in events if e.get("ph") == "M" and e.get("name") == "thread_name"
    }
    assert len(names) >= len(workers)
    assert all(e["dur"] >= 0 for e in complete)


def test_render_svg_and_png(tmp_path):
    with hpyx.debug.record() as rec:
        hpyx.async_(inc, 1).then(inc).result(timeout=WAIT)
    svg = rec.render()
    assert b"<svg" in svg
    path = rec.render(tmp_path / "graph.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="svg"):
        rec.render(format="gif")


def test_render_without_graphviz_names_the_program():
    proc = check_py(
        """
        import hpyx
        with hpyx.debug.record() as rec:
            hpyx.async_(abs, -1).result(timeout=30)
        try:
            rec.render()
        except FileNotFoundError as e:
            print("ERR", e)
        """,
        env={"PATH": "/nonexistent"},
    )
    assert "ERR" in proc.stdout and "dot" in proc.stdout and "Graphviz" in proc.stdout


def test_ancestry_of_a_pending_future():
    gate = hpyx.Future()
    a = hpyx.dataflow(inc, gate)
    b = a.then(inc)
    snap = hpyx.debug.snapshot(b)
    assert {n["name"] for n in snap.nodes()} == {"Future", "inc"}
    assert len(snap.edges()) == 2
    dot_accepts(hpyx.debug.to_dot(b))
    gate.set_result(1)
    assert b.result(timeout=WAIT) == 3


def test_large_graph_export_is_iterative():
    # 100,000 nodes in a chain: export on a small stack must not recurse.
    n = 100_000
    with hpyx.debug.record() as rec:
        f = hpyx.ready_future(0)
        for _ in range(n - 1):
            f = f.then(inc)
        assert f.result(timeout=120) == n - 1
    out = {}

    def export():
        t0 = time.perf_counter()
        out["dot"] = rec.to_dot()
        out["seconds"] = time.perf_counter() - t0
        out["collapsed"] = rec.to_dot(collapse=True)

    threading.stack_size(512 * 1024)
    try:
        t = threading.Thread(target=export)
        t.start()
        t.join(120)
    finally:
        threading.stack_size(0)
    assert out["dot"].count("->") == n - 1
    print("to_dot of %d nodes: %.2f s" % (n, out["seconds"]))
    dot_accepts(out["collapsed"])


def test_snapshot_consistent_while_running():
    # No snapshot may show a node started while one of its inputs is not
    # finished.
    started = {"running", "succeeded", "failed", "cancelled"}
    finished = {"succeeded", "failed", "cancelled"}
    with hpyx.debug.record() as rec:
        layer = [hpyx.ready_future(i) for i in range(20)]
        for _ in range(30):
            layer = [hpyx.dataflow(merge, layer[i], layer[(i + 1) % 20]) for i in range(20)]
        final = hpyx.when_all(layer)
        for _ in range(20):
            snap = rec.snapshot()
            state = {n["id"]: n["state"] for n in snap.nodes()}
            for a, b in snap.edges():
                if state[b] in started:
                    assert state[a] in finished, (state[a], state[b])
        final.result(timeout=WAIT)


def test_progress_plain_line(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name == "tqdm":
            raise ImportError("no tqdm here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    buf = io.StringIO()
    futures = [hpyx.async_(inc, i) for i in range(1000)]
    done = hpyx.debug.progress(futures, file=buf)
    assert done == futures and all(f.done() for f in futures)
    assert buf.getvalue().endswith("1000/1000 tasks done (100%)\n")


def test_progress_tqdm():
    import tqdm  # noqa: F401  (a test dependency: scripts/setup.sh installs it)

    buf = io.StringIO()
    futures = [hpyx.async_(inc, i) for i in range(1000)]
    hpyx.debug.progress(futures, file=buf, desc="work")
    assert "work" in buf.getvalue() and "1000/1000" in buf.getvalue()


# --- traces ---------------------------------------------------------------------


def test_enable_tracing_writes_one_line_per_finished_task(tmp_path):
    path = tmp_path / "trace.jsonl"
    hpyx.debug.enable_tracing(path)
    try:
        ok = [hpyx.async_(hpyx.named("traced", inc), i) for i in range(200)]
        bad = hpyx.async_(fail, 1)
        gate = hpyx.Future()
        cancelled = hpyx.dataflow(inc, gate)
        assert cancelled.cancel()
        hpyx.when_all(ok).result(timeout=WAIT)
        bad.exception(timeout=WAIT)
    finally:
        hpyx.debug.disable_tracing()
    gate.set_result(0)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    by_id = {r["node_id"]: r for r in records}
    assert len(by_id) == len(records)
    fields = {"name", "node_id", "worker_thread_id", "start_ns", "duration_ns", "state"}
    assert all(set(r) == fields for r in records)
    traced = [r for r in records if r["name"] == "traced"]
    assert len(traced) == 200
    assert all(r["state"] == "succeeded" for r in traced)
    workers = hpyx.debug.get_num_worker_threads()
    assert all(0 <= r["worker_thread_id"] < workers for r in traced)
    assert all(r["duration_ns"] >= 0 and r["start_ns"] > 0 for r in records)
    assert [r["state"] for r in records if r["name"] == "fail"] == ["failed"]
    assert (
        next(r for r in records if r["name"] == "inc" and r["state"] == "cancelled")[
            "worker_thread_id"
        ]
        == -1
    )
    # Off again: nothing more is written.
    size = path.stat().st_size
    hpyx.async_(inc, 1).result(timeout=WAIT)
    assert path.stat().st_size == size


def test_trace_path_env_traces_a_whole_script(tmp_path):
    path = tmp_path / "env-trace.jsonl"
    check_py(
        """
        import hpyx
        fs = [hpyx.async_(abs, -i) for i in range(100)]
        hpyx.when_all(fs).then(sum).result(timeout=30)
        """,
        env={"HPYX_TRACE_PATH": str(path)},
    )
    # Written by the atexit shutdown, which flushes the file.
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(r["name"] for r in records).count("abs") == 100
    assert {"when_all", "sum"} <= {r["name"] for r in records}


def test_tracing_to_a_bad_path_is_a_clear_error(tmp_path):
    with pytest.raises(OSError, match="trace file"):
        hpyx.debug.enable_tracing(tmp_path / "missing-dir" / "t.jsonl")


def test_a_failing_trace_writer_is_reported_and_scheduling_goes_on():
    proc = check_py(
        """
        import hpyx
        hpyx.debug.enable_tracing("/dev/full")
        fs = [hpyx.async_(abs, -i) for i in range(20000)]
        assert hpyx.when_all(fs).then(sum).result(timeout=60) == sum(range(20000))
        hpyx.debug.disable_tracing()
        print("done")
        """
    )
    assert "done" in proc.stdout
    assert "trace" in proc.stderr


def test_a_raising_progress_display_is_logged_and_the_wait_goes_on(caplog):
    class Broken(io.StringIO):
        def write(self, text):
            raise OSError("display gone")

    futures = [hpyx.async_(inc, i) for i in range(100)]
    with caplog.at_level("ERROR", logger="hpyx"):
        assert hpyx.debug.progress(futures, file=Broken()) == futures
    assert all(f.done() for f in futures)
    assert "progress bar failed" in caplog.text
