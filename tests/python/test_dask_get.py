"""``hpyx.dask.get`` against dask's own scheduler tests.

dask's ``GetFunctionTestMixin`` (the checks dask gives every foreign
``get``), then tests of dask's ``test_local.py`` and ``test_threaded.py``
adapted to ``hpyx.dask.get``, their assertions unchanged. Tests that are
about dask's own thread pools (``pool=``, how many threads dask starts)
have no counterpart: hpyx runs every graph on its one process-wide pool.
"""

from __future__ import annotations

import contextvars
import signal
import sys
import threading
from time import sleep

import pytest

pytest.importorskip("dask", reason="hpyx.dask needs dask installed")

import dask
from dask._task_spec import Task, TaskRef
from dask.utils_test import GetFunctionTestMixin, add, inc

import hpyx
import hpyx.dask
from hpyx.dask import get


class TestGetFunctionMixin(GetFunctionTestMixin):
    get = staticmethod(get)

    def test_get_num_workers(self):
        self.get({"x": (inc, "y"), "y": 1}, "x", num_workers=2)


# --- from dask's test_local.py ---------------------------------------------


def test_exceptions_propagate():
    class MyException(Exception):
        def __init__(self, a, b):
            self.a = a
            self.b = b

        def __str__(self):
            return "My Exception!"

    def f():
        raise MyException(1, 2)

    try:
        get({"x": (f,)}, "x")
        assert False  # noqa: B011 (dask's own test, unchanged)
    except MyException as e:
        assert "My Exception!" in str(e)
        assert "a" in dir(e)
        assert e.a == 1
        assert e.b == 2


def test_ensure_calculate_only_whats_needed():
    counter = 0

    def only_once():
        nonlocal counter
        if counter > 0:
            raise RuntimeError("Should only be called once")
        counter += 1
        return 1

    def add(x, y):
        return x + y

    tasks = [
        Task("x1", only_once),
        (t1 := Task("x2", only_once)),
        Task("y", add, 1, t1.ref()),
    ]
    dsk = {t.key: t for t in tasks}
    assert get(dsk, "y") == 2


def test_detect_malformed_graph():
    dsk = {"y": Task("y", lambda x: x, TaskRef("x"))}
    with pytest.raises(ValueError, match="Missing dependency"):
        get(dsk, "y")
    assert get(dsk, "y", cache={"x": 1}) == 1


def test_cache_receives_the_requested_results_as_dasks_threaded_get():
    from collections import UserDict

    import dask.threaded

    inc = lambda x: x + 1
    add = lambda x, y: x + y
    dsk = {"x": 1, "y": 2, "z": (inc, "x"), "w": (add, "z", "y")}
    for keys in (["w", "y"], "w"):
        ours, theirs = {}, {}
        assert get(dsk, keys, cache=ours) == dask.threaded.get(dsk, keys, cache=theirs)
        assert ours == theirs
    mapping = UserDict()
    assert get(dsk, "w", cache=mapping) == 4
    assert dict(mapping) == {"w": 4}


def test_callback():
    f = lambda x: x + 1
    dsk = {"a": (f, 1)}

    def start_callback(key, d, state):
        assert key == "a" or key is None
        assert d == dsk
        assert isinstance(state, dict)

    def end_callback(key, value, d, state, worker_id):
        assert key == "a" or key is None
        assert value == 2 or value is None
        assert d == dsk
        assert isinstance(state, dict)

    get(dsk, "a", start_callback=start_callback, end_callback=end_callback)


# --- from dask's test_threaded.py ------------------------------------------


def test_get():
    dsk = {"x": 1, "y": 2, "z": (inc, "x"), "w": (add, "z", "y")}
    assert get(dsk, "w") == 4
    assert get(dsk, ["w", "z"]) == (4, 2)


def test_nested_get():
    dsk = {"x": 1, "y": 2, "a": (add, "x", "y"), "b": (sum, ["x", "y"])}
    assert get(dsk, ["a", "b"]) == (3, 3)


def test_get_without_computation():
    dsk = {"x": 1}
    assert get(dsk, "x") == 1


def test_broken_callback():
    from dask.callbacks import Callback

    def _f_ok(*args, **kwargs):
        pass

    def _f_broken(*args, **kwargs):
        raise ValueError("my_exception")

    dsk = {"x": 1}

    with Callback(start=_f_broken, finish=_f_ok):
        with Callback(start=_f_ok, finish=_f_ok):
            with pytest.raises(ValueError, match="my_exception"):
                get(dsk, "x")


def bad(x):
    raise ValueError()


