"""Policy and storage comparisons on common random numbers (docs/model.md §12.6-12.7).

:func:`compare_policies` runs several policies (each with a swept parameter) on the same
trials of one scenario and returns an :class:`xarray.Dataset` with ``policy`` and
``parameter`` as dimensions; every policy's auxiliary energy is paired, trial by trial,
with the myopic policy's (routing error 0, same store), so the difference and its standard
error come from the common random numbers. :func:`policy_records` turns it into the
``policies`` entries of ``summary.json``.

:func:`storage_grid` runs a grid of provisioning ratio x store capacity and returns the
auxiliary and spilled ("wasted") energy per slot, per trial and over time; the planner's
Pareto front and the ``size`` query on it are in :mod:`energy_routing.sizing`.

"D_T" of a policy is its auxiliary energy U_T [J] at the horizon: with the unbounded
lossless store this is the deficit of the free battery (Thm. 1); with a finite store it is
the energy the grid supplies.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import xarray as xr

from energy_routing import theory
from energy_routing.engine.energy import EnergyLaw
from energy_routing.engine.policies import Myopic, Policy, Router
from energy_routing.engine.storage import Storage
from energy_routing.mcio import time_attrs
from energy_routing.montecarlo import (
    Workload,
    drift_volatility,
    policy_moments,
    route_probabilities,
    simulate,
)
from energy_routing.reasoning import stochastic_drift_volatility

__all__ = [
    "break_even_energy_J",
    "compare_policies",
    "compare_routers",
    "policy_records",
    "router_records",
    "storage_grid",
    "storage_records",
    "with_dispatcher",
    "workload_with_slack",
]


def workload_with_slack(workload: Workload, grid, dispatch_latency_s: float) -> Workload:
    """``workload`` with the slack Delta_i - Delta_disp - Theta_im [s] and the slot length
    of a task grid (``grids.task_grid``), as the deferring policies need (docs/model.md §4)."""
    slack = (
        grid["deadline_s"].to_numpy()[:, None]
        - float(dispatch_latency_s)
        - grid["latency_s"].to_numpy()
    )
    return dataclasses.replace(workload, slack_s=slack, dt_s=float(grid.attrs["dt_s"]))


def _sem(x: np.ndarray, axis: int = -1) -> np.ndarray:
    n = x.shape[axis]
    return (
        np.std(x, axis=axis, ddof=1) / math.sqrt(n)
        if n > 1
        else np.full(np.delete(x.shape, axis), np.nan)
    )


def compare_policies(
    workload: Workload,
    policies: Sequence[Policy],
    *,
    checkpoints: Iterable[int],
    trials: int | Iterable[int],
    root_seed: int,
    scenario_key: int,
    storage: Storage | None = None,
    chunk_slots: int = 65536,
    n_threads: int = 1,
    consumption: str = "lumped",
    energy_mean_J: np.ndarray | None = None,
    energy_var_J2: np.ndarray | None = None,
    energy_law: EnergyLaw | None = None,
) -> xr.Dataset:
    """Run ``policies`` and the myopic reference on common random numbers (docs/model.md §12.6).

    Parameters
    ----------
    workload : Workload
        With ``slack_s`` when a deferring policy is compared (:func:`workload_with_slack`).
    policies : sequence of Policy
        The cases; a policy's ``name`` and ``parameter`` label it. The reference
        ``Myopic(routing_error=0)`` on the same store is always run (and listed).
    checkpoints, trials, root_seed, scenario_key, chunk_slots, n_threads
        As for :func:`energy_routing.montecarlo.simulate`; one scenario key for all cases.
    storage : Storage, optional
        The store every case uses (default unbounded and lossless).
    consumption : {"lumped", "distributed"}
        Consumption mode walked.
    energy_mean_J, energy_var_J2 : ndarray (K, M), optional
        Per-task energy moments with stochastic reasoning length
        (:func:`energy_routing.reasoning.grid_energy_moments`); when given, each case also
        reports mu and sigma of Lemma 2 with these moments and the closed-form E[D_T].
    energy_law : EnergyLaw, optional
        Charge every task a random energy of the stochastic reasoning length
        (docs/model.md §12.5; lumped only) in every case, the reference included; the
        draws come from each trial's energy stream, common to all cases.

    Returns
    -------
    xarray.Dataset
        Dimensions ``policy``, ``parameter`` (position in the policy's sweep; the value is
        the variable ``parameter_value(policy, parameter)``, NaN-padded), ``trial`` and
        ``time`` (checkpoints, slots). Per trial: ``aux_J`` (U_T), ``deficit_J`` (D_T of
        the free battery), ``spilled_J``, ``diff_vs_myopic_J``, ``wait_slots_mean``,
        ``missed_fraction``, ``backlog_mean_tasks``; over time: ``aux_mean_J`` (mean U_t
        over trials); per case: ``mu_J_per_slot``, ``sigma_J`` and, with moments,
        ``mu_stochastic_J_per_slot``, ``sigma_stochastic_J`` and ``closed_form_D_T_J``:
        E[D_T] of docs/model.md §7 at the horizon with sigma_stochastic and the drift
        offset mu_stochastic - mu_stochastic(myopic), i.e. at the critical point of the
        myopic policy under stochastic reasoning length.
    """
    storage = Storage() if storage is None else storage
    reference = Myopic(routing_error=0.0)
    cases = [reference, *[p for p in policies if not _same(p, reference)]]
    names: list[str] = []
    for p in cases:
        if p.name not in names:
            names.append(p.name)
    by_name = {n: [p for p in cases if p.name == n] for n in names}
    for n, group in by_name.items():
        values = [p.parameter for p in group]
        if len(set(values)) != len(values):
            raise ValueError(f"policies: two cases of {n!r} share the parameter value")
    width = max(len(g) for g in by_name.values())
    common = dict(
        checkpoints=checkpoints,
        trials=trials,
        root_seed=root_seed,
        scenario_key=scenario_key,
        storage=storage,
        chunk_slots=chunk_slots,
        n_threads=n_threads,
        consumption=(consumption,),
        energy_law=energy_law,
    )
    results = {}
    for n, group in by_name.items():
        for j, p in enumerate(group):
            results[n, j] = simulate(workload, policy=p, **common)
    ref = results["myopic", 0]
    n_trials, cps = ref.trials.size, ref.checkpoints
    horizon = float(cps[-1])
    shape = (len(names), width, n_trials)
    nan3 = lambda: np.full(shape, np.nan)  # noqa: E731
    aux, deficit, spilled, wait, missed, backlog = (nan3() for _ in range(6))
    aux_t = np.full((len(names), width, cps.size), np.nan)
    pvalue = np.full((len(names), width), np.nan)
    mu, sigma, mu_s, sigma_s, closed = (np.full((len(names), width), np.nan) for _ in range(5))
    for a, n in enumerate(names):
        for j, p in enumerate(by_name[n]):
            r = results[n, j]
            pvalue[a, j] = p.parameter
            aux[a, j] = r.aux_injected_J[0, :, -1]
            deficit[a, j] = r.deficit_J[0, :, -1]
            spilled[a, j] = r.spilled_J[0, :, -1]
            disp = np.maximum(r.dispatched[0], 1.0)
            wait[a, j] = r.wait_slots[0] / disp
            missed[a, j] = r.missed[0] / disp
            backlog[a, j] = r.backlog_slots[0] / horizon
            aux_t[a, j] = r.aux_injected_J[0].mean(axis=0)
            probs = route_probabilities(workload, p)
            mu[a, j], sigma[a, j] = stochastic_drift_volatility(
                workload, probs, workload.energy_J, np.zeros_like(workload.energy_J)
            )
            if energy_mean_J is not None and energy_var_J2 is not None:
                mu_s[a, j], sigma_s[a, j] = stochastic_drift_volatility(
                    workload, probs, energy_mean_J, energy_var_J2
                )
    if energy_mean_J is not None and energy_var_J2 is not None:
        # At the critical point of the myopic policy under the same energy law: the harvest
        # is re-centred so that the reference's drift is 0; a case keeps its drift offset.
        offset = mu_s - mu_s[0, 0]
        ok = ~np.isnan(offset)
        closed[ok] = theory.expected_deficit(offset[ok], sigma_s[ok], horizon)
    diff = aux - ref.aux_injected_J[0, :, -1]
    dims3 = ("policy", "parameter", "trial")
    dims2 = ("policy", "parameter")

    def var(dims, values, units, long_name):
        return (dims, values, {"units": units, "long_name": long_name})

    ds = xr.Dataset(
        {
            "aux_J": var(dims3, aux, "J", "auxiliary energy U_T up to the horizon"),
            "deficit_J": var(dims3, deficit, "J", "deficit D_T of the free battery"),
            "spilled_J": var(dims3, spilled, "J", "harvest spilled by a full store up to T"),
            "diff_vs_myopic_J": var(
                dims3, diff, "J", "U_T minus the myopic policy's U_T on the same trial"
            ),
            "wait_slots_mean": var(dims3, wait, "1", "mean wait of a started task (slots)"),
            "missed_fraction": var(
                dims3, missed, "1", "fraction of started tasks that missed their deadline"
            ),
            "backlog_mean_tasks": var(dims3, backlog, "1", "time-averaged queued tasks"),
            "aux_mean_J": var(
                ("policy", "parameter", "time"), aux_t, "J", "mean auxiliary energy U_t"
            ),
            "mu_J_per_slot": var(dims2, mu, "J", "drift per slot (Lemma 2, oracle energies)"),
            "sigma_J": var(dims2, sigma, "J", "volatility per sqrt(slot) (Lemma 2, oracle)"),
            "mu_stochastic_J_per_slot": var(
                dims2, mu_s, "J", "drift per slot with stochastic reasoning length"
            ),
            "sigma_stochastic_J": var(
                dims2, sigma_s, "J", "volatility with stochastic reasoning length (Lemma 2)"
            ),
            "closed_form_D_T_J": var(
                dims2,
                closed,
                "J",
                "closed-form E[D_T] at the myopic critical point, stochastic reasoning length",
            ),
            "parameter_value": var(dims2, pvalue, "1", "value of the swept parameter"),
        },
        coords={
            "policy": ("policy", np.array(names, dtype=str), {"long_name": "dispatch policy"}),
            "parameter": (
                "parameter",
                np.arange(width),
                {"units": "1", "long_name": "position in the policy's parameter sweep"},
            ),
            "trial": ("trial", ref.trials, {"units": "1", "long_name": "trial index"}),
            "time": ("time", cps, time_attrs(workload.dt_s)),
        },
        attrs={
            "consumption": consumption,
            "horizon_slots": int(cps[-1]),
            "storage_capacity_J": storage.capacity_J,
            "storage_eta_charge": storage.eta_charge,
            "storage_eta_discharge": storage.eta_discharge,
            "storage_self_discharge_per_slot": storage.self_discharge_per_slot,
            "dt_s": workload.dt_s,
            "reference": "myopic, routing error 0, same store and trials",
            "task_energy": "oracle" if energy_law is None else "stochastic reasoning length",
        },
    )
    return ds


def _same(a: Policy, b: Policy) -> bool:
    return a.name == b.name and a.parameter == b.parameter


#: Keys every ``summary.json`` policy record carries (the contract the checks read).
POLICY_RECORD_KEYS = (
    "policy",
    "parameter",
    "mean_D_T_J",
    "sem_D_T_J",
    "diff_vs_myopic_J",
    "diff_vs_myopic_sem_J",
    "missed_deadline_fraction",
    "mean_wait_s",
)


def policy_records(ds: xr.Dataset) -> list[dict]:
    """The ``policies`` entries of ``summary.json``: one per (policy, parameter) run.

    Keys: ``policy``, ``parameter``, ``mean_D_T_J`` and ``sem_D_T_J`` (auxiliary energy
    U_T over trials), ``diff_vs_myopic_J`` and ``diff_vs_myopic_sem_J`` (paired),
    ``missed_deadline_fraction`` (over all started tasks, trials weighted equally),
    ``mean_wait_s``, ``mean_backlog_tasks``, ``mean_spilled_J``, ``mu_J_per_slot`` and
    ``sigma_J`` (Lemma 2 for the energies the engine charged: the stochastic-length
    moments when it drew them, else the oracle energies), and, when computed,
    ``sigma_stochastic_J`` and ``closed_form_D_T_J``.
    """
    out = []
    dt = float(ds.attrs["dt_s"])
    charged = ds.attrs.get("task_energy", "oracle") != "oracle"
    mu_var = "mu_stochastic_J_per_slot" if charged else "mu_J_per_slot"
    sigma_var = "sigma_stochastic_J" if charged else "sigma_J"
    for a, name in enumerate(ds.policy.values):
        for j in range(ds.sizes["parameter"]):
            value = float(ds.parameter_value.values[a, j])
            if math.isnan(value):
                continue
            aux = ds.aux_J.values[a, j]
            diff = ds.diff_vs_myopic_J.values[a, j]
            rec = {
                "policy": str(name),
                "parameter": value,
                "mean_D_T_J": float(aux.mean()),
                "sem_D_T_J": float(_sem(aux)),
                "diff_vs_myopic_J": float(diff.mean()),
                "diff_vs_myopic_sem_J": float(_sem(diff)),
                "missed_deadline_fraction": float(ds.missed_fraction.values[a, j].mean()),
                "mean_wait_s": float(ds.wait_slots_mean.values[a, j].mean() * dt),
                "mean_backlog_tasks": float(ds.backlog_mean_tasks.values[a, j].mean()),
                "mean_spilled_J": float(ds.spilled_J.values[a, j].mean()),
                "mu_J_per_slot": float(ds[mu_var].values[a, j]),
                "sigma_J": float(ds[sigma_var].values[a, j]),
            }
            for key in ("sigma_stochastic_J", "closed_form_D_T_J", "mu_stochastic_J_per_slot"):
                v = float(ds[key].values[a, j])
                if not math.isnan(v):
                    rec[key] = v
            out.append(rec)
    return out


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
        As for :func:`energy_routing.montecarlo.simulate`; one key for the whole grid, so
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


def with_dispatcher(workload: Workload, router: Router) -> Workload:
    """``workload`` as seen through a dispatcher with overhead (docs/model.md §12.8).

    Each task costs ``router.energy_J`` more, drawn in its dispatch slot (the first slot of
    its profile); each task's slack shrinks by ``router.latency_s``, so feasible sets
    shrink and m*(i) is the cheapest model still feasible (ties to the lower index).

    Raises
    ------
    ValueError
        If the workload has no slack, or a task type has no feasible model left.
    """
    if workload.slack_s is None:
        raise ValueError(f"router {router.name!r}: the workload needs slack_s")
    slack = workload.slack_s - router.latency_s
    feasible = slack >= 0
    dead = np.flatnonzero(~feasible.any(axis=1))
    if dead.size:
        raise ValueError(
            f"router {router.name!r}: its latency {router.latency_s:g} s leaves task types "
            f"{dead.tolist()} without a feasible model"
        )
    energy = workload.energy_J + router.energy_J
    profile = workload.profile_J.copy()
    profile[..., 0] += router.energy_J
    best = np.where(feasible, energy, np.inf).argmin(axis=1)
    return dataclasses.replace(
        workload,
        energy_J=energy,
        profile_J=profile,
        feasible=feasible,
        best_model=best,
        slack_s=slack,
    )


def compare_routers(
    workload: Workload,
    routers: Sequence[Router],
    *,
    checkpoints: Iterable[int],
    trials: int | Iterable[int],
    root_seed: int,
    scenario_key: int,
    chunk_slots: int = 65536,
    n_threads: int = 1,
    consumption: str = "lumped",
) -> xr.Dataset:
    """Myopic dispatch through each router, on common random numbers (docs/model.md §12.8).

    The harvest is the workload's (the critical point of an ideal router: no error, no
    overhead). The first router is the reference of the paired differences.

    Returns
    -------
    xarray.Dataset
        Dimensions ``router`` and ``trial``: ``aux_J`` (U_T), ``diff_vs_reference_J``;
        per router ``routing_error``, ``dispatch_energy_J``, ``dispatch_latency_s``,
        ``mu_J_per_slot``, ``sigma_J`` (Lemma 2) and ``closed_form_D_T_J`` (§7).
    """
    if not routers:
        raise ValueError("routers: expected at least one router")
    names = [r.name for r in routers]
    if len(set(names)) != len(names):
        raise ValueError("routers: names must be distinct")
    aux, mu, sigma, closed = [], [], [], []
    cps = None
    for r in routers:
        wl = with_dispatcher(workload, r)
        res = simulate(
            wl,
            policy=Myopic(routing_error=r.routing_error),
            checkpoints=checkpoints,
            trials=trials,
            root_seed=root_seed,
            scenario_key=scenario_key,
            chunk_slots=chunk_slots,
            n_threads=n_threads,
            consumption=(consumption,),
        )
        cps = res.checkpoints
        aux.append(res.aux_injected_J[0, :, -1])
        m, s = drift_volatility(wl, r.routing_error)
        mu.append(m)
        sigma.append(s)
        closed.append(float(theory.expected_deficit(m, s, float(cps[-1]))))
    aux_arr = np.array(aux)

    def var(dims, values, units, long_name):
        return (dims, np.asarray(values, dtype=float), {"units": units, "long_name": long_name})

    return xr.Dataset(
        {
            "aux_J": var(("router", "trial"), aux_arr, "J", "auxiliary energy U_T"),
            "diff_vs_reference_J": var(
                ("router", "trial"), aux_arr - aux_arr[0], "J", "U_T minus the first router's"
            ),
            "routing_error": var("router", [r.routing_error for r in routers], "1", "epsilon"),
            "dispatch_energy_J": var(
                "router", [r.energy_J for r in routers], "J", "energy per dispatch decision"
            ),
            "dispatch_latency_s": var(
                "router", [r.latency_s for r in routers], "s", "latency per dispatch decision"
            ),
            "mu_J_per_slot": var("router", mu, "J", "drift per slot (Lemma 2)"),
            "sigma_J": var("router", sigma, "J", "volatility per sqrt(slot) (Lemma 2)"),
            "closed_form_D_T_J": var("router", closed, "J", "closed-form E[D_T] at T"),
        },
        coords={
            "router": ("router", np.array(names, dtype=str), {"long_name": "dispatcher"}),
            "trial": (
                "trial",
                np.arange(aux_arr.shape[1]),
                {"units": "1", "long_name": "trial index"},
            ),
        },
        attrs={"horizon_slots": int(cps[-1]), "consumption": consumption},
    )


def break_even_energy_J(workload: Workload, light: Router, heavy_routing_error: float) -> float:
    """Largest energy per decision [J] at which a router with ``heavy_routing_error`` (and
    ``light``'s latency) still has a drift at least as good as ``light`` (docs/model.md
    §12.8): e_light + E_light[e] - E_heavy[e], the mean excess energy its accuracy saves.
    """
    wl = with_dispatcher(workload, dataclasses.replace(light, energy_J=0.0))
    saved = policy_moments(wl, light.routing_error)[0] - policy_moments(wl, heavy_routing_error)[0]
    return light.energy_J + saved


def router_records(ds: xr.Dataset) -> list[dict]:
    """The ``routers`` entries of ``summary.json``: per router its parameters, mean U_T with
    its standard error, the paired difference to the first router with its standard error,
    mu, sigma and the closed form."""
    out = []
    for k, name in enumerate(ds.router.values):
        aux = ds.aux_J.values[k]
        diff = ds.diff_vs_reference_J.values[k]
        out.append(
            {
                "router": str(name),
                "routing_error": float(ds.routing_error.values[k]),
                "dispatch_energy_J": float(ds.dispatch_energy_J.values[k]),
                "dispatch_latency_s": float(ds.dispatch_latency_s.values[k]),
                "mean_D_T_J": float(aux.mean()),
                "sem_D_T_J": float(_sem(aux)),
                "diff_vs_reference_J": float(diff.mean()),
                "diff_vs_reference_sem_J": float(_sem(diff)),
                "mu_J_per_slot": float(ds.mu_J_per_slot.values[k]),
                "sigma_J": float(ds.sigma_J.values[k]),
                "closed_form_D_T_J": float(ds.closed_form_D_T_J.values[k]),
            }
        )
    return out
