"""What of the submitting thread's context reaches a task.

Decided (README, "Behaviour where the stdlib has no answer"): as with
``ThreadPoolExecutor``, a task runs in its worker thread's own context, so
``contextvars`` set by the submitter are not seen unless the caller passes
its context (``ex.submit(contextvars.copy_context().run, fn, *args)``).
``warnings`` filters are process-wide state on 3.11-3.13 (GIL and
free-threaded): a ``catch_warnings`` block in the submitter also catches a
task's warnings while it is active. The same on a cold pool (the first task
starts it) as on a warm one.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextvars

import pytest
from conftest import WAIT
from fresh_interpreter import check_py

import hpyx

REQUEST = contextvars.ContextVar("request", default="unset")


def _read_request():
    return REQUEST.get()


@pytest.mark.parametrize("peer", ["hpyx", "tpe"])
def test_contextvars_do_not_reach_tasks_unless_the_context_is_passed(peer):
    ex = hpyx.HPXExecutor() if peer == "hpyx" else cf.ThreadPoolExecutor(2)
    with ex:
        token = REQUEST.set("r-42")
        try:
            assert ex.submit(_read_request).result(timeout=WAIT) == "unset"
            ctx = contextvars.copy_context()
            assert ex.submit(ctx.run, _read_request).result(timeout=WAIT) == "r-42"
        finally:
            REQUEST.reset(token)


def test_contextvars_in_then_and_dataflow_are_the_workers_too():
    token = REQUEST.set("r-7")
    try:
        f = hpyx.ready_future(1).then(lambda _: REQUEST.get())
        g = hpyx.dataflow(lambda _: REQUEST.get(), hpyx.async_(int))
        assert (f.result(timeout=WAIT), g.result(timeout=WAIT)) == ("unset", "unset")
    finally:
        REQUEST.reset(token)


_COLD_POOL = r"""
import contextvars, warnings
import hpyx

REQUEST = contextvars.ContextVar("request", default="unset")
REQUEST.set("r-1")
assert not hpyx.is_running()

def task():
    warnings.warn("from a task", UserWarning, stacklevel=1)
    return REQUEST.get()

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    # The first submit starts the pool (cold).
    assert hpyx.async_(task).result(timeout=30) == "unset"
    ctx = contextvars.copy_context()
    assert hpyx.async_(ctx.run, task).result(timeout=30) == "r-1"
assert [str(w.message) for w in caught] == ["from a task"] * 2, caught
print("ok")
"""


@pytest.mark.thread_unsafe(reason="runs a subprocess")
def test_cold_pool_behaves_like_a_warm_one():
    proc = check_py(_COLD_POOL, timeout=60)
    assert proc.stdout.strip() == "ok"


@pytest.mark.thread_unsafe(reason="warnings filters are process-wide")
def test_catch_warnings_in_the_submitter_catches_task_warnings():
    import warnings

    def task():
        warnings.warn("from a task", UserWarning, stacklevel=1)
        return 1

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert hpyx.async_(task).result(timeout=WAIT) == 1
    assert [str(w.message) for w in caught] == ["from a task"]
