"""The planner: Pareto front and cheapest design on a storage grid (docs/model.md §12.7).

Input is the dataset of :func:`energy_routing.studies.storage.storage_grid`: for every
design (provisioning ratio rho, store capacity) the auxiliary energy per slot U_T / T and
the spilled (wasted) harvest per slot, per trial. Nothing here simulates; this module reads
a computed grid only.

* :func:`pareto_front` marks the designs that no other design beats on all of mean
  auxiliary energy per slot, mean waste per slot and capacity (the store is what a planner
  buys; rho is read off the chart).
* :func:`size` answers a target: the cheapest design (cost = rho x ``provisioning_cost`` +
  capacity x ``capacity_cost_per_J``, ties to the smaller capacity, then smaller rho) whose
  auxiliary energy per slot is at most x on average, or with probability at least q,
  within an optional capacity budget; with the standard errors / a Wilson interval of
  what it reports.
* :func:`main` is the ``energy-routing size`` command.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from energy_routing.io.netcdf import load_netcdf


def pareto_front(ds: xr.Dataset) -> xr.DataArray:
    """Non-dominated designs in (mean aux per slot, mean waste per slot, capacity).

    A design is dominated if another is no worse in all three and better in one.

    Returns
    -------
    xarray.DataArray of bool, dims (provisioning, capacity_J)
    """
    aux = ds["aux_mean_J_per_slot"].to_numpy()
    waste = ds["waste_mean_J_per_slot"].to_numpy()
    cap = np.broadcast_to(ds["capacity_J"].to_numpy()[None, :], aux.shape)
    pts = np.stack([aux.ravel(), waste.ravel(), cap.ravel()], axis=1)
    front = np.ones(pts.shape[0], dtype=bool)
    for k in range(pts.shape[0]):
        no_worse = np.all(pts <= pts[k], axis=1)
        better = np.any(pts < pts[k], axis=1)
        front[k] = not np.any(no_worse & better)
    return xr.DataArray(
        front.reshape(aux.shape),
        dims=("provisioning", "capacity_J"),
        coords={"provisioning": ds.provisioning, "capacity_J": ds.capacity_J},
        name="pareto",
    )


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95 % by default).

    >>> lo, hi = wilson_interval(9, 10)
    >>> round(lo, 3), round(hi, 3)
    (0.596, 0.982)
    """
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


#: What a planner's storage grid holds (docs/model.md §12.7): variable -> its dimensions.
GRID_VARIABLES = {
    "aux_J_per_slot": ("provisioning", "capacity_J", "trial"),
    "aux_mean_J_per_slot": ("provisioning", "capacity_J"),
    "aux_sem_J_per_slot": ("provisioning", "capacity_J"),
    "waste_mean_J_per_slot": ("provisioning", "capacity_J"),
    "waste_sem_J_per_slot": ("provisioning", "capacity_J"),
}


def check_grid(ds: xr.Dataset) -> None:
    """Refuse, in one sentence, a dataset that is not a planner's storage grid (the
    ``storage`` stage's ``results/storage/grid.nc``).

    >>> check_grid(xr.Dataset())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: not a planner's storage grid (the storage stage's results/storage/grid.nc): ...
    """
    wrong = [
        name
        for name, dims in GRID_VARIABLES.items()
        if name not in ds or tuple(ds[name].dims) != dims
    ]
    if wrong:
        raise ValueError(
            "not a planner's storage grid (the storage stage's results/storage/grid.nc): "
            f"it lacks {', '.join(wrong)} over (provisioning, capacity_J[, trial])"
        )


