"""What a pipeline of large values holds once it is done: ``python benchmarks/memory_release.py``.

A chain of 50 ``dataflow`` steps, each consuming the previous step's value
and an 8 MiB value made by its own ``async_``, with no Python reference to
the intermediates. Prints how many of the 101 values are still alive and the
RSS growth right after the final ``result()``, and again after
``gc.collect()``. Values are anonymous ``mmap`` buffers (their pages go back
to the system when they are freed, as a numpy array's large buffer does), so
RSS shows what is alive. The cycle collector is disabled until the explicit
collection, so only reference counting frees anything before it.
"""

from __future__ import annotations

import gc
import mmap
import sys
import weakref

import hpyx
from workloads import rss_bytes

MiB = 1 << 20
STEPS = 50
made = []


def big():
    m = mmap.mmap(-1, 8 * MiB)
    for offset in range(0, len(m), 4096):
        m[offset] = 1
    made.append(weakref.ref(m))
    return m


def step(previous, own):
    return big()


def alive():
    return sum(ref() is not None for ref in made)


def main():
    gc.disable()
    hpyx.async_(len, "").result()
    base = rss_bytes()
    x = hpyx.async_(big)
    for _ in range(STEPS):
        x = hpyx.dataflow(step, x, hpyx.async_(big))
    result = x.result()
    del x
    grown = (rss_bytes() - base) / MiB
    print(
        f"{sys.version.split()[0]}: {alive()} of {len(made)} values alive, "
        f"RSS +{grown:.0f} MiB after the result;",
        end=" ",
    )
    gc.collect()
    grown = (rss_bytes() - base) / MiB
    print(f"{alive()} alive, RSS +{grown:.0f} MiB after gc.collect()")
    del result


if __name__ == "__main__":
    main()
