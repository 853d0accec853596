"""Graph shapes of any size, with O(1) stack.

A ``.then`` chain 100,000 long, a ``when_all`` over 1,000,000 futures, one
future with 100,000 continuations and lazy DAGs of 100,000 nodes must
complete without recursion-depth errors or stack overflow. The Python side
of each test -- building, resolving, waiting, exporting and dropping the
graph -- runs on a thread with a 256 KiB stack,
so anything recursive in the glue or the engine on that thread overflows
it; the workers' side is Rust and iterative. They run in a subprocess, so
a stack overflow fails one test instead of killing the test run.
"""

from __future__ import annotations

import pytest
from fresh_interpreter import assert_clean_exit, describe, run_py

WAIT = 30.0

# Runs fn(*args) on a thread with a 256 KiB stack; re-raises its exception.
_SMALL_STACK = """
import gc, sys, threading, time
import hpyx

def in_small_stack(fn, *args):
    box = {}
    def target():
        try:
            box["value"] = fn(*args)
        except BaseException as e:
            box["error"] = e
    old = threading.stack_size(256 * 1024)
    try:
        thread = threading.Thread(target=target)
        thread.start()
    finally:
        threading.stack_size(old)
    thread.join(200)
    assert not thread.is_alive(), "the small-stack thread hung"
    if "error" in box:
        raise box["error"]
    return box.get("value")

def inc(v):
    return v + 1
"""


def _run(body, timeout=240):
    proc = run_py(_SMALL_STACK + body, timeout=timeout)
    assert_clean_exit(proc)
    assert "ok" in proc.stdout.split(), describe(proc)
    return proc


# -- a .then chain 100,000 long ----------------------------------------------------


def test_then_chain_100k_built_before_root_resolves():
    _run(
        """
N = 100_000

def build_then_resolve():
    root = hpyx.Future()
    f = root
    for _ in range(N):
        f = f.then(inc)
    assert not f.done()
    root.set_result(0)
    value = f.result(timeout=120)
    del f, root            # drop the whole (finished) chain on this thread
    gc.collect()
    return value

assert in_small_stack(build_then_resolve) == N
print("ok")
"""
    )


def test_then_chain_100k_built_on_ready_futures():
    _run(
        """
N = 100_000

def build_on_ready():
    f = hpyx.ready_future(0)
    for _ in range(N):
        f = f.then(inc)    # each link may already be done when the next is added
    return f.result(timeout=120)

def build_all_kept():
    # Every link kept alive, then all dropped at once.
    chain = [hpyx.ready_future(0)]
    for _ in range(N):
        chain.append(chain[-1].then(inc))
    values = [chain[i].result(timeout=120) for i in (0, N // 2, N)]
    del chain
    gc.collect()
    return values

assert in_small_stack(build_on_ready) == N
assert in_small_stack(build_all_kept) == [0, N // 2, N]
print("ok")
"""
    )


def test_then_chain_100k_failure_and_abandoned_root_propagate():
    _run(
        """
N = 100_000

class Boom(Exception):
    pass

def failing_root():
    root = hpyx.Future()
    f = root
    for _ in range(N):
        f = f.then(inc)
    error = Boom("root failed")
    root.set_exception(error)
    # The very same exception object reaches the end of the chain.
    assert f.exception(timeout=120) is error
    return True

def abandoned_root():
    # The only handle on the root promise goes away unresolved: the chain
    # must not hang forever, and dropping it must not recurse.
    root = hpyx.Future()
    f = root
    for _ in range(N):
        f = f.then(inc)
    del root
    gc.collect()
    exc = f.exception(timeout=120)
    assert isinstance(exc, Exception), exc
    return type(exc).__name__

assert in_small_stack(failing_root) is True
print("abandoned:", in_small_stack(abandoned_root))
print("ok")
"""
    )


# -- a 1,000,000-wide when_all; 100,000 continuations on one future -------------------


