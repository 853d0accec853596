#!/usr/bin/env bash
# The long reliability tiers of the Python suite (tests marked `slow`): the
# random-DAG soak test for HPYX_SOAK_SECONDS (default 300) per interpreter,
# the 1,000,000-task x 10 memory rounds, and gc.collect() looping without
# a pause while tasks block on each other, on CPython 3.11 and 3.13t.
#
#   ci/soak.sh                          # 5 minutes of DAGs per interpreter
#   HPYX_SOAK_SECONDS=1800 ci/soak.sh   # 30 minutes per interpreter
set -euo pipefail
cd "$(dirname "$0")/.."

export HPYX_SOAK_SECONDS=${HPYX_SOAK_SECONDS:-300}
ran=0
for venv in .venv .venv-313t; do
    [ -x "$venv/bin/python" ] || continue
    echo "== soak on $venv ($HPYX_SOAK_SECONDS s of random DAGs, then 1M-task memory rounds)" >&2
    # -s: the soak test prints how many DAGs it checked.
    "$venv/bin/python" -m pytest -q -s -p no:cacheprovider -m slow --timeout=0 \
        tests/python/test_soak.py tests/python/test_leaks.py tests/python/test_free_threading_stress.py "$@"
    ran=$((ran + 1))
done
if [ "$ran" = 0 ]; then
    echo "soak: no virtualenv found; run 'make setup' first" >&2
    exit 2
fi
