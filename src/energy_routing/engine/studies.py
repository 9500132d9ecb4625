"""Config-driven studies of policies, storage and dispatchers (docs/model.md §12).

Each function takes the task grid (``grids.task_grid``) and a validated config and returns
an :class:`xarray.Dataset`; none touches a file. The config sections they read, with the
defaults used when a key is absent (:data:`DEFAULTS`):

* ``policies`` -- :func:`policy_study`: the cases of every policy at one provisioning
  ratio, on one store, paired with the myopic policy;
* ``storage_grid`` -- :func:`storage_study`: provisioning x capacity;
* ``policies.routers`` -- :func:`router_study`: dispatchers with overhead.

Randomness: ``montecarlo.seed`` and the scenario keys ``"policies"``, ``"storage_grid"``
and ``"routers"``; within a study every case sees the same arrivals and harvests.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping

import xarray as xr

from energy_routing import grids, reasoning
from energy_routing.engine.compare import (
    break_even_energy_J,
    compare_policies,
    compare_routers,
    storage_grid,
    workload_with_slack,
)
from energy_routing.engine.policies import Myopic, Router, policy_from_spec
from energy_routing.engine.storage import storage_from_config
from energy_routing.montecarlo import log_checkpoints, route_probabilities, scenario_key

__all__ = ["DEFAULTS", "policy_study", "router_study", "section", "storage_study"]

#: Defaults of the study sections (the schema's defaults should match these).
DEFAULTS: dict = {
    "policies": {
        "activate": True,
        "provisioning": 1.0,
        "trials": 40,
        "t_max": 100000,
        "consumption": "lumped",
        "routing_error": 0.0,
        "stochastic_length": True,
        "storage": {
            "capacity_J": None,
            "eta_charge": 1.0,
            "eta_discharge": 1.0,
            "self_discharge_per_slot": 0.0,
        },
        "myopic": {"routing_error": [0.0, 0.05]},
        "slack_deferral": {"max_wait_s": [0.0, 5.0, 10.0, 20.0, 40.0], "reserve_J": 0.0},
        "drift_plus_penalty": {
            "V_tasks_per_J": [0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 1.0],
            "max_wait_s": None,
        },
        "variance_aware": {"risk_weight_per_J": [0.0, 0.002, 0.005, 0.01, 0.02, 0.05]},
        "routers": [
            {"name": "light", "routing_error": 0.05, "energy_J": 0.0, "latency_s": 0.0},
            {"name": "heavy-1J", "routing_error": 0.0, "energy_J": 1.0, "latency_s": 0.5},
            {"name": "heavy-2J", "routing_error": 0.0, "energy_J": 2.0, "latency_s": 0.5},
            {"name": "heavy-3J", "routing_error": 0.0, "energy_J": 3.0, "latency_s": 0.5},
            {"name": "heavy-4J", "routing_error": 0.0, "energy_J": 4.0, "latency_s": 0.5},
            {"name": "heavy-6J", "routing_error": 0.0, "energy_J": 6.0, "latency_s": 0.5},
        ],
    },
    "storage_grid": {
        "activate": True,
        "provisioning": [0.9, 0.95, 1.0, 1.05, 1.1, 1.2],
        "capacity_J": [3.0e3, 1.0e4, 3.0e4, 1.0e5, 3.0e5],
        "eta_charge": 0.95,
        "eta_discharge": 0.95,
        "self_discharge_per_slot": 0.0,
        "trials": 40,
        "t_max": 50000,
        "consumption": "lumped",
    },
}

_POLICY_KEYS = {
    "myopic": ("routing_error", ()),
    "slack_deferral": ("max_wait_s", ("reserve_J",)),
    "drift_plus_penalty": ("V_tasks_per_J", ("max_wait_s",)),
    "variance_aware": ("risk_weight_per_J", ()),
}


def _merge(default, given):
    if isinstance(default, Mapping) and isinstance(given, Mapping):
        out = dict(default)
        for k, v in given.items():
            out[k] = _merge(default.get(k), v) if k in default else v
        return out
    return copy.deepcopy(given) if given is not None else copy.deepcopy(default)


def section(cfg: Mapping, name: str) -> dict:
    """A study section of ``cfg`` with :data:`DEFAULTS` filled in, unknown keys rejected.

    >>> section({}, "storage_grid")["t_max"]
    50000
    >>> section({"policies": {"trails": 3}}, "policies")
    Traceback (most recent call last):
    ...
    ValueError: config key 'policies.trails': unknown (allowed: activate, consumption, ...)
    """
    given = dict(cfg.get(name) or {})
    allowed = DEFAULTS[name]
    for key in given:
        if key not in allowed:
            keys = sorted(allowed)
            short = ", ".join(keys[:2]) + ", ..."
            raise ValueError(f"config key '{name}.{key}': unknown (allowed: {short})")
    out = dict(allowed)
    for key, value in given.items():
        out[key] = _merge(allowed[key], value) if isinstance(allowed[key], Mapping) else value
    if out["consumption"] not in ("lumped", "distributed"):
        raise ValueError(
            f"config key '{name}.consumption': expected 'lumped' or 'distributed', "
            f"got {out['consumption']!r}"
        )
    if name == "policies" and out["stochastic_length"] and out["consumption"] != "lumped":
        raise ValueError(
            "config key 'policies.stochastic_length': random task energies are charged "
            "lumped only; set policies.consumption to lumped or stochastic_length to false"
        )
    for key in ("trials", "t_max"):
        if int(out[key]) < (2 if key == "trials" else 10):
            raise ValueError(f"config key '{name}.{key}': too small ({out[key]!r})")
    return out


def _mc(cfg: Mapping) -> dict:
    mc = dict(cfg.get("montecarlo") or {})
    return {
        "seed": int(mc.get("seed", 2601)),
        "t_min": int(mc.get("t_min", 10)),
        "checkpoints": int(mc.get("checkpoints", 120)),
        "chunk_slots": int(mc.get("chunk_slots", 65536)),
        "threads": int(mc.get("threads", 1)),
    }


def _workload(grid: xr.Dataset, cfg: Mapping, provisioning: float):
    return workload_with_slack(
        grids.workload(grid, cfg, provisioning), grid, float(cfg.get("dispatch_latency_s", 0.0))
    )


def _scenario(cfg: Mapping, sec: Mapping, scenario: str | None) -> tuple[float, int, str]:
    """(provisioning, scenario key, label) of a study run."""
    if scenario is None:
        return float(sec["provisioning"]), scenario_key("policies"), "policies"
    scenarios = cfg.get("scenarios") or {}
    if scenario not in scenarios:
        raise ValueError(
            f"scenario {scenario!r}: not in config key 'scenarios' ({', '.join(scenarios)})"
        )
    return float(scenarios[scenario].get("provisioning", 1.0)), scenario_key(scenario), scenario


def policy_study(grid: xr.Dataset, cfg: Mapping, scenario: str | None = None) -> xr.Dataset:
    """All configured policy cases against myopic (docs/model.md §12.6), one Dataset.

    Reads ``policies`` (see :data:`DEFAULTS`) and ``montecarlo`` (seed, t_min,
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
    law = reasoning.energy_law(grid, cfg) if sec["stochastic_length"] else None
    if law is not None:
        # rho is relative to the myopic consumption under the law in use: R_bar =
        # rho lambda E[e] with the stochastic-length means (rho = 1: critical point)
        probs = route_probabilities(wl, Myopic(routing_error=0.0))
        mean_e = float(wl.mix @ (probs * mom["energy_mean_J"].to_numpy()).sum(axis=1))
        wl = dataclasses.replace(wl, harvest_mean_J=provisioning * wl.arrival_rate * mean_e)
    cases = []
    for name, (param, option_keys) in _POLICY_KEYS.items():
        spec = sec[name]
        values = spec[param]
        if not isinstance(values, list | tuple) or not values:
            raise ValueError(f"config key 'policies.{name}.{param}': expected a non-empty list")
        options = {k: spec[k] for k in option_keys if spec.get(k) is not None}
        if name != "myopic" and sec["routing_error"]:
            options["routing_error"] = sec["routing_error"]
        for value in values:
            try:
                cases.append(policy_from_spec(name, float(value), options, energy_var_J2=var))
            except ValueError as err:
                raise ValueError(f"config key 'policies.{name}': {err}") from None
    try:
        storage = storage_from_config(sec["storage"])
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


def storage_study(grid: xr.Dataset, cfg: Mapping) -> xr.Dataset:
    """The planner's grid of provisioning x capacity (docs/model.md §12.7), myopic policy.

    Reads ``storage_grid`` (see :data:`DEFAULTS`) and ``montecarlo``.
    """
    sec = section(cfg, "storage_grid")
    mc = _mc(cfg)
    caps = [math.inf if c is None else float(c) for c in sec["capacity_J"]]
    for key, lo in (("eta_charge", 0.0), ("eta_discharge", 0.0)):
        if not lo < float(sec[key]) <= 1.0:
            raise ValueError(f"config key 'storage_grid.{key}': must lie in (0, 1]")
    if not 0.0 <= float(sec["self_discharge_per_slot"]) < 1.0:
        raise ValueError("config key 'storage_grid.self_discharge_per_slot': must lie in [0, 1)")
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
        root_seed=mc["seed"],
        scenario_key=scenario_key("storage_grid"),
        eta_charge=float(sec["eta_charge"]),
        eta_discharge=float(sec["eta_discharge"]),
        self_discharge_per_slot=float(sec["self_discharge_per_slot"]),
        chunk_slots=mc["chunk_slots"],
        n_threads=mc["threads"],
        consumption=sec["consumption"],
    )
    ds.attrs.update(scenario="storage_grid", c_lb_J_per_slot=float(grid["c_lb_J_per_slot"]))
    return ds


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
