"""Helpers for the tests that need a process of their own.

hpyx's runtime is process-global: anything that touches its lifetime or size
(``HPYX_OS_THREADS``, shutdown, atexit, fork, signals) runs in a fresh
interpreter. ``run_py`` starts one with a hard timeout (the whole process
group is killed on expiry, so a hang fails the test instead of blocking the
suite) and, by default, arms ``faulthandler.dump_traceback_later`` inside
the script so that a hang also shows where it hung.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import textwrap

import pytest

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))

# Inherited settings that would change what a script under test sees.
_SCRUB = ("HPYX_OS_THREADS", "HPYX_AUTOINIT", "HPYX_TRACE_PATH", "PYTHON_GIL", "PYTHONWARNINGS")


def run_py(code, *, env=None, timeout=60, flags=(), args=(), faulthandler=True):
    """Runs ``code`` in a new interpreter and returns the CompletedProcess.

    Args:
        code: The script (dedented).
        env: Extra environment variables (``HPYX_*`` of the parent are not
            inherited).
        timeout: Seconds before the process group is killed and the test
            fails. The in-script faulthandler fires a few seconds earlier.
        flags: Interpreter flags, e.g. ``("-W", "error")``.
        args: ``sys.argv[1:]`` for the script.
        faulthandler: Arm ``faulthandler.dump_traceback_later`` in the script
            (not for scripts that count threads or fork: it starts a thread).
    """
    script = textwrap.dedent(code)
    if faulthandler:
        script = (
            "import faulthandler as _fh\n"
            "_fh.dump_traceback_later(%r, exit=True)\n" % max(1.0, timeout - 5.0)
        ) + script
    full_env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    full_env["PYTHONFAULTHANDLER"] = "1"
    full_env.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, *flags, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        pytest.fail(
            "subprocess hung (killed after %ss)\n--- stdout ---\n%s\n--- stderr ---\n%s"
            % (timeout, out, err)
        )
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def describe(proc):
    """The outputs of a finished subprocess, for assertion messages."""
    return "returncode=%s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
        proc.returncode,
        proc.stdout,
        proc.stderr,
    )


def assert_clean_exit(proc, *, allow_traceback=False):
    """Exit code 0, no fatal error, no Rust panic, (by default) no traceback."""
    info = describe(proc)
    assert proc.returncode == 0, info
    assert "Fatal Python error" not in proc.stderr, info
    assert "panicked" not in proc.stderr, info
    if not allow_traceback:
        assert "Traceback" not in proc.stderr, info


def not_killed_by_signal(proc):
    """True unless the process died of a signal (segfault, abort, ...)."""
    return proc.returncode >= 0
