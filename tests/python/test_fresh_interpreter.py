"""The fresh-interpreter runner every subprocess test relies on.

A test that runs a script in its own interpreter must see that script's exit
code and output, must not pass or fail because of the environment the suite
was started in, and must fail (not hang the suite) when the script hangs,
even if the script started processes of its own that hold its output open.
"""

from __future__ import annotations

import time

import pytest
from conftest import WAIT
from fresh_interpreter import child_environment, run_py

pytestmark = pytest.mark.thread_unsafe(reason="runs subprocesses; changes os.environ")


def test_run_py_returns_exit_code_and_output():
    proc = run_py("import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)")
    assert proc.returncode == 3
    assert proc.stdout.strip() == "out"
    assert proc.stderr.strip() == "err"


def test_run_py_passes_script_arguments_and_interpreter_flags():
    proc = run_py(
        "import sys; print(sys.argv[1:], sys.flags.optimize)",
        flags=("-O",),
        args=("a", "b"),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['a', 'b'] 1"


def test_child_environment_drops_hpyx_and_python_settings(monkeypatch):
    monkeypatch.setenv("HPYX_OS_THREADS", "7")
    monkeypatch.setenv("HPYX_SOMETHING_NEW", "1")
    monkeypatch.setenv("PYTHONWARNINGS", "error")
    monkeypatch.setenv("PYTHON_GIL", "1")
    monkeypatch.setenv("UNRELATED_SETTING", "kept")
    env = child_environment({"HPYX_AUTOINIT": 0, "EXTRA": "x"})
    assert (
        not {"HPYX_OS_THREADS", "HPYX_SOMETHING_NEW", "PYTHONWARNINGS", "PYTHON_GIL"} & env.keys()
    )
    assert env["UNRELATED_SETTING"] == "kept"
    # What the test passes is set, as a string; a crash prints the stacks.
    assert env["HPYX_AUTOINIT"] == "0" and env["EXTRA"] == "x"
    assert env["PYTHONFAULTHANDLER"] == "1"


def test_run_py_child_sees_only_the_environment_the_test_gives(monkeypatch):
    monkeypatch.setenv("HPYX_OS_THREADS", "7")
    proc = run_py(
        "import os; print(os.environ.get('HPYX_OS_THREADS'), os.environ.get('EXTRA'))",
        env={"EXTRA": "x"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "None x"


def _gone(pid):
    """True once ``pid`` has exited (a zombie waiting for its reaper counts)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_hung_child_is_killed_with_its_process_group_and_fails_the_test():
    # The grandchild inherits the output pipes: unless it is killed too,
    # reading the hung child's output would never end.
    script = """
        import subprocess, sys, time
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print("grandchild", grandchild.pid, flush=True)
        time.sleep(600)
    """
    with pytest.raises(pytest.fail.Exception, match="hung") as failure:
        run_py(script, timeout=5, watchdog=False)
    message = str(failure.value)
    assert "grandchild" in message, message  # what the child printed is shown
    pid = int(message.split("grandchild", 1)[1].split()[0])
    deadline = time.monotonic() + WAIT
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid), "the grandchild %d outlived the kill" % pid


def test_watchdog_dumps_the_stacks_of_a_hung_child_before_the_kill():
    # timeout=7: the watchdog fires 5 s before the kill, at 2 s.
    proc = run_py("import time\ntime.sleep(600)", timeout=7)
    assert proc.returncode == 1, proc.stderr
    assert "Timeout (0:00:02)!" in proc.stderr, proc.stderr
    assert "<module>" in proc.stderr, proc.stderr  # the main thread's stack
