#!/usr/bin/env bash
# ThreadSanitizer over the Rust tests of the engine and the graph (the
# crossbeam `ci/san.sh` pattern): data races in the pool, the DAG and their
# unsafe code, on real threads and real schedules.
#
#   ci/tsan.sh                       # lib and integration tests
#   ci/tsan.sh -- --test-threads=1   # extra arguments go to cargo test
#
# Needs a nightly toolchain with rust-src (std is rebuilt instrumented with
# -Zbuild-std); installs it with rustup if it can, and fails loudly (exit 2)
# if it cannot: it never reports a pass it did not run.
set -euo pipefail
cd "$(dirname "$0")/.."

. ci/nightly.sh
need_nightly tsan rust-src

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/tsan}
export RUSTFLAGS="${RUSTFLAGS:-} -Zsanitizer=thread"
export RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -Zsanitizer=thread"
# halt_on_error: the first race fails the run; second_deadlock_stack for
# readable lock-order reports.
export TSAN_OPTIONS=${TSAN_OPTIONS:-"halt_on_error=1 second_deadlock_stack=1"}

echo "== tsan: cargo test (engine, graph, cross-crate tests) on $target" >&2
cargo "+$toolchain" test -Zbuild-std --target "$target" \
    -p hpyx-engine -p hpyx-graph -p hpyx-tests --lib --tests "$@"
echo "tsan: clean" >&2
