"""Throughput of the Monte Carlo engine against two baselines (MODEL.md 6-8).

Measured in one process on the same workload:

* the engine (:func:`energy_routing.montecarlo.simulate`), lumped only and distributed
  only, with ``n_threads = os.cpu_count()``;
* a straightforward per-slot Python loop, as a paper's script would be written: per slot a
  Poisson count, per task a type and a routing uniform, a Gamma harvest, a battery update;
* the "RNG floor": numpy drawing exactly those variates, vectorised, one per slot
  (Poisson count, Gamma harvest) and one per task (type integer, routing uniform), on one
  thread.

All rates are in slot-trials per second. The workload imitates the defaults of MODEL.md 1-5
(ten equally likely task types, a 1B and a 10B model, deadlines of 80/40/17 s), computed
inline so that the benchmark does not depend on the task-grid code.

Usage: ``python benchmarks/bench_engine.py [--json] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np
from scipy.special import betainc

from energy_routing.montecarlo import (
    Workload,
    log_checkpoints,
    policy_moments,
    scenario_key,
    simulate,
)

ROUTING_ERROR = 0.05


def default_like_workload() -> Workload:
    """A workload with the shape of the MODEL.md defaults, at the critical point (mu = 0)."""
    params = np.array([1e9, 1e10])
    n_layers, d_attn = 48, 2048
    e_mem, e_flop, bandwidth, throughput = 1e-11, 1e-12, 5e12, 2e13
    a = params * (e_mem + 2 * e_flop)
    b = 2 * n_layers * d_attn * e_flop
    u = params / bandwidth + 2 * params / throughput
    v = 2 * n_layers * d_attn / throughput
    big_gamma = 406.4 * (1 + 0.34 / 0.28)
    loss = 1.69 + big_gamma * params**-0.34
    difficulty = np.linspace(1.7, 1.9, 10)
    deadline = np.full(10, 40.0)
    deadline[[0, 9]] = 80.0
    deadline[4] = 17.0
    skills, omega, tol = 50, 20, 0.1

    def k_star(p: float) -> int:
        lo, hi = skills, skills
        while betainc(skills, hi - skills + 1, p) < 1 - tol:
            lo, hi = hi, 2 * hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if betainc(skills, mid - skills + 1, p) < 1 - tol else (lo, mid)
        return hi

    n_types, n_models = difficulty.size, params.size
    tokens = np.zeros((n_types, n_models))
    for i, level in enumerate(difficulty):
        for m in range(n_models):
            p = 1 / (1 + math.exp(-5 * (level - loss[m])))
            tokens[i, m] = omega * k_star(p)
    energy = a * tokens + b * tokens * (tokens - 1) / 2
    duration = u * tokens + v * tokens * (tokens - 1) / 2
    feasible = duration <= deadline[:, None]
    slots = np.ceil(duration).astype(int)
    profile = np.zeros((n_types, n_models, slots.max()))
    for i in range(n_types):
        for m in range(n_models):
            t = np.arange(slots[i, m] + 1, dtype=float)
            x = np.minimum((-u[m] + np.sqrt(u[m] ** 2 + 2 * v * t)) / v, tokens[i, m])
            x[-1] = tokens[i, m]
            cum = a[m] * x + b * x * (x - 1) / 2
            cum[0] = 0.0
            profile[i, m, : slots[i, m]] = np.diff(cum)
    profile *= (energy / profile.sum(axis=2))[:, :, None]  # exact sums after rounding
    best = np.where(feasible, energy, np.inf).argmin(axis=1)
    mix = np.full(n_types, 1 / n_types)
    draft = Workload(mix, energy, profile, feasible, best, 1.0, 1.0, 0.0)
    mean, second = policy_moments(draft, 0.0)
    return Workload(mix, energy, profile, feasible, best, 1.0, mean, second)


def naive_loop(workload: Workload, n_slots: int, seed: int) -> float:
    """Per-slot Python loop with lumped consumption; returns the final deficit [J]."""
    rng = np.random.default_rng(seed)
    mean, var = workload.harvest_mean_J, workload.harvest_var_J2
    shape, scale = mean * mean / var, var / mean
    n_types = workload.n_types
    alternatives = [
        [m for m in np.flatnonzero(workload.feasible[i]) if m != workload.best_model[i]]
        for i in range(n_types)
    ]
    battery, lowest = 0.0, 0.0
    for _ in range(n_slots):
        consumed = 0.0
        for _ in range(rng.poisson(workload.arrival_rate)):
            i = rng.integers(n_types)
            m = workload.best_model[i]
            if rng.random() < ROUTING_ERROR and alternatives[i]:
                m = alternatives[i][0]
            consumed += workload.energy_J[i, m]
        battery += rng.gamma(shape, scale) - consumed
        lowest = min(lowest, battery)
    return -lowest


def rng_floor(workload: Workload, n_slots: int, seed: int) -> None:
    """Draw, vectorised on one thread, the variates the naive loop draws one by one."""
    rng = np.random.default_rng(seed)
    mean, var = workload.harvest_mean_J, workload.harvest_var_J2
    counts = rng.poisson(workload.arrival_rate, size=n_slots)
    harvest = rng.gamma(mean * mean / var, var / mean, size=n_slots)
    n_tasks = int(counts.sum())
    types = rng.integers(workload.n_types, size=n_tasks)
    uniforms = rng.random(n_tasks)
    del harvest, types, uniforms


def best_time(func, repeats: int) -> float:
    """Smallest wall-clock time of ``repeats`` calls [s]."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    args = parser.parse_args()

    workload = default_like_workload()
    threads = os.cpu_count() or 1
    horizon = 200_000 if args.quick else 1_000_000
    trials = 2 * threads
    naive_slots = 20_000 if args.quick else 100_000
    floor_slots = 1_000_000 if args.quick else 4_000_000
    repeats = 1 if args.quick else 3
    checkpoints = log_checkpoints(1, horizon, 30)
    key = scenario_key("benchmark")

    def engine(mode: str) -> None:
        simulate(
            workload,
            routing_error=ROUTING_ERROR,
            checkpoints=checkpoints,
            trials=trials,
            root_seed=1,
            scenario_key=key,
            n_threads=threads,
            consumption=(mode,),
        )

    # Warm-up: JIT compilation (or cache load) and thread-pool start-up.
    simulate(
        workload,
        routing_error=ROUTING_ERROR,
        checkpoints=[1000],
        trials=threads,
        root_seed=0,
        scenario_key=key,
        n_threads=threads,
    )
    rates = {
        mode: trials * horizon / best_time(lambda m=mode: engine(m), repeats)
        for mode in ("lumped", "distributed")
    }
    naive_rate = naive_slots / best_time(lambda: naive_loop(workload, naive_slots, 2), 1)
    floor_rate = floor_slots / best_time(lambda: rng_floor(workload, floor_slots, 3), repeats)

    report = {
        "threads": threads,
        "horizon_slots": horizon,
        "trials": trials,
        "naive_slot_trials_per_s": naive_rate,
        "rng_floor_slot_trials_per_s": floor_rate,
        "distributed_vs_lumped": rates["distributed"] / rates["lumped"],
    }
    for mode, rate in rates.items():
        report[mode] = {
            "engine_slot_trials_per_s": rate,
            "ns_per_slot_trial": 1e9 / rate,
            "speedup_vs_naive": rate / naive_rate,
            "ratio_vs_rng_floor": rate / floor_rate,
        }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"threads={threads}  T={horizon}  trials={trials}  routing_error={ROUTING_ERROR}")
    print(f"{'':24}{'slot-trials/s':>16}{'ns/slot-trial':>15}{'vs naive':>10}{'vs floor':>10}")
    print(f"{'naive Python loop':24}{naive_rate:16.3e}{1e9 / naive_rate:15.1f}")
    print(f"{'RNG floor (1 thread)':24}{floor_rate:16.3e}{1e9 / floor_rate:15.1f}")
    for mode in ("lumped", "distributed"):
        row = report[mode]
        print(
            f"{'engine ' + mode:24}{row['engine_slot_trials_per_s']:16.3e}"
            f"{row['ns_per_slot_trial']:15.1f}{row['speedup_vs_naive']:10.1f}"
            f"{row['ratio_vs_rng_floor']:10.2f}"
        )
    print(f"distributed / lumped: {report['distributed_vs_lumped']:.2f}")


if __name__ == "__main__":
    main()
