"""Dispatchers with overhead: when does a heavier, more accurate router pay?
(docs/model.md §12.8).

:func:`with_dispatcher` gives a workload as seen through a router that spends energy [J]
and latency [s] on every decision; :func:`compare_routers` runs myopic dispatch through each
router on common random numbers; :func:`break_even_energy_J` is the largest decision energy
[J] at which a more accurate router's drift still matches the light router's.
:func:`router_study` runs the routers of ``policies.routers`` and :func:`router_records` gives
the ``routers`` entries of ``summary.json``, each paired with the first router.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import xarray as xr

from energy_routing.engine.driver import log_checkpoints, simulate
from energy_routing.engine.policies import Myopic, Router
from energy_routing.engine.streams import scenario_key
from energy_routing.model.workload import Workload
from energy_routing.studies.paired import _sem
from energy_routing.studies.sections import _mc, _workload, section
from energy_routing.theory import diffusion
from energy_routing.theory.moments import drift_volatility, policy_moments


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
        closed.append(float(diffusion.expected_deficit(m, s, float(cps[-1]))))
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


def router_study(grid: xr.Dataset, cfg: Mapping) -> xr.Dataset:
    """Dispatchers with overhead (docs/model.md §12.8) at ``policies.provisioning``.

    Reads ``policies.routers``, ``policies.trials``, ``policies.t_max``,
    ``policies.consumption`` and ``montecarlo``. The dataset's attribute
    ``break_even_energy_J`` is, for the first router's routing error against a router with
    none, the decision energy at which the accurate router stops paying for itself.
    """
    sec = section(cfg, "policies")
    mc = _mc(cfg)
    wl = _workload(grid, cfg, float(sec["provisioning"]))
    routers = []
    for k, spec in enumerate(sec["routers"]):
        try:
            routers.append(Router(**spec))
        except (TypeError, ValueError) as err:
            raise ValueError(f"config key 'policies.routers[{k}]': {err}") from None
    ds = compare_routers(
        wl,
        routers,
        checkpoints=log_checkpoints(mc["t_min"], int(sec["t_max"]), mc["checkpoints"]),
        trials=int(sec["trials"]),
        root_seed=mc["seed"],
        scenario_key=scenario_key("routers"),
        chunk_slots=mc["chunk_slots"],
        n_threads=mc["threads"],
        consumption=sec["consumption"],
    )
    ds.attrs["break_even_energy_J"] = float(break_even_energy_J(wl, routers[0], 0.0))
    ds.attrs["provisioning"] = float(sec["provisioning"])
    return ds
