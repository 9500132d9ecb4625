"""Serving under continuous batching: the ``serving`` config section's studies
(docs/model.md §14.2-14.3).

:func:`serving_section` reads the section (schema defaults filled in, cross-key checks),
:func:`serving_plan` turns it into the engine's :class:`~energy_routing.engine.batched.
ServingPlan` for the config's models, :func:`serving_study` runs every (arrival rate,
replicas) on common random numbers and returns per-trial and summarised serving figures
per model, and :func:`regimes_study` runs the battery on batched consumption at
provisioning ratios around the critical point (the harvest mean set to the trials' mean
batched consumption) for the theory of §14.3.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import xarray as xr

from energy_routing import config
from energy_routing.engine.batched import (
    ROUTERS,
    ServingPlan,
    candidate_models,
    serve_trial,
    trial_metrics,
    trial_totals,
    walk_consumption,
)
from energy_routing.engine.draws import EnginePlan
from energy_routing.engine.driver import log_checkpoints
from energy_routing.engine.streams import scenario_key, trial_streams
from energy_routing.io.netcdf import time_attrs
from energy_routing.model import grids, serving
from energy_routing.model.catalogue import ACCELERATORS
from energy_routing.studies.sections import _mc

#: Scenario keys of the studies' random streams: every serving setting of one study shares
#: them (common random numbers).
SERVING_KEY = "serving"
REGIMES_KEY = "serving_regimes"

_ROWS = (
    "mean_batch",
    "energy_per_token_J",
    "energy_per_task_J",
    "paper_energy_per_task_J",
    "missed_fraction",
)
_TRIAL = {"units": "1", "long_name": "trial index"}
_UNITS = {
    "mean_batch": ("1", "running sequences per decoding step while busy"),
    "energy_per_token_J": ("J", "replicas' energy, idle included, per generated token"),
    "energy_per_task_J": ("J", "energy per token times the mean budget n* of routed tasks"),
    "paper_energy_per_task_J": ("J", "mean energy of the routed tasks served alone (batch of one)"),
    "missed_fraction": ("1", "share of tasks due within the horizon that missed the deadline"),
    "tasks": ("1", "tasks routed to the model within the horizon"),
}


def serving_section(cfg: Mapping) -> dict:
    """The ``serving`` section with the schema's defaults, checked (one error naming the key)."""
    sec = config.section_defaults("serving")
    for key, value in (cfg.get("serving") or {}).items():
        if key not in sec:
            raise ValueError(f"config key 'serving.{key}': unknown (allowed: {', '.join(sec)})")
        sec[key] = {**sec[key], **value} if isinstance(sec[key], Mapping) else value
    config.check_serving(sec)
    return sec


