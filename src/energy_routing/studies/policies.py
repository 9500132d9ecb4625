"""Dispatch policies against myopic routing on common random numbers (docs/model.md §12.6).

:func:`compare_policies` runs several policies, each over its swept parameter, on the same
trials of one scenario and returns a dataset with ``policy`` and ``parameter`` dimensions;
every case's auxiliary energy U_T [J] is paired trial by trial with the myopic policy's
(routing error 0, same store), so differences and their standard errors come from common
random numbers. With the unbounded lossless store U_T is the deficit D_T of the free battery
(Thm. 1); with a finite store it is the energy the grid supplies. Tasks still queued at a
checkpoint are billed there (:meth:`~energy_routing.engine.storage.Storage.settle`), so a
deferring policy does not get them for free, and every paired difference is split into a
one-off transient and a rate (:func:`~energy_routing.studies.paired.transient_and_rate`).
:func:`policy_study` runs
the cases of the ``policies`` config section, and :func:`policy_records` turns the result
into the ``policies`` entries of ``summary.json`` (:data:`POLICY_RECORD_KEYS`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import xarray as xr

from energy_routing.engine.driver import log_checkpoints, simulate
from energy_routing.engine.energy import EnergyLaw
from energy_routing.engine.policies import POLICIES, Myopic, Policy, policy_from_spec
from energy_routing.engine.storage import Storage
from energy_routing.io.netcdf import time_attrs
from energy_routing.model import reasoning
from energy_routing.model.reasoning import stochastic_drift_volatility
from energy_routing.model.workload import Workload
from energy_routing.studies.paired import (
    FIT_START_FRACTION,
    _sem,
    fit_window_start,
    transient_and_rate,
)
from energy_routing.studies.sections import (
    _mc,
    _scenario,
    _workload,
    energy_law,
    section,
)
from energy_routing.theory import diffusion
from energy_routing.theory.moments import route_probabilities


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
        As for :func:`energy_routing.engine.driver.simulate`; one scenario key for all cases.
    storage : Storage, optional
        The store every case uses (default unbounded and lossless).
    consumption : {"lumped", "distributed"}
        Consumption mode walked.
    energy_mean_J, energy_var_J2 : ndarray (K, M), optional
        Per-task energy moments with stochastic reasoning length
        (:func:`energy_routing.model.reasoning.grid_energy_moments`); when given, each case also
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
        ``time`` (checkpoints, slots). Per trial: ``aux_J`` (U_T with the tasks still
        queued at T billed), ``deficit_J`` (D_T of the free battery), ``spilled_J``,
        ``queued_energy_J`` (the energy billed for the tasks queued at T),
        ``diff_vs_myopic_J``, ``transient_diff_J`` and ``rate_diff_J_per_slot`` (the
        paired difference as transient + rate t, fitted on the later part of the horizon),
        ``wait_slots_mean``, ``missed_fraction``, ``failed_fraction`` (tasks whose
        stochastic reasoning length ran out of budget, over the tasks that arrived; 0 with
        oracle energies), ``backlog_mean_tasks``; per trial and time:
        ``diff_vs_myopic_t_J``; over time: ``aux_mean_J`` (mean billed U_t over trials);
        per case: ``deadline_guaranteed`` (1 where the policy cannot miss a deadline by
        construction, :meth:`~energy_routing.engine.policies.Policy.guarantees_deadlines`),
        ``mu_J_per_slot``, ``sigma_J`` and, with moments,
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
    queued, failed = nan3(), nan3()
    aux_t = np.full((len(names), width, cps.size), np.nan)
    diff_t = np.full((len(names), width, n_trials, cps.size), np.nan)
    guaranteed = np.zeros((len(names), width), dtype=np.int8)
    pvalue = np.full((len(names), width), np.nan)
    mu, sigma, mu_s, sigma_s, closed = (np.full((len(names), width), np.nan) for _ in range(5))
    for a, n in enumerate(names):
        for j, p in enumerate(by_name[n]):
            r = results[n, j]
            pvalue[a, j] = p.parameter
            aux[a, j] = r.settled_aux_J[0, :, -1]
            diff_t[a, j] = r.settled_aux_J[0] - ref.settled_aux_J[0]
            queued[a, j] = r.queued_energy_J[0, :, -1]
            arrived = np.maximum(r.task_counts.sum(axis=(1, 2)), 1)
            failed[a, j] = 0.0 if r.failed_tasks is None else r.failed_tasks / arrived
            guaranteed[a, j] = p.guarantees_deadlines(workload)
            deficit[a, j] = r.deficit_J[0, :, -1]
            spilled[a, j] = r.spilled_J[0, :, -1]
            disp = np.maximum(r.dispatched[0], 1.0)
            wait[a, j] = r.wait_slots[0] / disp
            missed[a, j] = r.missed[0] / disp
            backlog[a, j] = r.backlog_slots[0] / horizon
            aux_t[a, j] = r.settled_aux_J[0].mean(axis=0)
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
        closed[ok] = diffusion.expected_deficit(offset[ok], sigma_s[ok], horizon)
    diff = diff_t[..., -1]
    transient, rate = transient_and_rate(diff_t, cps)
    dims3 = ("policy", "parameter", "trial")
    dims2 = ("policy", "parameter")

    def var(dims, values, units, long_name):
        return (dims, values, {"units": units, "long_name": long_name})

    ds = xr.Dataset(
        {
            "aux_J": var(
                dims3, aux, "J", "auxiliary energy U_T up to the horizon, queued tasks billed"
            ),
            "queued_energy_J": var(
                dims3, queued, "J", "energy owed by the tasks still queued at the horizon"
            ),
            "deficit_J": var(dims3, deficit, "J", "deficit D_T of the free battery"),
            "spilled_J": var(dims3, spilled, "J", "harvest spilled by a full store up to T"),
            "diff_vs_myopic_J": var(
                dims3, diff, "J", "U_T minus the myopic policy's U_T on the same trial"
            ),
            "diff_vs_myopic_t_J": var(
                ("policy", "parameter", "trial", "time"),
                diff_t,
                "J",
                "U_t minus the myopic policy's U_t on the same trial, queued tasks billed",
            ),
            "transient_diff_J": var(
                dims3, transient, "J", "one-off part of the paired difference (intercept)"
            ),
            "rate_diff_J_per_slot": var(
                dims3, rate, "J", "rate of the paired difference on the fit window, per slot"
            ),
            "failed_fraction": var(
                dims3, failed, "1", "fraction of arrived tasks whose reasoning ran out of budget"
            ),
            "deadline_guaranteed": var(
                dims2, guaranteed, "1", "1: no deadline can be missed by construction"
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
            "queued_tasks": "billed at each checkpoint: stored energy first, then auxiliary",
            "fit_window_start_slots": int(cps[min(fit_window_start(cps), cps.size - 1)]),
            "fit_window_start_fraction": FIT_START_FRACTION,
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
    "transient_diff_J",
    "transient_diff_sem_J",
    "rate_diff_J_per_slot",
    "rate_diff_sem_J_per_slot",
    "missed_deadline_fraction",
    "mean_wait_s",
)
#: Further keys of every record (not table columns of the report).
POLICY_EXTRA_KEYS = (
    "missed_deadline_sem",
    "missed_deadline_guaranteed",
    "failed_task_fraction",
    "failed_task_fraction_sem",
    "mean_queued_energy_J",
    "fit_window_start_slots",
)


def policy_records(ds: xr.Dataset) -> list[dict]:
    """The ``policies`` entries of ``summary.json``: one per (policy, parameter) run.

    Keys: ``policy``, ``parameter``, ``mean_D_T_J`` and ``sem_D_T_J`` (auxiliary energy
    U_T over trials, the tasks still queued at T billed), ``diff_vs_myopic_J`` and
    ``diff_vs_myopic_sem_J`` (paired, at T), ``transient_diff_J``,
    ``transient_diff_sem_J``, ``rate_diff_J_per_slot`` and ``rate_diff_sem_J_per_slot``
    (the paired difference as a one-off transient plus a rate, fitted per trial from
    ``fit_window_start_slots`` to T; docs/model.md §12.6), ``missed_deadline_fraction``
    and ``missed_deadline_sem`` (over all started tasks, trials weighted equally) with
    ``missed_deadline_guaranteed`` (true: zero by construction, not a measurement),
    ``failed_task_fraction`` and ``failed_task_fraction_sem`` (tasks whose stochastic
    reasoning length ran out of budget; 0 with oracle energies), ``mean_queued_energy_J``
    (billed for the tasks queued at T), ``mean_wait_s``, ``mean_backlog_tasks``,
    ``mean_spilled_J``, ``mu_J_per_slot`` and ``sigma_J`` (Lemma 2 for the energies the
    engine charged: the stochastic-length moments when it drew them, else the oracle
    energies), and, when computed, ``sigma_stochastic_J`` and ``closed_form_D_T_J``.
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
                **_mean_sem(ds.transient_diff_J.values[a, j], "transient_diff_J"),
                **_mean_sem(ds.rate_diff_J_per_slot.values[a, j], "rate_diff_J_per_slot"),
                "missed_deadline_fraction": float(ds.missed_fraction.values[a, j].mean()),
                "missed_deadline_sem": float(_sem(ds.missed_fraction.values[a, j])),
                "missed_deadline_guaranteed": bool(ds.deadline_guaranteed.values[a, j]),
                "failed_task_fraction": float(ds.failed_fraction.values[a, j].mean()),
                "failed_task_fraction_sem": float(_sem(ds.failed_fraction.values[a, j])),
                "mean_queued_energy_J": float(ds.queued_energy_J.values[a, j].mean()),
                "fit_window_start_slots": int(ds.attrs["fit_window_start_slots"]),
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


