# hpyx: the single entry point for set-up, demo, tests and benchmarks.
# `make help` lists the targets.

.DEFAULT_GOAL := help
SHELL := /bin/bash

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-20s %s\n", $$1, $$2}'

.PHONY: setup
setup: ## Install everything (Graphviz, CPython 3.13t, a venv per interpreter, the extension)
	bash scripts/setup.sh

.PHONY: demo
demo: ## Set up 3.11 and 3.13t, run examples/pipeline.py on both, say what it produced
	@bash scripts/demo.sh

.PHONY: test
test: ## What CI runs: Rust tests, docs, the suite on 3.11 (installed wheel) and 3.13t, the fast tier on 3.12 and 3.13
	bash scripts/test.sh

.PHONY: wheels
wheels: ## Release wheels for 3.11, 3.12, 3.13, 3.13t and an sdist, into dist/
	bash scripts/wheels.sh

.PHONY: docs
docs: ## The user guide (docs/, mkdocs) into target/site (after `make setup`)
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict

.PHONY: test-rust
test-rust: ## Rust tests of every crate
	cargo test --workspace

.PHONY: test-py
test-py: ## Python suite on 3.11 (after `make setup`)
	.venv/bin/python -m pytest -q tests/python

.PHONY: test-py313t
test-py313t: ## Python suite on free-threaded 3.13t (after `make setup`)
	.venv-313t/bin/python -m pytest -q tests/python

.PHONY: loom
loom: ## loom models of the state machines
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release --lib -p hpyx-engine -p hpyx-graph loom

.PHONY: bench-rust
bench-rust: ## criterion benchmarks against rayon
	cargo bench -p hpyx-engine --bench spawn
	cargo bench -p hpyx-graph --bench dag

# bench-report: the interpreters (scripts/pythons.sh names their venvs), the
# runs per figure, extra options of rust_benches.py (e.g. --measurement-time 1)
# and the file whose marked sections the tables replace.
BENCH_PYTHONS ?= 3.11 3.13t
BENCH_REPEAT ?= 3
BENCH_RUST_ARGS ?=
BENCH_FILE ?= BENCHMARKS.md

.PHONY: bench-report bench-report-rust bench-report-python
bench-report: bench-report-rust bench-report-python ## Every benchmark (Rust once, Python on each of BENCH_PYTHONS, default "3.11 3.13t"), tables written into BENCHMARKS.md

bench-report-rust: ## The criterion benchmarks, their table written into BENCHMARKS.md
	.venv/bin/python benchmarks/rust_benches.py $(BENCH_RUST_ARGS) --write $(BENCH_FILE)

bench-report-python: ## The Python benchmarks on each of BENCH_PYTHONS, tables written into BENCHMARKS.md
	set -e; source scripts/pythons.sh; \
	for version in $(BENCH_PYTHONS); do \
		py=$$(venv_of $$version)/bin/python; \
		$$py benchmarks/run.py --repeat $(BENCH_REPEAT) --write $(BENCH_FILE); \
		$$py benchmarks/dask_graphs.py --repeat $(BENCH_REPEAT) --write $(BENCH_FILE); \
		$$py benchmarks/cluster_run.py --repeat $(BENCH_REPEAT) --write $(BENCH_FILE); \
		$$py benchmarks/first_graph.py --write $(BENCH_FILE); \
		$$py benchmarks/memory_floor.py --write $(BENCH_FILE); \
		$$py benchmarks/memory_steps.py --step 50000 --write $(BENCH_FILE); \
		$$py benchmarks/memory_release.py --write $(BENCH_FILE); \
	done

# The Python linters and type checkers come from .venv (`make setup`).
PY_LINTED := python/hpyx examples benchmarks tests
TYPED_EXAMPLE := examples/typed_pipeline.py

.PHONY: lint
lint: ## rustfmt, clippy -D warnings, ruff, mypy, stubtest and pyright (after `make setup`)
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	.venv/bin/ruff check $(PY_LINTED)
	.venv/bin/ruff format --check $(PY_LINTED)
	.venv/bin/mypy -p hpyx
	.venv/bin/mypy --strict $(TYPED_EXAMPLE)
	.venv/bin/python -m mypy.stubtest hpyx._core --mypy-config-file pyproject.toml
	.venv/bin/pyright $(TYPED_EXAMPLE)

.PHONY: test-parallel
test-parallel: ## Python suite on 3.13t under pytest-run-parallel (8 threads per test)
	.venv-313t/bin/python -m pytest -q -p no:cacheprovider --parallel-threads=8 tests/python

.PHONY: soak
soak: ## Long soak: random DAGs for HPYX_SOAK_SECONDS (default 300) + 1M-task leak rounds
	bash ci/soak.sh

.PHONY: miri
miri: ## Miri over the engine's and graph's tests (nightly miri; fails loudly if unavailable)
	bash ci/miri.sh

.PHONY: tsan
tsan: ## ThreadSanitizer over the Rust tests (nightly + rust-src; fails loudly if unavailable)
	bash ci/tsan.sh

.PHONY: asan
asan: ## AddressSanitizer + LeakSanitizer over the Rust tests (nightly + rust-src; fails loudly if unavailable)
	bash ci/asan.sh

.PHONY: asan-python
asan-python: ## The Python suite (3.11) against an AddressSanitizer build of the extension (nightly + rust-src; own venv .venv-asan)
	bash ci/asan-python.sh

.PHONY: cluster-netns
cluster-netns: ## Multi-host tier: scheduler, 2 workers, program in 4 network namespaces; one worker's host vanishes mid-run (root)
	bash ci/cluster-netns.sh

.PHONY: bench-cluster
bench-cluster: ## hpyx on a 2-worker LocalCluster against raw client.submit / client.get
	.venv/bin/python benchmarks/cluster_run.py
