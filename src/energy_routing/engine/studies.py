"""Config-driven studies of policies, storage and dispatchers (docs/model.md §12).

Each function takes the task grid (``grids.task_grid``) and a validated config and returns
an :class:`xarray.Dataset`; none touches a file. The config sections they read, with the
defaults used when a key is absent (:data:`DEFAULTS`):

* ``policies`` -- :func:`policy_study`: the cases of every policy at one provisioning
  ratio, on one store, paired with the myopic policy;
* ``storage_grid`` -- :func:`storage_study`: provisioning x capacity;
* ``policies.routers`` -- :func:`router_study`: dispatchers with overhead;
* ``realworld`` and ``supply.solar`` -- :func:`day_night_study` (what the day-night cycle
  costs, docs/model.md §13) and :func:`site_storage_study` (the storage grid at a real
  site).

Randomness: ``montecarlo.seed`` and the scenario keys ``"policies"``, ``"storage_grid"``,
``"routers"``, ``"day_night"`` and ``"site_storage"``; within a study every case sees the
same arrivals and harvests (the day-night study: the same arrivals for the same load).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from energy_routing import grids, reasoning
from energy_routing.engine.compare import (
    _sem,
    break_even_energy_J,
    compare_policies,
    compare_routers,
    storage_grid,
    workload_with_slack,
)
from energy_routing.engine.policies import Myopic, Router, policy_from_spec
from energy_routing.engine.storage import storage_from_config
from energy_routing.montecarlo import (
    log_checkpoints,
    route_probabilities,
    scenario_key,
    simulate,
)
from energy_routing.supply import (
    SECONDS_PER_DAY,
    Supply,
    daily_storage,
    pv_arguments,
    pv_hourly,
    solar_peak_hour,
)

#: The day-night study reports its deficit every this many hours, and at its horizon.
REPORT_EVERY_H = 6.0

__all__ = [
    "DAY_NIGHT_HARVESTS",
    "DAY_NIGHT_LOADS",
    "DEFAULTS",
    "day_night_difference",
    "day_night_rows",
    "day_night_study",
    "day_night_supplies",
    "policy_study",
    "router_study",
    "section",
    "site_storage_study",
    "storage_study",
]

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


def _store_and_engine(cfg: Mapping) -> dict:
    """The keyword arguments every storage grid shares: the store's losses of
    ``storage_grid`` (checked) and the engine settings of ``montecarlo``."""
    sec, mc = section(cfg, "storage_grid"), _mc(cfg)
    for key in ("eta_charge", "eta_discharge"):
        if not 0.0 < float(sec[key]) <= 1.0:
            raise ValueError(f"config key 'storage_grid.{key}': must lie in (0, 1]")
    if not 0.0 <= float(sec["self_discharge_per_slot"]) < 1.0:
        raise ValueError("config key 'storage_grid.self_discharge_per_slot': must lie in [0, 1)")
    return {
        "eta_charge": float(sec["eta_charge"]),
        "eta_discharge": float(sec["eta_discharge"]),
        "self_discharge_per_slot": float(sec["self_discharge_per_slot"]),
        "root_seed": mc["seed"],
        "chunk_slots": mc["chunk_slots"],
        "n_threads": mc["threads"],
    }


def storage_study(grid: xr.Dataset, cfg: Mapping) -> xr.Dataset:
    """The planner's grid of provisioning x capacity (docs/model.md §12.7), myopic policy.

    Reads ``storage_grid`` (see :data:`DEFAULTS`) and ``montecarlo``.
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


# --------------------------------------------------------------------------------------
# Real supply (docs/model.md §13)
# --------------------------------------------------------------------------------------

#: Harvests and loads of the day-night study, in the order they are reported.
DAY_NIGHT_HARVESTS: tuple[str, ...] = ("iid", "day-night", "tmy")
DAY_NIGHT_LOADS: tuple[str, ...] = ("flat", "aligned", "misaligned")


