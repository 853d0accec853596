"""Soak test: Hypothesis-generated random DAGs checked against a plain
sequential evaluator.

A DAG is a list of nodes, each with inputs among the earlier ones (random
arity): ready values, promises completed from outside (with a value or an
exception), tasks (``dataflow``), continuations (``then``), fan-ins
(``when_all``) and ``when_any`` leaves. Tasks raise, sleep a little and wait
inside the pool on another node's future (nested blocking waits). Some nodes
are cancelled. Every node that can be cancelled is still pending then (it
waits, directly or not, on a gate or a promise that is completed only after
the whole graph is built), so the expected outcome is deterministic: the
sequential evaluator computes it for every node -- value, the very exception
(identified by the node that raised it) or cancellation -- and the graph
must agree on every node. Every wait has a timeout: a hang is a failure.

Nested waits target any earlier node, including ones that wait themselves
(a waiting worker helps only with the awaited node's queued ancestry, so no
task ends up waiting on one below it on the same stack).

Default suite: a few seconds. ``-m slow`` (``make soak``) runs for
``HPYX_SOAK_SECONDS`` (default 300 s) with fresh random examples.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import time

import pytest
from conftest import WAIT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hpyx

pytestmark = pytest.mark.thread_unsafe(reason="Hypothesis is not thread-safe")

MAX_NODES = 24
KINDS = ("ready", "promise", "task", "then", "when_all", "when_any")


class Boom(Exception):
    """Raised by node ``args[0]``."""


@st.composite
def dags(draw):
    n = draw(st.integers(1, MAX_NODES))
    nodes = []
    blocking = []  # does the node, or an ancestor, block in a nested wait?
    gated = []  # is the node still pending until the gate/promises complete?
    for k in range(n):
        kind = (
            draw(st.sampled_from(KINDS))
            if k
            else draw(st.sampled_from(("ready", "promise", "task")))
        )
        spec = {"kind": kind, "c": draw(st.integers(0, 1000))}
        if kind == "ready":
            spec["inputs"] = []
        elif kind == "promise":
            spec["inputs"] = []
            spec["raises"] = draw(st.booleans())
        elif kind == "then":
            spec["inputs"] = [draw(st.integers(0, k - 1))]
        elif kind in ("when_all", "when_any"):
            arity = draw(st.integers(1, min(k, 6)))
            spec["inputs"] = draw(st.lists(st.integers(0, k - 1), min_size=arity, max_size=arity))
        else:  # task
            arity = draw(st.integers(0, min(k, 5)))
            spec["inputs"] = (
                draw(st.lists(st.integers(0, k - 1), min_size=arity, max_size=arity)) if k else []
            )
        # Nodes that are not leaves may not be when_any (its index is racy).
        spec["inputs"] = [i for i in spec["inputs"] if nodes[i]["kind"] != "when_any"]
        if kind in ("then",) and not spec["inputs"]:
            kind = spec["kind"] = "ready"
        if kind in ("when_all", "when_any") and not spec["inputs"]:
            kind = spec["kind"] = "ready"
        if kind in ("task", "then"):
            spec["raises"] = draw(st.integers(0, 5)) == 0
            spec["sleep"] = draw(st.sampled_from((0, 0, 0, 0.0005, 0.002)))
            targets = [j for j in range(k) if nodes[j]["kind"] != "when_any"]
            if targets and draw(st.integers(0, 3)) == 0:
                spec["waits_on"] = draw(st.sampled_from(targets))
        if kind == "when_any":
            # Done as soon as one input is, a cancelled one too: never
            # cancelled here (it might already be finished).
            is_gated = False
        else:
            is_gated = kind in ("promise", "task") or any(gated[i] for i in spec["inputs"])
        spec["cancel"] = is_gated and draw(st.integers(0, 7)) == 0
        nodes.append(spec)
        gated.append(is_gated)
        blocking.append("waits_on" in spec or any(blocking[i] for i in spec["inputs"]))
    return nodes


# -- the sequential evaluator ---------------------------------------------------------
# An outcome: ("value", v), ("error", origin) with origin the raising node's
# index or "CancelledError", or ("cancelled",).


def _num(v):
    return sum(_num(x) for x in v) if isinstance(v, tuple) else v


def _body_outcome(spec, k, values, outcomes):
    total = spec["c"] + sum(_num(v) for v in values)
    if "waits_on" in spec:
        target = outcomes[spec["waits_on"]]
        if target[0] == "cancelled":
            return ("error", "CancelledError")
        if target[0] == "error":
            return target
        total += _num(target[1])
    if spec.get("raises"):
        return ("error", k)
    return ("value", total % 1_000_003)


def evaluate(nodes):
    outcomes = []
    for k, spec in enumerate(nodes):
        kind = spec["kind"]
        ins = [outcomes[i] for i in spec["inputs"]]
        first_bad = next((o for o in ins if o[0] != "value"), None)
        if spec["cancel"]:
            out = ("cancelled",)
        elif kind == "ready":
            out = ("value", spec["c"])
        elif kind == "promise":
            out = ("error", k) if spec["raises"] else ("value", spec["c"])
        elif kind == "when_any":
            out = ("any",)
        elif first_bad is not None:
            out = first_bad
        elif kind == "when_all":
            out = ("value", tuple(o[1] for o in ins))
        else:  # task, then
            out = _body_outcome(spec, k, [o[1] for o in ins], outcomes)
        outcomes.append(out)
    return outcomes


# -- the same graph on hpyx ------------------------------------------------------------


def _make_body(spec, k, futures):
    def body(*values):
        if spec["sleep"]:
            time.sleep(spec["sleep"])
        total = spec["c"] + sum(_num(v) for v in values)
        if "waits_on" in spec:
            # A nested blocking wait inside the pool.
            total += _num(futures[spec["waits_on"]].result(timeout=WAIT))
        if spec["raises"]:
            raise Boom(k)
        return total % 1_000_003

    return body


def run_on_hpyx(nodes, settled_first=None):
    """Builds and runs the DAG; the index of every node marked ``cancel``
    that had already finished (cancel() a no-op) goes into
    ``settled_first``."""
    gate = hpyx.Future()
    futures = []
    promises = []
    for k, spec in enumerate(nodes):
        kind = spec["kind"]
        ins = [futures[i] for i in spec["inputs"]]
        if kind == "ready":
            f = hpyx.ready_future(spec["c"])
        elif kind == "promise":
            f = hpyx.Future()
            promises.append((f, spec, k))
        elif kind == "task":
            body = _make_body(spec, k, futures)
            # The gate first: nothing runs before the graph is complete.
            f = hpyx.dataflow(lambda _gate, *values, body=body: body(*values), gate, *ins)
        elif kind == "then":
            f = ins[0].then(_make_body(spec, k, futures))
        elif kind == "when_all":
            f = hpyx.when_all(*ins)
        else:
            f = hpyx.when_any(*ins)
        futures.append(f)
        if spec["cancel"] and not (f.cancel() or f.cancelled()):
            # Pending (so cancel() succeeds), or already cancelled because a
            # cancelled input settled it early, or already finished: only
            # tasks wait for the gate, so a `then` chain off a ready future
            # may have run and failed it first. Then cancel() is a no-op, and
            # the model must not cancel it.
            assert f.done(), "node %d (%s): cancel() failed on a pending future" % (k, kind)
            assert settled_first is not None, "node %d (%s) finished before cancel()" % (k, kind)
            settled_first.add(k)
    gate.set_result(None)
    for f, spec, k in promises:
        if spec["cancel"]:
            continue
        if spec["raises"]:
            f.set_exception(Boom(k))
        else:
            f.set_result(spec["c"])
    return futures


def observed(future):
    try:
        value = future.result(timeout=WAIT)
    except cf.CancelledError:
        return ("cancelled",)
    except Boom as exc:
        return ("error", exc.args[0])
    except cf.TimeoutError:
        if not future.done():
            return ("hang",)
        return ("error", "TimeoutError")
    # A task that waited on a cancelled node re-raised its CancelledError:
    # caught above as cancellation; tell the two apart here.
    return ("value", value)


def observed_with_cancel_kind(future):
    out = observed(future)
    if out == ("cancelled",) and not future.cancelled():
        return ("error", "CancelledError")
    return out


def check_dag(nodes):
    settled_first = set()
    futures = run_on_hpyx(nodes, settled_first)
    expected = evaluate(
        [dict(spec, cancel=False) if k in settled_first else spec for k, spec in enumerate(nodes)]
    )
    for k, (spec, want, f) in enumerate(zip(nodes, expected, futures, strict=True)):
        got = observed_with_cancel_kind(f)
        if want == ("any",):
            assert got[0] == "value", (k, got)
            index, fs = got[1]
            ins = [futures[i] for i in spec["inputs"]]
            assert 0 <= index < len(ins) and fs[index] is ins[index] and ins[index].done(), (k, got)
            continue
        if got[0] == "value" and want[0] == "value":
            assert _num(got[1]) == _num(want[1]) and got[1] == want[1], (k, spec, got, want)
            continue
        assert got == want, "node %d %r: got %r, expected %r\nDAG: %r" % (k, spec, got, want, nodes)


SHORT = settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SHORT
@given(dags())
def test_random_dags_match_the_sequential_evaluator(nodes):
    check_dag(nodes)


def test_the_evaluator_can_fail():
    # The check is not vacuous: a wrong expectation is caught.
    nodes = [
        {"kind": "ready", "c": 1, "inputs": [], "cancel": False},
        {"kind": "then", "c": 2, "inputs": [0], "cancel": False, "raises": False, "sleep": 0},
    ]
    check_dag(nodes)
    nodes[1]["raises"] = True
    assert evaluate(nodes)[1] == ("error", 1)
    futures = run_on_hpyx(nodes)
    assert observed(futures[1]) == ("error", 1)
    wrong = evaluate(nodes)
    wrong[1] = ("value", 3)
    assert observed(futures[1]) != wrong[1]


@pytest.mark.slow
def test_soak_random_dags_for_minutes():
    seconds = float(os.environ.get("HPYX_SOAK_SECONDS", "300"))
    deadline = time.monotonic() + seconds
    rounds = 0
    batch = settings(SHORT, max_examples=200)(given(dags())(check_dag))
    while time.monotonic() < deadline:
        batch()
        rounds += 1
    print("soak: %d batches of 200 random DAGs in %.0f s" % (rounds, seconds))
    assert rounds > 0
