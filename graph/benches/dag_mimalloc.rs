//! The random-DAG benchmarks of `dag.rs` again, with mimalloc as the global
//! allocator, as the Python extension has (`python/src/lib.rs`): nodes are
//! made on one thread and freed on another, which glibc's malloc handles
//! poorly (arena locks, no thread cache refill on the building thread).
//!
//! `cargo bench -p hpyx-graph --bench dag_mimalloc`

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// The same benchmark code; its own `main` and the groups this target does
// not run are unused here.
#[allow(dead_code)]
#[path = "dag.rs"]
mod dag;

fn random_mimalloc(c: &mut criterion::Criterion) {
    dag::random_group(c, "random-mimalloc");
}

criterion::criterion_group! {
    name = benches;
    config = dag::config();
    targets = random_mimalloc
}
criterion::criterion_main!(benches);
