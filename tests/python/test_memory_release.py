"""A value is freed as soon as nothing needs it, on every build.

A task's result that its dependents have consumed, with no Python reference
left, must be freed at once, not at the next garbage collection: a pipeline
of large arrays would otherwise hold every intermediate. On the
free-threaded build an object released by a thread other than the one that
made it is freed by its maker, later; hpyx hands a task's result over when
it leaves its worker, so the last thread to release it frees it. Each test
runs with the cycle collector disabled, in an interpreter of its own (the
chain measures the process's RSS), and checks with weak references which
values are still alive.
"""

from __future__ import annotations

import sys

import pytest
from fresh_interpreter import check_py

PRELUDE = """
import gc, mmap, time, weakref
import hpyx

gc.disable()
MiB = 1 << 20
made = []

class Blob:
    pass

def big(size=8 * MiB):
    # Anonymous mmap: its pages are returned to the system when it is
    # freed, so RSS shows which values are alive.
    m = mmap.mmap(-1, size)
    for offset in range(0, size, 4096):
        m[offset] = 1
    made.append(weakref.ref(m))
    return m

def alive():
    return sum(ref() is not None for ref in made)

def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

def run_c_tasks_until(condition, limit=500):
    # Tasks that run no Python code on the workers, until `condition()`
    # holds (at most `limit`, with a short pause each: a worker releases a
    # node's inputs just after completing it, and may be descheduled then).
    for _ in range(limit):
        if condition():
            return
        hpyx.async_(len, "x").result()
        time.sleep(0.002)

hpyx.async_(len, "").result()
"""


def test_a_value_its_dependent_consumed_is_freed_without_a_collection():
    check_py(
        PRELUDE
        + """
made_by_task = hpyx.async_(Blob)
consumer = made_by_task.then(id)
consumer.result()
ref = weakref.ref(made_by_task.result())
del made_by_task, consumer
run_c_tasks_until(lambda: ref() is None)
assert ref() is None, "the consumed value is still alive after 500 more tasks"
"""
    )


def test_a_chain_of_large_steps_keeps_only_its_result():
    check_py(
        PRELUDE
        + """
def step(previous, own):
    return big()

base = rss_mib()
x = hpyx.async_(big)
for _ in range(50):
    x = hpyx.dataflow(step, x, hpyx.async_(big))
result = x.result()
del x
run_c_tasks_until(lambda: alive() == 1)
grown = rss_mib() - base
assert alive() == 1, f"{alive()} of {len(made)} values alive, expected only the result"
# 101 values of 8 MiB were made; the result and allocator slack remain.
assert grown < 100, f"RSS grew by {grown:.0f} MiB after the chain"
""",
        timeout=120,
    )


def test_the_items_of_a_tuple_result_are_freed_with_it():
    check_py(
        PRELUDE
        + """
def pair():
    return (Blob(), Blob())

made_by_task = hpyx.async_(pair)
consumer = made_by_task.then(len)
assert consumer.result() == 2
refs = [weakref.ref(item) for item in made_by_task.result()]
del made_by_task, consumer
run_c_tasks_until(lambda: all(ref() is None for ref in refs))
assert [ref() for ref in refs] == [None, None], "a tuple item is still alive"
"""
    )


def test_a_value_passed_between_many_tasks_is_freed_after_the_last():
    check_py(
        PRELUDE
        + """
first = hpyx.async_(Blob)
ref = weakref.ref(first.result())
fan = [first.then(id) for _ in range(20)]
total = hpyx.dataflow(lambda *ids: len(set(ids)), *fan)
assert total.result() == 1
del first, fan, total
run_c_tasks_until(lambda: ref() is None)
assert ref() is None, "the shared input is still alive after every consumer ran"
"""
    )


@pytest.mark.skipif(sys.version_info < (3, 12), reason="threading.setprofile_all_threads is 3.12+")
def test_a_profiler_sees_no_python_call_of_hpyx_on_idle_workers():
    # Workers that run only C functions and go idle between tasks: the
    # profiler, installed on every thread, must see no Python function of
    # hpyx's own (on the free-threaded build a worker going idle calls one
    # to free what other threads released).
    check_py(
        PRELUDE
        + """
import threading
main = threading.get_ident()
seen = []

def profile(frame, event, arg):
    if event == "call" and threading.get_ident() != main:
        seen.append(frame.f_code.co_qualname)

threading.setprofile_all_threads(profile)
for _ in range(20):
    hpyx.async_(len, "abc").result()
    time.sleep(0.005)
threading.setprofile_all_threads(None)
assert seen == [], f"the profiler saw calls on the workers: {seen[:5]}"
"""
    )
