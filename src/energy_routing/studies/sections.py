"""The studies' config sections and what the studies share (docs/model.md §12).

:func:`section` returns the ``policies`` or ``storage_grid`` section of a config with
the schema's defaults filled in and unknown keys rejected by name. The private helpers read the
engine settings of ``montecarlo`` (seed, checkpoints, chunk size, threads), build a
scenario's workload with slack from the task grid, give a study run's provisioning ratio and
scenario key, and collect a storage grid's store losses and engine arguments;
:data:`REPORT_EVERY_H` [h] spaces the day-night study's horizons. The studies themselves are
in :mod:`energy_routing.studies.policies`, ``.routers``, ``.storage`` and ``.site``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np
import xarray as xr

from energy_routing import config
from energy_routing.engine.energy import EnergyLaw
from energy_routing.engine.streams import scenario_key
from energy_routing.model import grids
from energy_routing.model.workload import workload_with_slack

#: The day-night study reports its deficit every this many hours, and at its horizon.
REPORT_EVERY_H = 6.0


def defaults(name: str) -> dict:
    """The defaults of a study section (``policies`` or ``storage_grid``): the config
    schema's, its one home (:func:`energy_routing.config.section_defaults`)."""
    return config.section_defaults(name)


def _merge(default, given):
    if isinstance(default, Mapping) and isinstance(given, Mapping):
        out = dict(default)
        for k, v in given.items():
            out[k] = _merge(default.get(k), v) if k in default else v
        return out
    return copy.deepcopy(given) if given is not None else copy.deepcopy(default)


def section(cfg: Mapping, name: str) -> dict:
    """A study section of ``cfg`` with the schema's defaults filled in, unknown keys
    rejected (a config that went through :func:`energy_routing.config.validate` has them
    already; this also serves a partial dict).

    >>> section({}, "storage_grid")["t_max"]
    50000
    >>> section({"policies": {"trails": 3}}, "policies")
    Traceback (most recent call last):
    ...
    ValueError: config key 'policies.trails': unknown (allowed: activate, consumption, ...)
    """
    given = dict(cfg.get(name) or {})
    allowed = defaults(name)
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


def energy_law(grid, cfg: dict) -> EnergyLaw:
    """The engine's :class:`~energy_routing.engine.energy.EnergyLaw` of a task grid: p and
    k* per (task, model), S, omega and the models' energy coefficients (docs/model.md §12.5).
    """
    mt = grids.model_table(cfg)
    return EnergyLaw(
        skill_prob=grid["skill_prob"].to_numpy(),
        budget_attempts=grid["attempts"].to_numpy().astype(np.int64),
        skills=cfg["ds3"]["skills"],
        tokens_per_attempt=cfg["ds3"]["tokens_per_attempt"],
        a_J=mt["a_J_per_token"].to_numpy(),
        b_J=mt["b_J_per_token2"].to_numpy(),
    )
