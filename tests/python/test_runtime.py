"""The process-global runtime: starting it (auto-init, ``hpyx.init``, the
``HPYX_*`` variables), its size, shutdown and its refusal to restart, and
the GIL staying off on the free-threaded build.

Everything that changes the runtime's lifetime or size runs in a fresh
interpreter (``check_py``); the main test process only ever auto-inits the
pool with the defaults.
"""

from __future__ import annotations

import sys

import pytest
from conftest import WAIT
from fresh_interpreter import check_py

import hpyx

GIL_BUILD = getattr(sys, "_is_gil_enabled", lambda: True)()


def test_import_starts_no_threads():
    check_py(
        """
        import os, threading
        def os_threads():
            return len(os.listdir("/proc/self/task"))
        before = (os_threads(), threading.active_count())
        import hpyx
        after = (os_threads(), threading.active_count())
        assert before == after, (before, after)
        assert not hpyx.is_running()
        assert hpyx.debug.get_num_worker_threads() == 0
        assert hpyx.debug.get_worker_thread_id() == -1
        ex = hpyx.HPXExecutor()
        ex._max_workers
        assert not hpyx.is_running()
        assert os_threads() == before[0]
        assert ex.submit(sum, [1, 2]).result(timeout=30) == 3
        assert hpyx.is_running()
        n = hpyx.debug.get_num_worker_threads()
        assert n == os.cpu_count() == ex._max_workers, (n, os.cpu_count())
        assert os_threads() == before[0] + n
        """,
        watchdog=False,
    )


def test_default_size_is_os_cpu_count_even_with_restricted_affinity():
    check_py(
        """
        import os
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        import hpyx
        assert hpyx.HPXExecutor()._max_workers == os.cpu_count()
        hpyx.init()
        assert hpyx.debug.get_num_worker_threads() == os.cpu_count()
        """
    )


def test_init_is_idempotent_and_conflicts_name_both_values():
    check_py(
        """
        import hpyx
        hpyx.init(os_threads=3)
        hpyx.init(os_threads=3)
        hpyx.init()
        with hpyx.HPXRuntime(os_threads=3):
            pass
        assert hpyx.debug.get_num_worker_threads() == 3
        try:
            hpyx.init(os_threads=4)
        except RuntimeError as e:
            msg = str(e)
            assert "3" in msg and "4" in msg, msg
        else:
            raise AssertionError("no RuntimeError")
        try:
            hpyx.init(os_threads=3, cfg=["max_help_depth=7"])
        except RuntimeError as e:
            assert "max_help_depth=7" in str(e), str(e)
        else:
            raise AssertionError("no RuntimeError")
        assert hpyx.debug.get_num_worker_threads() == 3
        assert hpyx.async_(sum, [1, 2]).result(timeout=30) == 3
        """
    )


def test_init_with_cfg():
    check_py(
        """
        import os, threading, hpyx
        cfg = ["stack_size=8388608", "max_help_depth=64", "thread_name=zz-worker"]
        hpyx.init(os_threads=2, cfg=cfg)
        hpyx.init(os_threads=2, cfg=cfg)
        barrier = threading.Barrier(2, timeout=30)  # both workers run
        assert hpyx.when_all(hpyx.async_(barrier.wait) for _ in range(2)).result(timeout=30)
        names = []
        for tid in os.listdir("/proc/self/task"):
            with open("/proc/self/task/%s/comm" % tid) as f:
                names.append(f.read().strip())
        assert sum(n.startswith("zz-worker") for n in names) == 2, names
        """
    )


@pytest.mark.parametrize("started", [False, True])
def test_init_bad_arguments_are_value_errors(started):
    check_py(
        """
        import hpyx
        if %r:
            hpyx.async_(int).result(timeout=30)
        for cfg in (["no_such_key=1"], ["stack_size"], ["stack_size=big"]):
            try:
                hpyx.init(cfg=cfg)
            except ValueError as e:
                msg = str(e)
            else:
                raise AssertionError("no ValueError for %%r" %% (cfg,))
            if cfg[0].startswith("no_such_key"):
                for key in ("max_help_depth", "stack_size", "thread_name"):
                    assert key in msg, msg
                assert "no_such_key" in msg, msg
        for n in (0, -1):
            try:
                hpyx.init(os_threads=n)
            except ValueError:
                pass
            else:
                raise AssertionError("no ValueError for os_threads=%%d" %% n)
        assert hpyx.async_(sum, [1, 2]).result(timeout=30) == 3
        """
        % started
    )


def test_auto_init_with_env_os_threads():
    check_py(
        """
        import threading, hpyx
        ex = hpyx.HPXExecutor()
        assert ex._max_workers == 3, ex._max_workers
        assert not hpyx.is_running()
        barrier = threading.Barrier(3, timeout=30)
        def meet():
            barrier.wait()
            return hpyx.debug.get_worker_thread_id()
        ids = [f.result(timeout=30) for f in [ex.submit(meet) for _ in range(3)]]
        assert sorted(ids) == [0, 1, 2], ids
        assert hpyx.is_running()
        assert hpyx.debug.get_num_worker_threads() == 3
        assert ex._max_workers == 3
        """,
        env={"HPYX_OS_THREADS": "3"},
    )


