#!/usr/bin/env bash
# make demo: sets up hpyx for CPython 3.11 and free-threaded 3.13t (a fresh
# machine builds 3.13t once, about 10 minutes), runs examples/pipeline.py on
# both, and says what it produced where. One line per step; the long
# outputs (CPython's build, cargo) go to log files named on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pythons.sh

demo_pythons="3.11 3.13t"
HPYX_PYTHONS=$demo_pythons bash scripts/setup.sh

for version in $demo_pythons; do
    venv=$(venv_of "$version")
    printf '\ndemo: examples/pipeline.py on %s\n' \
        "$("$venv/bin/python" -c 'import sys; print("CPython", sys.version.split()[0], "free-threaded" if not getattr(sys, "_is_gil_enabled", lambda: True)() else "(GIL)")')"
    "$venv/bin/python" examples/pipeline.py "examples/out/$version"
done

cat <<EOF

demo: done. It produced:
  .venv, .venv-313t       virtualenvs of CPython 3.11 and free-threaded 3.13t with hpyx
                          built in (3.13t itself: ${HPYX_CACHE_DIR:-$HOME/.cache/hpyx}/python3.13t)
  examples/out/3.11/      pipeline.svg (the DAG), trace.jsonl (a line per task),
  examples/out/3.13t/     pipeline.trace.json (open it in Perfetto)
Next: make test (the whole suite), make docs (the user guide), make help.
EOF
