"""examples/typed_pipeline.py (the example of hpyx's typed API) runs and
prints what its pipeline computes. `make lint` type-checks it."""

import pathlib

from fresh_interpreter import assert_clean_exit, run_py

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