def size(
    ds: xr.Dataset,
    *,
    max_aux_J_per_slot: float,
    probability: float | None = None,
    max_capacity_J: float | None = None,
    provisioning_cost: float = 1.0,
    capacity_cost_per_J: float = 0.0,
    conservative: bool = False,
) -> dict | None:
    """The cheapest design of the grid that meets a target (docs/model.md §12.7).

    Parameters
    ----------
    ds : xarray.Dataset
        A storage grid (:func:`energy_routing.studies.storage.storage_grid`).
    max_aux_J_per_slot : float
        x [J/slot]: the auxiliary energy per slot allowed.
    probability : float, optional
        q in (0, 1]: require Pr[U_T / T <= x] >= q (fraction of trials); without it the
        mean must be <= x.
    max_capacity_J : float, optional
        Capacity budget [J].
    provisioning_cost, capacity_cost_per_J : float
        Cost per unit of rho and per J of capacity (defaults: rho alone).
    conservative : bool
        Require the target of the upper end of the uncertainty (mean + 2 sem, or the
        Wilson interval's lower end >= q) instead of the point estimate.

    Returns
    -------
    dict or None
        ``provisioning``, ``capacity_J`` (None if unbounded), ``cost``,
        ``aux_J_per_slot`` and ``aux_sem_J_per_slot``, ``waste_J_per_slot`` and
        ``waste_sem_J_per_slot``, and with ``probability`` also ``probability_met`` and
        ``probability_interval`` (Wilson 95 %), ``trials``; None if no design qualifies.
    """
    check_grid(ds)
    x = float(max_aux_J_per_slot)
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"max_aux_J_per_slot: must be finite and >= 0, got {x!r}")
    if probability is not None and not 0.0 < float(probability) <= 1.0:
        raise ValueError(f"probability: must lie in (0, 1], got {probability!r}")
    if max_capacity_J is not None and not float(max_capacity_J) > 0:
        raise ValueError(f"max_capacity_J: must be > 0, got {max_capacity_J!r}")
    if provisioning_cost < 0 or capacity_cost_per_J < 0:
        raise ValueError("provisioning_cost and capacity_cost_per_J must be >= 0")
    rhos = ds.provisioning.to_numpy()
    caps = ds.capacity_J.to_numpy()
    per_trial = ds["aux_J_per_slot"].to_numpy()
    n = per_trial.shape[2]
    mean = ds["aux_mean_J_per_slot"].to_numpy()
    sem = ds["aux_sem_J_per_slot"].to_numpy()
    best = None
    for a, rho in enumerate(rhos):
        for c, cap in enumerate(caps):
            if max_capacity_J is not None and cap > max_capacity_J:
                continue
            rec = {}
            if probability is None:
                value = mean[a, c] + (2 * sem[a, c] if conservative else 0.0)
                ok = value <= x
            else:
                hits = int(np.sum(per_trial[a, c] <= x))
                lo, hi = wilson_interval(hits, n)
                frac = hits / n
                ok = (lo if conservative else frac) >= probability
                rec = {
                    "probability_met": frac,
                    "probability_interval": [lo, hi],
                    "trials": n,
                }
            if not ok:
                continue
            cap_cost = 0.0 if capacity_cost_per_J == 0 else capacity_cost_per_J * cap
            cost = provisioning_cost * float(rho) + cap_cost
            key = (cost, cap, rho)
            if best is None or key < best[0]:
                rec = {
                    "provisioning": float(rho),
                    "capacity_J": None if math.isinf(cap) else float(cap),
                    "cost": cost,
                    "aux_J_per_slot": float(mean[a, c]),
                    "aux_sem_J_per_slot": float(sem[a, c]),
                    "waste_J_per_slot": float(ds["waste_mean_J_per_slot"].values[a, c]),
                    "waste_sem_J_per_slot": float(ds["waste_sem_J_per_slot"].values[a, c]),
                    **rec,
                }
                best = (key, rec)
    return None if best is None else best[1]


