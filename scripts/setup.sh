#!/usr/bin/env bash
# Sets up everything hpyx needs on a fresh Debian machine, idempotently:
# system packages (Graphviz), a free-threaded CPython 3.13t (built once into a
# cache), one virtualenv per interpreter with the test dependencies, and the
# extension built into each. Repeat runs only rebuild what changed.
#
#   scripts/setup.sh            # everything
#   HPYX_PYTHONS=3.11 scripts/setup.sh   # only the machine's CPython
set -euo pipefail
cd "$(dirname "$0")/.."

# One set-up at a time per checkout (concurrent maturin installs into one
# venv would clash).
if [ -z "${HPYX_SETUP_LOCKED:-}" ]; then
    mkdir -p target
    exec env HPYX_SETUP_LOCKED=1 flock target/.setup.lock bash "$0" "$@"
fi

log() { printf 'setup: %s\n' "$*" >&2; }

# --- system packages ----------------------------------------------------------
need_apt=()
command -v dot >/dev/null 2>&1 || need_apt+=(graphviz)
if ((${#need_apt[@]})); then
    log "installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

pythons=${HPYX_PYTHONS:-"3.11 3.13t"}
test_deps=(pytest pytest-timeout pytest-run-parallel hypothesis dask tqdm)
# For the dask collection tests and benchmarks: taken as wheels only (the
# newest release with a wheel for the interpreter; building numpy, pandas or
# pyarrow from source would take an hour, or fail). A package with no wheel
# for an interpreter is reported here, its tests report themselves skipped
# and the benchmark names it missing.
wheel_deps=("dask[array,bag,dataframe]" numpy pandas frisky)

# --- one venv per interpreter ---------------------------------------------------
for version in $pythons; do
    case $version in
        3.11) base=$(command -v python3.11 || command -v python3); venv=.venv ;;
        3.13t) base=$(bash scripts/ensure-python313t.sh | tail -1); venv=.venv-313t ;;
        *) echo "setup: unknown interpreter $version" >&2; exit 2 ;;
    esac
    if [ ! -x "$venv/bin/python" ]; then
        log "creating $venv from $base"
        "$base" -m venv "$venv"
    fi
    stamp="$venv/.deps-installed"
    if [ "$(cat "$stamp" 2>/dev/null)" != "${test_deps[*]} ${wheel_deps[*]}" ]; then
        log "installing test dependencies into $venv"
        # --only-binary: recent hypothesis releases carry a PyO3 extension
        # that does not build for 3.13t; take the newest one with a wheel.
        "$venv/bin/python" -m pip install -q --disable-pip-version-check \
            --root-user-action=ignore --only-binary=hypothesis \
            maturin "${test_deps[@]}"
        for dep in "${wheel_deps[@]}"; do
            "$venv/bin/python" -m pip install -q --disable-pip-version-check \
                --root-user-action=ignore --only-binary=:all: "$dep" \
                || log "$dep: no wheel for $version; the tests that need it are skipped"
        done
        echo "${test_deps[*]} ${wheel_deps[*]}" >"$stamp"
    fi
    # A target dir per interpreter: PyO3 is configured per interpreter, so a
    # shared one would rebuild it on every switch. These are the dev/test
    # builds: they carry the test-only fault injection (release wheels, from
    # `maturin build`, never do).
    log "building hpyx into $venv"
    VIRTUAL_ENV="$PWD/$venv" PATH="$PWD/$venv/bin:$PATH" \
        CARGO_TARGET_DIR="$PWD/target/py-$version" \
        "$venv/bin/maturin" develop --release --features fault-injection --quiet >/dev/null 2>&1 \
        || VIRTUAL_ENV="$PWD/$venv" PATH="$PWD/$venv/bin:$PATH" \
            CARGO_TARGET_DIR="$PWD/target/py-$version" \
            "$venv/bin/maturin" develop --release --features fault-injection
    "$venv/bin/python" -c "import hpyx, sys; print('setup: hpyx', hpyx.__version__, 'on', sys.version.split()[0], 'GIL', 'on' if getattr(sys, '_is_gil_enabled', lambda: True)() else 'off', file=sys.stderr)"
done
