#!/usr/bin/env bash
# Release wheels of hpyx, one per interpreter, and an sdist.
#
#   scripts/wheels.sh                 # every tested interpreter, into dist/
#   HPYX_PYTHONS=3.11 HPYX_WHEEL_DIR=target/wheels scripts/wheels.sh
#
# `maturin build --release` without the test-only `fault-injection` feature
# (the dev builds of scripts/setup.sh have it; wheels never do). Each
# interpreter's wheel is built with its venv's maturin, in the target dir
# of its dev build, so only the glue crate is compiled again. The sdist is
# made only for the default output directory (it is the same for all).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pythons.sh

out=${HPYX_WHEEL_DIR:-dist}
log() { printf 'wheels: %s\n' "$*" >&2; }

# scripts/test.sh has just run it.
[ -n "${HPYX_SKIP_SETUP:-}" ] || bash scripts/setup.sh
mkdir -p "$out" target
for version in $pythons; do
    venv=$(venv_of "$version")
    build_log=target/wheel-$version.log
    log "building the release wheel for $version"
    if ! CARGO_TARGET_DIR="$PWD/target/py-$version" \
        "$venv/bin/maturin" build --release --interpreter "$venv/bin/python" \
        --out "$out" >"$build_log" 2>&1; then
        tail -n 30 "$build_log" >&2
        log "building the $version wheel failed (full log: $build_log)"
        exit 1
    fi
    # maturin names the wheel it built on its "Built wheel ... to PATH" line.
    sed -n 's/.*Built wheel.* to \(.*\.whl\)$/\1/p' "$build_log" | sed "s|^$PWD/||;s|^|wheels: |" >&2
done
if [ "$out" = dist ]; then
    log "building the sdist"
    "$(venv_of "${pythons%% *}")/bin/maturin" sdist --out "$out" >target/sdist.log 2>&1 || {
        tail -n 30 target/sdist.log >&2
        log "building the sdist failed (full log: target/sdist.log)"
        exit 1
    }
    sed -n 's/.*Built source distribution to \(.*\)$/\1/p' target/sdist.log | sed "s|^$PWD/||;s|^|wheels: |" >&2
fi
