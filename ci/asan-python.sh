#!/usr/bin/env bash
# AddressSanitizer over the Python suite: the extension (hpyx._core, with the
# engine and the graph, and std rebuilt with -Zbuild-std) instrumented, loaded
# into the machine's CPython 3.11, which is not instrumented: ASan then checks
# every load and store of the Rust code (use-after-free, double free,
# out-of-bounds, stack-use-after-return) and, with PYTHONMALLOC=malloc, what
# it does with the memory of Python objects too (CPython's allocations go
# through ASan's malloc, so a freed PyObject is poisoned).
#
#   ci/asan-python.sh                      # tests/python, minus the few below
#   ci/asan-python.sh -x -k test_future    # extra arguments go to pytest
#
# Everything lives apart from the dev set-up: its own venv (.venv-asan) and
# target dir (target/asan-py). The extension is built as a wheel and
# installed into .venv-asan (`maturin develop` would put the .so into
# python/hpyx, where .venv's build lives).
#
# Needs a nightly toolchain with rust-src; installs it with rustup if it can,
# and fails loudly (exit 2) if it cannot: it never reports a pass it did not
# run.
set -euo pipefail
cd "$(dirname "$0")/.."

. ci/nightly.sh
need_nightly asan-python rust-src

venv=.venv-asan
export CARGO_TARGET_DIR="$PWD/target/asan-py"
mkdir -p "$CARGO_TARGET_DIR"

# --- the venv: the same interpreter and test dependencies as .venv ----------------
base=$(command -v python3.11 || command -v python3)
if [ -x .venv/bin/python ]; then
    base=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')
fi
if [ ! -x "$venv/bin/python" ]; then
    echo "asan-python: creating $venv from $base" >&2
    "$base" -m venv "$venv"
fi
test_deps=(pytest pytest-timeout pytest-run-parallel hypothesis dask tqdm)
stamp="$venv/.deps-installed"
if [ "$(cat "$stamp" 2>/dev/null)" != "${test_deps[*]}" ]; then
    echo "asan-python: installing test dependencies into $venv" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        --root-user-action=ignore --only-binary=hypothesis \
        maturin "${test_deps[@]}"
    echo "${test_deps[*]}" >"$stamp"
fi

