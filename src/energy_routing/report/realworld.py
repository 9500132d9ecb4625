"""The report's "Real-world inputs" section, built from ``summary.json`` (docs/model.md §13).

Calibration (energy per token *modelled here* next to the *external estimate*, never
mixed), the serving law and, beside it, the batched engine's serving study and regimes
(:mod:`energy_routing.report.serving`, docs/model.md §14), its sensitivity, the day-night
study with standard errors, and the carbon of the auxiliary energy with the intensity's
source and year. Energies are shown in kWh
(1 kWh = 3.6e6 J); summary.json keeps joules.
"""

from __future__ import annotations

import pandas as pd

from energy_routing.units import J_PER_KWH


def _kwh(x: float) -> float:
    return x / J_PER_KWH


def _pm(d: dict) -> str:
    """``mean ± sem`` of a ``{"mean_J", "sem_J"}`` dict, in kWh."""
    return f"{_kwh(d['mean_J']):.3g} ± {_kwh(d['sem_J']):.2g} kWh"


def section(s: dict) -> list[str]:
    """Markdown lines of the section; empty when the studies did not run."""
    from energy_routing.report import serving
    from energy_routing.report.tables import _table

    studies = {"carbon", "calibration", "day_night", "site_storage", "site_year"}
    if not studies & set(s):
        # Serving runs without the real-world studies: a section of its own.
        lines = serving.section(s)
        return ["## Serving under continuous batching", "", *lines] if lines else []
    out = ["## Real-world inputs", ""]
    out += [
        "Beyond the paper (docs/model.md §13): real accelerators and models, a real PV site "
        "and a real grid region. Everything is read offline from data files that PyPI "
        "packages ship.",
        "",
    ]
    if "calibration" in s:
        c = s["calibration"]
        out += ["### Calibration of the energy per token", ""]
        out += [
            "*Modelled here*: docs/model.md §1 with the catalogue's data-sheet constants "
            "(board power over bandwidth and FLOP/s), one output token at an empty cache, "
            f"batch 1 and batch {c['batch_size']}. *External estimate*: {c['external_source']}. "
            "The two are kept in separate columns; ratios are modelled here / external.",
            "",
            "Geometric mean of the ratios over the catalogue's models, per accelerator:",
            "",
        ]
        acc = pd.DataFrame(
            [{"accelerator": k, **v} for k, v in c["by_accelerator"].items()]
        ).rename(
            columns={
                "ratio_modelled_to_external_geomean": "ratio_modelled_to_external",
                "ratio_batch_to_external_gpu_geomean": "ratio_batch_to_external_gpu",
            }
        )
        out += [_table(acc, 3), ""]
        out += [f"Per model on the {c['reference_accelerator']}:", ""]
        out += [_table(pd.DataFrame(c["rows"]), 3), ""]
        if "serving_law" in c:
            out += serving_law_lines(c["serving_law"])
        # The batched engine's study sits next to the law it serves with (§14.2-14.3).
        out += serving.section(s)
        sens = pd.DataFrame(c["sensitivity"])
        sens = sens[sens["moved"] == "both"].copy()
        sens["changed_tasks"] = sens["changed_tasks"].replace("", "–")
        out += [
            "### Sensitivity to the energy constants",
            "",
            "Both e_mem and e_flop times a factor, the supply sized for the nominal hardware "
            "(so the drift moves), E[D_T] from the closed form at "
            f"T = {c['sensitivity_horizon_slots']:.3g} slots; the last column re-provisions "
            "the supply to the moved hardware (critical again). All three ways of moving the "
            "constants are in results/tables/sensitivity.csv.",
            "",
            _table(sens.drop(columns="moved"), 4),
            "",
        ]
    else:
        out += serving.section(s)  # the law's subsection needs the calibration stage
    if "day_night" in s:
        d = s["day_night"]
        site = d["site"]
        out += ["### What the day-night cycle costs", ""]
        out += [
            f"PV array ({site['description']}; pvlib's {site['weather_file']}; "
            f"{d['annual_yield_kWh_per_kW']:.0f} kWh per kW and year), scaled to the "
            f"critical point: mean harvest = C_LB = {d['mean_load_W']:.1f} W. The engine "
            f"runs the configured workload (myopic routing, lumped consumption), "
            f"{d['trials']} trials to {d['horizon_days']:.3g} day(s) from local midnight, "
            f"seed {d['seed']}; the loads have the same daily mean, the aligned and "
            f"misaligned ones a daily cycle of amplitude {d['amplitude']:g} peaking at "
            f"{d['solar_peak_hour']:.1f} h or 12 h later. Mean auxiliary energy at the "
            "horizon ± one standard error over trials, and the extra over the i.i.d. harvest "
            "with a flat load, paired trial by trial on common random numbers:",
            "",
        ]
        rows = pd.DataFrame(d["rows"])
        table = pd.DataFrame(
            {
                "harvest": rows["harvest"],
                "load": rows["load"],
                "mean_kWh": rows["mean_J"] / J_PER_KWH,
                "sem_kWh": rows["sem_J"] / J_PER_KWH,
                "extra_kWh": rows["extra_J"] / J_PER_KWH,
                "extra_sem_kWh": rows["extra_sem_J"] / J_PER_KWH,
            }
        )
        out += [_table(table, 3), ""]
        st = d["storage"]
        out += [
            f"- The day-night cycle alone (the array's mean day, every day) costs "
            f"**{_pm(d['cycle_cost'])}** more than the i.i.d. harvest: the first night must "
            f"be bought. Real weather (days resampled within their month) costs "
            f"{_pm(d['weather_cost'])} more.",
            f"- A load aligned with the sun saves {_pm(d['aligned_saving'])} under the "
            f"cycle; a misaligned one costs {_pm(d['misaligned_cost'])} more.",
            f"- Storage that carries each day's surplus through the night at this load: "
            f"**{_kwh(st['day-night']['daily_mean_J']):.2f} kWh** for the mean day; with the "
            f"real weather {_kwh(st['tmy']['daily_mean_J']):.2f} kWh on average (95th "
            f"percentile {_kwh(st['tmy']['daily_p95_J']):.2f}, largest "
            f"{_kwh(st['tmy']['daily_max_J']):.2f} kWh); the seasonal storage that avoids "
            f"all auxiliary energy over the replayed year is "
            f"{_kwh(st['tmy']['annual_J']):.0f} kWh.",
            "",
        ]
    if "site_storage" in s:
        st = s["site_storage"]
        out += ["### How much storage the swing needs", ""]
        out += [
            f"The storage grid at the same site (TMY weather) and for the i.i.d. harvest of the "
            f"same mean, capacities in hours of the {st['load_kW']:.3g} kW critical load: "
            f"{st['trials']} trials per design over {st['horizon_days']:.3g} days "
            f"from local midnight with an empty store, {st['eta_charge']:g} charge and "
            f"{st['eta_discharge']:g} discharge efficiency, every design on the same arrivals. "
            "Mean auxiliary energy per day ± one standard error; the excess of the real site "
            "over the i.i.d. harvest is paired trial by trial:",
            "",
        ]
        rows = pd.DataFrame(st["rows"])
        rows["capacity_kWh"] = [
            "unbounded" if c is None or c != c else f"{_kwh(c):.3g}" for c in rows["capacity_J"]
        ]
        rows["capacity_hours"] = [
            "unbounded" if c is None or c != c else f"{c:g}" for c in rows["capacity_hours"]
        ]
        cols = ["provisioning", "capacity_hours", "capacity_kWh"]
        cols += [c for c in rows.columns if c.endswith("_per_day")]
        out += [_table(rows[cols], 3), ""]
        trace = st["trace_storage_J"]
        out += [
            f"On the deterministic trace, the store that carries the mean day's surplus "
            f"through the night holds {_kwh(trace['daily_mean_J']):.3g} kWh (95th percentile "
            f"{_kwh(trace['daily_p95_J']):.3g} kWh).",
            "",
        ]
    if "site_year" in s:
        out += site_year_lines(s["site_year"])
    if "carbon" in s:
        c = s["carbon"]
        year = c["year"] if c["year"] is not None else "no year stated"
        out += ["### Carbon of the auxiliary energy", ""]
        out += [
            f"Grid region {c['region']} ({c['region_name']}): "
            f"**{c['g_co2e_per_kWh']:.1f} g CO2e/kWh** ({year}); source: {c['source']}. "
            "Mean auxiliary energy at T_max of each scenario as emissions:",
            "",
        ]
        rows = pd.DataFrame(c["rows"])
        out += [
            _table(
                rows[
                    [
                        "scenario",
                        "routing_error",
                        "consumption",
                        "t_max",
                        "aux_J",
                        "aux_kWh",
                        "kg_co2e",
                        "kg_co2e_sem",
                    ]
                ],
                4,
            ),
            "",
        ]
        if "day_night" in s:
            g = c["g_co2e_per_kWh"] / 1000.0
            cyc = s["day_night"]["cycle_cost"]
            out += [
                f"At this intensity the day-night cycle's extra auxiliary energy is "
                f"{_kwh(cyc['mean_J']) * g:.3g} ± {_kwh(cyc['sem_J']) * g:.2g} kg CO2e.",
                "",
            ]
    return out