def test_init_and_auto_init_return_with_every_worker_thread_state_made():
    # A worker makes its Python thread state on its own thread, allocating
    # with PyMem_RawMalloc without the GIL. init() (and auto-init) return only
    # once every worker has done so: left for later, it would race the
    # caller's tracemalloc.stop() (CPython < 3.12.9 segfaults,
    # python/cpython#128679).
    # Returning earlier would show here as a count below the pool's size: the
    # workers would still be waiting for the GIL the main thread holds.
    check_py(
        """
        import hpyx
        from hpyx import _core
        hpyx.init(os_threads=3)
        assert _core._worker_thread_states() == 3, _core._worker_thread_states()
        """
    )
    check_py(
        """
        import hpyx
        from hpyx import _core
        assert not hpyx.is_running()
        hpyx.ready_future(1)
        assert hpyx.is_running()
        assert _core._worker_thread_states() == 2, _core._worker_thread_states()
        """,
        env={"HPYX_OS_THREADS": "2"},
    )


def test_tracemalloc_started_and_stopped_right_after_init():
    # The user-level form of the race above: if a worker were still creating
    # its thread state, tracemalloc's raw-allocator hook could crash 3.11
    # (about one run in seven), so the script runs five times.
    for _ in range(5):
        check_py(
            """
            import tracemalloc, hpyx
            from hpyx import _core
            hpyx.init()
            tracemalloc.start()
            keep = [_core.ready(None) for _ in range(1000)]
            tracemalloc.stop()
            assert hpyx.async_(len, keep).result(timeout=30) == 1000
            """
        )


def test_init_arguments_beat_env():
    check_py(
        """
        import hpyx
        assert hpyx.HPXExecutor()._max_workers == 3
        hpyx.init(os_threads=2)
        assert hpyx.debug.get_num_worker_threads() == 2
        assert hpyx.HPXExecutor()._max_workers == 2
        """,
        env={"HPYX_OS_THREADS": "3"},
    )


def test_max_workers_seed_beats_env():
    check_py(
        """
        import hpyx
        ex = hpyx.HPXExecutor(max_workers=2)
        assert hpyx.debug.get_num_worker_threads() == 2 == ex._max_workers
        """,
        env={"HPYX_OS_THREADS": "3"},
    )


def test_bad_env_os_threads():
    check_py(
        """
        import hpyx
        try:
            hpyx.async_(int).result(timeout=30)
        except ValueError as e:
            assert "HPYX_OS_THREADS" in str(e), str(e)
        else:
            raise AssertionError("no ValueError")
        hpyx.init(os_threads=1)
        assert hpyx.async_(int).result(timeout=30) == 0
        """,
        env={"HPYX_OS_THREADS": "lots"},
    )


def test_autoinit_off():
    check_py(
        """
        import hpyx
        for call in (lambda: hpyx.async_(int),
                     lambda: hpyx.HPXExecutor().submit(int),
                     lambda: hpyx.ready_future(1)):
            try:
                call()
            except RuntimeError as e:
                assert "init" in str(e), str(e)
            else:
                raise AssertionError("no RuntimeError")
        assert not hpyx.is_running()
        hpyx.init(os_threads=2)
        assert hpyx.async_(int).result(timeout=30) == 0
        assert hpyx.debug.get_num_worker_threads() == 2
        """,
        env={"HPYX_AUTOINIT": "0"},
    )


def test_shutdown_drains_and_cannot_restart():
    check_py(
        """
        import threading, time, hpyx
        import concurrent.futures as cf
        hpyx.init(os_threads=2)
        ran = []
        def slow(i):
            time.sleep(0.001)
            ran.append(i)
            return i
        fs = [hpyx.async_(slow, i) for i in range(200)]
        done = hpyx.async_(int)
        done.result(timeout=30)
        ex = hpyx.HPXExecutor()
        hpyx.shutdown()
        assert len(ran) == 200 and all(f.done() for f in fs)
        assert not hpyx.is_running()
        hpyx.shutdown()  # again: fine
        # Finished futures still answer.
        assert done.result(timeout=0) == 0 and fs[5].result(timeout=0) == 5
        assert repr(done).startswith("<Future at")
        calls = {
            "async_": lambda: hpyx.async_(int),
            "submit": lambda: ex.submit(int),
            "new executor": lambda: hpyx.HPXExecutor().submit(int),
            "init": lambda: hpyx.init(),
            "init(2)": lambda: hpyx.init(os_threads=2),
            "HPXRuntime": lambda: hpyx.HPXRuntime().__enter__(),
            "ready_future": lambda: hpyx.ready_future(1),
            "Future": lambda: hpyx.Future(),
            "then": lambda: done.then(int),
            "dataflow": lambda: hpyx.dataflow(int, done),
            "when_all": lambda: hpyx.when_all(done),
            "when_all()": lambda: hpyx.when_all(),
            "when_any": lambda: hpyx.when_any(done),
        }
        for name, call in calls.items():
            try:
                call()
            except RuntimeError as e:
                assert "cannot be restarted" in str(e), (name, str(e))
            else:
                raise AssertionError("no RuntimeError from %s" % name)
        """
    )


