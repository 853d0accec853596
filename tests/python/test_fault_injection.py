"""Fault injection: a Rust panic inside the runtime reaches the user as an
ordinary exception on that future.

The dev/test builds (``scripts/setup.sh``) compile ``hpyx._core`` with the
``fault-injection`` feature: ``_core._inject_panic(point, count)`` makes the
next ``count`` passes through a glue point panic. Every such panic must end
as ``hpyx.InternalError`` on the affected future (and its dependents), or, for
a completion callback, be reported through ``sys.unraisablehook`` like an
exception raised by the callback; the process survives and the next 10,000
tasks run.

The switch is process-global, so these tests cannot share the process with
other threads' tests (pytest-run-parallel).
"""

from __future__ import annotations

import sys
import threading

import pytest
from conftest import WAIT
from fresh_interpreter import check_py

import hpyx
from hpyx import _core

pytestmark = pytest.mark.thread_unsafe(reason="the fault switch is process-global")

N_AFTER = 10_000


def _require_feature():
    assert hasattr(_core, "_inject_panic"), (
        "hpyx._core was built without the fault-injection feature; "
        "rebuild with scripts/setup.sh (maturin develop --features fault-injection)"
    )


@pytest.fixture
def inject():
    _require_feature()
    armed = []

    def arm(point, count=1):
        armed.append(point)
        _core._inject_panic(point, count)

    yield arm
    for point in armed:
        _core._inject_panic(point, 0)


def _assert_internal(exc_info):
    exc = exc_info.value
    assert isinstance(exc, hpyx.InternalError)
    assert isinstance(exc, RuntimeError)
    assert "fault injection" in str(exc), str(exc)


def _pool_still_works():
    futures = [hpyx.async_(int, i) for i in range(N_AFTER)]
    assert hpyx.when_all(futures).result(timeout=WAIT) == tuple(range(N_AFTER))


def test_feature_is_compiled_in():
    _require_feature()
    assert set(_core._FAULT_POINTS) >= {
        "task.before_call",
        "task.after_call",
        "then.build_args",
        "when_all.build",
        "callback",
    }


def test_unknown_point_is_a_clear_error():
    _require_feature()
    with pytest.raises(ValueError, match="unknown fault point"):
        _core._inject_panic("no.such.point", 1)


@pytest.mark.parametrize("point", ["task.before_call", "task.after_call"])
def test_panic_in_a_task_fails_that_future_and_its_dependents(inject, point):
    ran = []
    inject(point)
    f = hpyx.async_(lambda: ran.append(1) or 41)
    dependent = f.then(lambda v: v + 1)
    joined = hpyx.when_all(f, hpyx.ready_future(0))
    with pytest.raises(hpyx.InternalError) as info:
        f.result(timeout=WAIT)
    _assert_internal(info)
    assert f.done() and not f.cancelled()
    assert isinstance(f.exception(timeout=WAIT), hpyx.InternalError)
    # The dependents fail the same way, without running.
    with pytest.raises(hpyx.InternalError):
        dependent.result(timeout=WAIT)
    with pytest.raises(hpyx.InternalError):
        joined.result(timeout=WAIT)
    # Before the call the function never ran; after it, it ran once.
    assert ran == ([] if point == "task.before_call" else [1])
    assert _core._injected_remaining(point) == 0
    _pool_still_works()


def test_panic_in_a_task_through_the_executor(inject):
    inject("task.before_call", 3)
    with hpyx.HPXExecutor() as ex:
        failing = [ex.submit(int, i) for i in range(3)]
        for f in failing:
            with pytest.raises(hpyx.InternalError):
                f.result(timeout=WAIT)
        assert list(ex.map(int, range(N_AFTER), timeout=WAIT)) == list(range(N_AFTER))


def test_panic_in_a_continuation_argument_build(inject):
    root = hpyx.ready_future(1)
    inject("then.build_args")
    g = root.then(lambda v: v + 1)
    with pytest.raises(hpyx.InternalError) as info:
        g.result(timeout=WAIT)
    _assert_internal(info)
    assert root.result(timeout=WAIT) == 1
    # The next continuation of the same root runs.
    assert root.then(lambda v: v + 2).result(timeout=WAIT) == 3
    _pool_still_works()


def test_panic_in_when_all(inject):
    a, b = hpyx.async_(int, 1), hpyx.async_(int, 2)
    inject("when_all.build")
    joined = hpyx.when_all(a, b)
    with pytest.raises(hpyx.InternalError) as info:
        joined.result(timeout=WAIT)
    _assert_internal(info)
    assert joined.then(lambda v: v).exception(timeout=WAIT) is not None
    assert hpyx.when_all(a, b).result(timeout=WAIT) == (1, 2)
    _pool_still_works()


