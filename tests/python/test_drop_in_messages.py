"""The stdlib's exceptions and words wherever HPXExecutor and ThreadPoolExecutor
meet the same situation (code matches on them)."""

from __future__ import annotations

import concurrent.futures as cf

import pytest
from conftest import WAIT
from fresh_interpreter import check_py

import hpyx

AFTER_EXIT = "cannot schedule new futures after interpreter shutdown"


@pytest.mark.parametrize(
    "make, used",
    [
        ("cf.ThreadPoolExecutor()", False),
        ("hpyx.HPXExecutor()", False),
        ("hpyx.HPXExecutor()", True),
    ],
)
def test_submit_and_map_in_an_atexit_callback_use_the_stdlib_words(make, used):
    # Registered before hpyx is imported, so it runs after hpyx's own exit
    # hook has shut the pool down (atexit runs callbacks last-in first-out).
    # (A ThreadPoolExecutor that has started threads says "after shutdown"
    # there: its exiting workers mark it shut down.)
    proc = check_py(
        """
        import atexit

        def late():
            for call in (lambda: ex.submit(abs, -1), lambda: ex.map(abs, [-1])):
                try:
                    call()
                except RuntimeError as e:
                    print("RuntimeError:", e)
                else:
                    print("no error")

        atexit.register(late)
        import concurrent.futures as cf
        import hpyx
        ex = %s
        if %s:
            assert ex.submit(abs, -2).result(timeout=30) == 2
        """
        % (make, used)
    )
    assert proc.stdout.splitlines() == ["RuntimeError: " + AFTER_EXIT] * 2, proc.stderr


def test_after_an_explicit_hpyx_shutdown_the_executor_says_why():
    # Not the interpreter's exit: the pool was stopped by the program, and
    # the message says that it cannot restart.
    proc = check_py(
        """
        import hpyx
        ex = hpyx.HPXExecutor()
        ex.submit(int).result(timeout=30)
        hpyx.shutdown()
        try:
            ex.submit(int)
        except RuntimeError as e:
            print(e)
        """
    )
    assert "cannot be restarted" in proc.stdout, proc.stdout


@pytest.mark.parametrize("cls", [cf.ThreadPoolExecutor, hpyx.HPXExecutor])
def test_after_shutdown(cls):
    ex = cls()
    assert ex.submit(abs, -1).result(timeout=WAIT) == 1
    ex.shutdown()
    for call in (lambda: ex.submit(abs, -1), lambda: ex.map(abs, [-1])):
        with pytest.raises(RuntimeError, match=r"^cannot schedule new futures after shutdown$"):
            call()


@pytest.mark.parametrize("cls", [cf.ThreadPoolExecutor, hpyx.HPXExecutor])
def test_constructor_errors(cls):
    with pytest.raises(ValueError, match=r"^max_workers must be greater than 0$"):
        cls(max_workers=0)
    with pytest.raises(TypeError, match=r"^initializer must be a callable$"):
        cls(initializer="setup")
