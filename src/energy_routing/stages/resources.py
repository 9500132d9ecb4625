"""Sizing a run before submitting it: jobs per rule, core-hours and memory per shard.

The estimates scale the engine's throughput, measured by ``benchmarks/bench_engine.py``
on the reference machine (2 cores) and stored here as seconds per slot-trial on one core
for both consumption modes together, with a safety factor. ``energy-routing plan
--calibrate`` measures it on the machine at hand instead.
"""

from __future__ import annotations

import math
import time

import pandas as pd

from energy_routing import config as er_config

#: Seconds per slot-trial on one core, lumped and distributed together, with margin
#: (measured ~1.2e-7 s in the default run on the reference machine).
SLOT_TRIAL_SECONDS = 1.6e-7
#: Memory of a Python process with numpy, xarray, netCDF4 and numba loaded, compiling the
#: engine's kernels on a cold cache [MB]: a default shard peaked at 215-241 MB alone and
#: at 530 MB once in a full test run, so the reservation keeps a margin over the latter.
BASE_MB = 640
_FLOAT = 8


def shard_memory_mb(trials: int, checkpoints: int, chunk_slots: int, threads: int = 1) -> int:
    """Peak memory of one shard job [MB]: the records, O(trials x checkpoints), plus a
    few chunk-sized buffers per thread, plus the interpreter (never O(T))."""
    records = 2 * 3 * trials * checkpoints * _FLOAT * 3  # modes x vars x (engine, dataset, io)
    buffers = threads * 16 * chunk_slots * _FLOAT
    return int(BASE_MB + math.ceil((records + buffers) / 2**20))


def shard_runtime_minutes(
    trials: int, t_max: int, threads: int = 1, seconds_per_slot_trial: float = SLOT_TRIAL_SECONDS
) -> int:
    """Wall time of one shard job [min], at least 1."""
    seconds = trials * t_max * seconds_per_slot_trial / max(1, threads)
    return max(1, math.ceil(1.5 * seconds / 60 + 0.5))


def merge_memory_mb(trials: int, routing_errors: int, checkpoints: int) -> int:
    """Peak memory of a merge job [MB]: every shard of the scenario in memory twice."""
    data = routing_errors * 2 * 3 * trials * checkpoints * _FLOAT * 2
    return int(BASE_MB + math.ceil(data / 2**20))


def job_resources(
    cfg: dict,
    scenario: str,
    trials: int | None = None,
    seconds_per_slot_trial: float = SLOT_TRIAL_SECONDS,
) -> dict[str, int]:
    """Memory [MB] and wall time [min] of one scenario's jobs: a shard of ``trials`` trials
    (default: a full shard) and the scenario's merge. The one place both the workflow's
    resources and :func:`plan` read them from.
    """
    mc = cfg["montecarlo"]
    sc = er_config.scenarios(cfg)[scenario]
    per = trials if trials is not None else min(sc["trials"], mc["trials_per_shard"])
    return {
        "shard_mem_mb": shard_memory_mb(per, mc["checkpoints"], mc["chunk_slots"], mc["threads"]),
        "shard_runtime_min": shard_runtime_minutes(
            per, sc["t_max"], mc["threads"], seconds_per_slot_trial
        ),
        "merge_mem_mb": merge_memory_mb(sc["trials"], len(sc["routing_errors"]), mc["checkpoints"]),
    }


def plan(cfg: dict, seconds_per_slot_trial: float = SLOT_TRIAL_SECONDS) -> pd.DataFrame:
    """Jobs per rule with their expected core-hours and memory for a validated config."""
    mc = cfg["montecarlo"]
    scen = er_config.scenarios(cfg)
    rows = [{"rule": "characterize", "jobs": 1, "core_hours": 0.0, "mem_mb_per_job": BASE_MB}]
    for name, sc in scen.items():
        per = min(sc["trials"], mc["trials_per_shard"])
        jobs = math.ceil(sc["trials"] / per) * len(sc["routing_errors"])
        seconds = sc["trials"] * sc["t_max"] * seconds_per_slot_trial * len(sc["routing_errors"])
        res = job_resources(cfg, name, per, seconds_per_slot_trial)
        rows.append(
            {
                "rule": f"mc_shard[{name}]",
                "jobs": jobs,
                "core_hours": seconds / 3600,
                "mem_mb_per_job": res["shard_mem_mb"],
                "runtime_min_per_job": res["shard_runtime_min"],
            }
        )
        rows.append(
            {
                "rule": f"mc_merge[{name}]",
                "jobs": 1,
                "core_hours": 0.0,
                "mem_mb_per_job": res["merge_mem_mb"],
            }
        )
    df = pd.DataFrame(rows)
    df["runtime_min_per_job"] = df["runtime_min_per_job"].fillna(1).astype(int)
    return df


def calibrate(cfg: dict, seconds: float = 3.0) -> float:
    """Measure seconds per slot-trial on one core for this config's workload."""
    from energy_routing.engine import driver
    from energy_routing.model import grids

    wl = grids.workload(grids.task_grid(cfg), cfg)
    t_max = 1 << 16
    cps = driver.log_checkpoints(10, t_max, 20)
    kwargs = dict(routing_error=0.05, checkpoints=cps, root_seed=0, scenario_key=0)
    driver.simulate(wl, trials=range(1), **kwargs)  # compile
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        driver.simulate(wl, trials=range(n, n + 2), **kwargs)
        n += 2
    return (time.perf_counter() - start) / (n * t_max)
