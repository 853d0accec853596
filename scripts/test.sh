#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up (idempotent), the Rust tests of
# every crate, then the Python suite on CPython 3.11 and on free-threaded
# 3.13t. Stops at the first failing tier.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "== cargo test --workspace" >&2
cargo test --workspace --quiet

for venv in .venv .venv-313t; do
    [ -x "$venv/bin/python" ] || continue
    echo "== pytest on $("$venv/bin/python" -c 'import sys; print(sys.version.split()[0], "free-threaded" if not getattr(sys, "_is_gil_enabled", lambda: True)() else "GIL")')" >&2
    # -p no:cacheprovider: CI's clone stays clean.
    "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/python
done
