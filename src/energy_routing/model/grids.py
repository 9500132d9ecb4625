"""Per-task grids: budgets, energy, latency, feasibility and per-slot profiles (docs/model.md §1-5).

:func:`task_costs` is the one place where a difficulty and a model become a minimum token
budget, an energy and a latency. :func:`task_grid` adds the deadlines, the feasible set,
the arrival-feasible minimum energy e_LB and its model, and the per-slot energy profiles;
:func:`difficulty_grid` evaluates the same costs on a dense difficulty axis for Fig. 3.

Every variable carries ``units`` (UDUNITS syntax, as CF-1.11 §3.1 asks) and a
``long_name``; each dataset has a ``title``. Nats are a logarithmic measure, dimensionless,
so difficulty and loss [nats/token] have units ``1``, as do counts (tokens, attempts,
slots); the ``long_name`` says "nats per token" or what is counted. Energy "per slot" is
the energy of one slot of ``dt_s`` seconds, units ``J`` (and ``J2`` for its variance), the
values being per slot, not per second (see :mod:`energy_routing.io.netcdf`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from energy_routing.errors import ConfigError
from energy_routing.model import ds3
from energy_routing.model.capability import Chinchilla, frontier_law, skill_probability
from energy_routing.model.hardware import (
    Hardware,
    token_coefficients,
    tokens_by_time,
    total_energy,
    total_time,
)

_ATTRS = {
    "task": (None, "task type"),
    "model": (None, "hosted model"),
    "slot": ("1", "slot of service j (1-based), ((j - 1) dt, j dt] after the service starts"),
    "difficulty": ("1", "task difficulty l in nats per token (lower is harder)"),
    "deadline_s": ("s", "relative deadline after arrival"),
    "mix": ("1", "probability of the task type in the arrival mix"),
    "params": ("1", "model parameters N_m"),
    "loss": ("1", "model loss L(N_m) on the compute-optimal frontier, in nats per token"),
    "skill_prob": ("1", "success probability of one skill attempt p_m(l)"),
    "attempts": ("1", "minimum skill attempts k*"),
    "tokens": ("1", "minimum token budget n* = omega k* (number of tokens)"),
    "energy_J": ("J", "energy of the task served by the model, E_m(n*)"),
    "latency_s": ("s", "completion time of the task served by the model, T_m(n*)"),
    "service_slots": ("1", "number of slots in service, ceil(T_m(n*) / dt)"),
    "feasible": ("1", "model meets the deadline when dispatched at arrival"),
    "profile_J": ("J", "energy drawn in each slot of service"),
    "e_lb_J": ("J", "arrival-feasible minimum energy e_LB"),
    "best_model": ("1", "model attaining e_LB (minimum-energy feasible model)"),
    "min_energy_model": ("1", "model of minimum energy, deadlines ignored"),
}


def _label(ds: xr.Dataset) -> xr.Dataset:
    for name, var in ds.variables.items():
        if name in _ATTRS:
            units, long_name = _ATTRS[name]
            var.attrs["long_name"] = long_name
            if units is not None:  # names (strings) have no units
                var.attrs["units"] = units
    return ds


def hardware(cfg: dict) -> Hardware:
    """The :class:`~energy_routing.model.hardware.Hardware` of a validated config."""
    return Hardware(**cfg["hardware"])


def model_table(cfg: dict) -> pd.DataFrame:
    """One row per model: size, per-token coefficients and loss (docs/model.md §1-2).

    Columns carry their units in the name: ``a_J_per_token``, ``b_J_per_token2``,
    ``u_s_per_token``, ``v_s_per_token2``, ``loss_nats_per_token``.
    """
    hw = hardware(cfg)
    law = frontier_law(Chinchilla(**cfg["chinchilla"]))
    rows = []
    for m in cfg["models"]:
        c = token_coefficients(m["params"], m["n_layers"], m["d_attn"], hw)
        rows.append(
            {
                "model": m["name"],
                "params": m["params"],
                "n_layers": m["n_layers"],
                "d_attn": m["d_attn"],
                "a_J_per_token": c.a,
                "b_J_per_token2": c.b,
                "u_s_per_token": c.u,
                "v_s_per_token2": c.v,
                "loss_nats_per_token": float(law.loss(m["params"])),
            }
        )
    return pd.DataFrame(rows)


def task_costs(difficulty, cfg: dict, labels=None) -> xr.Dataset:
    """Minimum budgets, energy and latency for each difficulty and model (docs/model.md §1-3).

    Parameters
    ----------
    difficulty : array_like
        Task difficulties l [nats/token], the leading dimension of the result.
    cfg : dict
        Validated configuration.
    labels : array_like of str, optional
        Task names used in the error when a budget exceeds ``ds3.max_attempts``.

    Returns
    -------
    xarray.Dataset
        Dimensions ``(task, model)``: ``skill_prob``, ``attempts``, ``tokens``,
        ``energy_J`` [J] and ``latency_s`` [s]; per model ``params`` and ``loss``.
    """
    difficulty = np.asarray(difficulty, dtype=float)
    models = model_table(cfg)
    d = cfg["ds3"]
    p = skill_probability(
        difficulty[:, None],
        models["loss_nats_per_token"].to_numpy()[None, :],
        cfg["sigmoid_steepness"],
    )
    names = None
    if labels is not None:
        names = np.char.add(
            np.char.add("task ", np.asarray(labels, dtype=str)[:, None]),
            np.char.add(" on model ", models["model"].to_numpy(dtype=str)[None, :]),
        )
    try:
        k = ds3.min_attempts(p, d["skills"], d["tolerance"], d["max_attempts"], labels=names)
    except ds3.AttemptCapError as err:
        raise ConfigError(f"config key 'ds3.max_attempts': {err}") from None
    n = k * d["tokens_per_attempt"]
    a, b = models["a_J_per_token"].to_numpy(), models["b_J_per_token2"].to_numpy()
    u, v = models["u_s_per_token"].to_numpy(), models["v_s_per_token2"].to_numpy()
    dims = ("task", "model")
    ds = xr.Dataset(
        {
            "skill_prob": (dims, p),
            "attempts": (dims, k),
            "tokens": (dims, n),
            "energy_J": (dims, total_energy(n, a, b)),
            "latency_s": (dims, total_time(n, u, v)),
        },
        coords={
            "difficulty": ("task", difficulty),
            "model": models["model"].to_numpy(dtype=str),
            "params": ("model", models["params"].to_numpy(dtype=float)),
            "loss": ("model", models["loss_nats_per_token"].to_numpy()),
        },
    )
    return _label(ds)


def energy_profiles(tokens, slots, u, v, a, b, dt: float, n_slots: int) -> np.ndarray:
    """Per-slot energy while in service, zero after the service ends [J] (docs/model.md §5, eq. 43).

    Slot ``j = 1..s`` draws ``E(x(j dt)) - E(x((j-1) dt))`` with ``x`` the continuous
    inverse of the time function, clipped at the budget ``n*``. The continuous time
    function runs slightly ahead of the discrete one, so the last slot of service takes
    whatever remains of ``E(n*)``: the profile sums to the total energy to rounding.

    Parameters
    ----------
    tokens : numpy.ndarray (K, M)
        Budgets n* [tokens].
    slots : numpy.ndarray (K, M)
        Service lengths s [slots].
    u, v, a, b : numpy.ndarray (M,)
        Per-token coefficients [s/token, s/token^2, J/token, J/token^2].
    dt : float
        Slot length [s].
    n_slots : int
        Length of the slot axis of the result (>= max(s)).

    Returns
    -------
    numpy.ndarray (K, M, n_slots)
        Energy per slot of service [J].
    """
    j = np.arange(1, n_slots + 1, dtype=float)
    x = tokens_by_time(j[None, None, :] * dt, u[None, :, None], v[None, :, None])
    x = np.minimum(x, tokens[..., None])
    cum = total_energy(x, a[None, :, None], b[None, :, None])
    total = total_energy(tokens, a, b)
    done = j[None, None, :] >= slots[..., None]
    cum = np.where(done, total[..., None], cum)
    return np.diff(cum, axis=-1, prepend=0.0)


def task_grid(cfg: dict) -> xr.Dataset:
    """The per-task grid of a validated config (docs/model.md §4-5, eq. 19-23, 43).

    Dimensions ``task``, ``model`` and ``slot`` (1-based slot of service). Besides the
    costs of :func:`task_costs`: ``deadline_s``, ``mix``, ``service_slots``, ``feasible``,
    ``profile_J``, ``e_lb_J`` and ``best_model`` per task, and the scalars
    ``c_lb_J_per_slot`` = lambda E[e_LB] and ``consumption_var_J2_per_slot`` =
    lambda E[e_LB^2] (the per-slot variance of lumped consumption).

    Raises
    ------
    ConfigError
        When a task has no model that meets its deadline, naming the task.
    """
    tasks = cfg["tasks"]
    names = np.array([t["name"] for t in tasks], dtype=str)
    ds = task_costs([t["difficulty"] for t in tasks], cfg, labels=names)
    ds = ds.assign_coords(task=names)
    deadline = np.array([t["deadline_s"] for t in tasks], dtype=float)
    weight = np.array([t["weight"] for t in tasks], dtype=float)
    mix = weight / weight.sum()
    dt = float(cfg["dt_s"])
    latency = ds["latency_s"].to_numpy()
    feasible = latency + cfg["dispatch_latency_s"] <= deadline[:, None]
    for i in np.flatnonzero(~feasible.any(axis=1)):
        fastest = int(np.argmin(latency[i]))
        raise ConfigError(
            f"config key 'tasks[{i}].deadline_s': task {str(names[i])!r} "
            f"(difficulty {tasks[i]['difficulty']}) has no feasible model: its deadline is "
            f"{deadline[i]:g} s but the fastest model, {ds.model.values[fastest]}, needs "
            f"{latency[i, fastest] + cfg['dispatch_latency_s']:.3f} s including the dispatch "
            "latency; relax the deadline or add a faster model"
        )
    slots = np.maximum(1, np.ceil(latency / dt - 1e-12)).astype(np.int64)
    mt = model_table(cfg)
    profile = energy_profiles(
        ds["tokens"].to_numpy().astype(float),
        slots,
        mt["u_s_per_token"].to_numpy(),
        mt["v_s_per_token2"].to_numpy(),
        mt["a_J_per_token"].to_numpy(),
        mt["b_J_per_token2"].to_numpy(),
        dt,
        int(slots.max()),
    )
    energy = ds["energy_J"].to_numpy()
    masked = np.where(feasible, energy, np.inf)
    best = masked.argmin(axis=1)
    e_lb = masked[np.arange(len(tasks)), best]
    lam = float(cfg["arrival_rate"])
    ds = ds.assign(
        deadline_s=("task", deadline),
        mix=("task", mix),
        service_slots=(("task", "model"), slots),
        feasible=(("task", "model"), feasible),
        profile_J=(("task", "model", "slot"), profile),
        e_lb_J=("task", e_lb),
        best_model=("task", ds.model.values[best]),
        c_lb_J_per_slot=((), lam * float(mix @ e_lb)),
        consumption_var_J2_per_slot=((), lam * float(mix @ e_lb**2)),
    ).assign_coords(slot=np.arange(1, profile.shape[-1] + 1))
    ds["c_lb_J_per_slot"].attrs.update(
        units="J", long_name="lower-bound consumption per slot C_LB = lambda E[e_LB]"
    )
    ds["consumption_var_J2_per_slot"].attrs.update(
        units="J2",
        long_name="variance of lumped consumption per slot lambda E[e_LB^2] (J^2 per slot)",
    )
    ds.attrs.update(
        title="energy-routing task grid: budgets, energy, latency, feasibility, e_LB and "
        "per-slot energy profiles of each task type and model",
        arrival_rate_per_slot=lam,
        dt_s=dt,
    )
    return _label(ds)


def harvest_parameters(grid: xr.Dataset, cfg: dict, provisioning: float = 1.0) -> dict:
    """Mean and variance of the Gamma harvest per slot (docs/model.md §6).

    ``R_bar = rho C_LB`` [J/slot] and ``sigma_R^2 = variance_scale lambda E[e_LB^2]``
    [J^2/slot]; the Gamma shape and scale [J] from
    :func:`energy_routing.theory.moments.harvest_gamma` (``gamma_shape`` is None for a
    deterministic harvest, whose shape is infinite).
    """
    from energy_routing.theory.moments import harvest_gamma

    mean = provisioning * float(grid["c_lb_J_per_slot"])
    var = cfg["harvest"]["variance_scale"] * float(grid["consumption_var_J2_per_slot"])
    shape, scale = harvest_gamma(mean, var)
    return {
        "harvest_mean_J": mean,
        "harvest_var_J2": var,
        "gamma_shape": shape if math.isfinite(shape) else None,
        "gamma_scale_J": scale,
    }


def workload(grid: xr.Dataset, cfg: dict, provisioning: float = 1.0):
    """The Monte Carlo engine's input for one provisioning ratio (docs/model.md §6, 8).

    Parameters
    ----------
    grid : xarray.Dataset
        Output of :func:`task_grid`.
    cfg : dict
        Validated config (``arrival_rate``, ``harvest``, ``dt_s``, and ``supply`` and
        ``load`` for the time structure of harvest and arrivals, docs/model.md §13).
    provisioning : float
        rho = R_bar / C_LB [-].
    """
    from energy_routing.model.workload import Workload
    from energy_routing.supply.supply import Supply

    models = list(grid.model.values)
    h = harvest_parameters(grid, cfg, provisioning)
    return Workload(
        mix=grid.mix.to_numpy(),
        energy_J=grid.energy_J.to_numpy(),
        profile_J=grid.profile_J.to_numpy(),
        feasible=grid.feasible.to_numpy(),
        best_model=np.array([models.index(m) for m in grid.best_model.values]),
        arrival_rate=float(cfg["arrival_rate"]),
        harvest_mean_J=h["harvest_mean_J"],
        harvest_var_J2=h["harvest_var_J2"],
        dt_s=float(cfg.get("dt_s", 1.0)),
        supply=Supply.from_config(cfg),
    )


def difficulty_grid(cfg: dict) -> xr.Dataset:
    """Costs on a dense difficulty axis, with the minimum-energy model (Fig. 3)."""
    f = cfg["fine_grid"]
    difficulty = np.linspace(f["difficulty_min"], f["difficulty_max"], f["points"])
    ds = task_costs(difficulty, cfg)
    best = ds["energy_J"].argmin("model")
    ds = ds.assign(min_energy_model=("task", ds.model.values[best.to_numpy()]))
    ds.attrs["title"] = (
        "energy-routing difficulty grid: budgets, energy and latency of each model on a "
        "dense difficulty axis (Fig. 3)"
    )
    return _label(ds)


def task_table(grid: xr.Dataset) -> pd.DataFrame:
    """One row per task and model: the human-readable face of :func:`task_grid`."""
    cols = [
        "difficulty",
        "deadline_s",
        "mix",
        "skill_prob",
        "attempts",
        "tokens",
        "energy_J",
        "latency_s",
        "service_slots",
        "feasible",
        "e_lb_J",
        "best_model",
    ]
    df = grid[cols].drop_vars(["params", "loss"]).to_dataframe().reset_index()
    df["chosen"] = df["model"] == df["best_model"]
    return df


def grid_summary(grid: xr.Dataset, cfg: dict) -> dict:
    """Key figures of the grid stage for ``results/summary.json``."""
    models = list(grid.model.values)
    tasks = []
    for name in grid.task.values:
        t = grid.sel(task=name)
        tasks.append(
            {
                "name": str(name),
                "difficulty": float(t.difficulty),
                "deadline_s": float(t.deadline_s),
                "mix": float(t.mix),
                "energy_J": {m: float(t.energy_J.sel(model=m)) for m in models},
                "latency_s": {m: float(t.latency_s.sel(model=m)) for m in models},
                "tokens": {m: int(t.tokens.sel(model=m)) for m in models},
                "feasible": {m: bool(t.feasible.sel(model=m)) for m in models},
                "chosen_model": str(t.best_model.values),
                "e_lb_J": float(t.e_lb_J),
            }
        )
    law = frontier_law(Chinchilla(**cfg["chinchilla"]))
    return {
        "c_lb_J_per_slot": float(grid.c_lb_J_per_slot),
        "consumption_var_J2_per_slot": float(grid.consumption_var_J2_per_slot),
        "arrival_rate_per_slot": float(cfg["arrival_rate"]),
        "dt_s": float(cfg["dt_s"]),
        "frontier_law": {"L_irr": law.L_irr, "Gamma": law.Gamma, "gamma": law.gamma},
        "harvest": harvest_parameters(grid, cfg),
        "models": models,
        "tasks": tasks,
    }
