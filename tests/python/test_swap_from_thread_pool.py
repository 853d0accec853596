"""A program written for ``ThreadPoolExecutor`` with the class swapped for ``HPXExecutor``.

The same code gives the same results and the same ``concurrent.futures``
types. Where one process-global pool must differ from a pool per executor,
it differs as the README's "Behaviour where the stdlib has no answer" says:
``max_workers`` seeds the size of the one pool (a later different value
warns), an executor's ``shutdown`` leaves the runtime running, the runtime
cannot restart, and ``atexit`` stops it. ``cancel()`` succeeds only before a
task starts, as in the stdlib, and a cancelled future's dependents end
cancelled. The first compositions such a program grows into (continuations,
``dataflow``, ``when_any``) work as written, also as a plain script without
timeouts.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading

import pytest
from conftest import WAIT, blocked_workers
from fresh_interpreter import check_py

import hpyx


def my_fn(x):
    return x * x + 1


inputs = list(range(50))


# -- the same program, the class swapped -------------------------------------------


def test_swapped_executor_gives_the_same_results_and_types():
    # With ThreadPoolExecutor:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as ex:
        futures = [ex.submit(my_fn, x) for x in inputs]
        results = [f.result(timeout=WAIT) for f in futures]
    before = results

    # With HPXExecutor:
    import hpyx

    with hpyx.HPXExecutor() as ex:
        futures = [ex.submit(my_fn, x) for x in inputs]
        results = [f.result(timeout=WAIT) for f in futures]

    assert results == before == [my_fn(x) for x in inputs]
    assert isinstance(ex, cf.Executor)
    assert all(isinstance(f, cf.Future) for f in futures)


def test_swapped_executor_takes_max_workers_as_the_pool_size():
    # ThreadPoolExecutor code with only the class swapped, max_workers included.
    check_py(
        """
        import warnings
        warnings.simplefilter("error")
        import hpyx
        def my_fn(x):
            return x + 1
        inputs = range(10)
        with hpyx.HPXExecutor(max_workers=4) as ex:
            futures = [ex.submit(my_fn, x) for x in inputs]
            results = [f.result() for f in futures]
        assert results == list(range(1, 11))
        assert hpyx.debug.get_num_worker_threads() == 4
        """
    )


# -- many lightweight tasks; futures that compose -----------------------------------------


def test_lightweight_tasks_many_at_once():
    fs = [hpyx.async_(my_fn, i) for i in range(100_000)]
    assert hpyx.when_all(fs).result(timeout=WAIT) == tuple(my_fn(i) for i in range(100_000))


def test_composable_futures_are_first_class():
    f = hpyx.async_(my_fn, 2)
    assert callable(f.then)
    assert f.then(my_fn).result(timeout=WAIT) == my_fn(my_fn(2))
    assert hpyx.when_all(f, f).result(timeout=WAIT) == (5, 5)
    assert hpyx.dataflow(lambda a: a, f).result(timeout=WAIT) == 5


# -- max_workers seeds the one process-global pool --------------------------------------------


def test_max_workers_is_advisory():
    check_py(
        """
        import warnings, hpyx
        warnings.simplefilter("error")
        first = hpyx.HPXExecutor(max_workers=8)       # seeds the pool
        assert hpyx.debug.get_num_worker_threads() == 8
        try:
            hpyx.HPXExecutor(max_workers=2)           # warns, reuses the pool
        except RuntimeWarning as w:
            assert "8" in str(w) and "2" in str(w), str(w)
        else:
            raise AssertionError("no RuntimeWarning")
        warnings.simplefilter("ignore")
        second = hpyx.HPXExecutor(max_workers=2)
        assert second._max_workers == first._max_workers == 8
        assert hpyx.debug.get_num_worker_threads() == 8
        assert second.submit(sum, [1, 2]).result(timeout=30) == 3
        """
    )


def test_pool_controlled_explicitly_with_init():
    check_py(
        """
        import hpyx
        hpyx.init(os_threads=8)
        assert hpyx.debug.get_num_worker_threads() == 8
        with hpyx.HPXExecutor() as ex:
            assert ex._max_workers == 8
            assert ex.submit(abs, -1).result(timeout=30) == 1
        """
    )


# -- an executor's shutdown leaves the runtime running; atexit stops it ------------------------


def test_executor_shutdown_marks_handle_unusable_but_runtime_runs():
    ex = hpyx.HPXExecutor()
    assert ex.submit(my_fn, 1).result(timeout=WAIT) == 2
    ex.shutdown()
    with pytest.raises(RuntimeError):
        ex.submit(my_fn, 1)
    assert hpyx.is_running()
    assert hpyx.async_(my_fn, 1).result(timeout=WAIT) == 2
    assert hpyx.HPXExecutor().submit(my_fn, 2).result(timeout=WAIT) == 5


def test_runtime_cannot_restart_after_shutdown_and_atexit_still_runs():
    proc = check_py(
        """
        import hpyx
        with hpyx.HPXExecutor() as ex:
            ex.submit(int).result(timeout=30)
        assert hpyx.is_running()          # the executor's shutdown left it running
        hpyx.shutdown()
        try:
            hpyx.HPXExecutor().submit(int)
        except RuntimeError as e:
            assert "restart" in str(e), str(e)
        else:
            raise AssertionError("restarted")
        import atexit
        atexit.register(lambda: print("atexit ran"))
        print("end of script")
        """
    )
    assert proc.stdout.split() == ["end", "of", "script", "atexit", "ran"]
    assert proc.stderr == ""


def test_atexit_teardown_after_normal_use():
    proc = check_py(
        """
        import hpyx
        fs = [hpyx.async_(sum, [i, 1]) for i in range(1000)]
        print(sum(f.result(timeout=30) for f in fs))
        """
    )
    assert proc.stdout.strip() == str(sum(range(1, 1001)))
    assert proc.stderr == ""


# -- cancel() succeeds only before the task starts


def test_cancel_true_only_before_start(executor):
    ran = []
    started, release = threading.Event(), threading.Event()

    def running_task():
        started.set()
        release.wait(WAIT)
        return "finished anyway"

    running = executor.submit(running_task)
    assert started.wait(WAIT)
    try:
        assert running.cancel() is False  # mid-flight: not supported
        # `running` holds one worker; block the others.
        with blocked_workers(executor, n=executor._max_workers - 1):
            queued = executor.submit(ran.append, "queued")
            assert queued.cancel() is True  # had not started
            assert queued.cancelled()
    finally:
        release.set()
    assert running.result(timeout=WAIT) == "finished anyway"
    assert not running.cancelled()
    assert running.cancel() is False  # done
    cf.wait([executor.submit(int) for _ in range(4)], timeout=WAIT)
    assert ran == []  # the cancelled task never ran


def test_cancelled_dependents_fail_with_cancelled_error(executor):
    with blocked_workers(executor):
        f = executor.submit(my_fn, 1)
        g = f.then(my_fn)
        h = hpyx.dataflow(my_fn, g)
        assert f.cancel()
    for dep in (g, h):
        with pytest.raises(cf.CancelledError):
            dep.result(timeout=WAIT)


# -- composing: continuations, dataflow, first of many


def load():
    return " 3, 1, 2 "


def parse(text):
    return [int(x) for x in text.split(",")]


def transform(values):
    return sorted(values)


def fetch(url):
    return {"url": url, "size": len(url)}


def merge(a, b):
    return [a["url"], b["url"], a["size"] + b["size"]]


url1 = "https://example.org/a"
url2 = "https://example.org/bb"
url3 = "https://example.org/ccc"


def test_chain_continuations():
    # Chain continuations:
    result = hpyx.async_(load).then(parse).then(transform).result(timeout=WAIT)
    assert result == [1, 2, 3]


def test_wait_for_multiple():
    # Wait for multiple:
    f1 = hpyx.async_(fetch, url1)
    f2 = hpyx.async_(fetch, url2)
    combined = hpyx.dataflow(merge, f1, f2)
    assert isinstance(combined, hpyx.Future)
    assert combined.result(timeout=WAIT) == [url1, url2, len(url1) + len(url2)]


def test_first_of_many():
    f1 = hpyx.async_(fetch, url1)
    f2 = hpyx.async_(fetch, url2)
    f3 = hpyx.async_(fetch, url3)
    # First of many:
    idx, futures_list = hpyx.when_any(f1, f2, f3).result(timeout=WAIT)
    assert idx in (0, 1, 2)
    assert futures_list[idx].done()
    assert futures_list[0] is f1 and futures_list[1] is f2 and futures_list[2] is f3
    assert futures_list[idx].result(timeout=0)["url"] == [url1, url2, url3][idx]


def test_first_of_many_picks_the_one_that_finished():
    f1, f3 = hpyx.Future(), hpyx.Future()
    f2 = hpyx.async_(fetch, url2)
    idx, futures_list = hpyx.when_any(f1, f2, f3).result(timeout=WAIT)
    assert idx == 1 and futures_list[1] is f2


def test_swap_and_compositions_run_as_a_plain_script():
    # Written as a user would, without timeouts (the child process has one).
    proc = check_py(
        """
        def my_fn(x):
            return x * 10
        inputs = [1, 2, 3]

        # With ThreadPoolExecutor:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=4) as ex:
            futures = [ex.submit(my_fn, x) for x in inputs]
            results = [f.result() for f in futures]
        print(results)

        # With HPXExecutor:
        import hpyx
        with hpyx.HPXExecutor() as ex:
            futures = [ex.submit(my_fn, x) for x in inputs]
            results = [f.result() for f in futures]
        print(results)

        import hpyx

        def load():
            return "1,2,3"
        def parse(s):
            return s.split(",")
        def transform(xs):
            return [int(x) * 2 for x in xs]
        def fetch(url):
            return url.upper()
        def merge(a, b):
            return a + b
        url1, url2, url3 = "a", "b", "c"

        # Chain continuations:
        print(hpyx.async_(load).then(parse).then(transform).result())

        # Wait for multiple:
        f1 = hpyx.async_(fetch, url1)
        f2 = hpyx.async_(fetch, url2)
        combined = hpyx.dataflow(merge, f1, f2)
        print(combined.result())

        # First of many:
        f3 = hpyx.async_(fetch, url3)
        idx, futures_list = hpyx.when_any(f1, f2, f3).result()
        print(futures_list[idx].result())
        """
    )
    lines = proc.stdout.splitlines()
    assert lines[0] == lines[1] == "[10, 20, 30]"
    assert lines[2] == "[2, 4, 6]"
    assert lines[3] == "AB"
    assert lines[4] in ("A", "B", "C")
    assert proc.stderr == ""