def test_a_waiting_task_sees_the_panic_of_the_task_it_waits_for(inject):
    gate = threading.Event()

    def inner():
        gate.wait(WAIT)
        return 1

    inject("task.after_call")
    f_inner = hpyx.async_(inner)
    outer = hpyx.async_(lambda: f_inner.result(timeout=WAIT) + 1)
    gate.set()
    with pytest.raises(hpyx.InternalError):
        outer.result(timeout=WAIT)
    _pool_still_works()


def _capture_unraisable(monkeypatch):
    seen = []
    lock = threading.Lock()

    def hook(args):
        with lock:
            seen.append(args.exc_value)

    monkeypatch.setattr(sys, "unraisablehook", hook)
    return seen


def test_panic_in_a_callback_on_a_finished_future_is_reported(inject, monkeypatch):
    seen = _capture_unraisable(monkeypatch)
    f = hpyx.ready_future(1)
    calls = []
    inject("callback")
    # Never a PanicException (a BaseException) out of add_done_callback.
    f.add_done_callback(calls.append)
    assert calls == []
    assert len(seen) == 1 and isinstance(seen[0], hpyx.InternalError), seen
    assert "fault injection" in str(seen[0])
    # The next callback runs.
    f.add_done_callback(calls.append)
    assert calls == [f]
    _pool_still_works()


def test_panic_in_a_callback_run_by_the_completion_walk(inject, monkeypatch):
    seen = _capture_unraisable(monkeypatch)
    done = threading.Event()
    calls = []
    f = hpyx.Future()
    f.add_done_callback(lambda fut: calls.append("first"))
    f.add_done_callback(lambda fut: (calls.append("second"), done.set()))
    dependent = f.then(lambda v: v * 2)
    inject("callback")
    f.set_result(21)
    assert done.wait(WAIT)
    # The first callback's glue panicked: reported, and the rest went on.
    assert calls == ["second"]
    assert len(seen) == 1 and isinstance(seen[0], hpyx.InternalError), seen
    assert dependent.result(timeout=WAIT) == 42
    assert f.result(timeout=WAIT) == 21
    _pool_still_works()


def test_panic_in_a_callback_run_by_a_worker(inject, monkeypatch):
    seen = _capture_unraisable(monkeypatch)
    gate = threading.Event()
    fired = threading.Event()
    f = hpyx.async_(gate.wait, WAIT)
    f.add_done_callback(lambda fut: None)
    f.add_done_callback(lambda fut: fired.set())
    inject("callback")
    gate.set()
    assert fired.wait(WAIT)
    assert f.result(timeout=WAIT) is True
    assert len(seen) == 1 and isinstance(seen[0], hpyx.InternalError), seen
    _pool_still_works()


def test_process_survives_every_fault_point():
    """All points, many panics each, in a fresh process: it exits 0, every
    affected future failed with InternalError, 10,000 tasks ran after."""
    proc = check_py(
        """
        import sys, threading
        import hpyx
        from hpyx import _core
        assert hasattr(_core, "_inject_panic"), "built without fault-injection"
        sys.unraisablehook = lambda args: None
        K = 20
        for point in ("task.before_call", "task.after_call"):
            _core._inject_panic(point, K)
            fs = [hpyx.async_(int, i) for i in range(K)]
            for f in fs:
                assert isinstance(f.exception(timeout=30), hpyx.InternalError), point
        _core._inject_panic("then.build_args", K)
        root = hpyx.ready_future(1)
        fs = [root.then(int) for _ in range(K)]
        assert all(isinstance(f.exception(timeout=30), hpyx.InternalError) for f in fs)
        _core._inject_panic("when_all.build", K)
        fs = [hpyx.when_all(root) for _ in range(K)]
        assert all(isinstance(f.exception(timeout=30), hpyx.InternalError) for f in fs)
        _core._inject_panic("callback", K)
        calls = []
        for _ in range(K):
            root.add_done_callback(calls.append)
        assert calls == []
        for point in _core._FAULT_POINTS:
            assert _core._injected_remaining(point) == 0, point
        fs = [hpyx.async_(int, i) for i in range(10_000)]
        assert hpyx.when_all(fs).result(timeout=30) == tuple(range(10_000))
        root.add_done_callback(calls.append)
        assert calls == [root]
        print("survived")
        """,
        timeout=120,
    )
    assert "survived" in proc.stdout
    assert "Fatal Python error" not in proc.stderr
    assert "PanicException" not in proc.stderr
    # The injected panics were reported (by Rust's panic hook), not hidden.
    assert "fault injection" in proc.stderr
