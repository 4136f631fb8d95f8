"""How fast this machine runs plain Python right now, printed beside every benchmark.

The targets are absolute, but the machines they run on are shared and vary from one day
to the next (the same code has measured twice as slow on a busy day). This fixed loop
lets figures from different runs be compared.
"""

from __future__ import annotations

import os
import time


def python_speed() -> str:
    started = time.perf_counter()
    total = 0
    for i in range(30_000_000):
        total += i & 7
    took = time.perf_counter() - started
    load = os.getloadavg()[0]
    return (f"machine: {os.cpu_count()} cores, load {load:.1f}; "
            f"reference Python loop {took:.2f} s (lower is faster)")


if __name__ == "__main__":
    print(python_speed())