def serving_law_lines(law: dict) -> list[str]:
    """Markdown of the serving law against the measured rows (docs/model.md §14)."""
    from energy_routing.report.tables import _table

    k = law["constants"]
    rows = pd.DataFrame(law["rows"]).assign(
        ratio=lambda d: d.modelled_J / d.energy_per_token_J,
        held_out_ratio=lambda d: d.held_out_J / d.energy_per_token_J,
    )
    return [
        "### Serving under continuous batching",
        "",
        "The batch-of-one law above streams every weight for every token of one answer. "
        "Served models decode many sequences per step; the serving law of docs/model.md §14 "
        "gives a replica's step time (a roofline with a fixed overhead) and power (idle to "
        f"board limit) for B running sequences. Its constants on the {law['accelerator']}, "
        f"fitted to the measured rows ({law['source']}): step overhead "
        f"{1e3 * k['step_overhead_s']:.3g} ms, {k['eta_mem']:.3g} of peak bandwidth, "
        f"{k['eta_flop']:.3g} of peak FLOP/s, {k['phi_mem']:.3g} and {k['phi_flop']:.3g} of "
        f"board power while streaming and computing, {k['idle_power_w']:.0f} W idle "
        "(assumed; no data sheet states it).",
        "",
        f"Against the measured energy per token: in sample within a factor "
        f"{law['in_sample_worst_factor']:.3g}; refitted without the row's model (leave one "
        f"model out), median error {100 * law['held_out_median_abs_error']:.3g}% and worst "
        f"factor {law['held_out_worst_factor']:.3g}. Energies in J per output token:",
        "",
        _table(rows, 3),
        "",
    ]


