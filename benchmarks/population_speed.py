"""How long does contract(i) take? Prints µs per call at 200,000 and 20,000,000 contracts.

Not a test: timings depend on the machine. Run: .venv/bin/python benchmarks/population_speed.py
The two sizes should cost the same, since nothing about a contract depends on the others.
"""
from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.population import Population  # noqa: E402

CALLS = 20_000


def micros_per_contract(size: int) -> tuple[float, float]:
    """(µs to construct the population, best µs per contract(i) over three passes)."""
    started = time.perf_counter()
    population = Population(seed=42, size=size, reference_date=date(2025, 3, 14))
    built_us = (time.perf_counter() - started) * 1e6
    step = size // CALLS
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for i in range(0, size, step):
            population.contract(i)
        best = min(best, (time.perf_counter() - started) / CALLS * 1e6)
    return built_us, best


if __name__ == "__main__":
    for size in (200_000, 20_000_000):
        built_us, per_call = micros_per_contract(size)
        print(f"size {size:>11,}: built in {built_us:8.0f} µs, contract(i) {per_call:6.1f} µs")
