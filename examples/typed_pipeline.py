"""A typed hpyx pipeline: every future's value type follows from the callables.

Run: python examples/typed_pipeline.py

`make lint` checks this file with `mypy --strict` and with pyright: each
`assert_type` below is a claim the checkers verify (at runtime it does
nothing), so a change that loses a type fails lint.
"""

from __future__ import annotations

import concurrent.futures as cf
from typing import assert_type

import hpyx


def load(day: int) -> list[float]:
    """The readings of one day."""
    return [day * 10.0 + hour for hour in range(4)]


def clip(rows: list[float], *, floor: float = 0.0) -> list[float]:
    return [max(row, floor) for row in rows]


def total(rows: list[float]) -> float:
    return sum(rows)


def scale(value: float, factor: int) -> float:
    return value * factor


def report(first: float, second: float) -> str:
    return f"{first:.1f} + {second:.1f} = {first + second:.1f}"


def main() -> None:
    # The executor swap: HPXExecutor is a concurrent.futures.Executor.
    with hpyx.HPXExecutor(max_workers=2) as executor:
        monday = executor.submit(load, 1)
        assert_type(monday, hpyx.Future[list[float]])
        monday_total = monday.then(total)
        assert_type(monday_total, hpyx.Future[float])

    # Composing futures: a then-chain, with the continuation's own arguments.
    tuesday = hpyx.async_(load, 2).then(clip, floor=21.0)
    assert_type(tuesday, hpyx.Future[list[float]])
    tuesday_total = tuesday.then(total).then(scale, 2)
    assert_type(tuesday_total, hpyx.Future[float])

    # dataflow: futures among the arguments are replaced by their values.
    line = hpyx.dataflow(report, monday_total, tuesday_total)
    assert_type(line, hpyx.Future[str])

    # when_all keeps each input's type, in order.
    both = hpyx.when_all(monday_total, tuesday_total, hpyx.ready_future("two days"))
    assert_type(both, hpyx.Future[tuple[float, float, str]])
    first_total, second_total, label = both.result()

    # when_any hands back the input futures themselves.
    index, inputs = hpyx.when_any([monday_total, tuesday_total]).result()
    assert_type(inputs, list[hpyx.Future[float]])

    # hpyx futures are concurrent.futures futures: the stdlib's helpers take them.
    _, not_done = cf.wait([monday_total, tuesday_total])
    assert not not_done

    print(f"{label}: {line.result()}")
    print(f"totals: {first_total:.1f}, {second_total:.1f}")
    print(f"first finished: input {index}, value {inputs[index].result():.1f}")


if __name__ == "__main__":
    main()
