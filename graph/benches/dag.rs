//! 1M-node task graphs, built and run on a 2-worker hpyx pool, against the
//! same work scheduled by rayon, in the same run.
//!
//! rayon has no DAG scheduler: its figure is the same computation expressed
//! the way rayon schedules work (see each benchmark), not the same graph.
//!
//! - `chain`: a chain of `Future::then` (each node adds 1 to its input).
//!   rayon: a chain of `rayon::spawn`, each job spawning the next; and, as
//!   the floor, a sequential loop inside `install`.
//! - `tree`: a binary reduction tree, 2^19 spawned leaves and `dataflow`
//!   nodes summing two children (2^20 - 1 nodes). rayon: `rayon::join`
//!   recursion to the same depth (one call per node).
//! - `random`: 1000 layers of 1000 nodes; each node of layer `l > 0` takes 1
//!   to 3 inputs from layer `l - 1` (fixed-seed xorshift) and sums them
//!   (`TaskGraph::dataflow`); one last node sums the last layer. rayon: layer
//!   by layer with `par_iter`.
//!
//! The graph is built inside the pool (one job builds it, as rayon's work
//! starts inside `install`), so the 2 workers both build and run it; the
//! time includes building, running and freeing. `random/hpyx-outside`
//! builds from the bench thread instead. `random/hpyx-build-only` and
//! `random/hpyx-run-only` time the two halves of `random/hpyx` apart (the
//! other half untimed): building on one worker while nothing runs, and
//! running an already built graph on both workers. Criterion reports time
//! per iteration; divide by the node count for ns per node
//! (`BENCHMARKS.md`).
//!
//! `cargo bench -p hpyx-graph --bench dag`

use std::hint::black_box;
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hpyx_engine::{Config, ShutdownPolicy, ThreadPool};
use hpyx_graph::{Future, Promise, TaskGraph};
use rayon::prelude::*;

const WORKERS: usize = 2;
const CHAIN_NODES: usize = 1 << 20;
/// Leaves at depth `TREE_DEPTH`: `2^(TREE_DEPTH + 1) - 1` nodes.
const TREE_DEPTH: u32 = 19;
const LAYERS: usize = 1000;
const WIDTH: usize = 1000;

fn hpyx_graph() -> TaskGraph {
    TaskGraph::new(ThreadPool::new(Config::new().num_workers(WORKERS)).expect("hpyx pool"))
}

fn rayon_pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .expect("rayon pool")
}

/// Runs `build` as a job on the graph's pool and waits for the future it
/// returns.
fn build_inside<T: Clone + Send + Sync + 'static>(
    graph: TaskGraph,
    build: impl FnOnce(TaskGraph) -> Future<T> + Send + 'static,
) -> T {
    let root = graph.spawn("build", move || Ok(build(graph)));
    let result = root.get().expect("build ok").clone();
    drop(root);
    result.get().expect("graph ok").clone()
}

// ---------------------------------------------------------------- chain

fn hpyx_chain(graph: TaskGraph, n: usize) -> Future<u64> {
    let mut last = graph.spawn("chain", || Ok(0u64));
    for _ in 1..n {
        last = last.then("chain", |x: &u64| Ok(x + 1));
    }
    last
}

/// Wakes the bench thread once, from a rayon job.
struct Done {
    value: Mutex<Option<u64>>,
    cond: Condvar,
}

impl Done {
    fn new() -> Arc<Done> {
        Arc::new(Done {
            value: Mutex::new(None),
            cond: Condvar::new(),
        })
    }

    fn set(&self, v: u64) {
        *self.value.lock().unwrap() = Some(v);
        self.cond.notify_one();
    }

    fn wait(&self) -> u64 {
        let mut value = self.value.lock().unwrap();
        loop {
            if let Some(v) = *value {
                return v;
            }
            value = self.cond.wait(value).unwrap();
        }
    }
}

fn rayon_spawn_chain(x: u64, left: usize, done: Arc<Done>) {
    if left == 0 {
        done.set(x);
    } else {
        rayon::spawn(move || rayon_spawn_chain(x + 1, left - 1, done));
    }
}

