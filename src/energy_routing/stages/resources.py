"""Sizing a run before submitting it: jobs per rule, core-hours and memory per shard.

The estimates scale the engine's throughput, measured by ``benchmarks/bench_engine.py``
on the reference machine (2 cores) and stored here as seconds per slot-trial on one core
for both consumption modes together, with a safety factor. ``energy-routing plan
--calibrate`` measures it on the machine at hand instead.
"""

from __future__ import annotations

import math
import re
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


#: Core-seconds of one job of each stage: ``(overhead_s, per_unit_s)``, the job costing
#: ``overhead_s + per_unit_s * units`` for the units of :func:`stage_jobs` (slot-trials of
#: one consumption mode for the engine's studies, trials x routing errors x checkpoints
#: for a merge, growth curves for the fits, site-design-year slots for the year at a site,
#: served slot-trials for the serving study,
#: none for the stages whose cost does not grow with the config). Fitted by
#: ``benchmarks/plan_accuracy.py --fit`` on Snakemake's benchmark records of the default
#: and the tiny run (see :func:`benchmark_records`), and checked there against those and a
#: held-out run, with the README showing the table.
TIMING: dict[str, tuple[float, float]] = {
    "characterize": (0.48, 0.0),
    "mc_shard": (0.69, 2.95e-08),
    "mc_merge": (0.47, 1.7e-08),
    "regimes": (1.33, 0.201),
    "policies": (1.43, 1.46e-07),
    "routers": (0.95, 3.63e-08),
    "storage": (0.96, 7.19e-08),
    "carbon": (0.39, 0.0),
    "calibration": (0.49, 0.0),
    "day_night": (1.42, 3.94e-08),
    "site_storage": (4.93, 7.36e-08),
    "site_year": (1.45, 6.64e-09),
    "serving": (4.86, 7.25e-07),
    "figures": (1.68, 0.0),
    "summary": (0.38, 0.0),
    "report": (1.5, 0.0),
}
_DAY_NIGHT_CASES = 9  # 3 harvests x 3 loads (energy_routing.studies.site.day_night_supplies)


def _slots(days: float, dt_s: float) -> int:
    return max(10, round(days * 86400.0 / dt_s))


def stage_jobs(cfg: dict) -> list[dict]:
    """Every job a validated config makes, by rule: ``rule`` (as ``plan`` prints it and as
    :func:`benchmark_records` names a record), ``stage`` (the key of :data:`TIMING`),
    ``jobs`` and ``units`` per job (see :data:`TIMING`)."""
    from energy_routing.engine.policies import POLICIES
    from energy_routing.stages import registry

    mc = cfg["montecarlo"]
    scen = er_config.scenarios(cfg)
    named = [n for n in scen if not n.startswith("sweep_")]
    sweep = [n for n in scen if n.startswith("sweep_")]
    rows = [_job("characterize", "characterize")]
    for name, sc in scen.items():
        per = min(sc["trials"], mc["trials_per_shard"])
        jobs = math.ceil(sc["trials"] / per) * len(sc["routing_errors"])
        units = 2 * sc["trials"] * sc["t_max"] * len(sc["routing_errors"]) / jobs
        rows.append(_job(f"mc_shard[{name}]", "mc_shard", jobs, units))
        records = sc["trials"] * len(sc["routing_errors"]) * mc["checkpoints"]
        rows.append(_job(f"mc_merge[{name}]", "mc_merge", 1, records))
    # The fits: one growth curve per (scenario, routing error, consumption mode).
    modes = len(cfg["consumption"])
    for name in named:
        curves = modes * len(scen[name]["routing_errors"])
        rows.append(_job(f"regimes[{name}]", "regimes", 1, curves))
    if sweep:
        rows.append(_job("regimes[sweep]", "regimes", 1, modes * len(sweep)))
    pol = cfg["policies"]
    if pol["activate"]:
        cases = sum(len(pol[n][c.parameter_name]) for n, c in POLICIES.items())
        for name in named:
            rows.append(
                _job(f"policies[{name}]", "policies", 1, pol["trials"] * pol["t_max"] * cases)
            )
        units = pol["trials"] * pol["t_max"] * len(pol["routers"])
        rows.append(_job("routers", "routers", 1, units))
    grid = cfg["storage_grid"]
    if grid["activate"]:
        cells = len(grid["provisioning"]) * len(grid["capacity_J"])
        rows.append(_job("storage", "storage", 1, grid["trials"] * grid["t_max"] * cells))
    rw = cfg["realworld"]
    if rw["activate"]:
        rows.append(_job("carbon", "carbon"))
        rows.append(_job("calibration", "calibration"))
        slots = _slots(rw["horizon_days"], cfg["dt_s"])
        rows.append(_job("day_night", "day_night", 1, _DAY_NIGHT_CASES * rw["trials"] * slots))
        st = rw["storage"]
        cells = len(st["provisioning"]) * len(st["capacity_hours"])
        slots = _slots(st["horizon_days"], cfg["dt_s"])
        rows.append(_job("site_storage", "site_storage", 1, cells * st["trials"] * slots))
    sy = cfg.get("site_year", {})
    if sy.get("activate"):
        designs = len(sy["pv_kwp_per_kw"]) * len(sy["battery_hours"]) * len(sy["battery_kw_per_kw"])
        slots = 8760 * 3600 / sy["slot_s"]
        units = len(sy["weather_files"]) * designs * (sy["years"] + 2) * slots
        rows.append(_job("site_year", "site_year", 1, units))
    sv = cfg.get("serving", {})
    if sv.get("activate"):
        reg = sv["regimes"]
        units = len(sv["arrival_rates_per_s"]) * len(sv["replicas"]) * sv["trials"]
        units *= sv["horizon_slots"]
        if reg["activate"]:
            off = reg["off_critical_trials"] * (len(reg["provisioning"]) - 1)
            units += (reg["trials"] + off) * reg["t_max"]
        rows.append(_job("serving", "serving", 1, units))
    figures = 0
    for fig in registry.FIGURES:
        if fig.activate and not cfg[fig.activate]["activate"]:
            continue
        figures += {"scenario": len(named), "sweep": int(bool(sweep))}.get(fig.scope, 1)
    rows.append(_job("figures", "figures", figures))
    rows += [_job("summary", "summary"), _job("report", "report")]
    return rows


