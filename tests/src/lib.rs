//! # hpyx-tests: cross-crate integration tests
//!
//! The tests live in `tests/*.rs`. Besides the generic helpers of
//! `hpyx-testkit`, they share the graph's own test helpers (a graph on a
//! pool of its own, bounded waits on futures), which this library compiles
//! from the graph's test folder so that there is one copy of them: they
//! need the graph's types, so they cannot live in the testkit, which the
//! graph's tests depend on.

#[path = "../../graph/tests/common/mod.rs"]
mod graph_helpers;

pub use graph_helpers::{
    get, outcome, small_stack_graph, test_graph, test_graph_with, value, wait_node,
};