def _iv(m: dict, key: str, fmt: str) -> str:
    """``mean [lo, hi]`` of a metric across simulated years."""
    lo, hi = m[f"{key}_interval95"]
    return f"{m[key]:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


def site_year_lines(sy: dict) -> list[str]:
    """The "A year at each site" subsection (docs/model.md §15), from the ``site_year``
    entry of ``summary.json``."""
    from energy_routing.report.tables import _table

    cost = sy["cost_model"]
    out = ["### A year at each site: PV and battery for a renewable target", ""]
    out += [
        f"Load: {sy['load']} ({sy['load_kWh_per_year']:.0f} kWh/yr). Every design runs the "
        f"TMY year from the battery's periodic steady state, then one warm-up year and "
        f"{sy['years']} simulated years ({sy['resampling']}), in {sy['slot_s']:g} s slots; "
        f"battery charge/discharge efficiency {sy['battery']['eta_charge']:g}/"
        f"{sy['battery']['eta_discharge']:g}, self-discharge "
        f"{sy['battery']['self_discharge_per_day']:g} per day. The planner's design is the "
        f"cheapest of the grid whose renewable fraction reaches {sy['target_renewable']:g} in "
        f"at least {sy['confidence']:.0%} of the simulated years; cost per year = capital "
        f"annuities ({cost['pv_per_kwp']:g} USD/kWp over {cost['pv_lifetime_years']:g} yr; "
        f"{cost['battery_per_kwh']:g} USD/kWh and {cost['battery_per_kw']:g} USD/kW over "
        f"{cost['battery_lifetime_years']:g} yr; discount rate {cost['discount_rate']:g}) + "
        f"grid energy at {cost['grid_price_per_kwh']:g} USD/kWh + its carbon "
        f"({sy['carbon_region']}, {sy['g_co2e_per_kWh']:.0f} g CO2e/kWh) at "
        f"{cost['carbon_price_per_kg']:g} USD/kg. Values: mean over the simulated years "
        "[95% interval of one year]; margin: the renewable fraction of the year at the "
        "(1 - confidence) quantile minus the target.",
        "",
    ]
    rows = []
    for site in sy["sites"]:
        if "design" not in site:
            rows.append({"site": site["site"].title(), "design": site.get("plan_error", "")})
            continue
        d, m = site["design"], site["metrics"]
        rows.append(
            {
                "site": site["site"].title(),
                "kWh/kWp/yr": f"{site['pv_kWh_per_kWp']:.0f}",
                "PV kWp": f"{d['pv_kwp']:.3g}",
                "battery kWh / kW": f"{d['battery_kwh']:.3g} / {d['battery_kw']:.3g}",
                "USD/yr": f"{site['cost_per_year']['total']:.0f}",
                "margin": f"{site['margin']:+.3f}",
                "renewable fraction": _iv(m, "renewable_fraction", ".3f"),
                "grid kWh/yr": _iv(m, "grid_kWh_per_year", ".0f"),
                "spilled kWh/yr": _iv(m, "spilled_kWh_per_year", ".0f"),
                "full cycles/yr": _iv(m, "full_cycles_per_year", ".0f"),
                "kg CO2e/yr": _iv(m, "kg_co2e_per_year", ".0f"),
            }
        )
    out += [_table(pd.DataFrame(rows), 3), ""]
    out += [f"Missed deadlines: {sy['missed_deadlines_note']}.", ""]
    return out