fn chain(c: &mut Criterion) {
    let mut group = c.benchmark_group("chain");
    group.throughput(Throughput::Elements(CHAIN_NODES as u64));
    let expected = CHAIN_NODES as u64 - 1;

    let graph = hpyx_graph();
    group.bench_function(BenchmarkId::new("hpyx", CHAIN_NODES), |b| {
        b.iter(|| {
            assert_eq!(
                build_inside(graph, |g| hpyx_chain(g, CHAIN_NODES)),
                expected
            )
        })
    });
    graph.pool().shutdown(ShutdownPolicy::Drain).unwrap();

    let pool = rayon_pool();
    group.bench_function(BenchmarkId::new("rayon-spawn", CHAIN_NODES), |b| {
        b.iter(|| {
            let done = Done::new();
            let d = Arc::clone(&done);
            pool.spawn(move || rayon_spawn_chain(0, CHAIN_NODES - 1, d));
            assert_eq!(done.wait(), expected);
        })
    });
    group.bench_function(BenchmarkId::new("rayon-loop", CHAIN_NODES), |b| {
        b.iter(|| {
            let x = pool.install(|| (1..CHAIN_NODES).fold(0u64, |x, _| black_box(x + 1)));
            assert_eq!(x, expected);
        })
    });
    drop(pool);
    group.finish();
}

// ----------------------------------------------------------------- tree

fn hpyx_tree(graph: TaskGraph, depth: u32) -> Future<u64> {
    let mut level: Vec<Future<u64>> = (0..1usize << depth)
        .map(|_| graph.spawn("leaf", || Ok(1u64)))
        .collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| {
                graph.dataflow("sum", [pair[0].node(), pair[1].node()], |inputs| {
                    Ok(inputs.value::<u64>(0).unwrap() + inputs.value::<u64>(1).unwrap())
                })
            })
            .collect();
    }
    level.pop().unwrap()
}

fn rayon_tree(depth: u32) -> u64 {
    if depth == 0 {
        black_box(1)
    } else {
        let (a, b) = rayon::join(|| rayon_tree(depth - 1), || rayon_tree(depth - 1));
        a + b
    }
}

fn tree(c: &mut Criterion) {
    let mut group = c.benchmark_group("tree");
    let nodes = (1usize << (TREE_DEPTH + 1)) - 1;
    group.throughput(Throughput::Elements(nodes as u64));
    let expected = 1u64 << TREE_DEPTH;

    let graph = hpyx_graph();
    group.bench_function(BenchmarkId::new("hpyx", nodes), |b| {
        b.iter(|| assert_eq!(build_inside(graph, |g| hpyx_tree(g, TREE_DEPTH)), expected))
    });
    graph.pool().shutdown(ShutdownPolicy::Drain).unwrap();

    let pool = rayon_pool();
    group.bench_function(BenchmarkId::new("rayon-join", nodes), |b| {
        b.iter(|| assert_eq!(pool.install(|| rayon_tree(TREE_DEPTH)), expected))
    });
    drop(pool);
    group.finish();
}

// --------------------------------------------------------------- random

/// The shape of the random layered DAG: for each node of layers 1.., its
/// 1 to 3 input indices into the previous layer.
struct Layered {
    inputs: Vec<Vec<Vec<u32>>>,
    expected: u64,
}

impl Layered {
    fn generate(layers: usize, width: usize, seed: u64) -> Layered {
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let inputs: Vec<Vec<Vec<u32>>> = (1..layers)
            .map(|_| {
                (0..width)
                    .map(|_| {
                        let k = 1 + (next() % 3) as usize;
                        (0..k).map(|_| (next() % width as u64) as u32).collect()
                    })
                    .collect()
            })
            .collect();
        let mut values: Vec<u64> = (0..width as u64).collect();
        for layer in &inputs {
            values = layer.iter().map(|ins| sum_of(&values, ins)).collect();
        }
        let expected = values.iter().fold(0u64, |a, &v| a.wrapping_add(v));
        Layered { inputs, expected }
    }

    fn nodes(&self) -> usize {
        // Layer 0, layers 1.., and the final sum.
        self.inputs.first().map_or(0, Vec::len) * (self.inputs.len() + 1) + 1
    }
}

fn sum_of(values: &[u64], inputs: &[u32]) -> u64 {
    inputs
        .iter()
        .fold(0u64, |a, &i| a.wrapping_add(values[i as usize]))
}

fn hpyx_random(graph: TaskGraph, dag: &Layered) -> Future<u64> {
    let width = dag.inputs[0].len();
    let sources = (0..width as u64)
        .map(|i| graph.spawn("source", move || Ok(i)))
        .collect();
    hpyx_random_from(graph, dag, sources)
}

