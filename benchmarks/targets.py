"""The targets `run.py` checks its figures against (BENCHMARKS.md, "Targets").

A target names the workload, the size and the peer it is checked on, the
figure it reads and its bound, and the interpreters it was set for; `run.py`
writes the verdict in its table's `target` column, next to the figure.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    text: str
    # "vs_tpe" (TPE's time / the peer's), "bytes_per_task", "speedup" (over
    # serial) or "vs_hpyx" (the peer's time / hpyx's, same workload and n).
    figure: str
    bound: float
    at_least: bool
    n: int | None = None  # None: every size
    peer: str = "hpyx"
    pythons: tuple[str, ...] | None = None  # None: every interpreter

    def verdict(self, value: float | None, python: str) -> str:
        if self.pythons is not None and python not in self.pythons:
            return "%s (set for %s)" % (self.text, " and ".join(self.pythons))
        if value is None:
            return "%s: no figure" % self.text
        met = value >= self.bound if self.at_least else value <= self.bound
        return "%s: %s" % (self.text, "met" if met else "not met")


_TRACING = Target("tracing costs < 2x hpyx", "vs_hpyx", 2.0, False, peer="hpyx-traced")

TARGETS = {
    "submit_result": [
        Target(">= 15x TPE", "vs_tpe", 15, True, 1_000_000, pythons=("3.11",)),
        _TRACING,
    ],
    "map": [Target(">= 15x TPE", "vs_tpe", 15, True, 1_000_000, pythons=("3.11",))],
    "fanout_fanin": [
        Target(">= 15x TPE", "vs_tpe", 15, True, 1_000_000, pythons=("3.11",)),
        _TRACING,
    ],
    "chain": [Target(">= 50x TPE", "vs_tpe", 50, True), _TRACING],
    "dag_random": [Target(">= 15x TPE", "vs_tpe", 15, True, 100_000)],
    "memory_pending": [Target("<= 250 B per task", "bytes_per_task", 250, False, 1_000_000)],
    "cpu_parallel_long": [Target("speedup >= 1.9", "speedup", 1.9, True, pythons=("3.13t",))],
    "cpu_parallel_short": [Target("speedup >= 1.6", "speedup", 1.6, True, pythons=("3.13t",))],
}


def target_cell(workload: str, n: int, peer: str, figures: dict[str, float], python: str) -> str:
    """The `target` column of one row: every target of this workload, size
    and peer, with its verdict; empty when none applies."""
    cells = [
        t.verdict(figures.get(t.figure), python)
        for t in TARGETS.get(workload, [])
        if t.peer == peer and (t.n is None or t.n == n)
    ]
    return "; ".join(cells)
