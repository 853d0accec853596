"""Running a script in a fresh interpreter, for the tests that need a process of their own.

hpyx's runtime is process-global: anything that touches its lifetime or size
(``hpyx.init`` with arguments, ``hpyx.shutdown``, ``HPYX_*`` variables,
atexit, fork, signals, finalization) runs in a new ``sys.executable``, never
in the test process. Every test does it through ``run_py``, which:

- starts the child with an environment that says only what the test says:
  this process's environment minus every ``HPYX_*`` variable and the Python
  settings that would change what the script sees (``PYTHON_GIL``,
  ``PYTHONWARNINGS``), plus ``PYTHONFAULTHANDLER=1`` (a crash prints the
  stacks) and the test's ``env``;
- starts it in a session of its own and, if it outlives ``timeout`` (or the
  test is interrupted), kills its whole process group (the child and
  anything it started, so no grandchild keeps the output pipes open) and
  fails the test with what the child had printed: a hang fails instead of
  blocking the suite;
- with ``watchdog=True`` (the default), first arms
  ``faulthandler.dump_traceback_later(timeout - 5, exit=True)`` in the
  script, so a hang also prints every thread's stack before the kill. The
  watchdog is one more OS thread in the child: pass ``watchdog=False`` when
  the script counts its threads or forks (3.12+ warns about forking a
  process that has threads).

Test modules import ``run_py`` (returns the CompletedProcess), ``check_py``
(``run_py`` that asserts exit code 0), ``assert_clean_exit`` and
``describe`` (a finished child's outputs, for assertion messages) from here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

# Inherited Python settings that would change what a script under test sees.
_SCRUBBED = ("PYTHON_GIL", "PYTHONWARNINGS")

# Seconds before the timeout at which the watchdog dumps the stacks and exits.
_WATCHDOG_MARGIN = 5.0


def child_environment(env=None):
    """The environment ``run_py`` gives a child: see the module docstring."""
    child_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("HPYX_") and key not in _SCRUBBED
    }
    child_env["PYTHONFAULTHANDLER"] = "1"
    child_env.update({key: str(value) for key, value in (env or {}).items()})
    return child_env


def run_py(code, *, env=None, timeout=60, flags=(), args=(), watchdog=True):
    """Runs ``code`` in a new interpreter and returns the CompletedProcess.

    Args:
        code: The script (dedented before it runs).
        env: Variables to set in the child, on top of ``child_environment``.
        timeout: Seconds before the child's process group is killed and the
            test fails.
        flags: Interpreter flags, e.g. ``("-W", "error")``.
        args: ``sys.argv[1:]`` of the script.
        watchdog: Arm ``faulthandler.dump_traceback_later`` in the script.
    """
    script = textwrap.dedent(code)
    if watchdog:
        script = (
            "import faulthandler as _fh; _fh.dump_traceback_later(%r, exit=True); del _fh\n"
            % max(1.0, timeout - _WATCHDOG_MARGIN)
        ) + script
    proc = subprocess.Popen(
        [sys.executable, *flags, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_environment(env),
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException as exc:
        # The timeout, or the test interrupted (pytest-timeout, Ctrl-C):
        # nothing the child started may outlive the test.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        if not isinstance(exc, subprocess.TimeoutExpired):
            raise
    else:
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    # Outside the except block, so the report is not buried under the
    # TimeoutExpired (which repeats the whole script).
    pytest.fail(
        "subprocess hung (its process group was killed after %ss)\n"
        "--- stdout ---\n%s\n--- stderr ---\n%s" % (timeout, out, err)
    )


def check_py(code, **kwargs):
    """``run_py`` that asserts the child exited 0; returns the CompletedProcess."""
    proc = run_py(code, **kwargs)
    assert proc.returncode == 0, describe(proc)
    return proc


def describe(proc):
    """The outputs of a finished subprocess, for assertion messages."""
    return "returncode=%s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
        proc.returncode,
        proc.stdout,
        proc.stderr,
    )


def assert_clean_exit(proc):
    """Exit code 0, no fatal error, no Rust panic, no traceback."""
    info = describe(proc)
    assert proc.returncode == 0, info
    assert "Fatal Python error" not in proc.stderr, info
    assert "panicked" not in proc.stderr, info
    assert "Traceback" not in proc.stderr, info