def day_night_supplies(hourly_W, amplitude: float) -> dict[tuple[str, str], Supply]:
    """The supplies the day-night study compares, by (harvest, load) (docs/model.md §13).

    Harvests: ``iid`` (the Gamma model of §6), ``day-night`` (the array's mean daily shape
    every day: the cycle without weather or seasons), ``tmy`` (the weather file, days
    resampled within their month, random start day). Loads: ``flat`` (homogeneous
    Poisson), ``aligned`` and ``misaligned`` (a daily cosine of relative amplitude
    ``amplitude`` peaking at the array's :func:`~energy_routing.supply.solar_peak_hour`
    or 12 h later), all at the same daily mean.
    """
    pv = np.asarray(hourly_W, dtype=float)
    peak = solar_peak_hour(pv)
    shape = np.tile(pv.reshape(365, 24).mean(axis=0), 365)
    harvests = {
        "iid": {},
        "day-night": {"harvest": "solar", "hourly_W": shape, "resample_days": False},
        "tmy": {"harvest": "solar", "hourly_W": pv, "resample_days": True},
    }
    loads = {
        "flat": {},
        "aligned": {"load_amplitude": amplitude, "load_peak_hour": peak},
        "misaligned": {"load_amplitude": amplitude, "load_peak_hour": (peak + 12.0) % 24.0},
    }
    return {
        (h, ld): Supply(**harvests[h], **loads[ld])
        for h in DAY_NIGHT_HARVESTS
        for ld in DAY_NIGHT_LOADS
    }


def day_night_study(grid: xr.Dataset, cfg: Mapping) -> xr.Dataset:
    """What the day-night cycle costs at the critical point, through the engine
    (docs/model.md §13).

    The configured workload at R_bar = C_LB (myopic routing, lumped consumption) runs
    under every supply of :func:`day_night_supplies` for the PV array of
    ``supply.solar``, with ``realworld`` trials, horizon_days and amplitude, on the streams
    of ``montecarlo.seed`` and the key ``"day_night"``: trial k of every case shares its
    routing draws, and its arrivals with every case of the same load, so differences are
    paired trial by trial (:func:`day_night_difference`).

    Returns
    -------
    xarray.Dataset
        ``deficit_J`` (harvest, load, trial, time) [J]: D_t every 6 hours and at the
        horizon.
    """
    rw, mc = cfg["realworld"], _mc(cfg)
    dt_s = float(cfg["dt_s"])
    base = dataclasses.replace(grids.workload(grid, cfg, 1.0), supply=None)
    pv = pv_hourly(**pv_arguments(cfg["supply"]["solar"]))["ac_W"]
    horizons = study_horizons(float(rw["horizon_days"]), dt_s)
    trials = int(rw["trials"])
    deficit = np.empty((len(DAY_NIGHT_HARVESTS), len(DAY_NIGHT_LOADS), trials, horizons.size))
    for (h, ld), sup in day_night_supplies(pv, float(rw["amplitude"])).items():
        res = simulate(
            dataclasses.replace(base, supply=sup),
            checkpoints=horizons,
            trials=trials,
            root_seed=mc["seed"],
            scenario_key=scenario_key("day_night"),
            chunk_slots=mc["chunk_slots"],
            n_threads=mc["threads"],
            consumption=("lumped",),
        )
        deficit[DAY_NIGHT_HARVESTS.index(h), DAY_NIGHT_LOADS.index(ld)] = res.deficit_J[0]
    return xr.Dataset(
        {"deficit_J": (("harvest", "load", "trial", "time"), deficit, {"units": "J"})},
        coords={
            "harvest": list(DAY_NIGHT_HARVESTS),
            "load": list(DAY_NIGHT_LOADS),
            "trial": np.arange(trials),
            "time": ("time", horizons, {"units": "slot"}),
        },
        attrs={"dt_s": dt_s, "c_lb_J_per_slot": float(grid["c_lb_J_per_slot"])},
    )


def day_night_difference(ds: xr.Dataset, a: tuple[str, str], b: tuple[str, str]):
    """Mean and standard error over trials of the paired difference D_t(a) - D_t(b) of
    two (harvest, load) cases of :func:`day_night_study`, at every horizon [J]."""
    d = (
        ds["deficit_J"].sel(harvest=a[0], load=a[1]) - ds["deficit_J"].sel(harvest=b[0], load=b[1])
    ).to_numpy()
    return d.mean(axis=0), _sem(d, axis=0)