def _job(rule: str, stage: str, jobs: int = 1, units: float = 0.0) -> dict:
    return {"rule": rule, "stage": stage, "jobs": int(jobs), "units": float(units)}


def core_seconds(stage: str, units: float, shard_rate: float | None = None) -> float:
    """Predicted core-seconds of one job of ``stage`` with ``units`` (:data:`TIMING`);
    ``shard_rate`` [s per slot-trial of both modes] replaces the shards' fitted rate
    (``plan --calibrate``)."""
    overhead, per_unit = TIMING[stage]
    if stage == "mc_shard" and shard_rate is not None:
        per_unit = shard_rate / 2
    return overhead + per_unit * units


def plan(cfg: dict, seconds_per_slot_trial: float | None = None) -> pd.DataFrame:
    """Every stage's jobs with their predicted core-hours (:data:`TIMING`), and the memory
    and wall time a shard or merge job reserves, for a validated config.
    ``seconds_per_slot_trial`` (both consumption modes, one core) replaces the shards'
    fitted rate, e.g. with one measured by :func:`calibrate`."""
    mc = cfg["montecarlo"]
    scen = er_config.scenarios(cfg)
    rows = []
    for job in stage_jobs(cfg):
        per_job = core_seconds(job["stage"], job["units"], seconds_per_slot_trial)
        row = {"rule": job["rule"], "jobs": job["jobs"], "core_s_per_job": per_job}
        row["core_hours"] = job["jobs"] * per_job / 3600
        row["mem_mb_per_job"] = BASE_MB
        name = job["rule"].partition("[")[2].rstrip("]")
        if job["stage"] in ("mc_shard", "mc_merge"):
            per = min(scen[name]["trials"], mc["trials_per_shard"])
            rate = seconds_per_slot_trial or SLOT_TRIAL_SECONDS
            res = job_resources(cfg, name, per, rate)
            key = "shard_mem_mb" if job["stage"] == "mc_shard" else "merge_mem_mb"
            row["mem_mb_per_job"] = res[key]
            if job["stage"] == "mc_shard":
                row["runtime_min_per_job"] = res["shard_runtime_min"]
        rows.append(row)
    df = pd.DataFrame(rows)
    df["runtime_min_per_job"] = df["runtime_min_per_job"].fillna(1).astype(int)
    return df


