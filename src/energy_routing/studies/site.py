"""Studies at a real PV site: what the day-night cycle costs, and the storage it needs
(docs/model.md §12.7, §13).

:func:`day_night_study` runs the engine at the critical point for every harvest (i.i.d.,
day-night, TMY) and load (flat, aligned with the sun, misaligned) of
:func:`day_night_supplies`, with the same arrivals for the same load, so that
:func:`day_night_difference` and :func:`day_night_rows` give each case's extra deficit [J]
over a baseline with a paired standard error, at the horizons of :func:`study_horizons`.
:func:`site_storage_study` runs the storage grid at the ``supply.solar`` site against the
i.i.d. harvest of the same mean. Both read ``realworld`` and the PV array of ``supply.solar``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from energy_routing.engine.driver import log_checkpoints, simulate
from energy_routing.engine.streams import scenario_key
from energy_routing.model import grids
from energy_routing.studies.paired import _sem
from energy_routing.studies.sections import REPORT_EVERY_H, _mc, _store_and_engine
from energy_routing.studies.storage import storage_grid
from energy_routing.supply.solar import daily_storage, pv_arguments, pv_hourly, solar_peak_hour
from energy_routing.supply.supply import Supply
from energy_routing.units import SECONDS_PER_DAY, SECONDS_PER_HOUR

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
    ``amplitude`` peaking at the array's :func:`~energy_routing.supply.solar.solar_peak_hour`
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
    step = REPORT_EVERY_H * SECONDS_PER_HOUR / dt_s
    marks = [round(k * step) for k in range(1, int(end / step) + 1)]
    return np.unique(np.array([m for m in marks if 1 <= m <= end] + [end], dtype=np.int64))


def site_storage_study(grid: xr.Dataset, cfg: Mapping) -> xr.Dataset:
    """How much storage the day-night swing needs at the ``supply.solar`` site, through
    the engine (docs/model.md §12.7, §13).

    :func:`~energy_routing.studies.storage.storage_grid` over ``realworld.storage``
    (provisioning, capacity_hours, trials, horizon_days), myopic routing, lumped consumption,
    with the store losses of ``storage_grid``, for the i.i.d. harvest and the site's
    ``tmy`` harvest (:func:`day_night_supplies`, flat load). Both share the key
    ``"site_storage"``, so every design sees the same arrivals.

    Returns
    -------
    xarray.Dataset
        The storage grid's variables with a leading ``harvest`` dimension (``iid``,
        ``tmy``); attributes ``c_lb_J_per_slot`` and the deterministic storage of the
        trace at critical load (:func:`~energy_routing.supply.solar.daily_storage`, J).
    """
    rw, mc = cfg["realworld"], _mc(cfg)
    st = rw["storage"]
    pv = pv_hourly(**pv_arguments(cfg["supply"]["solar"]))["ac_W"]
    tmy = day_night_supplies(pv, 0.0)[("tmy", "flat")]
    horizon = max(10, round(float(st["horizon_days"]) * SECONDS_PER_DAY / float(cfg["dt_s"])))
    c_lb, dt_s = float(grid["c_lb_J_per_slot"]), float(cfg["dt_s"])
    hour_J = c_lb * SECONDS_PER_HOUR / dt_s  # one hour of the critical load [J]
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
