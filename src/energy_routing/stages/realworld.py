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
                 critical point, against the i.i.d. harvest of the same mean, and how much
                 storage the swing needs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from energy_routing.atomic import atomic_output, write_json

SECONDS_PER_DAY = 86400.0
#: The day-night study reports its deficit every this many hours, and at its horizon.
REPORT_EVERY_H = 6.0
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
                }
            )
    c = cfg["carbon"]
    labels = {f"{r['scenario']}|{r['routing_error']:g}|{r['consumption']}": r for r in rows}
    out = co2.summary({k: r["aux_J"] for k, r in labels.items()}, c["region"], c["source"])
    for key, r in labels.items():
        r["aux_kWh"] = out["aux"][key]["aux_kWh"]
        r["kg_co2e"] = out["aux"][key]["kg_co2e"]
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


def study_horizons(horizon_days: float, dt_s: float) -> np.ndarray:
    """Horizons of the day-night study [slots]: every 6 hours, and the horizon itself."""
    end = max(1, round(horizon_days * SECONDS_PER_DAY / dt_s))
    step = REPORT_EVERY_H * 3600.0 / dt_s
    marks = [round(k * step) for k in range(1, int(end / step) + 1)]
    return np.unique(np.array([m for m in marks if 1 <= m <= end] + [end], dtype=np.int64))


def day_night(cfg: dict, *, grid_nc, table_csv, part_json) -> None:
    """What the day-night cycle costs at the critical point of the configured task grid
    (docs/model.md §13).

    Runs :func:`energy_routing.supply.day_night_study` at R_bar = C_LB with the grid's
    lower-bound energies and mix, the harvest variance of ``harvest.variance_scale``, the
    PV array of ``supply.solar`` and ``realworld`` (trials, horizon_days, amplitude);
    seeds from ``montecarlo.seed``. Writes every (harvest, load, horizon) row and a JSON
    part with the extra auxiliary energy over the i.i.d. harvest at the horizon, the
    storage the swing needs and the site.
    """
    from energy_routing import supply
    from energy_routing.stages import load_dataset

    grid = load_dataset(grid_nc)
    rw, solar = cfg["realworld"], cfg["supply"]["solar"]
    dt_s = float(cfg["dt_s"])
    mean_J = float(grid["c_lb_J_per_slot"])
    var_J2 = cfg["harvest"]["variance_scale"] * float(grid["consumption_var_J2_per_slot"])
    horizons = study_horizons(rw["horizon_days"], dt_s)
    pv_args = {
        "weather": solar["weather_file"],
        "tilt_deg": solar["tilt_deg"],
        "azimuth_deg": solar["azimuth_deg"],
        "system_losses": solar["system_losses"],
    }
    rows, storage = supply.day_night_study(
        grid["e_lb_J"].to_numpy(),
        grid["mix"].to_numpy(),
        float(cfg["arrival_rate"]),
        mean_J,
        var_J2,
        horizons,
        int(rw["trials"]),
        seed=int(cfg["montecarlo"]["seed"]),
        dt_s=dt_s,
        amplitude=float(rw["amplitude"]),
        solar=pv_args,
    )
    extra = [r for r in supply.day_night_summary(rows) if "harvest" in r]

    with atomic_output(table_csv) as tmp:
        pd.DataFrame(extra).to_csv(tmp, index=False)
    end = int(horizons[-1])
    at_end = {(r["harvest"], r["load"]): r for r in extra if r["horizon_slots"] == end}

    def diff(a, b) -> dict:
        ra, rb = at_end[a], at_end[b]
        return {
            "mean_J": ra["mean_J"] - rb["mean_J"],
            "sem_J": math.hypot(ra["sem_J"], rb["sem_J"]),
        }

    pv = supply.pv_hourly(**pv_args)
    annual_kWh_per_kW = float(pv["ac_W"].sum()) / 1000.0
    write_json(
        {
            "site": pv["site"],
            "annual_yield_kWh_per_kW": annual_kWh_per_kW,
            "solar_peak_hour": supply.solar_peak_hour(pv["ac_W"]),
            "mean_load_W": mean_J / dt_s,
            "harvest_var_J2": var_J2,
            "dt_s": dt_s,
            "trials": int(rw["trials"]),
            "horizon_slots": end,
            "horizon_days": end * dt_s / SECONDS_PER_DAY,
            "amplitude": float(rw["amplitude"]),
            "seed": int(cfg["montecarlo"]["seed"]),
            "rows": [
                {k: r[k] for k in ("harvest", "load", "mean_J", "sem_J", "extra_J", "extra_sem_J")}
                for r in at_end.values()
            ],
            "cycle_cost": diff(("day-night", "flat"), ("iid", "flat")),
            "weather_cost": diff(("tmy", "flat"), ("iid", "flat")),
            "aligned_saving": diff(("day-night", "flat"), ("day-night", "aligned")),
            "misaligned_cost": diff(("day-night", "misaligned"), ("day-night", "flat")),
            "storage": storage,
        },
        part_json,
    )