def step_coefficients(
    cfg: Mapping, sec: Mapping, paper_limit: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Step coefficients (M, 6) and idle power per replica (M,) [W] of the config's models
    under the section's law (docs/model.md §14.1-14.2); with ``paper_limit``, the law's
    batch-of-one limit (for ``fitted``, :meth:`~energy_routing.model.serving.
    ServingConstants.paper_limit` on the same accelerators).

    ``paper``: the §1 law of the config's ``hardware`` in step form
    (:meth:`~energy_routing.model.serving.StepCoefficients.paper`), idle power
    ``idle_power_w`` or 0. ``fitted``: the serving law of §14 on ``gpus`` accelerators of
    the fitted constants, with each model's architecture from its §1 numbers
    (:meth:`~energy_routing.model.serving.ServingArch.from_paper`), idle power
    ``idle_power_w`` or the accelerators' idle power.
    """
    models = cfg["models"]
    if sec["law"] == "paper":
        hw = grids.hardware(cfg)
        coef = [
            serving.StepCoefficients.paper(m["params"], m["n_layers"], m["d_attn"], hw)
            for m in models
        ]
        idle = 0.0
    else:
        name = sec["accelerator"]
        k = serving.ServingConstants.paper_limit() if paper_limit else serving.constants(name)
        gpus = int(sec["gpus"])
        coef = [
            serving.StepCoefficients.of(
                serving.ServingArch.from_paper(m["params"], m["n_layers"], m["d_attn"]),
                ACCELERATORS[name],
                k,
                gpus,
            )
            for m in models
        ]
        idle = serving.idle_power(k, gpus)
    if sec["idle_power_w"] is not None:
        idle = float(sec["idle_power_w"])
    return np.array([c.as_array() for c in coef]), np.full(len(models), idle)


def serving_plan(
    grid: xr.Dataset,
    cfg: Mapping,
    sec: Mapping,
    replicas: int,
    router: str = "myopic",
    plan: EnginePlan | None = None,
) -> ServingPlan:
    """The engine's serving plan: ``replicas`` replicas of every model, the section's
    maximum batch and law, the grid's budgets and deadlines (less the dispatch latency);
    the ``router``, whose candidate models are those of ``plan``'s route table
    (:func:`~energy_routing.engine.batched.candidate_models`)."""
    coef, idle = step_coefficients(cfg, sec)
    return ServingPlan(
        tokens=grid["tokens"].to_numpy().astype(float),
        deadline_s=grid["deadline_s"].to_numpy() - float(cfg.get("dispatch_latency_s", 0.0)),
        coef=coef,
        idle_w=idle,
        replicas=np.full(coef.shape[0], int(replicas)),
        max_batch=int(sec["max_batch"]),
        paper_coef=step_coefficients(cfg, sec, paper_limit=True)[0],
        router=router,
        candidates=None if plan is None else candidate_models(plan),
    )


def site_matching_rate(grid: xr.Dataset, cfg: Mapping, sec: Mapping, batch: float) -> dict:
    """The arrival rate at which batched serving draws the site's critical load
    (docs/model.md §14.2) [tasks/s].

    The site is sized for C_LB / dt [W] (the batch-of-one law of §1 at the config's
    ``arrival_rate``). Served in batches of ``batch`` sequences, a task of n tokens on its
    routed model costs its share of the steps, ``n (e_fixed / B + e_seq) + e_ctx n (n - 1)
    / 2`` [J] with the section's step coefficients (:func:`step_coefficients`; idle power
    left out: replicas running full batches are never idle), and the rate is the load over
    the mean of that over the task mix.

    Returns
    -------
    dict
        ``load_W``, ``energy_per_task_J`` (mean over the mix at ``batch``) and
        ``arrival_rate_per_s``.
    """
    coef, _ = step_coefficients(cfg, sec)
    names = [str(m) for m in grid.model.values]
    best = np.array([names.index(str(b)) for b in grid.best_model.values])
    n = grid["tokens"].to_numpy()[np.arange(best.size), best].astype(float)
    c = coef[best]
    e_task = n * (c[:, 3] / float(batch) + c[:, 4]) + c[:, 5] * n * (n - 1.0) / 2.0
    load = float(grid["c_lb_J_per_slot"]) / float(cfg.get("dt_s", 1.0))
    energy = float(grid["mix"].to_numpy() @ e_task)
    return {"load_W": load, "energy_per_task_J": energy, "arrival_rate_per_s": load / energy}


def _engine_plan(grid, cfg, sec, rate_per_s: float, provisioning: float = 1.0, harvest=None):
    dt = float(cfg.get("dt_s", 1.0))
    wl = grids.workload(grid, {**cfg, "arrival_rate": rate_per_s * dt}, provisioning)
    if harvest is not None:
        wl = dataclasses.replace(wl, harvest_mean_J=harvest[0], harvest_var_J2=harvest[1])
    return EnginePlan.build(wl, float(sec["routing_error"])), wl


def serving_study(grid: xr.Dataset, cfg: Mapping) -> xr.Dataset:
    """Serving figures per (model, arrival rate, replicas) (docs/model.md §14.2).

    Every setting runs trials ``0 .. trials - 1`` on the streams of scenario
    :data:`SERVING_KEY`, so the replicas of one arrival rate see the same arrivals,
    types and routes (common random numbers). Per trial: :func:`~energy_routing.engine.
    batched.trial_metrics`; over trials: the mean and standard error of each (NaN trials,
    a model without tasks, left out).
    """
    sec = serving_section(cfg)
    mc = _mc(cfg)
    rates = np.asarray(sec["arrival_rates_per_s"], dtype=float)
    reps = np.asarray(sec["replicas"], dtype=np.int64)
    n_trials, horizon = int(sec["trials"]), int(sec["horizon_slots"])
    models = [str(m) for m in grid.model.values]
    key = scenario_key(SERVING_KEY)
    shape = (len(models), rates.size, reps.size, n_trials)
    per = {name: np.full(shape, np.nan) for name in (*_ROWS, "tasks")}
    dt = float(cfg.get("dt_s", 1.0))
    for a, rate in enumerate(rates):
        plan, _ = _engine_plan(grid, cfg, sec, float(rate))
        for b, r in enumerate(reps):
            splan = serving_plan(grid, cfg, sec, int(r))
            for k in range(n_trials):
                tr = serve_trial(
                    plan, splan, trial_streams(mc["seed"], key, k), horizon,
                    chunk_slots=mc["chunk_slots"],
                )  # fmt: skip
                for name, values in trial_metrics(tr, splan, dt).items():
                    per[name][:, a, b, k] = values
    dims = ("model", "arrival_rate_per_s", "replicas", "trial")
    data = {}
    for name, values in per.items():
        units, long_name = _UNITS[name]
        data[name] = (dims, values, {"units": units, "long_name": long_name})
        if name == "tasks":
            continue
        mean, sem = _nan_mean_sem(values)
        data[f"{name}_mean"] = (dims[:3], mean, {"units": units, "long_name": f"mean {long_name}"})
        data[f"{name}_sem"] = (
            dims[:3],
            sem,
            {"units": units, "long_name": f"standard error of the mean {long_name}"},
        )
    ds = xr.Dataset(
        data,
        coords={
            "model": ("model", models, {"long_name": "hosted model"}),
            "arrival_rate_per_s": ("arrival_rate_per_s", rates, {"units": "s-1"}),
            "replicas": ("replicas", reps, {"units": "1", "long_name": "replicas per model"}),
            "trial": ("trial", np.arange(n_trials), _TRIAL),
        },
    )
    ds["arrival_rate_per_s"].attrs["long_name"] = "task arrival rate, all models"
    return ds.assign_attrs(
        law=sec["law"],
        max_batch=int(sec["max_batch"]),
        horizon_slots=horizon,
        routing_error=float(sec["routing_error"]),
        dt_s=dt,
    )


def _nan_mean_sem(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over the last axis, ignoring NaNs (NaN below two values)."""
    n = np.sum(np.isfinite(values), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(values, axis=-1) / np.where(n > 0, n, np.nan)
        dev = np.where(np.isfinite(values), values - mean[..., None], 0.0)
        var = np.sum(dev**2, axis=-1) / np.where(n > 1, n - 1, np.nan)
    return mean, np.sqrt(var / n)


def _summary_key(name: str) -> str:
    """A dataset variable's name in ``summary.json``."""
    return "missed_deadline_fraction" if name == "missed_fraction" else name


def _finite(value) -> float | None:
    """A scalar as a float, None where it is not finite (JSON has no NaN)."""
    v = float(value)
    return v if np.isfinite(v) else None


def _setting(ds: xr.Dataset, sel: xr.Dataset, rate, replicas, routing_error=False) -> dict:
    """The keys every summary row of a serving dataset starts with: its setting, the run's
    size and the mean number of tasks over trials."""
    row = {
        "arrival_rate_per_s": float(rate),
        "replicas": int(replicas),
        "max_batch": int(ds.attrs["max_batch"]),
        "law": str(ds.attrs["law"]),
    }
    if routing_error:
        row["routing_error"] = float(ds.attrs["routing_error"])
    return row | {
        "trials": int(ds.sizes["trial"]),
        "horizon_slots": int(ds.attrs["horizon_slots"]),
        "tasks_mean": float(sel["tasks"].mean()),
    }


def serving_records(ds: xr.Dataset) -> list[dict]:
    """The ``serving`` entries of ``summary.json``: one per (model, arrival rate, replicas)
    with the means and standard errors over trials (None where undefined)."""
    out = []
    for m in ds.model.values:
        for rate in ds.arrival_rate_per_s.values:
            for r in ds.replicas.values:
                sel = ds.sel(model=m, arrival_rate_per_s=rate, replicas=r)
                row = {"model": str(m), **_setting(ds, sel, rate, r)}
                for name in _ROWS:
                    key = _summary_key(name)
                    row[key] = _finite(sel[f"{name}_mean"])
                    row[key + "_sem"] = _finite(sel[f"{name}_sem"])
                out.append(row)
    return out


# --------------------------------------------------------------------------------------
# Batch-aware against myopic routing (docs/model.md §14.2)
# --------------------------------------------------------------------------------------

_TOTALS = {
    "energy_per_task_J": ("J", "replicas' energy, idle included, per task arrived"),
    "missed_fraction": ("1", "share of tasks due within the horizon that missed the deadline"),
    "unfinished_fraction": ("1", "share of tasks arrived still running or queued at the horizon"),
}


def router_study(grid: xr.Dataset, cfg: Mapping) -> xr.Dataset:
    """Batch-aware against myopic routing per (arrival rate, replicas) of
    ``serving.router_comparison`` (by default the study's) (docs/model.md §14.2).

    Both routers serve trials ``0 .. trials - 1`` on the streams of :data:`SERVING_KEY`
    (the serving study's: the myopic trials are the study's own), so each trial's
    arrivals, types and routing-error draws are the same under both: per trial
    :func:`~energy_routing.engine.batched.trial_totals` for each router, and the paired
    difference batch_aware - myopic, whose mean and standard error are taken over the
    per-trial differences.
    """
    sec = serving_section(cfg)
    cmp = sec["router_comparison"]
    mc = _mc(cfg)
    rates = np.asarray(cmp["arrival_rates_per_s"] or sec["arrival_rates_per_s"], dtype=float)
    reps = np.asarray(cmp["replicas"] or sec["replicas"], dtype=np.int64)
    n_trials, horizon = int(sec["trials"]), int(sec["horizon_slots"])
    key = scenario_key(SERVING_KEY)
    dt = float(cfg.get("dt_s", 1.0))
    shape = (len(ROUTERS), rates.size, reps.size, n_trials)
    per = {name: np.full(shape, np.nan) for name in (*_TOTALS, "tasks")}
    for a, rate in enumerate(rates):
        plan, _ = _engine_plan(grid, cfg, sec, float(rate))
        for b, r in enumerate(reps):
            for c, router in enumerate(ROUTERS):
                splan = serving_plan(grid, cfg, sec, int(r), router, plan)
                for k in range(n_trials):
                    tr = serve_trial(
                        plan, splan, trial_streams(mc["seed"], key, k), horizon,
                        chunk_slots=mc["chunk_slots"],
                    )  # fmt: skip
                    for name, value in trial_totals(tr, splan, dt).items():
                        per[name][c, a, b, k] = value
    dims = ("router", "arrival_rate_per_s", "replicas", "trial")
    data = {
        "tasks": (dims[1:], per["tasks"][0], {"units": "1", "long_name": "tasks arrived"}),
    }
    for name, (units, long_name) in _TOTALS.items():
        values = per[name]
        data[name] = (dims, values, {"units": units, "long_name": long_name})
        mean, sem = _nan_mean_sem(values)
        data[f"{name}_mean"] = (dims[:3], mean, {"units": units, "long_name": f"mean {long_name}"})
        data[f"{name}_sem"] = (
            dims[:3],
            sem,
            {"units": units, "long_name": f"standard error of the mean {long_name}"},
        )
        diff = paired_difference(values)
        what = f"batch_aware minus myopic {long_name}"
        data[f"{name}_diff"] = (dims[1:], diff, {"units": units, "long_name": what})
        mean, sem = _nan_mean_sem(diff)
        data[f"{name}_diff_mean"] = (dims[1:3], mean, {"units": units, "long_name": f"mean {what}"})
        data[f"{name}_diff_sem"] = (
            dims[1:3],
            sem,
            {"units": units, "long_name": f"standard error of the mean {what} (paired)"},
        )
    ds = xr.Dataset(
        data,
        coords={
            "router": ("router", list(ROUTERS), {"long_name": "routing policy"}),
            "arrival_rate_per_s": ("arrival_rate_per_s", rates, {
                "units": "s-1", "long_name": "task arrival rate, all models"}),
            "replicas": ("replicas", reps, {"units": "1", "long_name": "replicas per model"}),
            "trial": ("trial", np.arange(n_trials), _TRIAL),
        },
    )  # fmt: skip
    return ds.assign_attrs(
        law=sec["law"],
        max_batch=int(sec["max_batch"]),
        horizon_slots=horizon,
        routing_error=float(sec["routing_error"]),
        dt_s=dt,
    )


def paired_difference(values: np.ndarray) -> np.ndarray:
    """Per-trial batch_aware - myopic of an array whose first axis is :data:`ROUTERS`."""
    return values[ROUTERS.index("batch_aware")] - values[ROUTERS.index("myopic")]


def router_records(ds: xr.Dataset) -> list[dict]:
    """The ``serving_routers`` entries of ``summary.json``: one per (arrival rate,
    replicas), with each router's mean and standard error over trials and the paired
    difference batch_aware - myopic with its standard error (None where undefined)."""
    out = []
    for rate in ds.arrival_rate_per_s.values:
        for r in ds.replicas.values:
            sel = ds.sel(arrival_rate_per_s=rate, replicas=r)
            row = _setting(ds, sel, rate, r, routing_error=True)
            for name in _TOTALS:
                key = _summary_key(name)
                cols = {
                    f"{key}_{router}": sel[f"{name}_mean"].sel(router=router) for router in ROUTERS
                }
                cols.update({
                    f"{key}_{router}_sem": sel[f"{name}_sem"].sel(router=router)
                    for router in ROUTERS
                })  # fmt: skip
                cols[f"{key}_diff"] = sel[f"{name}_diff_mean"]
                cols[f"{key}_diff_sem"] = sel[f"{name}_diff_sem"]
                row.update({col: _finite(v) for col, v in cols.items()})
            out.append(row)
    return out


# --------------------------------------------------------------------------------------
# The battery on batched consumption (docs/model.md §14.3)
# --------------------------------------------------------------------------------------


def regimes_study(grid: xr.Dataset, cfg: Mapping) -> xr.Dataset:
    """D_t on batched consumption at provisioning ratios around the critical point
    (docs/model.md §14.3).

    The ``trials`` trials (streams of :data:`REGIMES_KEY`) are served once to ``t_max``;
    their consumption after ``warmup_slots`` gives the mean C_bar and the per-slot
    variance. At each rho the harvest has mean rho C_bar and variance
    ``harvest.variance_scale`` times that per-slot variance, Gamma and i.i.d. as in §6, and
    the battery walks on each trial's consumption
    (:func:`~energy_routing.engine.batched.walk_consumption`, common random numbers across
    rho): all trials at rho = 1, the first ``off_critical_trials`` at the others. The
    battery starts at slot ``warmup_slots``, when the replicas have filled; the
    checkpoints count slots from there, up to ``t_max - warmup_slots``. Recorded: D_t at
    log-spaced checkpoints, the realised drift B_T / T, and the means of C_t over
    consecutive blocks of ``block_slots`` slots (for the long-run variance).
    """
    sec = serving_section(cfg)
    reg = sec["regimes"]
    mc = _mc(cfg)
    rate = float(reg["arrival_rate_per_s"])
    t_max, n_trials = int(reg["t_max"]), int(reg["trials"])
    warm, block = int(reg["warmup_slots"]), int(reg["block_slots"])
    key = scenario_key(REGIMES_KEY)
    splan = serving_plan(grid, cfg, sec, reg["replicas"])
    plan, _ = _engine_plan(grid, cfg, sec, rate)
    cons = np.array([
        serve_trial(plan, splan, trial_streams(mc["seed"], key, k), t_max,
                    chunk_slots=mc["chunk_slots"], keep_consumption=True).consumption
        for k in range(n_trials)
    ])  # fmt: skip
    c_bar, c_var = float(cons[:, warm:].mean()), float(cons[:, warm:].var(ddof=1))
    harvest_var = float(cfg.get("harvest", {}).get("variance_scale", 1.0)) * c_var
    cps = log_checkpoints(int(mc["t_min"]), t_max - warm, int(reg["checkpoints"]))
    rhos = np.sort(np.asarray(reg["provisioning"], dtype=float))
    n_blocks = (t_max - warm) // block
    deficit = np.full((rhos.size, n_trials, cps.size), np.nan)
    drift = np.full((rhos.size, n_trials), np.nan)
    blocks = cons[:, warm : warm + n_blocks * block].reshape(n_trials, n_blocks, block)
    for a, rho in enumerate(rhos):
        plan_rho, _ = _engine_plan(grid, cfg, sec, rate, harvest=(rho * c_bar, harvest_var))
        for k in range(n_trials if rho == 1.0 else min(n_trials, int(reg["off_critical_trials"]))):
            d, b, _ = walk_consumption(
                plan_rho, trial_streams(mc["seed"], key, k), cons[k], cps,
                chunk_slots=mc["chunk_slots"], walk_from=warm, shift=(rho - 1.0) * c_bar,
            )  # fmt: skip
            deficit[a, k] = d
            drift[a, k] = b[-1] / cps[-1]
    ds = xr.Dataset(
        {
            "deficit_J": (("provisioning", "trial", "time"), deficit,
                          {"units": "J", "long_name": "deficit D_t of the free battery"}),
            "realised_drift_J_per_slot": (("provisioning", "trial"), drift,
                                          {"units": "J", "long_name": "B_T / T per slot"}),
            "block_mean_consumption_J": (("trial", "block"), blocks.mean(axis=2), {
                "units": "J", "long_name": "mean consumption per slot over a block"}),
        },
        coords={
            "provisioning": ("provisioning", rhos, {
                "units": "1", "long_name": "harvest mean over mean batched consumption"}),
            "trial": ("trial", np.arange(n_trials), _TRIAL),
            "time": ("time", cps, time_attrs(float(cfg.get("dt_s", 1.0)))),
            "block": ("block", np.arange(n_blocks), {"units": "1", "long_name": "block index"}),
        },
    )  # fmt: skip
    return ds.assign_attrs(
        consumption_mean_J_per_slot=c_bar,
        consumption_var_J2_per_slot=c_var,
        harvest_var_J2_per_slot=harvest_var,
        block_slots=block,
        warmup_slots=warm,
        arrival_rate_per_s=rate,
        replicas=int(reg["replicas"]),
        max_batch=int(sec["max_batch"]),
        law=sec["law"],
    )
