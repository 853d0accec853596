#!/usr/bin/env bash
# AddressSanitizer (with LeakSanitizer) over the Rust tests of the engine and
# the graph: use-after-free, double free, out-of-bounds and leaks in the
# unsafe code of the pool and the DAG (node ownership, the drop queue), on
# real threads.
#
#   ci/asan.sh                       # lib and integration tests
#   ci/asan.sh -- --test-threads=1   # extra arguments go to cargo test
#
# Needs a nightly toolchain with rust-src (std is rebuilt instrumented with
# -Zbuild-std); installs it with rustup if it can, and fails loudly (exit 2)
# if it cannot: it never reports a pass it did not run.
set -euo pipefail
cd "$(dirname "$0")/.."

. ci/nightly.sh
need_nightly asan rust-src

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/asan}
mkdir -p "$CARGO_TARGET_DIR"

# Leak detection stays on, with suppressions only for what is leaked on
# purpose and never freed:
#   TaskGraph::new   Box::leaks its GraphShared (and with it the ThreadPool
#                    it holds): a graph's shared state lives for the rest of
#                    the process (graph/src/graph.rs). Tests make graphs on
#                    private pools and drop every handle, so at exit those
#                    blocks are unreachable, and LSan reports them. Blocks
#                    only reachable from a suppressed leak are suppressed too.
# The global pool needs no entry: it sits in a `static` (engine/src/global.rs),
# so it stays reachable and LSan does not count it; nor does crossbeam-epoch's
# global collector.
supp="$(cd "$CARGO_TARGET_DIR" && pwd)/lsan.supp"
cat >"$supp" <<'EOF'
leak:<hpyx_graph::graph::TaskGraph>::new
leak:hpyx_graph::graph::TaskGraph::new
EOF

# Frame pointers everywhere (std included, it is rebuilt): LSan records
# allocation stacks with the fast frame-pointer unwinder, which otherwise
# skips the callers of frameless std functions (`Box::new` inlined into
# `TaskGraph::new`, say), and a suppression can only match frames it sees.
export RUSTFLAGS="${RUSTFLAGS:-} -Zsanitizer=address -Cforce-frame-pointers=yes"
export RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -Zsanitizer=address -Cforce-frame-pointers=yes"
# detect_leaks: LeakSanitizer at the exit of each test binary.
# detect_stack_use_after_return: a pointer into a frame that has returned.
# ASan stops at the first error (halt_on_error is its default).
# print_suppressions: each binary lists what the suppressions hid.
export ASAN_OPTIONS=${ASAN_OPTIONS:-"detect_leaks=1 detect_stack_use_after_return=1"}
export LSAN_OPTIONS=${LSAN_OPTIONS:-"suppressions=$supp print_suppressions=1"}

echo "== asan: cargo test (engine, graph, cross-crate tests) on $target" >&2
# --no-fail-fast: a report in one test binary does not hide those of the
# others (the exit status is still non-zero).
cargo "+$toolchain" test -Zbuild-std --target "$target" --no-fail-fast \
    -p hpyx-engine -p hpyx-graph -p hpyx-tests --lib --tests "$@"
echo "asan: clean" >&2