def test_shutdown_before_start_and_from_a_worker():
    check_py(
        """
        import hpyx
        err = hpyx.async_(hpyx.shutdown).exception(timeout=30)
        assert isinstance(err, RuntimeError), err
        assert hpyx.is_running()
        assert hpyx.async_(int).result(timeout=30) == 0
        """
    )
    check_py(
        """
        import hpyx
        hpyx.shutdown()
        assert not hpyx.is_running()
        try:
            hpyx.async_(int)
        except RuntimeError as e:
            assert "cannot be restarted" in str(e), str(e)
        else:
            raise AssertionError("no RuntimeError")
        """
    )


def test_runtime_context_manager():
    check_py(
        """
        import hpyx
        rt = hpyx.HPXRuntime(os_threads=3)
        with rt as entered:
            assert entered is rt
            assert hpyx.is_running()
            assert hpyx.async_(sum, [1, 2]).result(timeout=30) == 3
        assert hpyx.is_running()
        assert hpyx.debug.get_num_worker_threads() == 3
        with hpyx.HPXRuntime():
            pass
        try:
            with hpyx.HPXRuntime(os_threads=3):
                raise KeyError("propagates")
        except KeyError:
            pass
        else:
            raise AssertionError("exception swallowed")
        assert hpyx.async_(sum, [1, 2]).result(timeout=30) == 3
        """
    )


def test_max_workers_seeds_the_pool_then_warns():
    check_py(
        """
        import warnings, hpyx
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            a = hpyx.HPXExecutor(max_workers=3)
            assert hpyx.is_running()
            assert hpyx.debug.get_num_worker_threads() == 3
            b = hpyx.HPXExecutor(max_workers=3)
            c = hpyx.HPXExecutor()
            hpyx.init(os_threads=3)
            assert caught == [], [str(w.message) for w in caught]
            d = hpyx.HPXExecutor(max_workers=5)
        assert len(caught) == 1, caught
        w = caught[0]
        assert w.category is RuntimeWarning
        assert "3" in str(w.message) and "5" in str(w.message), str(w.message)
        assert w.filename == "<string>"  # points at the caller
        for ex in (a, b, c, d):
            assert ex._max_workers == 3
            assert ex.submit(sum, [1, 2]).result(timeout=30) == 3
        """
    )


def test_max_workers_after_explicit_init():
    check_py(
        """
        import warnings, hpyx
        warnings.simplefilter("error")
        hpyx.init(os_threads=2)
        ex = hpyx.HPXExecutor(max_workers=2)
        assert ex._max_workers == 2
        try:
            hpyx.HPXExecutor(max_workers=1)
        except RuntimeWarning:
            pass
        else:
            raise AssertionError("no RuntimeWarning")
        """
    )


def test_executor_shutdown_does_not_stop_the_runtime_main_process():
    ex = hpyx.HPXExecutor()
    assert ex.submit(int).result(timeout=WAIT) == 0
    ex.shutdown()
    assert hpyx.is_running()
    assert hpyx.HPXExecutor().submit(int).result(timeout=WAIT) == 0
    assert hpyx.async_(int).result(timeout=WAIT) == 0


def test_pool_size_queries_in_main_process():
    hpyx.async_(int).result(timeout=WAIT)
    n = hpyx.debug.get_num_worker_threads()
    assert n >= 1
    assert hpyx.HPXExecutor()._max_workers == n
    assert hpyx.debug.get_worker_thread_id() == -1
    inside = hpyx.async_(hpyx.debug.get_worker_thread_id).result(timeout=WAIT)
    assert 0 <= inside < n


@pytest.mark.skipif(GIL_BUILD, reason="free-threaded build property (3.13t)")
def test_gil_stays_disabled_on_free_threaded_build():
    proc = check_py(
        """
        import sys
        import hpyx
        assert not sys._is_gil_enabled()
        assert hpyx.when_all([hpyx.async_(sum, [i, 1]) for i in range(100)]).result(timeout=30)
        with hpyx.HPXExecutor() as ex:
            list(ex.map(abs, range(-10, 10)))
        assert not sys._is_gil_enabled()
        print("ok")
        """,
        flags=("-W", "error"),
    )
    assert proc.stdout.strip() == "ok"
    assert "RuntimeWarning" not in proc.stderr and "GIL" not in proc.stderr, proc.stderr
