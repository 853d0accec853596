//! Spawn throughput of the hpyx pool against rayon's, in the same run.
//!
//! Each benchmark spawns `JOBS` tiny jobs on a 2-worker pool and waits until
//! the last one has run:
//!
//! - `outside`: every job is spawned from the bench thread (hpyx's
//!   injector; rayon's `ThreadPool::spawn`);
//! - `inside`: one job spawns them all from a worker (hpyx's `spawn` on a
//!   worker pushes onto its own deque; rayon's `rayon::spawn` inside the
//!   pool does the same); `rayon-scope` is the same with `rayon::scope`.
//!
//! Both pools' jobs do the same work (one `fetch_sub` on a shared counter)
//! and signal completion the same way, so the difference is the cost of
//! spawning, queueing, stealing and running a job. Criterion reports time
//! per iteration; divide by `JOBS` for ns per job (`BENCHMARKS.md`).
//!
//! `cargo bench -p hpyx-engine --bench spawn`

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hpyx_engine::{Config, ShutdownPolicy, ThreadPool};

/// Jobs per iteration.
const JOBS: usize = 100_000;
/// Workers in each pool.
const WORKERS: usize = 2;

/// Counts jobs down; the last one wakes the waiting bench thread. Shared by
/// both pools so that the waiting costs the same.
struct Countdown {
    remaining: AtomicUsize,
    done: Mutex<bool>,
    cond: Condvar,
}

impl Countdown {
    fn leak() -> &'static Countdown {
        Box::leak(Box::new(Countdown {
            remaining: AtomicUsize::new(0),
            done: Mutex::new(false),
            cond: Condvar::new(),
        }))
    }

    fn reset(&self, n: usize) {
        *self.done.lock().unwrap() = false;
        self.remaining.store(n, Ordering::Relaxed);
    }

    /// The body of every job.
    #[inline]
    fn job_done(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.done.lock().unwrap() = true;
            self.cond.notify_one();
        }
    }

    fn wait(&self) {
        let mut done = self.done.lock().unwrap();
        while !*done {
            done = self.cond.wait(done).unwrap();
        }
    }
}

fn hpyx_pool() -> ThreadPool {
    ThreadPool::new(Config::new().num_workers(WORKERS)).expect("hpyx pool")
}

fn rayon_pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .expect("rayon pool")
}

fn spawn_outside(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_outside");
    group.throughput(Throughput::Elements(JOBS as u64));
    let countdown = Countdown::leak();

    let pool = hpyx_pool();
    group.bench_function(BenchmarkId::new("hpyx", JOBS), |b| {
        b.iter(|| {
            countdown.reset(JOBS);
            for _ in 0..JOBS {
                pool.spawn(move || countdown.job_done()).unwrap();
            }
            countdown.wait();
        })
    });
    pool.shutdown(ShutdownPolicy::Drain).unwrap();

    let pool = rayon_pool();
    group.bench_function(BenchmarkId::new("rayon", JOBS), |b| {
        b.iter(|| {
            countdown.reset(JOBS);
            for _ in 0..JOBS {
                pool.spawn(move || countdown.job_done());
            }
            countdown.wait();
        })
    });
    drop(pool);
    group.finish();
}

fn spawn_inside(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_inside");
    group.throughput(Throughput::Elements(JOBS as u64));
    let countdown = Countdown::leak();

    let pool = hpyx_pool();
    group.bench_function(BenchmarkId::new("hpyx", JOBS), |b| {
        b.iter(|| {
            countdown.reset(JOBS);
            let inner = pool.clone();
            pool.spawn(move || {
                for _ in 0..JOBS {
                    inner.spawn(move || countdown.job_done()).unwrap();
                }
            })
            .unwrap();
            countdown.wait();
        })
    });
    pool.shutdown(ShutdownPolicy::Drain).unwrap();

    let pool = rayon_pool();
    group.bench_function(BenchmarkId::new("rayon", JOBS), |b| {
        b.iter(|| {
            countdown.reset(JOBS);
            pool.spawn(move || {
                for _ in 0..JOBS {
                    rayon::spawn(move || countdown.job_done());
                }
            });
            countdown.wait();
        })
    });
    group.bench_function(BenchmarkId::new("rayon-scope", JOBS), |b| {
        b.iter(|| {
            countdown.reset(JOBS);
            pool.install(|| {
                rayon::scope(|s| {
                    for _ in 0..JOBS {
                        s.spawn(move |_| countdown.job_done());
                    }
                })
            });
            black_box(countdown.remaining.load(Ordering::Acquire));
        })
    });
    drop(pool);
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = spawn_outside, spawn_inside
}
criterion_main!(benches);
