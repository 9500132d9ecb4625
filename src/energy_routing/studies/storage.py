"""The storage grid: auxiliary and wasted energy over provisioning x capacity
(docs/model.md §12.7).

:func:`storage_grid` runs one policy (myopic by default) on every design, a provisioning
ratio rho and a store capacity [J] with the same losses, on common random numbers, and returns
the auxiliary energy per slot U_T / T and the spilled ("wasted") harvest per slot [J/slot],
per trial and over time. :func:`storage_study` runs the ``storage_grid`` config section and
:func:`storage_records` gives the ``storage`` entries of ``summary.json``; the planner's
Pareto front and cheapest design are in :mod:`energy_routing.studies.sizing`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import xarray as xr

from energy_routing.engine.driver import log_checkpoints, simulate
from energy_routing.engine.policies import Myopic, Policy
from energy_routing.engine.storage import Storage
from energy_routing.engine.streams import scenario_key
from energy_routing.io.netcdf import time_attrs
from energy_routing.model.workload import Workload
from energy_routing.studies.paired import _sem
from energy_routing.studies.sections import _mc, _store_and_engine, _workload, section


def storage_grid(
    workload_at: Callable[[float], Workload],
    provisioning: Sequence[float],
    capacities_J: Sequence[float],
    *,
    checkpoints: Iterable[int],
    trials: int | Iterable[int],
    root_seed: int,
    scenario_key: int,
    eta_charge: float = 1.0,
    eta_discharge: float = 1.0,
    self_discharge_per_slot: float = 0.0,
    policy: Policy | None = None,
    chunk_slots: int = 65536,
    n_threads: int = 1,
    consumption: str = "lumped",
) -> xr.Dataset:
    """Auxiliary and spilled energy per slot over provisioning x capacity (docs/model.md §12.7).

    Parameters
    ----------
    workload_at : callable
        rho -> Workload with harvest mean rho C_LB (e.g. ``lambda r: grids.workload(grid,
        cfg, r)``).
    provisioning : sequence of float
        rho values [1].
    capacities_J : sequence of float
        Store capacities [J], > 0 (``inf`` allowed).
    checkpoints, trials, root_seed, scenario_key, chunk_slots, n_threads
        As for :func:`energy_routing.engine.driver.simulate`; one key for the whole grid, so
        every design sees the same arrivals (and, at one rho, the same harvests).
    eta_charge, eta_discharge, self_discharge_per_slot : float
        The store's losses (:class:`~energy_routing.engine.storage.Storage`).
    policy : Policy, optional
        Dispatch policy (default myopic).
    consumption : {"lumped", "distributed"}

    Returns
    -------
    xarray.Dataset
        Dimensions ``provisioning``, ``capacity_J``, ``trial``, ``time``: per trial
        ``aux_J_per_slot`` = U_T / T and ``waste_J_per_slot`` = spilled_T / T [J]; over
        time ``aux_mean_J_per_slot`` and ``waste_mean_J_per_slot`` (means over trials of
        U_t / t and spilled_t / t); per design their means and standard errors
        (``*_mean``, ``*_sem``).
    """
    rhos = np.asarray(provisioning, dtype=float)
    caps = np.asarray(capacities_J, dtype=float)
    if rhos.ndim != 1 or rhos.size == 0 or np.any(~(rhos > 0)):
        raise ValueError("provisioning: expected a non-empty list of ratios > 0")
    if caps.ndim != 1 or caps.size == 0 or np.any(~(caps > 0)):
        raise ValueError("capacities_J: expected a non-empty list of capacities > 0 (inf ok)")
    policy = Myopic(routing_error=0.0) if policy is None else policy
    aux = waste = aux_t = waste_t = None
    dt_s = None
    cps = None
    for a, rho in enumerate(rhos):
        wl = workload_at(float(rho))
        dt_s = wl.dt_s
        for c, cap in enumerate(caps):
            store = Storage(
                capacity_J=float(cap),
                eta_charge=eta_charge,
                eta_discharge=eta_discharge,
                self_discharge_per_slot=self_discharge_per_slot,
            )
            r = simulate(
                wl,
                policy=policy,
                storage=store,
                checkpoints=checkpoints,
                trials=trials,
                root_seed=root_seed,
                scenario_key=scenario_key,
                chunk_slots=chunk_slots,
                n_threads=n_threads,
                consumption=(consumption,),
            )
            if aux is None:
                cps = r.checkpoints
                shape = (rhos.size, caps.size, r.trials.size)
                aux, waste = np.empty(shape), np.empty(shape)
                aux_t = np.empty((rhos.size, caps.size, cps.size))
                waste_t = np.empty_like(aux_t)
                trial_ids = r.trials
            horizon = float(cps[-1])
            aux[a, c] = r.aux_injected_J[0, :, -1] / horizon
            waste[a, c] = r.spilled_J[0, :, -1] / horizon
            aux_t[a, c] = (r.aux_injected_J[0] / cps).mean(axis=0)
            waste_t[a, c] = (r.spilled_J[0] / cps).mean(axis=0)
    dims3 = ("provisioning", "capacity_J", "trial")
    dims2 = ("provisioning", "capacity_J")
    dimt = ("provisioning", "capacity_J", "time")
    ds = xr.Dataset(
        {
            "aux_J_per_slot": (
                dims3,
                aux,
                {"units": "J", "long_name": "auxiliary energy per slot U_T / T"},
            ),
            "waste_J_per_slot": (
                dims3,
                waste,
                {"units": "J", "long_name": "spilled harvest per slot (wasted energy)"},
            ),
            "aux_mean_J_per_slot": (
                dims2,
                aux.mean(axis=2),
                {"units": "J", "long_name": "mean auxiliary energy per slot"},
            ),
            "aux_sem_J_per_slot": (
                dims2,
                _sem(aux),
                {"units": "J", "long_name": "standard error of the auxiliary energy per slot"},
            ),
            "waste_mean_J_per_slot": (
                dims2,
                waste.mean(axis=2),
                {"units": "J", "long_name": "mean wasted harvest per slot"},
            ),
            "waste_sem_J_per_slot": (
                dims2,
                _sem(waste),
                {"units": "J", "long_name": "standard error of the wasted harvest per slot"},
            ),
            "aux_over_time_J_per_slot": (
                dimt,
                aux_t,
                {"units": "J", "long_name": "mean over trials of U_t / t"},
            ),
            "waste_over_time_J_per_slot": (
                dimt,
                waste_t,
                {"units": "J", "long_name": "mean over trials of spilled_t / t"},
            ),
        },
        coords={
            "provisioning": ("provisioning", rhos, {"units": "1", "long_name": "rho"}),
            "capacity_J": ("capacity_J", caps, {"units": "J", "long_name": "store capacity"}),
            "trial": ("trial", trial_ids, {"units": "1", "long_name": "trial index"}),
            "time": ("time", cps, time_attrs(dt_s)),
        },
        attrs={
            "policy": policy.name,
            "policy_parameter": float(policy.parameter),
            "consumption": consumption,
            "horizon_slots": int(cps[-1]),
            "eta_charge": float(eta_charge),
            "eta_discharge": float(eta_discharge),
            "self_discharge_per_slot": float(self_discharge_per_slot),
        },
    )
    return ds


def storage_records(ds: xr.Dataset) -> list[dict]:
    """The ``storage`` entries of ``summary.json``: one per (provisioning, capacity), with
    ``provisioning``, ``capacity_J`` (null for unbounded), ``aux_J_per_slot``,
    ``aux_sem_J_per_slot``, ``waste_J_per_slot``, ``waste_sem_J_per_slot``."""
    out = []
    for a, rho in enumerate(ds.provisioning.values):
        for c, cap in enumerate(ds.capacity_J.values):
            out.append(
                {
                    "provisioning": float(rho),
                    "capacity_J": None if math.isinf(cap) else float(cap),
                    "aux_J_per_slot": float(ds.aux_mean_J_per_slot.values[a, c]),
                    "aux_sem_J_per_slot": float(ds.aux_sem_J_per_slot.values[a, c]),
                    "waste_J_per_slot": float(ds.waste_mean_J_per_slot.values[a, c]),
                    "waste_sem_J_per_slot": float(ds.waste_sem_J_per_slot.values[a, c]),
                }
            )
    return out


def storage_study(grid: xr.Dataset, cfg: Mapping) -> xr.Dataset:
    """The planner's grid of provisioning x capacity (docs/model.md §12.7), myopic policy.

    Reads ``storage_grid`` (defaults: the config schema) and ``montecarlo``.
    """
    sec = section(cfg, "storage_grid")
    mc = _mc(cfg)
    caps = [math.inf if c is None else float(c) for c in sec["capacity_J"]]
    if not caps or any(not c > 0 for c in caps):
        raise ValueError(
            "config key 'storage_grid.capacity_J': capacities must be > 0 (null = unbounded)"
        )
    if not sec["provisioning"] or any(not float(r) > 0 for r in sec["provisioning"]):
        raise ValueError("config key 'storage_grid.provisioning': ratios must be > 0")
    ds = storage_grid(
        lambda rho: _workload(grid, cfg, rho),
        [float(r) for r in sec["provisioning"]],
        caps,
        checkpoints=log_checkpoints(mc["t_min"], int(sec["t_max"]), mc["checkpoints"]),
        trials=int(sec["trials"]),
        scenario_key=scenario_key("storage_grid"),
        consumption=sec["consumption"],
        **_store_and_engine(cfg),
    )
    ds.attrs.update(scenario="storage_grid", c_lb_J_per_slot=float(grid["c_lb_J_per_slot"]))
    return ds
