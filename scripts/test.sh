#!/usr/bin/env bash
# The whole test suite, as CI runs it (`make test`). Runs every tier even
# when one fails (only a failed set-up stops it), then lists each tier's
# time and result, and exits 1 if any tier failed.
#
#   tier                 interpreter  what is tested
#   rust                 -            cargo test --workspace
#   lint                 3.11         make lint: rustfmt, clippy -D warnings, ruff,
#                                     mypy, stubtest and pyright (tools in .venv)
#   docs                 3.11         mkdocs build --strict (the examples run in the suite)
#   installed wheel      3.11         the whole suite against the release wheel, installed
#                                     into a clean venv and run outside the source tree
#   fault injection      3.11         tests/python/test_fault_injection.py on the dev build
#   whole suite          3.13t        the dev build (.venv-313t)
#   fast tier            3.12         the dev build (.venv-312)
#   pip install .        3.13         the fast tier against `pip install` of a clean copy
#                                     of the checkout, into a clean venv
#
# The fast tier is the suite without its reliability modules (FAST_TIER_OMITS:
# stress, leaks, soak, fuzzing, deep stacks, fault injection), which the
# whole-suite runs include. HPYX_PYTHONS narrows the interpreters; a tier
# whose interpreter is left out says so.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pythons.sh
ROOT=$PWD

FAST_TIER_OMITS=(
    test_free_threading_stress.py
    test_leaks.py
    test_soak.py
    test_fuzz.py
    test_stack.py
    test_fault_injection.py
)
# Needs the dev build's `fault-injection` feature, which release wheels and
# `pip install .` never have: those runs deselect it, visibly.
FAULT_INJECTION=tests/python/test_fault_injection.py

timings=()
failed=0
say() { printf '== %s\n' "$*" >&2; }

# tier NAME COMMAND...: runs COMMAND (stopping at its first failing step),
# records how long it took and whether it passed.
tier() {
    local name=$1 start=$SECONDS status
    shift
    say "$name"
    # A subshell outside any `if`/`||`, so that `set -e` holds inside it.
    set +e
    (
        set -e
        "$@"
    )
    status=$?
    set -e
    if ((status == 0)); then
        timings+=("$(printf '%5d s  passed  %s' $((SECONDS - start)) "$name")")
    else
        failed=1
        timings+=("$(printf '%5d s  FAILED  %s' $((SECONDS - start)) "$name")")
    fi
}

wanted() { [[ " $pythons " == *" $1 "* ]]; }

describe() { # the interpreter of python $1, for the tier names
    "$1" -c 'import sys; print(sys.version.split()[0], "free-threaded" if not getattr(sys, "_is_gil_enabled", lambda: True)() else "GIL")'
}

pytest_in() { # VENV_PYTHON ARGS...: pytest from the checkout
    "$1" -m pytest -q -p no:cacheprovider "${@:2}"
}

