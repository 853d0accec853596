"""hpyx's typed API at runtime: ``hpyx.Future[T]`` subscripts like the
stdlib's future, the typed signatures leave the runtime ones as they were,
and examples/typed_pipeline.py (which `make lint` type-checks) runs and
prints what its pipeline computes."""

import concurrent.futures as cf
import inspect
import pathlib

from fresh_interpreter import assert_clean_exit, run_py

import hpyx

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "typed_pipeline.py"


def test_typed_pipeline_example_runs_and_prints_its_results():
    proc = run_py(
        "import runpy, sys\nsys.argv = [%r]\nrunpy.run_path(%r, run_name='__main__')\n"
        % (str(EXAMPLE), str(EXAMPLE))
    )
    assert_clean_exit(proc)
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["two days: 46.0 + 174.0 = 220.0", "totals: 46.0, 174.0"], proc.stdout
    # Either total may finish first; the line names one and its value.
    assert lines[2] in (
        "first finished: input 0, value 46.0",
        "first finished: input 1, value 174.0",
    ), proc.stdout
    assert len(lines) == 3, proc.stdout


def test_future_subscripts_at_runtime_like_the_stdlib_future():
    alias = hpyx.Future[int]
    assert alias.__origin__ is hpyx.Future
    assert alias.__args__ == (int,)
    assert issubclass(hpyx.Future, cf.Future)
    assert isinstance(hpyx.ready_future(1), alias.__origin__)


def test_async_and_submit_stay_the_rust_callables():
    # No Python frame per task: the typed signatures exist for checkers only.
    assert inspect.isbuiltin(hpyx.async_)
    assert inspect.isbuiltin(hpyx.dataflow)
    assert inspect.isbuiltin(hpyx.ready_future(1).then)
    with hpyx.HPXExecutor() as executor:
        assert inspect.isbuiltin(executor.submit)
        assert str(inspect.signature(executor.submit)) == "(fn, /, *args, **kwargs)"
    assert inspect.signature(hpyx.HPXExecutor) == inspect.signature(cf.ThreadPoolExecutor)
