"""Stage 4c: the real-world studies (docs/model.md §13).

Three thin stages over the library modules :mod:`energy_routing.carbon`,
:mod:`energy_routing.calibration` and :mod:`energy_routing.supply`:

``carbon``       the mean auxiliary energy at T_max of every named scenario, routing error
                 and consumption mode, as emissions of the configured grid region (with the
                 intensity's source and year);
``calibration``  the energy per output token modelled here next to EcoLogits' external
                 estimate, for every catalogue model and accelerator, and the sensitivity of
                 C_LB and E[D_T] to the hardware energy constants;
``day_night``    what the day-night cycle of a real PV array costs in auxiliary energy at the
                 critical point, against the i.i.d. harvest of the same mean (the engine,
                 paired trial by trial);
``site_storage`` the planner's storage grid at that site: how much storage the swing
                 needs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from energy_routing.atomic import atomic_output, write_json

SECONDS_PER_DAY = 86400.0
#: Accelerator whose per-model calibration rows go into summary.json and the report.
REFERENCE_ACCELERATOR = "H100-SXM5-80GB"


def _records(df) -> list[dict]:
    return json.loads(df.to_json(orient="records"))


def carbon(cfg: dict, *, regimes_parts: dict[str, str], part_json) -> None:
    """Emissions of the mean auxiliary energy at T_max per scenario, routing error and
    consumption mode (docs/model.md §13).

    ``cfg`` holds the ``carbon`` section; ``regimes_parts`` maps scenario name -> the
    regimes stage's JSON part.
    """
    from energy_routing import carbon as co2

    rows = []
    for name, path in regimes_parts.items():
        part = json.loads(Path(path).read_text())
        for r in part["rows"]:
            rows.append(
                {
                    "scenario": name,
                    "routing_error": r["routing_error"],
                    "consumption": r["consumption"],
                    "t_max": part["t_max"],
                    "aux_J": r["mean_D_Tmax_J"],
                    "aux_sem_J": r["sem_D_Tmax_J"],
                }
            )
    c = cfg["carbon"]
    labels = {f"{r['scenario']}|{r['routing_error']:g}|{r['consumption']}": r for r in rows}
    out = co2.summary({k: r["aux_J"] for k, r in labels.items()}, c["region"], c["source"])
    for key, r in labels.items():
        r["aux_kWh"] = out["aux"][key]["aux_kWh"]
        r["kg_co2e"] = out["aux"][key]["kg_co2e"]
        r["kg_co2e_sem"] = r["kg_co2e"] * r["aux_sem_J"] / r["aux_J"] if r["aux_J"] else 0.0
    del out["aux"]
    out["carbon_source"] = c["source"]
    out["rows"] = rows
    write_json(out, part_json)


def calibration(cfg: dict, *, table_csv, sensitivity_csv, part_json) -> None:
    """Calibration table against EcoLogits and the sensitivity of the deficit to the energy
    constants (docs/model.md §13).

    ``cfg`` holds the grid keys, ``montecarlo.t_max`` (the sensitivity's horizon) and
    ``realworld.sensitivity_factors``.
    """
    from energy_routing import calibration as cal

    table = cal.calibration_table()
    horizon = float(cfg["montecarlo"]["t_max"])
    sens = cal.sensitivity(cfg, horizon, factors=tuple(cfg["realworld"]["sensitivity_factors"]))
    with atomic_output(table_csv) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_output(sensitivity_csv) as tmp:
        sens.to_csv(tmp, index=False)
    ref = table[table["accelerator"] == REFERENCE_ACCELERATOR]
    cols = [
        "model",
        "params",
        "modelled_here_J_per_token",
        "modelled_here_batch_J_per_token",
        "external_estimate_J_per_token",
        "external_gpu_only_J_per_token",
        "ratio_modelled_to_external",
        "ratio_batch_to_external_gpu",
    ]
    sens_cols = [
        "moved",
        "factor",
        "c_lb_J_per_slot",
        "sigma_J_per_sqrt_slot",
        "mu_J_per_slot",
        "expected_deficit_J",
        "expected_deficit_reprovisioned_J",
        "changed_tasks",
    ]
    write_json(
        {
            "batch_size": int(table["batch_size"].iloc[0]),
            "reference_accelerator": REFERENCE_ACCELERATOR,
            "external_source": _external_source(ref),
            "by_accelerator": cal.summary(table),
            "rows": _records(ref[cols]),
            "sensitivity_horizon_slots": horizon,
            "sensitivity": _records(sens[sens_cols]),
        },
        part_json,
    )


def _external_source(rows) -> str:
    """What the external column is: EcoLogits' version and settings, and where each
    model's parameter count comes from."""
    first = str(rows["source"].iloc[0]).split("external: ")[-1].split(", parameters:")[0]
    listed = [m for m, s in zip(rows["model"], rows["source"], strict=True) if "not in" not in s]
    where = (
        f"EcoLogits' models.json for {', '.join(listed)}, the catalogue's stated count otherwise"
        if listed
        else "the catalogue's stated counts"
    )
    return f"{first}; parameter counts from {where}"


def day_night(cfg: dict, *, grid_nc, table_csv, part_json, threads: int = 1) -> None:
    """What the day-night cycle costs at the critical point of the configured workload
    (docs/model.md §13).

    Runs :func:`energy_routing.engine.studies.day_night_study` (the engine, paired on
    common random numbers) and writes every (harvest, load, horizon) row and a JSON part
    with the extra auxiliary energy over the i.i.d. harvest at the horizon (paired
    standard errors), the storage the trace's swing needs and the site.
    """
    from energy_routing import supply
    from energy_routing.engine import studies
    from energy_routing.stages import load_dataset, with_threads

    grid = load_dataset(grid_nc)
    ds = studies.day_night_study(grid, with_threads(cfg, threads))
    table = studies.day_night_rows(ds)
    with atomic_output(table_csv) as tmp:
        table.to_csv(tmp, index=False)
    rw, dt_s = cfg["realworld"], float(cfg["dt_s"])
    mean_J = float(grid["c_lb_J_per_slot"])
    end = int(table["horizon_slots"].max())
    at_end = table[table["horizon_slots"] == end].set_index(["harvest", "load"])

    def diff(a, b=("iid", "flat")) -> dict:
        mean, sem = studies.day_night_difference(ds, a, b)
        return {"mean_J": float(mean[-1]), "sem_J": float(sem[-1])}

    pv = supply.pv_hourly(**supply.pv_arguments(cfg["supply"]["solar"]))
    cases = studies.day_night_supplies(pv["ac_W"], float(rw["amplitude"]))
    storage = {
        h: supply.daily_storage(
            cases[(h, "flat")].harvest_model(mean_J, 0.0, dt_s).hourly_W, mean_J / dt_s
        )
        for h in ("tmy", "day-night")
    }
    write_json(
        {
            "site": pv["site"],
            "annual_yield_kWh_per_kW": float(pv["ac_W"].sum()) / 1000.0,
            "solar_peak_hour": supply.solar_peak_hour(pv["ac_W"]),
            "mean_load_W": mean_J / dt_s,
            "dt_s": dt_s,
            "trials": int(rw["trials"]),
            "horizon_slots": end,
            "horizon_days": end * dt_s / SECONDS_PER_DAY,
            "amplitude": float(rw["amplitude"]),
            "seed": int(cfg["montecarlo"]["seed"]),
            "rows": _records(at_end.reset_index()),
            "cycle_cost": diff(("day-night", "flat")),
            "weather_cost": diff(("tmy", "flat")),
            "aligned_saving": diff(("day-night", "flat"), ("day-night", "aligned")),
            "misaligned_cost": diff(("day-night", "misaligned"), ("day-night", "flat")),
            "storage": storage,
        },
        part_json,
    )


def site_storage(cfg: dict, *, grid_nc, dataset, part_json, threads: int = 1) -> None:
    """The storage grid at the ``supply.solar`` site against the i.i.d. harvest
    (docs/model.md §12.7, §13): :func:`energy_routing.engine.studies.site_storage_study`,
    written as NetCDF, and a JSON part with the mean auxiliary energy per day of every
    design (paired on common arrivals) and the trace's deterministic storage."""
    from energy_routing.engine import studies
    from energy_routing.stages import load_dataset, with_threads, write_study

    grid = load_dataset(grid_nc)
    ds = studies.site_storage_study(grid, with_threads(cfg, threads))
    title = "energy-routing storage grid at a real PV site (docs/model.md §13)"
    write_study(ds, cfg, "site_storage", title, dataset)
    write_json(site_storage_summary(ds, float(cfg["dt_s"])), part_json)


def site_storage_summary(ds, dt_s: float) -> dict:
    """Per harvest, provisioning and capacity: mean auxiliary energy per day with its
    standard error [kWh/day], and the tmy harvest's excess over the i.i.d. harvest, paired
    trial by trial (docs/model.md §13)."""
    per_day = SECONDS_PER_DAY / dt_s / 3.6e6  # J/slot -> kWh/day
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
        "load_kW": hour_J / 3.6e6,
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