def format_design(
    rec: dict | None,
    *,
    max_aux_J_per_slot: float,
    probability=None,
    max_capacity_J: float | None = None,
    provisioning_cost: float = 1.0,
    capacity_cost_per_J: float = 0.0,
) -> str:
    """One paragraph for the terminal, with the cost model it was cheapest under.

    >>> print(format_design(None, max_aux_J_per_slot=5.0, max_capacity_J=1e4))  # doctest: +ELLIPSIS
    No design of the grid with a store of at most 10000 J keeps the auxiliary energy per slot ...
    """
    target = f"at or below {max_aux_J_per_slot:g} J"
    if probability is not None:
        target += f" with probability {probability:g}"
    budget = "" if max_capacity_J is None else f" with a store of at most {max_capacity_J:g} J"
    if rec is None:
        return f"No design of the grid{budget} keeps the auxiliary energy per slot {target}."
    cap = "unbounded" if rec["capacity_J"] is None else f"{rec['capacity_J']:.4g} J"
    if capacity_cost_per_J == 0:
        model = (
            f"cost = {provisioning_cost:g} x rho; storage is free, so the least provisioning "
            "wins and then the smallest store (set --capacity-cost to price it)"
        )
    else:
        model = f"cost = {provisioning_cost:g} x rho + {capacity_cost_per_J:g} x capacity [J]"
    lines = [
        f"Cheapest design{budget} keeping the auxiliary energy per slot {target}:",
        f"  provisioning rho = {rec['provisioning']:g}, store capacity = {cap} "
        f"(cost {rec['cost']:.4g}; {model})",
        f"  auxiliary energy {rec['aux_J_per_slot']:.4g} ± {rec['aux_sem_J_per_slot']:.2g} "
        f"J/slot, wasted harvest {rec['waste_J_per_slot']:.4g} ± "
        f"{rec['waste_sem_J_per_slot']:.2g} J/slot (mean ± standard error over trials)",
    ]
    if "probability_met" in rec:
        lo, hi = rec["probability_interval"]
        lines.append(
            f"  Pr[aux per slot <= target] = {rec['probability_met']:.3f} "
            f"(95 % Wilson interval [{lo:.3f}, {hi:.3f}], {rec['trials']} trials)"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``energy-routing size``: print the cheapest design of a computed storage grid."""
    parser = argparse.ArgumentParser(
        prog="energy-routing size",
        description="Cheapest (provisioning, capacity) design of a computed storage grid "
        "that meets an auxiliary-energy target (docs/model.md §12.7). A design costs "
        "PROVISIONING_COST x rho + CAPACITY_COST x capacity [J]; with the default capacity "
        "cost 0 the least provisioning wins, then the smallest store.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--grid", required=True, help="storage grid NetCDF (results/storage/grid.nc)"
    )
    parser.add_argument("--max-aux", type=float, required=True, help="target x [J/slot]")
    parser.add_argument(
        "--probability", type=float, help="q: Pr[aux per slot <= x] >= q (else: the mean)"
    )
    parser.add_argument("--max-capacity", type=float, help="capacity budget [J]")
    parser.add_argument("--provisioning-cost", type=float, default=1.0, help="cost per unit of rho")
    parser.add_argument("--capacity-cost", type=float, default=0.0, help="cost per J of store")
    parser.add_argument("--conservative", action="store_true", help="meet it with margin")
    parser.add_argument("--json", action="store_true", help="print the design as JSON")
    args = parser.parse_args(argv)
    if not Path(args.grid).is_file():
        raise ValueError(f"--grid {args.grid!r}: no such file")
    try:
        grid = load_netcdf(args.grid)
    except (OSError, ValueError):
        raise ValueError(f"--grid {args.grid!r}: not a NetCDF file") from None
    rec = size(
        grid,
        max_aux_J_per_slot=args.max_aux,
        probability=args.probability,
        max_capacity_J=args.max_capacity,
        provisioning_cost=args.provisioning_cost,
        capacity_cost_per_J=args.capacity_cost,
        conservative=args.conservative,
    )
    if args.json:
        print(json.dumps(rec, sort_keys=True))
    else:
        print(
            format_design(
                rec,
                max_aux_J_per_slot=args.max_aux,
                probability=args.probability,
                max_capacity_J=args.max_capacity,
                provisioning_cost=args.provisioning_cost,
                capacity_cost_per_J=args.capacity_cost,
            )
        )
    return 0 if rec is not None else 1