def test_exceptions_rise_to_top():
    dsk = {"x": 1, "y": (bad, "x")}
    pytest.raises(ValueError, lambda: get(dsk, "y"))  # noqa: RUF061 (dask's own test)


def test_threaded_within_thread():
    L = []

    def f(i):
        result = get({"x": (lambda: i,)}, "x", num_workers=2)
        L.append(result)

    for _ in range(20):
        t = threading.Thread(target=f, args=(1,))
        t.daemon = True
        t.start()
        t.join()
        assert L == [1]
        del L[:]


def test_dont_spawn_too_many_threads():
    # hpyx starts no thread per call: its pool is process-wide.
    get({"x": 1}, "x")
    before = threading.active_count()

    dsk = {("x", i): (lambda i=i: i,) for i in range(10)}
    dsk["x"] = (sum, list(dsk))
    for _ in range(20):
        get(dsk, "x", num_workers=4)

    after = threading.active_count()

    assert after <= before + 8


def test_thread_safety():
    def f(x):
        return 1

    dsk = {"x": (sleep, 0.05), "y": (f, "x")}

    L = []

    def test_f():
        L.append(get(dsk, "y"))

    threads = []
    for _ in range(20):
        t = threading.Thread(target=test_f)
        t.daemon = True
        t.start()
        threads.append(t)

    for thread in threads:
        thread.join()

    assert L == [1] * 20


def test_interrupt():
    # dask's version blocks 20 tasks on a barrier of 20 threads; hpyx's pool
    # has as many threads as cores, so the barrier is the pool's size.
    main_thread = threading.get_ident()

    def interrupt_main() -> None:
        signal.pthread_kill(main_thread, signal.SIGINT)

    parties = hpyx.HPXExecutor()._max_workers
    barrier = threading.Barrier(parties)
    tasks_can_end = threading.Event()

    def f() -> None:
        barrier.wait()
        tasks_can_end.wait()

    def interrupt() -> None:
        barrier.wait()
        interrupt_main()

    dsk = {("f", i): (f,) for i in range(parties - 1)}
    dsk["interrupt"] = (interrupt,)

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.fail("SIGINT is not handled by KeyboardInterrupt in this process")
    try:
        with pytest.raises(KeyboardInterrupt):
            get(dsk, list(dsk))
    finally:
        tasks_can_end.set()


test_ctxvar = contextvars.ContextVar("test_ctxvar", default=42)


@pytest.mark.parametrize("num_workers", [None, 1])
def test_contextvars(num_workers):
    dsk = {"x": (test_ctxvar.get,)}
    assert get(dsk, "x", num_workers=num_workers) == 42
    tok = test_ctxvar.set(43)
    try:
        assert get(dsk, "x", num_workers=num_workers) == 43
    finally:
        test_ctxvar.reset(tok)


def test_context_changes_in_a_task_stay_in_that_task():
    def set_and_read(value):
        test_ctxvar.set(value)
        return test_ctxvar.get()

    dsk = {("x", i): (set_and_read, i) for i in range(50)}
    dsk["seen"] = (test_ctxvar.get,)
    assert get(dsk, list(dsk)) == (*tuple(range(50)), 42)
    assert test_ctxvar.get() == 42


# --- selecting the scheduler, as dask users do -------------------------------


def test_scheduler_by_name_and_by_executor():
    x = dask.delayed(inc)(1)
    y = dask.delayed(add)(x, 10)
    ran_on = []

    def where(v):
        ran_on.append(hpyx._core.get_worker_thread_id())
        return v

    z = dask.delayed(where)(y)
    assert z.compute(scheduler="hpyx") == 12
    with dask.config.set(scheduler="hpyx"):
        assert z.compute() == 12
    assert dask.compute(z, scheduler=hpyx.HPXExecutor())[0] == 12
    assert dask.compute(z, scheduler=get)[0] == 12
    assert len(ran_on) == 4 and all(w >= 0 for w in ran_on)


def test_importing_hpyx_does_not_import_dask():
    from fresh_interpreter import check_py

    check_py("import hpyx, sys; assert 'dask' not in sys.modules, 'dask imported'")


# --- graph forms ---------------------------------------------------------------


def test_task_spec_forms():
    from dask._task_spec import Alias, DataNode, Dict, List, Set, Tuple

    dsk = {
        "a": DataNode("a", 3),
        "b": Task("b", add, TaskRef("a"), 1),
        "c": Alias("c", "b"),
        "d": Task(
            "d",
            lambda lst, t, s, d: (lst, t, s, d),
            List(TaskRef("a"), 2),
            Tuple(TaskRef("b"), Task(None, inc, TaskRef("c"))),
            Set(TaskRef("a")),
            Dict({"k": TaskRef("c"), "n": 0}),
        ),
        "e": Task("e", lambda x, *, y: x * y, TaskRef("a"), y=TaskRef("b")),
        ("t", 0): Task(("t", 0), inc, TaskRef("e")),
    }
    assert get(dsk, ["d", "e", ("t", 0)]) == (
        ([3, 2], (4, 5), {3}, {"k": 4, "n": 0}),
        12,
        13,
    )
    assert get(dsk, "d") == dask.get(dsk, "d")


