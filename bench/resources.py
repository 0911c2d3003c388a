"""Benchmark (#16): what measuring a cell's resources costs.

1. ``begin()`` + ``end()`` of the per-cell monitor, the part on the cell's thread (µs per cell).
2. The sampler's own CPU, beside a cell that only sleeps (CPU / wall of the process).
3. The background sampler beside a busy cell: the same work timed alone and while sampled
   (alternating blocks, best of each), for a pure-Python loop (holds the GIL) and a numpy one
   (lets go of it). Goal: under 1 % of the cell.

    .venv/bin/python bench/resources.py [--blocks K]
"""

from __future__ import annotations

import argparse
import time
import timeit

import numpy as np


def python_work() -> None:
    total = 0
    for i in range(4_000_000):
        total += i


def numpy_work() -> None:
    a = np.random.default_rng(0).normal(size=4_000_000)
    for _ in range(8):
        a = np.sort(a)[::-1].copy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=7)
    args = parser.parse_args()
    from mlops_jupyter.capture.resources import Monitor

    m = Monitor()
    n = 5000
    per = timeit.timeit(lambda: (m.begin(), m.end()), number=n) / n
    print(f"begin + end on the cell's thread: {per * 1e6:.1f} µs per cell")
    import os

    t0 = os.times()
    time.sleep(5.0)  # the process idle, nothing sampled: its baseline CPU
    t1 = os.times()
    base = (t1[0] - t0[0]) + (t1[1] - t0[1])
    m.begin()
    time.sleep(5.0)  # nothing else runs: the process's CPU beyond the baseline is the sampler's
    idle = m.end()
    assert idle is not None
    cost = max(0.0, idle.cpu_self_s - base)
    print(
        f"sampler alone: {cost * 1000:.0f} ms CPU in {idle.wall_s:.1f} s beyond an idle "
        f"process's {base * 1000:.0f} ms ({idle.samples} samples): "
        f"{100 * cost / idle.wall_s:.2f} % of one core; its own thread time "
        f"{1000 * idle.sampler_cpu_s:.1f} ms: {100 * idle.sampler_cpu_s / idle.wall_s:.2f} %"
    )
    for name, work in (("pure-Python loop", python_work), ("numpy sort", numpy_work)):
        work()
        plain, sampled, samples = [], [], 0
        for _ in range(args.blocks):
            t = time.perf_counter()
            work()
            plain.append(time.perf_counter() - t)
            m.begin()
            t = time.perf_counter()
            work()
            sampled.append(time.perf_counter() - t)
            usage = m.end()
            samples += usage.samples if usage else 0
        ratio = min(sampled) / min(plain)
        print(
            f"{name}: {min(plain):.3f} s alone, {min(sampled):.3f} s sampled "
            f"({samples / args.blocks:.0f} samples per cell): overhead {100 * (ratio - 1):+.2f} %"
        )


if __name__ == "__main__":
    main()
