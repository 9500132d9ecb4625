"""A whole year at a real site: PV, a battery and a load, with weather uncertainty
(docs/model.md §15).

* :func:`site_pv` is the array's hourly AC power per kWp over the weather file's typical
  year (:func:`energy_routing.supply.solar.pv_hourly`; the PVWatts chain is linear in
  the array size, so one kWp is computed once and scaled).
* :func:`constant_load` and :func:`workload_load` give the consumption of every slot of a
  year [J]: a constant power, or the configured workload's expected consumption (arrivals
  following ``load``'s daily cycle, each served at the energy law's e_LB).
* :func:`weather_years` draws simulated years: every day takes the weather of a day drawn
  uniformly from the same calendar month of the file
  (:func:`energy_routing.supply.harvests.same_month_day`), so every month's expected
  total is the file's.
* :func:`simulate_design` walks the store (:func:`energy_routing.engine.storage.walk_years`,
  the one home of the bookkeeping) through the typical year from its periodic fixed point
  (:func:`steady_state`), then through one discarded warm-up year and ``years`` simulated
  years, each starting where the previous ended; :func:`summarise` gives the planner's
  metrics with their mean, standard error and 95 % interval across simulated years.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from energy_routing.engine.storage import YEAR_COLUMNS, Storage, walk_years
from energy_routing.supply.harvests import same_month_day
from energy_routing.supply.load import diurnal_rate
from energy_routing.supply.solar import pv_hourly
from energy_routing.units import HOURS_PER_DAY, J_PER_KWH, SECONDS_PER_DAY, SECONDS_PER_HOUR

#: Hours in the typical year.
YEAR_HOURS = 365 * HOURS_PER_DAY

#: The default slot [s]: one hour, the resolution of the weather file (tested against 60 s).
DEFAULT_SLOT_S = 3600.0


@dataclass(frozen=True)
class Battery:
    """A battery design (docs/model.md §15).

    Parameters
    ----------
    kwh : float
        Usable capacity [kWh], >= 0 (0: no battery).
    kw : float
        Largest charging and discharging power, AC side [kW], >= 0.
    eta_charge, eta_discharge : float
        Charging and discharging efficiency [1], in (0, 1].
    self_discharge_per_day : float
        Fraction of the stored energy lost per day [1/day], in [0, 1).

    Examples
    --------
    >>> Battery(20.0, 5.0).store(3600.0)[4] / 3.6e6
    5.0
    >>> Battery(-1.0, 5.0)
    Traceback (most recent call last):
    ...
    ValueError: battery_kwh: must be a finite number >= 0, got -1.0
    """

    kwh: float
    kw: float
    eta_charge: float = 0.95
    eta_discharge: float = 0.95
    self_discharge_per_day: float = 0.001

    def __post_init__(self) -> None:
        for name, value in (("battery_kwh", self.kwh), ("battery_kw", self.kw)):
            if not (math.isfinite(float(value)) and float(value) >= 0):
                raise ValueError(f"{name}: must be a finite number >= 0, got {value!r}")
        Storage(1.0, self.eta_charge, self.eta_discharge, self.self_discharge_per_day)

    @property
    def empty(self) -> bool:
        """No store: zero capacity or zero power."""
        return self.kwh == 0 or self.kw == 0

    def store(self, dt_s: float) -> tuple[float, float, float, float, float, float]:
        """``(capacity, eta_c, eta_d, keep, charge_max, discharge_max)`` of
        :func:`~energy_routing.engine.storage.store_step` for slots of ``dt_s`` [J, 1]:
        the daily self-discharge compounds to ``1 - (1 - d) ** (dt_s / 86400)`` per slot."""
        if self.empty:
            return 0.0, 1.0, 1.0, 1.0, 0.0, 0.0
        keep = (1.0 - self.self_discharge_per_day) ** (dt_s / SECONDS_PER_DAY)
        store = Storage(self.kwh * J_PER_KWH, self.eta_charge, self.eta_discharge, 1.0 - keep)
        limit = self.kw * 1000.0 * dt_s
        return store.capacity_J, store.eta_charge, store.eta_discharge, keep, limit, limit


def check_slot(dt_s: float) -> float:
    """A slot length that divides the hour [s] (power is held within the weather's hours)."""
    dt = float(dt_s)
    if not (dt > 0 and math.isfinite(dt)) or abs(SECONDS_PER_HOUR / dt - round(3600 / dt)) > 0:
        raise ValueError(f"slot_s: must divide 3600 s (e.g. 60, 900, 3600), got {dt_s!r}")
    return dt


def site_pv(weather: str = "723170TYA.CSV", **array) -> dict:
    """Hourly AC power per kWp of DC nameplate [W/kWp] over the typical year, and the site
    (docs/model.md §13-14); ``array`` is passed to :func:`pv_hourly` (tilt, azimuth,
    losses), at ``capacity_kw = 1``."""
    array = {k: v for k, v in array.items() if v is not None}
    array.pop("capacity_kw", None)
    pv = pv_hourly(weather=weather, capacity_kw=1.0, **array)
    return {"pv_W_per_kWp": pv["ac_W"], "site": pv["site"]}


def constant_load(load_kw: float, dt_s: float = DEFAULT_SLOT_S) -> np.ndarray:
    """Consumption of every slot of a year at a constant power [J]."""
    if not (math.isfinite(float(load_kw)) and float(load_kw) > 0):
        raise ValueError(f"load_kw: must be a finite number > 0, got {load_kw!r}")
    n = round(365 * SECONDS_PER_DAY / check_slot(dt_s))
    return np.full(n, float(load_kw) * 1000.0 * float(dt_s))


def workload_load(cfg: Mapping, dt_s: float = DEFAULT_SLOT_S, grid=None) -> tuple[np.ndarray, str]:
    """The configured workload's expected consumption in every slot of a year [J]
    (docs/model.md §13-14).

    Mean power ``C_LB / dt`` of the config (arrival rate x the mix's e_LB of the energy
    law, :func:`energy_routing.model.grids.task_grid`), shaped by the daily cycle of
    ``load`` (:func:`~energy_routing.supply.load.diurnal_rate`, integrated exactly over
    each slot, so every day holds the same energy for every slot length). The Poisson
    noise of the arrivals is left out: at the configured rate it moves a year's total by
    a relative ``1 / sqrt(arrivals per year)``, under 1e-3.

    ``grid`` is the config's task grid (:func:`energy_routing.model.grids.task_grid`),
    computed when not given.

    Returns
    -------
    (load_J, description)
    """
    from energy_routing.model import grids
    from energy_routing.supply.supply import Supply

    dt = check_slot(dt_s)
    grid = grids.task_grid(cfg) if grid is None else grid
    mean_W = float(grid["c_lb_J_per_slot"]) / float(cfg["dt_s"])
    supply = Supply.from_config(cfg)
    slots = np.arange(round(365 * SECONDS_PER_DAY / dt))
    shape = diurnal_rate(slots, dt, 1.0, supply.load_amplitude, supply.load_peak_hour)
    words = (
        f"configured workload, mean {mean_W / 1000.0:.3g} kW, "
        + supply.describe().split("; ", 1)[-1]
    )
    return mean_W * dt * shape, words


def weather_years(pv_W, years: int, rng: np.random.Generator) -> np.ndarray:
    """Simulated years of hourly power [W] (docs/model.md §15): every calendar day takes a
    day of the same month drawn uniformly (one uniform per day, in order).

    Returns
    -------
    ndarray (years, 8760)
    """
    days = np.asarray(pv_W, dtype=float).reshape(365, HOURS_PER_DAY)
    u = rng.random((int(years), 365))
    return days[same_month_day(np.arange(365)[None, :], u)].reshape(int(years), YEAR_HOURS)


def _walk(pv_W, kwp, load_J, dt_s, s0, store):
    return walk_years(
        np.ascontiguousarray(np.atleast_2d(pv_W), dtype=float),
        float(kwp),
        np.ascontiguousarray(load_J, dtype=float),
        float(dt_s),
        float(s0),
        *store,
    )


def steady_state(pv_W, kwp: float, load_J, battery: Battery, dt_s: float = DEFAULT_SLOT_S):
    """Stored energy at 1 January of the typical year replayed for ever [J]: the fixed
    point of s -> (content after one year started at s) (docs/model.md §15).

    That map is non-decreasing and moves two starts no further apart than they were, so
    iterating it from half full converges; it becomes constant once the store fills or
    empties in the year, which a design with any surplus or deficit does within a few
    years. Stops when a year moves the content by under 1e-9 of the capacity (at most
    200 years).
    """
    store = battery.store(dt_s)
    if store[0] == 0.0:
        return 0.0
    s = 0.5 * store[0]
    for _ in range(200):
        nxt = float(_walk(pv_W, kwp, load_J, dt_s, s, store)[0, -1])
        if abs(nxt - s) <= 1e-9 * store[0]:
            return nxt
        s = nxt
    return s


def simulate_design(
    pv_W,
    kwp: float,
    load_J,
    battery: Battery,
    *,
    years: int = 200,
    seed: int = 0,
    dt_s: float = DEFAULT_SLOT_S,
    weather=None,
) -> dict:
    """One design over the typical year and over simulated years (docs/model.md §15).

    Parameters
    ----------
    pv_W : array_like (8760,)
        Hourly AC power per kWp of the typical year [W/kWp] (:func:`site_pv`).
    kwp : float
        Array size [kWp], >= 0.
    load_J : array_like (n_slots,)
        Consumption of each slot of a year [J] (:func:`constant_load`, :func:`workload_load`).
    battery : Battery
    years : int
        Simulated years (0: the typical year only).
    seed : int
        Seed of the weather draws; the same seed gives every design the same years.
    dt_s : float
        Slot length [s], dividing 3600.
    weather : ndarray (years + 1, 8760), optional
        Pre-drawn weather (:func:`weather_years`, the first year is the warm-up), to share
        the draws between designs.

    Returns
    -------
    dict
        ``tmy`` (the typical year from its steady state) and ``years`` (per simulated
        year): arrays over :data:`~energy_routing.engine.storage.YEAR_COLUMNS` [J];
        ``s0_J`` the steady state.
    """
    if not (math.isfinite(float(kwp)) and float(kwp) >= 0):
        raise ValueError(f"pv_kwp: must be a finite number >= 0, got {kwp!r}")
    dt = check_slot(dt_s)
    pv = np.asarray(pv_W, dtype=float)
    load = np.asarray(load_J, dtype=float)
    if round(load.size * dt) != 365 * SECONDS_PER_DAY:
        raise ValueError(f"load: {load.size} slots of {dt:g} s are not one 365-day year")
    store = battery.store(dt)
    s0 = steady_state(pv, kwp, load, battery, dt)
    tmy = _walk(pv, kwp, load, dt, s0, store)[0]
    out = {"tmy": dict(zip(YEAR_COLUMNS, tmy, strict=True)), "s0_J": s0}
    if years > 0 or weather is not None:
        if weather is None:
            weather = weather_years(pv, int(years) + 1, np.random.default_rng(seed))
        per_year = _walk(weather, kwp, load, dt, s0, store)[1:]
        out["years"] = {k: per_year[:, j] for j, k in enumerate(YEAR_COLUMNS)}
    return out


def year_metrics(totals: Mapping, battery: Battery, g_co2e_per_kWh: float) -> dict:
    """The planner's metrics of one or many years from their energy totals
    (docs/model.md §15): ``renewable_fraction`` (consumption served by PV directly or
    through the store, ``1 - grid / load``), ``pv_kWh_per_year``, ``grid_kWh_per_year``,
    ``spilled_kWh_per_year``, ``direct_kWh_per_year``, ``load_kWh_per_year``,
    ``full_cycles_per_year`` (energy drawn from the store over its capacity; 0 without
    one) and ``kg_co2e_per_year`` (the grid energy at ``g_co2e_per_kWh``)."""
    load = np.asarray(totals["load_J"], dtype=float)
    grid = np.asarray(totals["grid_J"], dtype=float)
    cycles = (
        np.asarray(totals["drawn_J"]) / (battery.kwh * J_PER_KWH)
        if not battery.empty
        else np.zeros_like(grid)
    )
    return {
        "renewable_fraction": 1.0 - grid / load,
        "pv_kWh_per_year": np.asarray(totals["pv_J"]) / J_PER_KWH,
        "grid_kWh_per_year": grid / J_PER_KWH,
        "spilled_kWh_per_year": np.asarray(totals["spilled_J"]) / J_PER_KWH,
        "direct_kWh_per_year": np.asarray(totals["direct_J"]) / J_PER_KWH,
        "load_kWh_per_year": load / J_PER_KWH,
        "full_cycles_per_year": cycles,
        "kg_co2e_per_year": grid / J_PER_KWH * g_co2e_per_kWh / 1000.0,
    }


def summarise(result: Mapping, battery: Battery, g_co2e_per_kWh: float) -> dict:
    """Every metric of :func:`year_metrics` with, across simulated years, its mean,
    standard error of the mean (``_sem``) and 95 % interval (``_interval95``: the 2.5 and
    97.5 percentiles, where one year falls with probability 0.95), and its value in the
    typical year from steady state (``_tmy``)."""
    tmy = year_metrics(result["tmy"], battery, g_co2e_per_kWh)
    out = {}
    per_year = year_metrics(result["years"], battery, g_co2e_per_kWh) if "years" in result else {}
    for key, value in tmy.items():
        out[f"{key}_tmy"] = float(value)
        if key in per_year:
            v = per_year[key]
            out[key] = float(v.mean())
            out[f"{key}_sem"] = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else 0.0
            out[f"{key}_interval95"] = [float(q) for q in np.quantile(v, [0.025, 0.975])]
        else:
            out[key] = float(value)
    return out