# --- the ASan runtime ----------------------------------------------------------------
# The extension is a cdylib: rustc does not link the sanitizer runtime into
# it (only into executables), so the runtime is LD_PRELOADed into python.
# The nightly toolchain ships it only as a static archive
# (librustc-nightly_rt.asan.a); it is re-linked here into a shared object,
# without asan_preinit.o (a .preinit_array, which a shared object may not
# have; LD_PRELOAD puts the runtime first anyway). Using the toolchain's own
# runtime keeps it in step with the LLVM that instruments the code.
# HPYX_ASAN_RUNTIME=/path/to/libasan.so overrides (GCC's libasan.so.8 works
# too).
sysroot=$(rustc "+$toolchain" --print sysroot)
archive="$sysroot/lib/rustlib/$target/lib/librustc-nightly_rt.asan.a"
runtime=${HPYX_ASAN_RUNTIME:-"$CARGO_TARGET_DIR/librustc-nightly_rt.asan.so"}
if [ -z "${HPYX_ASAN_RUNTIME:-}" ] && { [ ! -f "$runtime" ] || [ "$archive" -nt "$runtime" ]; }; then
    [ -f "$archive" ] || { echo "asan-python: unavailable here (no $archive)" >&2; exit 2; }
    echo "asan-python: making $runtime from $archive" >&2
    objs="$CARGO_TARGET_DIR/asan-rt-objs"
    rm -rf "$objs"; mkdir -p "$objs"
    (cd "$objs" && ar x "$archive" && rm -f asan_preinit.cpp.o)
    ${CC:-cc} -shared -o "$runtime" "$objs"/*.o -lpthread -ldl -lm -lrt
    rm -rf "$objs"
fi

# --- the instrumented build ------------------------------------------------------------
# Frame pointers everywhere (std included, it is rebuilt), for ASan's fast
# unwinder. The explicit --target keeps RUSTFLAGS off build scripts and
# proc-macros.
export RUSTFLAGS="${RUSTFLAGS:-} -Zsanitizer=address -Cforce-frame-pointers=yes"
# The extension's global allocator is mimalloc (python/src/lib.rs), which
# carves blocks out of its own mmap'd segments: without help ASan would see
# none of the Rust allocations (no poisoning of freed blocks, no redzones).
# mimalloc's MI_TRACK_ASAN annotates them: freed blocks are poisoned, every
# block gets a poisoned padding after it (MI_PADDING), and only the block
# handed out is unpoisoned. mimalloc's C code itself stays uninstrumented
# (it reads its free lists inside freed blocks); <sanitizer/asan_interface.h>
# only calls the runtime when __SANITIZE_ADDRESS__ is defined, hence the
# define. There is no quarantine, as mimalloc reuses a freed block quickly:
# a use after free is caught until the block is handed out again.
export CFLAGS_${target//-/_}="-DMI_TRACK_ASAN=1 -D__SANITIZE_ADDRESS__=1 -fno-omit-frame-pointer"
export RUSTUP_TOOLCHAIN=$toolchain
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}
echo "== asan-python: building hpyx._core (ASan, fault-injection) on $target" >&2
rm -rf "$CARGO_TARGET_DIR/wheels"
# --auditwheel skip: the .so leaves the __asan_* symbols to the preloaded
# runtime, which a manylinux audit would reject; this wheel never leaves here.
VIRTUAL_ENV="$PWD/$venv" PATH="$PWD/$venv/bin:$PATH" \
    "$venv/bin/maturin" build --release -Z build-std --target "$target" \
    --features fault-injection -i "$venv/bin/python" \
    --compatibility linux --auditwheel skip -o "$CARGO_TARGET_DIR/wheels"
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
    --root-user-action=ignore --force-reinstall --no-deps "$CARGO_TARGET_DIR"/wheels/hpyx-*.whl
unset RUSTUP_TOOLCHAIN RUSTFLAGS

# --- the run -----------------------------------------------------------------------------
# detect_leaks=0: CPython does not free everything at exit (interned
# strings, static types, module state, the objects still alive at
# finalisation), and the extension keeps its global pool and leaked
# TaskGraph state on purpose: LeakSanitizer would bury any report under
# those. Leaks are the business of test_leaks.py and ci/asan.sh.
# verify_asan_link_order=0: the runtime is preloaded into an uninstrumented
# python; the check is for the dynamic runtime being first, which it is, but
# it is not needed.
# detect_odr_violation=0: std and the crates are instrumented once, in the
# one .so; nothing else registers globals, but keep ODR reports out of it.
# detect_stack_use_after_return=1: a pointer into a frame that has returned.
# abort_on_error=0, halt_on_error=1: the first report ends the process
# (pytest with it), exit code 1.
export ASAN_OPTIONS=${ASAN_OPTIONS:-"detect_leaks=0 verify_asan_link_order=0 detect_odr_violation=0 detect_stack_use_after_return=1 halt_on_error=1"}
# Python's own allocator (pymalloc) goes straight to malloc, so ASan sees
# (and poisons) the memory of every Python object.
export PYTHONMALLOC=malloc
# The subprocesses of the tests (run_py: sys.executable) inherit these, and
# run under ASan too.
export LD_PRELOAD="$runtime${LD_PRELOAD:+ $LD_PRELOAD}"

# Deselected, each for a reason of ASan's, not of hpyx's:
deselect=(
    # The process's RSS over ten rounds of 100,000 tasks: ASan keeps freed
    # blocks in its quarantine (256 MB) and, with PYTHONMALLOC=malloc, every
    # Python object goes through it, so RSS climbs by the quarantine's size
    # before it levels off (298 -> 653 MB), which is not a leak.
    --deselect tests/python/test_leaks.py::test_100k_dropped_tasks_ten_rounds_memory_flat
    # Memory returned after a 1M-future when_all, read with glibc's
    # mallinfo2 and RSS: ASan replaces glibc's malloc (mallinfo2 reads 0)
    # and holds freed memory in its quarantine.
    --deselect tests/python/test_graph_shape.py::test_when_all_1m_mixed_futures_and_memory_returns
    # 10,000 nested blocking waits with max_help_depth=20000: each level
    # stacks Rust and CPython frames on the worker's 64 MiB stack, and ASan's
    # redzones make the Rust frames larger, so the stack overflows (ASan:
    # stack-overflow in a worker; with a 256 MiB stack_size it completes).
    # The other settings (the default depth limit of 512, or the recursion
    # limit) stop the recursion first, and still run.
    --deselect "tests/python/test_nesting.py::test_nested_blocking_10000_deep_no_crash[1-big-both]"
    --deselect "tests/python/test_nesting.py::test_nested_blocking_10000_deep_no_crash[2-big-both]"
)
echo "== asan-python: pytest tests/python under ASan ($runtime)" >&2
"$venv/bin/python" -c 'import hpyx, sys; assert "/.venv-asan/" in hpyx._core.__file__, hpyx._core.__file__; print("asan-python: hpyx", hpyx.__version__, "from", hpyx._core.__file__, file=sys.stderr)'
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/python "${deselect[@]}" "$@"
echo "asan-python: clean" >&2