/// The layers above `sources` (layer 0), and the final sum.
fn hpyx_random_from(graph: TaskGraph, dag: &Layered, sources: Vec<Future<u64>>) -> Future<u64> {
    let mut layer = sources;
    for spec in &dag.inputs {
        layer = spec
            .iter()
            .map(|ins| {
                graph.dataflow(
                    "node",
                    ins.iter().map(|&i| layer[i as usize].node()),
                    |inputs| {
                        Ok((0..inputs.len()).fold(0u64, |a, i| {
                            a.wrapping_add(*inputs.value::<u64>(i).unwrap())
                        }))
                    },
                )
            })
            .collect();
    }
    graph.dataflow("total", layer.iter().map(Future::node), |inputs| {
        Ok((0..inputs.len()).fold(0u64, |a, i| {
            a.wrapping_add(*inputs.value::<u64>(i).unwrap())
        }))
    })
}

/// A random DAG built on unset promises: nothing runs until [`Built::run`].
struct Built {
    promises: Vec<Promise<u64>>,
    total: Future<u64>,
}

impl Built {
    /// Sets the sources (layer 0 gets `0..width`, as in `hpyx_random`) and
    /// waits for the total.
    fn run(self) -> u64 {
        for (i, promise) in self.promises.into_iter().enumerate() {
            promise.set_value(i as u64).unwrap();
        }
        *self.total.get().unwrap()
    }
}

/// Builds the random DAG on one worker (as `hpyx` does) while nothing runs;
/// returns it and how long building took.
fn build_on_promises(graph: TaskGraph, dag: &Arc<Layered>) -> (Built, Duration) {
    let (tx, rx) = mpsc::channel();
    let d = Arc::clone(dag);
    graph
        .spawn("build", move || {
            let start = Instant::now();
            let (promises, sources): (Vec<_>, Vec<_>) = (0..d.inputs[0].len())
                .map(|_| graph.promise::<u64>("source"))
                .unzip();
            let total = hpyx_random_from(graph, &d, sources);
            let took = start.elapsed();
            tx.send((Built { promises, total }, took)).unwrap();
            Ok(())
        })
        .get()
        .unwrap();
    rx.recv().unwrap()
}

fn rayon_random(dag: &Layered) -> u64 {
    let width = dag.inputs[0].len();
    let mut values: Vec<u64> = (0..width as u64).into_par_iter().map(black_box).collect();
    for spec in &dag.inputs {
        values = spec.par_iter().map(|ins| sum_of(&values, ins)).collect();
    }
    values.iter().fold(0u64, |a, &v| a.wrapping_add(v))
}

fn random(c: &mut Criterion) {
    random_group(c, "random");
}

/// The random-DAG group under `name` (`dag_mimalloc.rs` runs it again with
/// another allocator).
pub(crate) fn random_group(c: &mut Criterion, name: &str) {
    let mut group = c.benchmark_group(name);
    let dag = Arc::new(Layered::generate(LAYERS, WIDTH, 0x2545_F491_4F6C_DD1D));
    let nodes = dag.nodes();
    group.throughput(Throughput::Elements(nodes as u64));

    let graph = hpyx_graph();
    group.bench_function(BenchmarkId::new("hpyx", nodes), |b| {
        b.iter(|| {
            let d = Arc::clone(&dag);
            assert_eq!(
                build_inside(graph, move |g| hpyx_random(g, &d)),
                dag.expected
            )
        })
    });
    group.bench_function(BenchmarkId::new("hpyx-outside", nodes), |b| {
        b.iter(|| assert_eq!(*hpyx_random(graph, &dag).get().unwrap(), dag.expected))
    });
    // The two halves of `hpyx` apart (each with the other untimed): building
    // on one worker while nothing runs (layer 0 is unset promises), and
    // running the built graph on both workers from the moment the promises
    // are set (a graph that was built ahead, so it starts cold in memory).
    group.bench_function(BenchmarkId::new("hpyx-build-only", nodes), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let (built, took) = build_on_promises(graph, &dag);
                    assert_eq!(built.run(), dag.expected);
                    took
                })
                .sum()
        })
    });
    group.bench_function(BenchmarkId::new("hpyx-run-only", nodes), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let (built, _) = build_on_promises(graph, &dag);
                    let start = Instant::now();
                    assert_eq!(built.run(), dag.expected);
                    start.elapsed()
                })
                .sum()
        })
    });
    graph.pool().shutdown(ShutdownPolicy::Drain).unwrap();

    let pool = rayon_pool();
    group.bench_function(BenchmarkId::new("rayon-layers", nodes), |b| {
        b.iter(|| assert_eq!(pool.install(|| rayon_random(&dag)), dag.expected))
    });
    drop(pool);
    group.finish();
}

pub(crate) fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = chain, tree, random
}
criterion_main!(benches);