# pytest against an installed hpyx, from an empty directory, so that only
# the installed package can be imported; the suite's settings are read from
# this checkout's pyproject.toml.
pytest_installed() { # VENV_PYTHON ARGS...
    local python=$1 dir
    shift
    [[ $python == /* ]] || python=$ROOT/$python
    dir=$(mktemp -d)
    (
        cd "$dir"
        "$python" - "$ROOT" <<'EOF'
import os, sys
import hpyx
from hpyx import _core
where = os.path.dirname(hpyx.__file__)
assert where.startswith(sys.prefix), "hpyx imported from %s, not the installed package" % where
assert not hasattr(_core, "_inject_panic"), "a release build has the test-only fault injection"
assert where != os.path.join(sys.argv[1], "python", "hpyx"), where
print("testing the installed hpyx %s in %s" % (hpyx.__version__, where), file=sys.stderr)
EOF
        "$python" -m pytest -q -p no:cacheprovider -c "$ROOT/pyproject.toml" --rootdir "$ROOT" "$@"
    )
    rm -rf "$dir"
}

fresh_venv() { # BASE_PYTHON DIR: a new venv at DIR
    rm -rf "$2"
    "$("$1" -c 'import sys; print(sys._base_executable)')" -m venv "$2"
    "$2/bin/python" -m pip install -q --disable-pip-version-check --root-user-action=ignore --upgrade pip
}

fast_tier_args() {
    local module
    for module in "${FAST_TIER_OMITS[@]}"; do printf -- '--ignore=%s\n' "$ROOT/tests/python/$module"; done
}

fast_tier_dev() { # VENV_PYTHON
    local omit
    mapfile -t omit < <(fast_tier_args)
    say "fast tier; left out: ${FAST_TIER_OMITS[*]}"
    pytest_in "$1" "${omit[@]}" tests/python
}

installed_wheel() { # VERSION
    local version=$1 wheels=target/wheels-ci venv=target/venv-wheel-$1 wheel
    rm -rf "$wheels"
    HPYX_SKIP_SETUP=1 HPYX_PYTHONS=$version HPYX_WHEEL_DIR=$wheels bash scripts/wheels.sh
    wheel=$(ls "$wheels"/hpyx-*.whl)
    fresh_venv "$(venv_of "$version")/bin/python" "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --root-user-action=ignore \
        --only-binary=hypothesis "$wheel[test]"
    say "deselected: $FAULT_INJECTION (needs the dev build's fault-injection feature; run on the dev build below)"
    pytest_installed "$venv/bin/python" --deselect "$FAULT_INJECTION" "$ROOT/tests/python"
}

pip_install_clean_copy() { # VERSION
    local version=$1 copy=target/clean-checkout venv=target/venv-pip-$1 file
    # The files git tracks, as a fresh clone has them (modification times
    # kept, so cargo rebuilds only what changed since the last run).
    rm -rf "$copy"
    mkdir -p "$copy"
    git ls-files -z | while IFS= read -r -d '' file; do
        [ -e "$file" ] && printf '%s\0' "$file"
    done | tar --null -T - -cf - | tar -xf - -C "$copy"
    fresh_venv "$(venv_of "$version")/bin/python" "$venv"
    # The dev build's target dir: the dependencies are compiled already.
    CARGO_TARGET_DIR="$ROOT/target/py-$version" "$venv/bin/python" -m pip install -q \
        --disable-pip-version-check --root-user-action=ignore --only-binary=hypothesis \
        "$copy[test]" >target/pip-install-$version.log 2>&1 || {
        tail -n 30 target/pip-install-$version.log >&2
        say "pip install of a clean copy failed (full log: target/pip-install-$version.log)"
        return 1
    }
    local omit
    mapfile -t omit < <(fast_tier_args)
    say "fast tier; left out: ${FAST_TIER_OMITS[*]}"
    pytest_installed "$venv/bin/python" "${omit[@]}" "$ROOT/tests/python"
}

skipped() { say "not run: $* (left out of HPYX_PYTHONS)"; }

say "set-up (scripts/setup.sh)"
start=$SECONDS
bash scripts/setup.sh
timings+=("$(printf '%5d s  passed  %s' $((SECONDS - start)) "set-up")")
tier "rust: cargo test --workspace" cargo test --workspace --quiet

if wanted 3.11; then
    tier "lint: make lint" make --no-print-directory lint
    tier "docs: mkdocs build --strict" env NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet
    tier "installed wheel: whole suite on $(describe .venv/bin/python)" installed_wheel 3.11
    tier "fault injection: dev build on $(describe .venv/bin/python)" pytest_in .venv/bin/python "$FAULT_INJECTION"
else
    skipped "lint, docs, installed wheel and fault injection on 3.11"
fi

if wanted 3.13t; then
    tier "whole suite on $(describe .venv-313t/bin/python)" pytest_in .venv-313t/bin/python tests/python
else
    skipped "whole suite on 3.13t"
fi

if wanted 3.12; then
    tier "fast tier on $(describe .venv-312/bin/python)" fast_tier_dev .venv-312/bin/python
else
    skipped "fast tier on 3.12"
fi

if wanted 3.13; then
    tier "pip install . and the fast tier on $(describe .venv-313/bin/python)" pip_install_clean_copy 3.13
else
    skipped "pip install . and the fast tier on 3.13"
fi

say "tiers"
printf '%s\n' "${timings[@]}" >&2
exit $failed