def test_when_all_1m_mixed_futures_and_memory_returns():
    proc = _run(
        """
import ctypes, os

libc = ctypes.CDLL("libc.so.6")

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
    ).split()]

libc.mallinfo2.restype = MallInfo2

def malloc_in_use():            # bytes malloc has handed out (all arenas)
    m = libc.mallinfo2()
    return m.uordblks + m.hblkhd

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE")

N = 1_000_000
MB = 2 ** 20

def one_round(n):
    futures, promises = [], []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            futures.append(hpyx.ready_future(i))      # ready
        elif kind == 1:
            futures.append(hpyx.async_(int, i))       # running / queued
        else:
            p = hpyx.Future()                          # pending until below
            promises.append((p, i))
            futures.append(p)
    everything = hpyx.when_all(futures)
    assert not everything.done()
    for p, i in promises:
        p.set_result(i)
    del promises
    values = everything.result(timeout=120)
    assert len(values) == n and values[:4] == (0, 1, 2, 3) and values[-1] == n - 1
    assert sum(values) == n * (n - 1) // 2
    peak = (rss(), malloc_in_use(), sys.getallocatedblocks())
    del values, futures, everything
    gc.collect()
    return peak

in_small_stack(one_round, 10_000)       # warm up (pool, caches)


def release():
    # Freed memory back to the OS: hpyx's Rust allocations live in mimalloc
    # (the extension's allocator), Python's in glibc/pymalloc (3.11).
    gc.collect()
    hpyx._core._release_memory()
    libc.malloc_trim(0)
    return rss()


gc.collect()
base = (release(), sys.getallocatedblocks())
peak = in_small_stack(one_round, N)
after = (release(), sys.getallocatedblocks())
peak2 = in_small_stack(one_round, N)
after2 = (release(), sys.getallocatedblocks())
print("rss MB: base %.0f peak %.0f released %.0f peak2 %.0f released2 %.0f"
      % (base[0] / MB, peak[0] / MB, after[0] / MB, peak2[0] / MB, after2[0] / MB))
print("python blocks: base %d peak %d after %d after2 %d" % (base[1], peak[1], after[1], after2[1]))

# The round really used memory.
assert peak[0] - base[0] > 100 * MB
# Every Python object is freed (1% of N as slack for caches and freelists).
assert after[1] - base[1] < N // 100
assert after2[1] - base[1] < N // 100
# The process does not grow from round to round: the memory is reused.
assert peak2[0] - base[0] < 1.25 * (peak[0] - base[0])
if not hasattr(sys, "_is_gil_enabled"):
    # Everything freed can go back to the OS: the RSS returns near the
    # baseline. (On 3.13t, CPython's own mimalloc keeps the pages of Python
    # objects for reuse; the checks above still hold there.)
    assert after[0] - base[0] < 64 * MB
    assert after2[0] - base[0] < 64 * MB
print("ok")
""",
        timeout=280,
    )
    print(proc.stdout)


def test_one_future_with_100k_continuations_and_callbacks():
    _run(
        """
N = 100_000

def fan_out():
    root = hpyx.Future()
    continuations = [root.then(lambda v, i=i: v + i) for i in range(N)]
    calls = []
    for i in range(N):
        root.add_done_callback(lambda f, i=i: calls.append(i))
    assert not any(c.done() for c in continuations[:100])
    root.set_result(1)
    values = hpyx.when_all(continuations).result(timeout=120)
    assert values == tuple(1 + i for i in range(N))
    # Callbacks run exactly once each, in the order they were added.
    assert calls == list(range(N)), (len(calls), calls[:5])
    # A callback added after completion runs right away, once.
    late = []
    root.add_done_callback(late.append)
    assert late == [root]
    return len(values)

assert in_small_stack(fan_out) == N
print("ok")
"""
    )


# -- lazy DAGs of 100,000 nodes ---------------------------------------------------------


@pytest.mark.parametrize("shape", ["chain", "binary_tree", "wide_diamond"])
def test_lazy_dag_100k_nodes(shape):
    _run(
        """
import itertools

SHAPE = sys.argv[1]
N = 100_000
ran = itertools.count()          # next() is atomic on both builds

def add(*values):
    next(ran)
    return sum(values)

def build(root):
    if SHAPE == "chain":                 # root -> d1 -> d2 -> ... -> dN
        f = root
        for _ in range(N):
            f = hpyx.dataflow(add, f, 1)
        return f, 1 + N, N
    if SHAPE == "binary_tree":           # N/2 leaves, pairwise sums up to one root
        level = [hpyx.dataflow(add, root, i) for i in range(N // 2)]
        nodes = len(level)
        while len(level) > 1:
            pairs = [hpyx.dataflow(add, level[i], level[i + 1])
                     for i in range(0, len(level) - 1, 2)]
            nodes += len(pairs)
            if len(level) % 2:
                pairs.append(level[-1])       # carried up, not a new node
            level = pairs
        return level[0], sum(1 + i for i in range(N // 2)), nodes
    if SHAPE == "wide_diamond":          # root -> N middles -> one join
        middles = [hpyx.dataflow(add, root, i) for i in range(N)]
        return hpyx.dataflow(add, *middles), sum(1 + i for i in range(N)), N + 1
    raise AssertionError(SHAPE)

def run():
    root = hpyx.Future()
    final, expected, nodes = build(root)
    assert nodes >= N - 1, nodes
    # Lazy: nothing is scheduled before its inputs are done.
    time.sleep(0.05)
    assert next(ran) == 0, "a node ran before its inputs were done"
    assert not final.done()
    # The pending graph exports without recursion (on this small stack).
    dot = hpyx.debug.to_dot([final])
    assert dot.count("->") >= nodes, (dot.count("->"), nodes)
    root.set_result(1)
    value = final.result(timeout=120)
    assert value == expected, (value, expected)
    # Every node ran exactly once (plus the probe above).
    assert next(ran) == nodes + 1, "nodes ran more or less than once"
    return value

in_small_stack(run)
print("ok")
""".replace("sys.argv[1]", repr(shape)),
    )