#: Snakemake's benchmark samples a job every 0.5 s for its first 15 s, then every 30 s
#: (snakemake.benchmark: BENCHMARK_INTERVAL_SHORT, BENCHMARK_INTERVAL); its cpu_time is
#: the CPU time at the last sample.
_SAMPLES_SHORT = (0.5, 15.0)
_SAMPLES_LONG = 30.0


def last_sample_s(wall_s: float) -> float:
    """When Snakemake's benchmark last sampled a job of ``wall_s`` seconds [s].

    >>> last_sample_s(7.14), last_sample_s(23.4), last_sample_s(60.5)
    (7.0, 15.0, 45.0)
    """
    step, short = _SAMPLES_SHORT
    if wall_s <= short:
        return math.floor(wall_s / step) * step
    return short + math.floor((wall_s - short) / _SAMPLES_LONG) * _SAMPLES_LONG


_RECORD_RULES = (
    (re.compile(r"^mc/([^/]+)/eps[^/]+/trials\d+-\d+$"), "mc_shard[{}]"),
    (re.compile(r"^mc/([^/]+)/merge$"), "mc_merge[{}]"),
    (re.compile(r"^regimes/([^/]+)$"), "regimes[{}]"),
    (re.compile(r"^policies/routers$"), "routers"),
    (re.compile(r"^policies/([^/]+)$"), "policies[{}]"),
    (re.compile(r"^storage/grid$"), "storage"),
    (re.compile(r"^realworld/([^/]+)$"), "{}"),
    (re.compile(r"^serving/serving$"), "serving"),
    (re.compile(r"^figures/.+$"), "figures"),
    (re.compile(r"^(characterize|summary|report)$"), "{}"),
)


def benchmark_records(directory) -> pd.DataFrame:
    """A run's Snakemake benchmark records (``results/benchmarks/**/*.tsv``), one row per
    job: ``rule`` (as :func:`plan` names it), ``wall_s``, ``cpu_s`` (Snakemake's
    ``cpu_time``, a lower bound), ``complete`` (the last sample fell within 0.5 s of the
    job's end) and ``core_s``: ``cpu_s`` when complete, else extrapolated from the last
    sample to the job's end at the job's mean rate until then (:func:`last_sample_s`; the
    record misses what a job of over 15 s spent after its last sample). A job over before
    the first sample (``cpu_time`` 0) is charged its wall time on one core."""
    from pathlib import Path

    root = Path(directory)
    rows = []
    for path in sorted(root.rglob("*.tsv")):
        name = path.relative_to(root).with_suffix("").as_posix()
        rule = next(
            (fmt.format(*m.groups()) for rx, fmt in _RECORD_RULES if (m := rx.match(name))), None
        )
        if rule is None or (rule == "figures" and not _registered_figure(path.stem)):
            continue
        rec = pd.read_csv(path, sep="\t").iloc[-1]
        wall, cpu = float(rec["s"]), float(rec["cpu_time"])
        last = last_sample_s(wall)
        complete = wall - last <= _SAMPLES_SHORT[0]
        core = cpu if complete or not last else cpu * wall / last
        if cpu <= 0.0:  # over before Snakemake's first sample: its wall time, one core
            core = wall
        rows.append(
            {"rule": rule, "wall_s": wall, "cpu_s": cpu, "core_s": core, "complete": complete}
        )
    return pd.DataFrame(rows, columns=["rule", "wall_s", "cpu_s", "core_s", "complete"])


def _registered_figure(name: str) -> bool:
    """Whether a figure's record is of a figure the registry draws (not one of an earlier
    version left in the directory)."""
    from energy_routing.stages import registry

    return any(
        name == f.stem or (f.scope == "scenario" and name.startswith(f"{f.stem}_"))
        for f in registry.FIGURES
    )


def compare(cfg: dict, records: pd.DataFrame) -> pd.DataFrame:
    """Predicted against recorded core-seconds per rule, for the run of ``cfg`` whose
    :func:`benchmark_records` are ``records``: ``jobs`` planned and ``recorded``,
    ``predicted_s``, ``recorded_s`` (``core_s`` summed) and their ``ratio``."""
    plan_df = plan(cfg)
    got = records.groupby("rule").agg(recorded=("core_s", "size"), recorded_s=("core_s", "sum"))
    out = plan_df[["rule", "jobs"]].assign(predicted_s=plan_df.core_hours * 3600)
    out = out.merge(got, left_on="rule", right_index=True, how="left")
    out["ratio"] = out.predicted_s / out.recorded_s
    return out


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
