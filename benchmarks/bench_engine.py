"""Throughput of the Monte Carlo engine against two baselines (docs/model.md §6-8).

Measured in one process on the same workload:

* the engine (:func:`energy_routing.engine.driver.simulate`), lumped only and distributed
  only, with ``n_threads = os.cpu_count()``;
* a straightforward per-slot Python loop, as a paper's script would be written: per slot a
  Poisson count, per task a type and a routing uniform, a Gamma harvest, a battery update;
* the "RNG floor": numpy drawing exactly those variates, vectorised, one per slot
  (Poisson count, Gamma harvest) and one per task (type integer, routing uniform), on one
  thread, and on as many threads as the engine (independent generators, one per thread:
  ``ratio_vs_rng_floor_same_threads``);
* the per-slot kernel (docs/model.md §12) with a state-dependent policy (slack-aware
  deferral, 30 s) and a finite lossy store, lumped, against the fast path
  (``per_slot_kernel``);
* the fast path with each non-i.i.d. supply (docs/model.md §13), lumped, against the same
  run with the i.i.d. harvest (``supply``): the Gamma AR(1) harvest at phi = 0.9, the
  Greensboro PV trace with its weather, and a daily arrival cycle of amplitude 0.5.

The engine runs, the floors and the per-slot kernel take turns in each of the repeats (best
time of each kept), so that their ratios are measured under the same load.

All rates are in slot-trials per second. The workload is the one the pipeline builds from
``config/config.yaml`` (or ``--config``), at the critical point.

Usage: ``python benchmarks/bench_engine.py [--json] [--quick] [--memory]``; ``--memory``
measures instead the peak memory of 1,000 trials x 1e6 slots in one process.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from energy_routing import config
from energy_routing.engine.driver import log_checkpoints, simulate
from energy_routing.engine.policies import SlackDeferral
from energy_routing.engine.storage import Storage
from energy_routing.engine.streams import scenario_key
from energy_routing.model import grids
from energy_routing.model.workload import Workload, workload_with_slack
from energy_routing.supply.solar import pv_hourly
from energy_routing.supply.supply import Supply

ROUTING_ERROR = 0.05
ROOT = Path(__file__).resolve().parents[1]


def default_workload(config_path: Path) -> Workload:
    """The engine input of a config (default: the paper's scenario) at the critical point,
    with the tasks' slack (for the deferring policy of the per-slot benchmark)."""
    cfg = config.load(config_path)
    grid = grids.task_grid(cfg)
    return workload_with_slack(grids.workload(grid, cfg), grid, cfg["dispatch_latency_s"])


def supply_cases() -> dict[str, Supply]:
    """The non-i.i.d. supplies timed against the i.i.d. harvest (docs/model.md §13)."""
    return {
        "ar1_phi0.9": Supply("ar1", phi=0.9),
        "solar_tmy": Supply("solar", hourly_W=pv_hourly()["ac_W"]),
        "diurnal_load_a0.5": Supply(load_amplitude=0.5, load_peak_hour=12.3),
    }


#: The per-slot benchmark's case: a state-dependent policy with a finite lossy store.
PER_SLOT_POLICY = SlackDeferral(max_wait_s=30.0, routing_error=ROUTING_ERROR)
PER_SLOT_STORAGE = Storage(
    capacity_J=5.0e4, eta_charge=0.95, eta_discharge=0.95, self_discharge_per_slot=1e-6
)


def naive_loop(workload: Workload, n_slots: int, seed: int) -> float:
    """Per-slot Python loop with lumped consumption; returns the final deficit [J]."""
    rng = np.random.default_rng(seed)
    shape, scale = workload.harvest_gamma
    n_types = workload.n_types
    alternatives = [workload.alternatives(i) for i in range(n_types)]
    battery, lowest = 0.0, 0.0
    for _ in range(n_slots):
        consumed = 0.0
        for _ in range(rng.poisson(workload.arrival_rate)):
            i = rng.integers(n_types)
            m = workload.best_model[i]
            if rng.random() < ROUTING_ERROR and alternatives[i].size:
                m = alternatives[i][0]
            consumed += workload.energy_J[i, m]
        harvest = rng.gamma(shape, scale) if np.isfinite(shape) else workload.harvest_mean_J
        battery += harvest - consumed
        lowest = min(lowest, battery)
    return -lowest


def rng_floor(workload: Workload, n_slots: int, seed: int) -> None:
    """Draw, vectorised on one thread, the variates the naive loop draws one by one."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(workload.arrival_rate, size=n_slots)
    shape, scale = workload.harvest_gamma
    harvest = (
        rng.gamma(shape, scale, size=n_slots)
        if np.isfinite(shape)
        else np.full(n_slots, workload.harvest_mean_J)
    )
    n_tasks = int(counts.sum())
    types = rng.integers(workload.n_types, size=n_tasks)
    uniforms = rng.random(n_tasks)
    del harvest, types, uniforms


def rng_floor_threads(workload: Workload, n_slots: int, seed: int, threads: int) -> None:
    """The RNG floor on ``threads`` threads at once, ``n_slots`` each (own generators)."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda k: rng_floor(workload, n_slots, seed + k), range(threads)))


def best_time(func, repeats: int) -> float:
    """Smallest wall-clock time of ``repeats`` calls [s]."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def best_times_interleaved(funcs: dict, repeats: int) -> dict:
    """Smallest wall-clock time [s] of each function over ``repeats`` rounds, the
    functions taking turns within a round, so that a ratio of two of them is measured under
    the same load of a shared machine."""
    times = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, func in funcs.items():
            start = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


def peak_memory(workload: Workload, trials: int, horizon: int, threads: int) -> dict:
    """Peak resident memory of one process running ``trials`` x ``horizon`` [MB].

    Everything else (imports, JIT) is measured first, so the increment is the engine's own
    memory: O(trials x checkpoints), independent of the horizon.
    """
    checkpoints = log_checkpoints(10, horizon, 120)
    kwargs = dict(
        routing_error=ROUTING_ERROR,
        checkpoints=checkpoints,
        root_seed=1,
        scenario_key=scenario_key("memory"),
        n_threads=threads,
    )
    simulate(workload, trials=threads, **kwargs)  # JIT and thread pool first
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    simulate(workload, trials=trials, **kwargs)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "trials": trials,
        "horizon_slots": horizon,
        "seconds": seconds,
        "rss_before_mb": before,
        "rss_peak_mb": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    parser.add_argument(
        "--config",
        type=Path,
        default=ROOT / "config" / "config.yaml",
        help="config whose workload is simulated (default: the paper's)",
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="only measure peak memory of 1,000 trials x 1e6 slots (~1 min)",
    )
    args = parser.parse_args()

    workload = default_workload(args.config)
    if args.memory:
        print(json.dumps(peak_memory(workload, 1000, 1_000_000, os.cpu_count() or 1), indent=2))
        return
    threads = os.cpu_count() or 1
    horizon = 200_000 if args.quick else 1_000_000
    trials = 2 * threads
    naive_slots = 20_000 if args.quick else 100_000
    floor_slots = 1_000_000 if args.quick else 4_000_000
    repeats = 1 if args.quick else 3
    checkpoints = log_checkpoints(1, horizon, 30)
    key = scenario_key("benchmark")

    def engine(mode: str, supply: Supply | None = None) -> None:
        simulate(
            dataclasses.replace(workload, supply=supply),
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

    def per_slot() -> None:
        simulate(
            workload,
            policy=PER_SLOT_POLICY,
            storage=PER_SLOT_STORAGE,
            checkpoints=checkpoints,
            trials=trials,
            root_seed=1,
            scenario_key=key,
            n_threads=threads,
            consumption=("lumped",),
        )

    simulate(  # JIT of the per-slot kernel (or cache load)
        workload,
        policy=PER_SLOT_POLICY,
        storage=PER_SLOT_STORAGE,
        checkpoints=[1000],
        trials=threads,
        root_seed=0,
        scenario_key=key,
        n_threads=threads,
        consumption=("lumped",),
    )

    supplies = supply_cases()
    naive_rate = naive_slots / best_time(lambda: naive_loop(workload, naive_slots, 2), 1)
    best = best_times_interleaved(
        {
            "lumped": lambda: engine("lumped"),
            "distributed": lambda: engine("distributed"),
            "floor": lambda: rng_floor(workload, floor_slots, 3),
            "floor_threads": lambda: rng_floor_threads(workload, floor_slots, 3, threads),
            "per_slot": per_slot,
            **{name: (lambda sup=sup: engine("lumped", sup)) for name, sup in supplies.items()},
        },
        repeats,
    )
    rates = {mode: trials * horizon / best[mode] for mode in ("lumped", "distributed")}
    floor_rate = floor_slots / best["floor"]
    floor_rate_threads = threads * floor_slots / best["floor_threads"]
    per_slot_rate = trials * horizon / best["per_slot"]

    report = {
        "threads": threads,
        "horizon_slots": horizon,
        "trials": trials,
        "naive_slot_trials_per_s": naive_rate,
        "rng_floor_slot_trials_per_s": floor_rate,
        "rng_floor_same_threads_slot_trials_per_s": floor_rate_threads,
        "distributed_vs_lumped": rates["distributed"] / rates["lumped"],
    }
    for mode, rate in rates.items():
        report[mode] = {
            "engine_slot_trials_per_s": rate,
            "ns_per_slot_trial": 1e9 / rate,
            "speedup_vs_naive": rate / naive_rate,
            "ratio_vs_rng_floor": rate / floor_rate,
            "ratio_vs_rng_floor_same_threads": rate / floor_rate_threads,
        }
    report["per_slot_kernel"] = {
        "policy": repr(PER_SLOT_POLICY),
        "storage": repr(PER_SLOT_STORAGE),
        "consumption": "lumped",
        "engine_slot_trials_per_s": per_slot_rate,
        "ns_per_slot_trial": 1e9 / per_slot_rate,
        "ratio_vs_fast_path": per_slot_rate / rates["lumped"],
    }
    report["supply"] = {
        name: {
            "engine_slot_trials_per_s": trials * horizon / best[name],
            "ratio_vs_iid": best["lumped"] / best[name],
        }
        for name in supplies
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"threads={threads}  T={horizon}  trials={trials}  routing_error={ROUTING_ERROR}")
    print(f"{'':24}{'slot-trials/s':>16}{'ns/slot-trial':>15}{'vs naive':>10}{'vs floor':>10}")
    print(f"{'naive Python loop':24}{naive_rate:16.3e}{1e9 / naive_rate:15.1f}")
    print(f"{'RNG floor (1 thread)':24}{floor_rate:16.3e}{1e9 / floor_rate:15.1f}")
    label = f"RNG floor ({threads} threads)"
    print(f"{label:24}{floor_rate_threads:16.3e}{1e9 / floor_rate_threads:15.1f}")
    for mode in ("lumped", "distributed"):
        row = report[mode]
        print(
            f"{'engine ' + mode:24}{row['engine_slot_trials_per_s']:16.3e}"
            f"{row['ns_per_slot_trial']:15.1f}{row['speedup_vs_naive']:10.1f}"
            f"{row['ratio_vs_rng_floor']:10.2f}"
        )
    print(f"distributed / lumped: {report['distributed_vs_lumped']:.2f}")
    for mode in ("lumped", "distributed"):
        ratio = report[mode]["ratio_vs_rng_floor_same_threads"]
        print(f"engine {mode} / RNG floor on {threads} threads: {ratio:.2f}")
    ps = report["per_slot_kernel"]
    print(
        f"per-slot kernel (deferral 30 s, finite lossy store, lumped): "
        f"{ps['engine_slot_trials_per_s']:.3e} slot-trials/s, "
        f"{ps['ratio_vs_fast_path']:.2f}x the fast path"
    )
    for name, row in report["supply"].items():
        print(
            f"supply {name} (lumped): {row['engine_slot_trials_per_s']:.3e} slot-trials/s, "
            f"{row['ratio_vs_iid']:.2f}x the i.i.d. harvest"
        )


if __name__ == "__main__":
    main()