def day_night_rows(ds: xr.Dataset, baseline: tuple[str, str] = ("iid", "flat")) -> pd.DataFrame:
    """One row per (harvest, load, horizon): ``mean_J`` and ``sem_J`` of D_T, and
    ``extra_J`` with its paired ``extra_sem_J`` over ``baseline`` [J]."""
    rows = []
    for h in ds.harvest.to_numpy():
        for ld in ds["load"].to_numpy():
            d = ds["deficit_J"].sel(harvest=h, load=ld).to_numpy()
            extra, extra_sem = day_night_difference(ds, (h, ld), baseline)
            for j, t in enumerate(ds.time.to_numpy()):
                rows.append(
                    {
                        "harvest": str(h),
                        "load": str(ld),
                        "horizon_slots": int(t),
                        "mean_J": float(d[:, j].mean()),
                        "sem_J": float(_sem(d[:, j])),
                        "extra_J": float(extra[j]),
                        "extra_sem_J": float(extra_sem[j]),
                    }
                )
    return pd.DataFrame(rows)


def study_horizons(horizon_days: float, dt_s: float) -> np.ndarray:
    """Horizons of the day-night study [slots]: every 6 hours, and the horizon itself."""
    end = max(1, round(horizon_days * SECONDS_PER_DAY / dt_s))
    step = REPORT_EVERY_H * 3600.0 / dt_s
    marks = [round(k * step) for k in range(1, int(end / step) + 1)]
    return np.unique(np.array([m for m in marks if 1 <= m <= end] + [end], dtype=np.int64))


def site_storage_study(grid: xr.Dataset, cfg: Mapping) -> xr.Dataset:
    """How much storage the day-night swing needs at the ``supply.solar`` site, through
    the engine (docs/model.md §12.7, §13).

    :func:`~energy_routing.engine.compare.storage_grid` over ``realworld.storage``
    (provisioning, capacity_hours, trials, horizon_days), myopic routing, lumped consumption,
    with the store losses of ``storage_grid``, for the i.i.d. harvest and the site's
    ``tmy`` harvest (:func:`day_night_supplies`, flat load). Both share the key
    ``"site_storage"``, so every design sees the same arrivals.

    Returns
    -------
    xarray.Dataset
        The storage grid's variables with a leading ``harvest`` dimension (``iid``,
        ``tmy``); attributes ``c_lb_J_per_slot`` and the deterministic storage of the
        trace at critical load (:func:`~energy_routing.supply.daily_storage`, J).
    """
    rw, mc = cfg["realworld"], _mc(cfg)
    st = rw["storage"]
    pv = pv_hourly(**pv_arguments(cfg["supply"]["solar"]))["ac_W"]
    tmy = day_night_supplies(pv, 0.0)[("tmy", "flat")]
    horizon = max(10, round(float(st["horizon_days"]) * SECONDS_PER_DAY / float(cfg["dt_s"])))
    c_lb, dt_s = float(grid["c_lb_J_per_slot"]), float(cfg["dt_s"])
    hour_J = c_lb * 3600.0 / dt_s  # one hour of the critical load [J]
    parts = []
    for name, sup in (("iid", None), ("tmy", tmy)):
        parts.append(
            storage_grid(
                lambda rho, sup=sup: dataclasses.replace(
                    grids.workload(grid, cfg, rho), supply=sup
                ),
                [float(r) for r in st["provisioning"]],
                [math.inf if h is None else float(h) * hour_J for h in st["capacity_hours"]],
                checkpoints=log_checkpoints(mc["t_min"], horizon, mc["checkpoints"]),
                trials=int(st["trials"]),
                scenario_key=scenario_key("site_storage"),
                **_store_and_engine(cfg),
            ).expand_dims(harvest=[name])
        )
    ds = xr.concat(parts, dim="harvest", combine_attrs="override")
    ds["harvest"].attrs = {"long_name": "harvest model"}
    drawdown = daily_storage(tmy.harvest_model(c_lb, 0.0, dt_s).hourly_W, c_lb / dt_s)
    ds.attrs.update(
        scenario="site_storage",
        c_lb_J_per_slot=c_lb,
        load_hour_J=hour_J,
        **{f"trace_{k}": float(v) for k, v in drawdown.items()},
    )
    return ds