def test_legacy_forms():
    class Pair(tuple):
        pass

    dsk = {
        "x": 1,
        ("y", 0): (inc, "x"),
        "z": (
            lambda a, b, c, d: (a, b, c, d),
            ["x", ("y", 0)],
            ("x", "literal"),
            {"k": "x"},
            Pair(["x", 2]),
        ),
        "w": (sum, [(inc, "x"), [("y", 0)][0]]),
        "s": "x",
        5: (inc, 5.5),
        "i": (inc, 5),
    }
    assert get(dsk, "z") == dask.get(dsk, "z")
    assert get(dsk, ["w", "s", "i"]) == dask.get(dsk, ["w", "s", "i"])


def test_cycle_is_reported():
    dsk = {"a": (inc, "b"), "b": (inc, "c"), "c": (inc, "a")}
    with pytest.raises(RuntimeError, match="Cycle detected"):
        get(dsk, "a")


def test_failure_stops_the_computation_and_raises_the_first_exception():
    ran = []
    gate = threading.Event()

    def boom():
        raise KeyError("boom")

    def later(x):
        ran.append(x)

    def wait_then(x):
        gate.wait(5)
        return x

    dsk = {"bad": (boom,), "slow": (wait_then, 1)}
    for i in range(200):
        dsk[("after", i)] = (later, "slow")
    dsk["all"] = (lambda *a: a, "bad", *[("after", i) for i in range(200)])
    with pytest.raises(KeyError, match="boom"):
        get(dsk, "all")
    gate.set()
    sleep(0.2)
    assert ran == []


def test_nested_compute_inside_tasks_does_not_deadlock():
    def inner(i):
        return dask.compute(dask.delayed(inc)(i), scheduler="hpyx")[0]

    dsk = {("x", i): (inner, i) for i in range(20)}
    dsk["total"] = (sum, [("x", i) for i in range(20)])
    assert get(dsk, "total") == sum(range(1, 21))


def test_nested_compute_with_one_worker():
    from fresh_interpreter import check_py

    check_py(
        "import dask, hpyx, hpyx.dask\n"
        "hpyx.init(os_threads=1)\n"
        "inc = lambda x: x + 1\n"
        "def inner(i):\n"
        "    return dask.compute(dask.delayed(inc)(i), scheduler='hpyx')[0]\n"
        "def deeper(i):\n"
        "    return dask.compute(dask.delayed(inner)(i), scheduler='hpyx')[0]\n"
        "dsk = {('x', i): (deeper, i) for i in range(10)}\n"
        "dsk['t'] = (sum, [('x', i) for i in range(10)])\n"
        "assert hpyx.dask.get(dsk, 't') == 55\n",
        timeout=60,
    )


def test_results_are_released_once_their_dependents_ran():
    import weakref

    class Big:
        pass

    refs = []
    alive_when_last_ran = []

    def make(i):
        b = Big()
        refs.append(weakref.ref(b))
        return b

    def use(b):
        return 1

    def last(*xs):
        alive_when_last_ran.append(sum(r() is not None for r in refs))
        return sum(xs)

    dsk = {}
    for i in range(100):
        dsk[("make", i)] = (make, i)
        dsk[("use", i)] = (use, ("make", i))
    dsk["chain"] = (last, *[("use", i) for i in range(100)])
    assert get(dsk, "chain") == 100
    if getattr(sys, "_is_gil_enabled", lambda: True)():
        assert alive_when_last_ran == [0]
    else:
        # Free-threaded CPython frees an object released by a thread other
        # than the one that made it only when that thread next runs Python
        # (biased reference counting): a worker gone idle holds back what it
        # made last, at most one value here.
        assert alive_when_last_ran[0] <= hpyx._core.pool_size()


def test_an_executor_as_scheduler_takes_the_native_path(monkeypatch):
    import dask.local

    def loop(*args, **kwargs):
        raise AssertionError("dask's own scheduling loop ran")

    monkeypatch.setattr(dask.local, "get_async", loop)
    x = dask.delayed(inc)(1)
    assert dask.compute(x, scheduler=hpyx.HPXExecutor())[0] == 2
