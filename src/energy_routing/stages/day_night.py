"""Stage ``day_night``: what the day-night cycle of a real PV array costs in auxiliary
energy at the critical point, against the i.i.d. harvest of the same mean, paired trial by
trial on the engine (:func:`energy_routing.studies.site.day_night_study`, docs/model.md
§13).
"""

from __future__ import annotations

from energy_routing.io.atomic import atomic_output, write_json
from energy_routing.stages.common import load_dataset, records, with_threads
from energy_routing.studies import site
from energy_routing.supply import solar
from energy_routing.units import SECONDS_PER_DAY


def day_night(cfg: dict, *, grid_nc, table_csv, part_json, threads: int = 1) -> None:
    """What the day-night cycle costs at the critical point of the configured workload
    (docs/model.md §13).

    Runs :func:`energy_routing.studies.site.day_night_study` (the engine, paired on
    common random numbers) and writes every (harvest, load, horizon) row and a JSON part
    with the extra auxiliary energy over the i.i.d. harvest at the horizon (paired
    standard errors), the storage the trace's swing needs and the site.
    """

    grid = load_dataset(grid_nc)
    ds = site.day_night_study(grid, with_threads(cfg, threads))
    table = site.day_night_rows(ds)
    with atomic_output(table_csv) as tmp:
        table.to_csv(tmp, index=False)
    rw, dt_s = cfg["realworld"], float(cfg["dt_s"])
    mean_J = float(grid["c_lb_J_per_slot"])
    end = int(table["horizon_slots"].max())
    at_end = table[table["horizon_slots"] == end].set_index(["harvest", "load"])

    def diff(a, b=("iid", "flat")) -> dict:
        mean, sem = site.day_night_difference(ds, a, b)
        return {"mean_J": float(mean[-1]), "sem_J": float(sem[-1])}

    pv = solar.pv_hourly(**solar.pv_arguments(cfg["supply"]["solar"]))
    cases = site.day_night_supplies(pv["ac_W"], float(rw["amplitude"]))
    storage = {
        h: solar.daily_storage(
            cases[(h, "flat")].harvest_model(mean_J, 0.0, dt_s).hourly_W, mean_J / dt_s
        )
        for h in ("tmy", "day-night")
    }
    write_json(
        {
            "site": pv["site"],
            "annual_yield_kWh_per_kW": float(pv["ac_W"].sum()) / 1000.0,
            "solar_peak_hour": solar.solar_peak_hour(pv["ac_W"]),
            "mean_load_W": mean_J / dt_s,
            "dt_s": dt_s,
            "trials": int(rw["trials"]),
            "horizon_slots": end,
            "horizon_days": end * dt_s / SECONDS_PER_DAY,
            "amplitude": float(rw["amplitude"]),
            "seed": int(cfg["montecarlo"]["seed"]),
            "rows": records(at_end.reset_index()),
            "cycle_cost": diff(("day-night", "flat")),
            "weather_cost": diff(("tmy", "flat")),
            "aligned_saving": diff(("day-night", "flat"), ("day-night", "aligned")),
            "misaligned_cost": diff(("day-night", "misaligned"), ("day-night", "flat")),
            "storage": storage,
        },
        part_json,
    )
