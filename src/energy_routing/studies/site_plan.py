"""The planner at a real site: a grid of PV x battery designs over simulated years, a cost
model, and the cheapest design that meets a renewable target (docs/model.md §15).

* :func:`design_grid` runs :func:`energy_routing.studies.site_year.simulate_design` on
  every (PV kWp, battery kWh, battery kW) design with the same simulated years and returns
  a dataset of per-year metrics and typical-year values.
* :class:`CostModel` annualises capital costs over their lifetimes at a discount rate
  (capital recovery factor) and adds the grid energy and its carbon at their prices.
* :func:`plan` picks the cheapest design whose simulated years reach the target with at
  least the asked probability, and marks the cost-optimal frontier.
* :func:`site_main` and :func:`plan_main` are the ``energy-routing site`` and
  ``energy-routing site-plan`` commands.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np
import xarray as xr

from energy_routing.studies import site_year as sy
from energy_routing.studies.sizing import wilson_interval

#: Per-year metrics of :func:`design_grid` (UDUNITS unit), from
#: :func:`site_year.year_metrics`; energies and emissions are totals over one year.
METRIC_UNITS = {
    "renewable_fraction": "1",
    "pv_kWh_per_year": "kW h",
    "grid_kWh_per_year": "kW h",
    "spilled_kWh_per_year": "kW h",
    "full_cycles_per_year": "1",
    "kg_co2e_per_year": "kg",
}

#: Words for each metric, the NetCDF long_name.
METRIC_NAMES = {
    "renewable_fraction": "share of the consumption served by PV directly or via the battery",
    "pv_kWh_per_year": "PV energy (AC) in the year",
    "grid_kWh_per_year": "grid (auxiliary) energy imported in the year",
    "spilled_kWh_per_year": "PV energy neither used nor stored in the year",
    "full_cycles_per_year": "equivalent full battery cycles in the year",
    "kg_co2e_per_year": "emissions of the grid energy in the year (kg CO2e)",
}


@dataclass(frozen=True)
class CostModel:
    """Levelised yearly cost of a design (docs/model.md §15), in US dollars.

    Defaults are the ``site_year.cost`` section of the config schema; their sources are in
    docs/model.md §15. Capital is annualised with the capital recovery factor
    ``r / (1 - (1 + r) ** -n)`` (``1 / n`` at ``r = 0``).

    Examples
    --------
    >>> round(crf(0.05, 25), 5)
    0.07095
    >>> float(CostModel().annual(10.0, 0.0, 0.0, 0.0, 0.0)["capital"]) == 16000 * crf(0.05, 25)
    True
    """

    pv_per_kwp: float = 1600.0
    battery_per_kwh: float = 400.0
    battery_per_kw: float = 250.0
    pv_lifetime_years: float = 25.0
    battery_lifetime_years: float = 12.0
    discount_rate: float = 0.05
    grid_price_per_kwh: float = 0.13
    carbon_price_per_kg: float = 0.19

    def __post_init__(self) -> None:
        for f in fields(self):
            value = float(getattr(self, f.name))
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"cost.{f.name}: must be a finite number >= 0, got {value!r}")
        for name in ("pv_lifetime_years", "battery_lifetime_years"):
            if getattr(self, name) < 1:
                raise ValueError(f"cost.{name}: must be >= 1 year, got {getattr(self, name)!r}")

    def annual(self, pv_kwp, battery_kwh, battery_kw, grid_kwh, kg_co2e) -> dict:
        """Yearly cost [USD/yr]: ``capital`` (annuities), ``grid``, ``carbon`` and
        ``total``; a battery of zero capacity costs nothing (its inverter neither)."""
        kw = np.where(np.asarray(battery_kwh) > 0, battery_kw, 0.0)
        capital = pv_kwp * self.pv_per_kwp * crf(self.discount_rate, self.pv_lifetime_years)
        capital = capital + (battery_kwh * self.battery_per_kwh + kw * self.battery_per_kw) * crf(
            self.discount_rate, self.battery_lifetime_years
        )
        grid = np.asarray(grid_kwh) * self.grid_price_per_kwh
        carbon = np.asarray(kg_co2e) * self.carbon_price_per_kg
        total = capital + grid + carbon
        return {"capital": capital, "grid": grid, "carbon": carbon, "total": total}

    @classmethod
    def from_config(cls, section: Mapping | None) -> CostModel:
        return cls(**{k: float(v) for k, v in dict(section or {}).items()})


def crf(rate: float, years: float) -> float:
    """Capital recovery factor [1/yr]: the yearly payment that repays one unit of capital
    over ``years`` at the discount ``rate``."""
    if rate == 0:
        return 1.0 / years
    return rate / (1.0 - (1.0 + rate) ** -years)


def _axis(values, name: str) -> np.ndarray:
    arr = np.unique(np.asarray([float(v) for v in values], dtype=float))
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name}: expected a non-empty list of finite numbers >= 0")
    return arr


def design_grid(
    pv_W,
    load_J,
    pv_kwp: Sequence[float],
    battery_kwh: Sequence[float],
    battery_kw: Sequence[float],
    *,
    g_co2e_per_kWh: float,
    years: int = 200,
    seed: int = 0,
    dt_s: float = sy.DEFAULT_SLOT_S,
    eta_charge: float = 0.95,
    eta_discharge: float = 0.95,
    self_discharge_per_day: float = 0.001,
) -> xr.Dataset:
    """Every design's metrics over the same simulated years (docs/model.md §15).

    Returns
    -------
    xarray.Dataset
        Dims ``pv_kwp``, ``battery_kwh``, ``battery_kw``, ``year``: the metrics of
        :data:`METRIC_UNITS` per simulated year, and with suffix ``_tmy`` in the typical
        year from steady state (without ``year``).
    """
    pv_ax = _axis(pv_kwp, "pv_kwp")
    kwh_ax = _axis(battery_kwh, "battery_kwh")
    kw_ax = _axis(battery_kw, "battery_kw")
    weather = sy.weather_years(pv_W, int(years) + 1, np.random.default_rng(seed))
    shape = (pv_ax.size, kwh_ax.size, kw_ax.size)
    per_year = {k: np.empty((*shape, int(years))) for k in METRIC_UNITS}
    tmy = {k: np.empty(shape) for k in METRIC_UNITS}
    for i, kwp in enumerate(pv_ax):
        for j, kwh in enumerate(kwh_ax):
            for k, kw in enumerate(kw_ax):
                bat = sy.Battery(kwh, kw, eta_charge, eta_discharge, self_discharge_per_day)
                if bat.empty and k > 0:  # no store: every power gives the same year
                    for name in METRIC_UNITS:
                        per_year[name][i, j, k] = per_year[name][i, j, 0]
                        tmy[name][i, j, k] = tmy[name][i, j, 0]
                    continue
                res = sy.simulate_design(
                    pv_W, kwp, load_J, bat, years=years, dt_s=dt_s, weather=weather
                )
                m_years = sy.year_metrics(res["years"], bat, g_co2e_per_kWh)
                m_tmy = sy.year_metrics(res["tmy"], bat, g_co2e_per_kWh)
                for name in METRIC_UNITS:
                    per_year[name][i, j, k] = m_years[name]
                    tmy[name][i, j, k] = m_tmy[name]
    dims = ("pv_kwp", "battery_kwh", "battery_kw")
    data = {}
    for name, unit in METRIC_UNITS.items():
        words = METRIC_NAMES[name]
        data[name] = ((*dims, "year"), per_year[name], {"units": unit, "long_name": words})
        data[f"{name}_tmy"] = (
            dims,
            tmy[name],
            {"units": unit, "long_name": f"{words}, TMY year from steady state"},
        )
    return xr.Dataset(
        data,
        coords={
            "pv_kwp": ("pv_kwp", pv_ax, {"units": "kW", "long_name": "PV array size (kWp)"}),
            "battery_kwh": (
                "battery_kwh",
                kwh_ax,
                {"units": "kW h", "long_name": "battery capacity (kWh)"},
            ),
            "battery_kw": (
                "battery_kw",
                kw_ax,
                {"units": "kW", "long_name": "battery charge and discharge power limit"},
            ),
            "year": ("year", np.arange(int(years)), {"long_name": "simulated weather year"}),
        },
        attrs={
            "slot_s": float(dt_s),
            "years": int(years),
            "seed": int(seed),
            "load_kWh_per_year": float(np.sum(load_J)) / 3.6e6,
            "g_co2e_per_kWh": float(g_co2e_per_kWh),
            "eta_charge": float(eta_charge),
            "eta_discharge": float(eta_discharge),
            "self_discharge_per_day": float(self_discharge_per_day),
            "resampling": "days resampled within their calendar month",
        },
    )


def plan(ds: xr.Dataset, cost: CostModel, target: float, confidence: float) -> dict:
    """The cheapest design of a :func:`design_grid` whose simulated years reach the
    renewable ``target`` with probability at least ``confidence`` (docs/model.md §15).

    A design qualifies when the share of its simulated years with renewable fraction >=
    ``target`` is at least ``confidence``; its ``margin`` is its (1 - confidence) quantile
    of the renewable fraction minus the target. Cost: :meth:`CostModel.annual` with the
    mean grid energy and carbon over the years. The ``frontier`` holds the designs no
    cheaper design beats on that quantile.

    Raises
    ------
    ValueError
        When no design qualifies (naming the best reached and what to change).
    """
    if not (0 < target < 1 and 0 < confidence < 1):
        raise ValueError("target-renewable and confidence must both lie in (0, 1)")
    rf = ds["renewable_fraction"].to_numpy()
    share = (rf >= target).mean(axis=-1)
    quant = np.quantile(rf, 1.0 - confidence, axis=-1)
    pv, kwh, kw = np.meshgrid(
        ds.pv_kwp.to_numpy(), ds.battery_kwh.to_numpy(), ds.battery_kw.to_numpy(), indexing="ij"
    )
    costs = cost.annual(
        pv,
        kwh,
        kw,
        ds["grid_kWh_per_year"].mean("year").to_numpy(),
        ds["kg_co2e_per_year"].mean("year").to_numpy(),
    )
    total = costs["total"]
    ok = share >= confidence
    if not ok.any():
        best = np.unravel_index(np.argmax(quant), quant.shape)
        raise ValueError(
            f"no design of the grid reaches renewable fraction {target:g} in {confidence:.0%} "
            f"of simulated years (the best, {pv[best]:g} kWp with {kwh[best]:g} kWh, reaches "
            f"{quant[best]:.3f}); give larger --pv-kwp or --battery-kwh values"
        )
    # Cheapest; ties to the smaller battery, then the smaller array.
    order = np.lexsort((pv.ravel(), kwh.ravel(), kw.ravel(), total.ravel()))
    pick = next(int(n) for n in order if ok.ravel()[n])
    idx = np.unravel_index(pick, total.shape)
    n_years = rf.shape[-1]
    hits = int((rf[idx] >= target).sum())
    frontier, best_q = [], -np.inf
    for n in order:
        if quant.ravel()[n] > best_q:
            best_q = quant.ravel()[n]
            frontier.append(np.unravel_index(int(n), total.shape))
    design = {
        "pv_kwp": float(pv[idx]),
        "battery_kwh": float(kwh[idx]),
        "battery_kw": float(kw[idx]) if kwh[idx] > 0 else 0.0,
    }
    return {
        "design": design,
        "index": tuple(int(i) for i in idx),
        "target_renewable": float(target),
        "confidence": float(confidence),
        "share_of_years_meeting_target": hits / n_years,
        "share_interval95": list(wilson_interval(hits, n_years)),
        "renewable_fraction_quantile": float(quant[idx]),
        "margin": float(quant[idx] - target),
        "cost_per_year": {k: float(v[idx]) for k, v in costs.items()},
        "designs_meeting_target": int(ok.sum()),
        "designs": int(ok.size),
        "frontier": [
            {
                "pv_kwp": float(pv[f]),
                "battery_kwh": float(kwh[f]),
                "battery_kw": float(kw[f]) if kwh[f] > 0 else 0.0,
                "renewable_fraction_quantile": float(quant[f]),
                "cost_per_year": float(total[f]),
            }
            for f in frontier
        ],
        "quantile_grid": quant,
        "cost_grid": total,
    }


# --------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--weather",
        help="TMY file: one pvlib ships (723170TYA.CSV, 703165TY.csv, 12839.tm2) or the path "
        "of any TMY3/TMY2 file (default: the config's supply.solar.weather_file)",
    )
    p.add_argument("--tilt-deg", type=float, help="array tilt [deg] (default 25)")
    p.add_argument("--azimuth-deg", type=float, help="array azimuth, 180 = south [deg]")
    p.add_argument("--system-losses", type=float, help="PVWatts system losses [-] (0.14)")
    p.add_argument("--load-kw", type=float, help="constant load [kW]")
    p.add_argument(
        "--configfile",
        help="config: its workload's consumption is the load unless --load-kw is given, and "
        "its site_year, supply.solar and carbon sections give the defaults",
    )
    p.add_argument("--years", type=int, help="simulated weather years (default 200)")
    p.add_argument("--seed", type=int, help="seed of the weather draws")
    p.add_argument("--slot-s", type=float, help="slot length dividing 3600 [s] (default 3600)")
    p.add_argument("--region", help="carbon region of the grid energy (default: config's)")
    p.add_argument("--eta-charge", type=float)
    p.add_argument("--eta-discharge", type=float)
    p.add_argument("--self-discharge-per-day", type=float)
    p.add_argument("--json", action="store_true", help="print JSON")


def _setup(args) -> dict:
    """Config (the file's, or the schema's defaults), PV per kWp, load and carbon."""
    from energy_routing import config
    from energy_routing.supply.carbon import intensity

    if args.configfile:
        cfg = config.load(args.configfile)
    else:
        cfg = {k: config.section_defaults(k) for k in ("site_year", "supply", "carbon")}
    sec = dict(cfg["site_year"])
    for key in ("years", "seed", "slot_s", "eta_charge", "eta_discharge", "self_discharge_per_day"):
        if getattr(args, key, None) is not None:
            sec[key] = getattr(args, key)
    if int(sec["years"]) < 2:
        raise ValueError(f"--years: at least 2 simulated years are needed, got {sec['years']}")
    dt = sy.check_slot(sec["slot_s"])
    solar = dict(cfg["supply"]["solar"])
    for key, lo, hi in (("tilt_deg", 0, 90), ("azimuth_deg", 0, 360), ("system_losses", 0, 1)):
        value = getattr(args, key)
        if value is not None:
            if not lo <= value <= hi:
                flag = "--" + key.replace("_", "-")
                raise ValueError(f"{flag}: must lie in [{lo}, {hi}], got {value}")
            solar[key] = value
    weather = args.weather or solar["weather_file"]
    pv = sy.site_pv(
        weather,
        tilt_deg=solar["tilt_deg"],
        azimuth_deg=solar["azimuth_deg"],
        system_losses=solar["system_losses"],
    )
    if args.load_kw is not None:
        load_J, load_words = sy.constant_load(args.load_kw, dt), f"constant {args.load_kw:g} kW"
    elif args.configfile:
        load_J, load_words = sy.workload_load(cfg, dt)
    elif sec["load_kw"] is not None:
        load_J, load_words = sy.constant_load(sec["load_kw"], dt), f"constant {sec['load_kw']} kW"
    else:
        raise ValueError("give the load: --load-kw, or --configfile for a workload's consumption")
    carbon = intensity(args.region or cfg["carbon"]["region"], cfg["carbon"]["source"])
    return {
        "cfg": cfg,
        "sec": sec,
        "dt": dt,
        "pv": pv,
        "load_J": load_J,
        "load_words": load_words,
        "carbon": carbon,
        "mean_load_kw": float(np.sum(load_J)) / (365 * 86400.0) / 1000.0,
    }


NOT_APPLICABLE = (
    "not applicable: the year serves every load as it arrives (no policy defers work), so "
    "no deadline is missed by construction"
)


def _header(s: dict, weather: str) -> dict:
    return {
        "site": s["pv"]["site"]["name"],
        "weather": weather,
        "load": s["load_words"],
        "load_kWh_per_year": float(np.sum(s["load_J"])) / 3.6e6,
        "slot_s": s["dt"],
        "years": int(s["sec"]["years"]),
        "seed": int(s["sec"]["seed"]),
        "weather_years": "days resampled within their calendar month; store from its "
        "periodic steady state, then one warm-up year",
        "carbon_region": s["carbon"].region,
        "g_co2e_per_kWh": s["carbon"].g_per_kWh,
        "missed_deadlines": None,
        "missed_deadlines_note": NOT_APPLICABLE,
    }


def site_main(argv: Sequence[str]) -> int:
    """``energy-routing site``: one design over the typical year and simulated years."""
    p = argparse.ArgumentParser(
        prog="energy-routing site",
        description="One PV + battery design at a TMY site over a year: renewable fraction, "
        "grid, spilled and PV energy, battery cycles and carbon, with 95% intervals across "
        "simulated weather years (docs/model.md §15).",
    )
    p.add_argument("--pv-kwp", type=float, required=True, help="PV array [kWp]")
    p.add_argument("--battery-kwh", type=float, default=0.0, help="battery capacity [kWh]")
    p.add_argument("--battery-kw", type=float, help="battery power limit [kW] (default: kWh / 4 h)")
    _common(p)
    args = p.parse_args(list(argv))
    s = _setup(args)
    sec = s["sec"]
    kw = args.battery_kw if args.battery_kw is not None else args.battery_kwh / 4.0
    bat = sy.Battery(
        args.battery_kwh, kw, sec["eta_charge"], sec["eta_discharge"], sec["self_discharge_per_day"]
    )
    res = sy.simulate_design(
        s["pv"]["pv_W_per_kWp"],
        args.pv_kwp,
        s["load_J"],
        bat,
        years=int(sec["years"]),
        seed=int(sec["seed"]),
        dt_s=s["dt"],
    )
    out = _header(s, args.weather or s["cfg"]["supply"]["solar"]["weather_file"])
    out["design"] = {"pv_kwp": args.pv_kwp, "battery_kwh": args.battery_kwh, "battery_kw": kw}
    out["battery"] = {k: v for k, v in asdict(bat).items() if k not in ("kwh", "kw")}
    out["steady_state_kWh_on_1_january"] = res["s0_J"] / 3.6e6
    out.update(sy.summarise(res, bat, s["carbon"].g_per_kWh))
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(
        f"{out['site']}: {args.pv_kwp:g} kWp PV, {args.battery_kwh:g} kWh / {kw:g} kW battery, "
        f"load {out['load']} ({out['load_kWh_per_year']:.0f} kWh/yr); {out['years']} "
        f"simulated years, mean [95% interval of one year]; TMY year"
    )
    for key, unit in METRIC_UNITS.items():
        lo, hi = out[f"{key}_interval95"]
        print(
            f"  {key:24s} {out[key]:11.4g} [{lo:.4g}, {hi:.4g}]  TMY {out[key + '_tmy']:.4g}"
            f"{'' if unit == '1' else ' ' + unit.replace('kW h', 'kWh')}"
        )
    print(f"  missed deadlines: {NOT_APPLICABLE}")
    return 0


def plan_main(argv: Sequence[str]) -> int:
    """``energy-routing site-plan``: the cheapest design of a grid meeting a target."""
    p = argparse.ArgumentParser(
        prog="energy-routing site-plan",
        description="The cheapest PV + battery design of a grid whose simulated weather years "
        "reach a renewable fraction with a given probability, under a levelised cost model "
        "(docs/model.md §15). Grid defaults: the config's site_year grid times the mean load.",
    )
    p.add_argument("--target-renewable", type=float, help="renewable fraction to reach")
    p.add_argument("--confidence", type=float, help="share of years that must reach it")
    p.add_argument("--pv-kwp", type=float, nargs="+", help="array sizes [kWp]")
    p.add_argument("--battery-kwh", type=float, nargs="+", help="capacities [kWh] (0: none)")
    p.add_argument("--battery-kw", type=float, nargs="+", help="power limits [kW]")
    for f in fields(CostModel):
        p.add_argument(f"--{f.name.replace('_', '-')}", type=float, help=f"cost.{f.name}")
    _common(p)
    args = p.parse_args(list(argv))
    s = _setup(args)
    sec = s["sec"]
    target = args.target_renewable if args.target_renewable is not None else sec["target_renewable"]
    conf = args.confidence if args.confidence is not None else sec["confidence"]
    cost_cfg = dict(sec["cost"])
    for f in fields(CostModel):
        if getattr(args, f.name) is not None:
            cost_cfg[f.name] = getattr(args, f.name)
    cost = CostModel.from_config(cost_cfg)
    load_kw = s["mean_load_kw"]
    grid_axes = {
        "pv_kwp": args.pv_kwp or [load_kw * v for v in sec["pv_kwp_per_kw"]],
        "battery_kwh": args.battery_kwh or [load_kw * v for v in sec["battery_hours"]],
        "battery_kw": args.battery_kw or [load_kw * v for v in sec["battery_kw_per_kw"]],
    }
    ds = design_grid(
        s["pv"]["pv_W_per_kWp"],
        s["load_J"],
        **grid_axes,
        g_co2e_per_kWh=s["carbon"].g_per_kWh,
        years=int(sec["years"]),
        seed=int(sec["seed"]),
        dt_s=s["dt"],
        eta_charge=sec["eta_charge"],
        eta_discharge=sec["eta_discharge"],
        self_discharge_per_day=sec["self_discharge_per_day"],
    )
    result = plan(ds, cost, target, conf)
    out = _header(s, args.weather or s["cfg"]["supply"]["solar"]["weather_file"])
    out.update({k: v for k, v in result.items() if not k.endswith("_grid") and k != "index"})
    out["cost_model"] = asdict(cost)
    idx = result["index"]
    chosen = ds.isel(pv_kwp=idx[0], battery_kwh=idx[1], battery_kw=idx[2])
    for key in METRIC_UNITS:
        v = chosen[key].to_numpy()
        out[key] = float(v.mean())
        out[f"{key}_interval95"] = [float(q) for q in np.quantile(v, [0.025, 0.975])]
        out[f"{key}_tmy"] = float(chosen[f"{key}_tmy"])
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    d = result["design"]
    c = result["cost_per_year"]
    print(
        f"{out['site']}, load {out['load']}: cheapest of {result['designs']} designs reaching "
        f"renewable fraction {target:g} in at least {conf:.0%} of {out['years']} simulated years"
    )
    print(
        f"  design: {d['pv_kwp']:.4g} kWp PV, {d['battery_kwh']:.4g} kWh / "
        f"{d['battery_kw']:.4g} kW battery"
    )
    print(
        f"  cost: {c['total']:.0f} USD/yr (capital {c['capital']:.0f}, grid {c['grid']:.0f}, "
        f"carbon {c['carbon']:.0f})"
    )
    lo, hi = result["share_interval95"]
    print(
        f"  margin: {result['margin']:+.3f} (renewable fraction reached in "
        f"{1 - conf:.0%}-quantile year {result['renewable_fraction_quantile']:.3f}; "
        f"{result['share_of_years_meeting_target']:.0%} of years meet it, 95% interval "
        f"{lo:.0%}-{hi:.0%})"
    )
    print(
        f"  mean renewable fraction {out['renewable_fraction']:.3f}, grid "
        f"{out['grid_kWh_per_year']:.0f} kWh/yr, spilled {out['spilled_kWh_per_year']:.0f} "
        f"kWh/yr, {out['kg_co2e_per_year']:.0f} kg CO2e/yr"
    )
    return 0


# --------------------------------------------------------------------------------------
# The pipeline's study: every configured site
# --------------------------------------------------------------------------------------


def site_year_study(cfg: Mapping, grid=None) -> tuple[xr.Dataset, dict]:
    """The ``site_year`` section at every site (docs/model.md §15): the design grid
    (relative to the mean load) over simulated years, and the planner's design.

    Parameters
    ----------
    cfg : mapping
        Validated config (``site_year``, ``supply.solar`` for the array, ``carbon``, and
        the workload when ``site_year.load_kw`` is null).
    grid : xarray.Dataset, optional
        The config's task grid, for the workload's consumption.

    Returns
    -------
    (dataset, summary)
        The grids of every site along ``site``, and per site its planner's result with
        the chosen design's metrics (mean, 95 % interval across years, TMY value) and
        the contour data of the figure.
    """
    from energy_routing.supply.carbon import intensity

    sec = cfg["site_year"]
    dt = sy.check_slot(sec["slot_s"])
    if sec["load_kw"] is None:
        load_J, load_words = sy.workload_load(cfg, dt, grid)
    else:
        load_J, load_words = sy.constant_load(sec["load_kw"], dt), f"constant {sec['load_kw']} kW"
    load_kw = float(np.sum(load_J)) / (365 * 86400.0) / 1000.0
    carbon = intensity(cfg["carbon"]["region"], cfg["carbon"]["source"])
    cost = CostModel.from_config(sec["cost"])
    solar = cfg["supply"]["solar"]
    target, conf = float(sec["target_renewable"]), float(sec["confidence"])
    parts, sites = [], []
    for weather in sec["weather_files"]:
        pv = sy.site_pv(
            weather,
            tilt_deg=solar["tilt_deg"],
            azimuth_deg=solar["azimuth_deg"],
            system_losses=solar["system_losses"],
        )
        ds = design_grid(
            pv["pv_W_per_kWp"],
            load_J,
            [load_kw * v for v in sec["pv_kwp_per_kw"]],
            [load_kw * v for v in sec["battery_hours"]],
            [load_kw * v for v in sec["battery_kw_per_kw"]],
            g_co2e_per_kWh=carbon.g_per_kWh,
            years=int(sec["years"]),
            seed=int(sec["seed"]),
            dt_s=dt,
            eta_charge=sec["eta_charge"],
            eta_discharge=sec["eta_discharge"],
            self_discharge_per_day=sec["self_discharge_per_day"],
        )
        entry = {
            "site": pv["site"]["name"],
            "weather_file": weather,
            "description": pv["site"]["description"],
            "pv_kWh_per_kWp": float(pv["pv_W_per_kWp"].sum()) / 1000.0,
        }
        try:
            result = plan(ds, cost, target, conf)
        except ValueError as err:
            entry["plan_error"] = str(err)
            result = None
        if result is not None:
            idx = result["index"]
            chosen = ds.isel(pv_kwp=idx[0], battery_kwh=idx[1], battery_kw=idx[2])
            metrics = {}
            for key in METRIC_UNITS:
                v = chosen[key].to_numpy()
                metrics[key] = float(v.mean())
                metrics[f"{key}_interval95"] = [float(q) for q in np.quantile(v, [0.025, 0.975])]
                metrics[f"{key}_tmy"] = float(chosen[f"{key}_tmy"])
            entry.update({k: v for k, v in result.items() if not k.endswith("_grid")})
            entry["index"] = list(idx)
            entry["metrics"] = metrics
            entry["contour"] = {
                "battery_kw": float(ds.battery_kw[idx[2]]),
                "renewable_fraction_mean": ds["renewable_fraction"]
                .mean("year")
                .isel(battery_kw=idx[2])
                .to_numpy()
                .tolist(),
                "renewable_fraction_quantile": result["quantile_grid"][:, :, idx[2]].tolist(),
            }
        sites.append(entry)
        parts.append(ds.expand_dims(site=[weather]))
    out = xr.concat(parts, dim="site", combine_attrs="override")
    out["site"].attrs = {"long_name": "TMY weather file of the site"}
    out.attrs.update(
        load=load_words,
        carbon_region=carbon.region,
        target_renewable=target,
        confidence=conf,
    )
    summary = {
        "load": load_words,
        "load_kW": load_kw,
        "load_kWh_per_year": load_kw * 8760.0,
        "slot_s": dt,
        "years": int(sec["years"]),
        "seed": int(sec["seed"]),
        "resampling": "days resampled within their calendar month",
        "steady_state": "periodic fixed point of the TMY year, then one warm-up year",
        "target_renewable": target,
        "confidence": conf,
        "carbon_region": carbon.region,
        "g_co2e_per_kWh": carbon.g_per_kWh,
        "cost_model": asdict(cost),
        "battery": {
            k: float(sec[k]) for k in ("eta_charge", "eta_discharge", "self_discharge_per_day")
        },
        "axes": {
            "pv_kwp": [float(v) for v in out.pv_kwp.to_numpy()],
            "battery_kwh": [float(v) for v in out.battery_kwh.to_numpy()],
            "battery_kw": [float(v) for v in out.battery_kw.to_numpy()],
        },
        "missed_deadlines": None,
        "missed_deadlines_note": NOT_APPLICABLE,
        "sites": sites,
    }
    return out, summary