def _mean_sem(x: np.ndarray, key: str) -> dict:
    """``{key: mean, <key with _sem before its unit>: standard error}`` over trials."""
    stem, unit = key.split("_J")[0], "_J" + key.split("_J", 1)[1]
    return {key: float(x.mean()), f"{stem}_sem{unit}": float(_sem(x))}


def policy_study(grid: xr.Dataset, cfg: Mapping, scenario: str | None = None) -> xr.Dataset:
    """All configured policy cases against myopic (docs/model.md §12.6), one Dataset.

    Reads ``policies`` (defaults: the config schema) and ``montecarlo`` (seed, t_min,
    checkpoints, chunk_slots, threads). The variance-aware policy uses the energy variances
    of the stochastic reasoning length (docs/model.md §12.5), which also give each case's
    Lemma 2 sigma and closed form. With ``policies.stochastic_length`` (default true)
    every task, in every case, is charged a random energy of that law (lumped only), and
    the provisioning ratio is taken relative to the myopic consumption under that law
    (R_bar = rho lambda E[e], stochastic-length means), so rho = 1 is again critical.

    With ``scenario`` (a key of ``scenarios``) the study runs at that scenario's
    provisioning with its random streams, so its trials share their arrivals and harvests
    with the scenario's Monte Carlo trials of the same indices; without it, at
    ``policies.provisioning`` with the key ``"policies"``.

    Raises
    ------
    ValueError
        Naming the config key, for a bad policy parameter or option.
    """
    sec = section(cfg, "policies")
    mc = _mc(cfg)
    provisioning, key, label = _scenario(cfg, sec, scenario)
    wl = _workload(grid, cfg, provisioning)
    mom = reasoning.grid_energy_moments(grid, cfg)
    var = mom["energy_var_J2"].to_numpy()
    law = energy_law(grid, cfg) if sec["stochastic_length"] else None
    if law is not None:
        # rho is relative to the myopic consumption under the law in use: R_bar =
        # rho lambda E[e] with the stochastic-length means (rho = 1: critical point)
        probs = route_probabilities(wl, Myopic(routing_error=0.0))
        mean_e = float(wl.mix @ (probs * mom["energy_mean_J"].to_numpy()).sum(axis=1))
        wl = dataclasses.replace(wl, harvest_mean_J=provisioning * wl.arrival_rate * mean_e)
    cases = []
    for name, cls in POLICIES.items():
        spec, param = sec[name], cls.parameter_name
        values = spec[param]
        if not isinstance(values, list | tuple) or not values:
            raise ValueError(f"config key 'policies.{name}.{param}': expected a non-empty list")
        options = {k: spec[k] for k in cls.options if spec.get(k) is not None}
        if name != "myopic" and sec["routing_error"]:
            options["routing_error"] = sec["routing_error"]
        for value in values:
            try:
                cases.append(policy_from_spec(name, float(value), options, energy_var_J2=var))
            except ValueError as err:
                raise ValueError(f"config key 'policies.{name}': {err}") from None
    try:
        storage = Storage.from_config(sec["storage"])
    except ValueError as err:
        key, _, rest = str(err).partition(": ")
        raise ValueError(f"config key 'policies.{key}': {rest}") from None
    ds = compare_policies(
        wl,
        cases,
        checkpoints=log_checkpoints(mc["t_min"], int(sec["t_max"]), mc["checkpoints"]),
        trials=int(sec["trials"]),
        root_seed=mc["seed"],
        scenario_key=key,
        storage=storage,
        chunk_slots=mc["chunk_slots"],
        n_threads=mc["threads"],
        consumption=sec["consumption"],
        energy_mean_J=mom["energy_mean_J"].to_numpy(),
        energy_var_J2=var,
        energy_law=law,
    )
    ds.attrs.update(
        provisioning=provisioning, scenario=label, harvest_mean_J_per_slot=wl.harvest_mean_J
    )
    return ds
