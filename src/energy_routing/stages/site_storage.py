"""Stage ``site_storage``: how much storage the day-night swing needs at the configured
PV site, as a grid of store capacities against the i.i.d. harvest, paired
(:func:`energy_routing.studies.site.site_storage_study`, docs/model.md §12.7, §13).
"""

from __future__ import annotations

import math

import numpy as np

from energy_routing.io.atomic import write_json
from energy_routing.stages.common import load_dataset, with_threads, write_study
from energy_routing.studies import site
from energy_routing.units import J_PER_KWH, SECONDS_PER_DAY

#: Accelerator whose per-model calibration rows go into summary.json and the report.


def site_storage(cfg: dict, *, grid_nc, dataset, part_json, threads: int = 1) -> None:
    """The storage grid at the ``supply.solar`` site against the i.i.d. harvest
    (docs/model.md §12.7, §13): :func:`energy_routing.studies.site.site_storage_study`,
    written as NetCDF, and a JSON part with the mean auxiliary energy per day of every
    design (paired on common arrivals) and the trace's deterministic storage."""

    grid = load_dataset(grid_nc)
    ds = site.site_storage_study(grid, with_threads(cfg, threads))
    title = "energy-routing storage grid at a real PV site (docs/model.md §13)"
    write_study(ds, cfg, "site_storage", title, dataset)
    write_json(site_storage_summary(ds, float(cfg["dt_s"])), part_json)


def site_storage_summary(ds, dt_s: float) -> dict:
    """Per harvest, provisioning and capacity: mean auxiliary energy per day with its
    standard error [kWh/day], and the tmy harvest's excess over the i.i.d. harvest, paired
    trial by trial (docs/model.md §13)."""
    per_day = SECONDS_PER_DAY / dt_s / J_PER_KWH  # J/slot -> kWh/day
    mean = ds["aux_mean_J_per_slot"] * per_day
    sem = ds["aux_sem_J_per_slot"] * per_day
    diff = (
        ds["aux_J_per_slot"].sel(harvest="tmy") - ds["aux_J_per_slot"].sel(harvest="iid")
    ) * per_day
    n = ds.sizes["trial"]
    hour_J = float(ds.attrs["load_hour_J"])
    rows = []
    for rho in ds.provisioning.to_numpy():
        for cap in ds.capacity_J.to_numpy():
            sel = {"provisioning": rho, "capacity_J": cap}
            d = diff.sel(sel).to_numpy()
            row = {
                "provisioning": float(rho),
                "capacity_hours": None if np.isinf(cap) else float(cap) / hour_J,
                "capacity_J": None if np.isinf(cap) else float(cap),
            }
            for h in ds.harvest.to_numpy():
                row[f"{h}_kWh_per_day"] = float(mean.sel(harvest=h, **sel))
                row[f"{h}_sem_kWh_per_day"] = float(sem.sel(harvest=h, **sel))
            row["excess_kWh_per_day"] = float(d.mean())
            row["excess_sem_kWh_per_day"] = float(d.std(ddof=1) / math.sqrt(n))
            rows.append(row)
    horizon = int(ds.attrs["horizon_slots"])
    return {
        "load_kW": hour_J / J_PER_KWH,
        "horizon_slots": horizon,
        "horizon_days": horizon * dt_s / SECONDS_PER_DAY,
        "trials": int(n),
        "eta_charge": float(ds.attrs["eta_charge"]),
        "eta_discharge": float(ds.attrs["eta_discharge"]),
        "trace_storage_J": {
            k.removeprefix("trace_"): float(v)
            for k, v in ds.attrs.items()
            if k.startswith("trace_")
        },
        "rows": rows,
    }
