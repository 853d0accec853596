#!/usr/bin/env bash
# Sets up everything hpyx needs on a fresh Debian machine, idempotently:
# system packages (Graphviz), a free-threaded CPython 3.13t (built once into a
# cache), one virtualenv per interpreter with the test dependencies, and the
# extension built into each. Repeat runs only rebuild what changed. One line
# of output per step; long outputs go to log files named on failure.
#
#   scripts/setup.sh                          # 3.11, 3.12, 3.13 and 3.13t
#   HPYX_PYTHONS="3.11 3.13t" scripts/setup.sh   # a choice of them
#
# The interpreters and their venvs are listed in scripts/pythons.sh.
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
    apt_log=target/apt-install.log
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need_apt[@]}"; } >"$apt_log" 2>&1; then
        tail -n 20 "$apt_log" >&2
        log "installing ${need_apt[*]} failed (full log: $apt_log)"
        exit 1
    fi
fi

source scripts/pythons.sh
test_deps=(pytest pytest-timeout pytest-run-parallel hypothesis "dask>=2025.1" "distributed>=2025.1" tqdm)
# The docs site (mkdocs build --strict in scripts/test.sh), in .venv only.
docs_deps=(mkdocs mkdocs-material "mkdocstrings[python]")
# The linters and type checkers of `make lint` (a tier of scripts/test.sh), in .venv only.
lint_deps=(ruff mypy pyright)

# A GIL build of CPython $1 (e.g. 3.12): on PATH, else pyenv's newest.
# Candidates are run, not just found: a pyenv shim for a version that is not
# selected exists but fails.
find_cpython() {
    local candidate
    for candidate in $(command -v "python$1" 2>/dev/null) \
        $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$1".*/bin/"python$1" 2>/dev/null | sort -V -r); do
        if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != tuple(map(int, sys.argv[1].split("."))) or not getattr(sys, "_is_gil_enabled", lambda: True)())' "$1" 2>/dev/null; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    log "no CPython $1 found (looked on PATH and in pyenv); install it, or leave it out of HPYX_PYTHONS"
    return 1
}
# For the dask collection tests and benchmarks: taken as wheels only (the
# newest release with a wheel for the interpreter; building numpy, pandas or
# pyarrow from source would take an hour, or fail). A package with no wheel
# for an interpreter is reported here, its tests report themselves skipped
# and the benchmark names it missing.
wheel_deps=("dask[array,bag,dataframe]" numpy pandas frisky)

# --- one venv per interpreter ---------------------------------------------------
for version in $pythons; do
    venv=$(venv_of "$version")
    case $version in
        3.11) base=$(command -v python3.11 || command -v python3) ;;
        3.12 | 3.13) base=$(find_cpython "$version") ;;
        3.13t) base=$(bash scripts/ensure-python313t.sh | tail -1) ;;
    esac
    if [ ! -x "$venv/bin/python" ]; then
        log "creating $venv from $base"
        "$base" -m venv "$venv"
    fi
    deps=("${test_deps[@]}")
    [ "$version" = 3.11 ] && deps+=("${docs_deps[@]}" "${lint_deps[@]}")
    stamp="$venv/.deps-installed"
    if [ "$(cat "$stamp" 2>/dev/null)" != "${deps[*]} ${wheel_deps[*]}" ]; then
        log "installing test dependencies into $venv"
        # --only-binary: recent hypothesis releases carry a PyO3 extension
        # that does not build for 3.13t; take the newest one with a wheel.
        "$venv/bin/python" -m pip install -q --disable-pip-version-check \
            --root-user-action=ignore --only-binary=hypothesis \
            maturin "${deps[@]}"
        for dep in "${wheel_deps[@]}"; do
            "$venv/bin/python" -m pip install -q --disable-pip-version-check \
                --root-user-action=ignore --only-binary=:all: "$dep" >>"target/pip-$version.log" 2>&1 \
                || log "$dep: no wheel for $version (target/pip-$version.log); what needs it is skipped and says so"
        done
        echo "${deps[*]} ${wheel_deps[*]}" >"$stamp"
    fi
    # A target dir per interpreter: PyO3 is configured per interpreter, so a
    # shared one would rebuild it on every switch. These are the dev/test
    # builds: they carry the test-only fault injection (release wheels, from
    # `maturin build`, never do).
    log "building hpyx into $venv"
    build_log=target/py-$version.build.log
    if ! VIRTUAL_ENV="$PWD/$venv" PATH="$PWD/$venv/bin:$PATH" \
        CARGO_TARGET_DIR="$PWD/target/py-$version" \
        "$venv/bin/maturin" develop --release --features fault-injection >"$build_log" 2>&1; then
        tail -n 30 "$build_log" >&2
        log "building hpyx into $venv failed (full log: $build_log)"
        exit 1
    fi
    "$venv/bin/python" -c "import hpyx, sys; print('setup: hpyx', hpyx.__version__, 'on', sys.version.split()[0], 'GIL', 'on' if getattr(sys, '_is_gil_enabled', lambda: True)() else 'off', file=sys.stderr)"
done
