"""Refresh the README's generated blocks from the pipeline's own outputs.

Copies the headline figures from ``results/figures`` into ``docs/figures`` and rewrites the
text between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->`` markers from
``results/summary.json``, ``results/regimes/*.csv`` and the benchmark's JSON, so that no
number in the README is typed by hand. Run by ``make docs``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import pandas as pd

from energy_routing.stages import registry

ROOT = Path(__file__).resolve().parents[1]
#: The scenario whose per-scenario figures the README shows.
SCENARIO = "fig4"


def readme_figures() -> list[tuple[str, str]]:
    """``(title, file stem)`` of every figure the registry marks for the README."""
    return [(fig.title, fig.filename_stem(SCENARIO)) for fig in registry.FIGURES if fig.readme]


def figures_block() -> str:
    """The README's figure gallery, from the registry, two figures a row."""
    items = [f"![{title}](docs/figures/{stem}.png)" for title, stem in readme_figures()]
    rows = ["| | |", "|---|---|"]
    for i in range(0, len(items), 2):
        pair = [*items[i : i + 2], ""][:2]
        rows.append(f"| {pair[0]} | {pair[1]} |")
    return "\n".join(rows)


def _replace(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- generated:{name} -->\n).*?(<!-- /generated:{name} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"README has no generated:{name} block")
    return pattern.sub(lambda m: m.group(1) + body.rstrip() + "\n" + m.group(2), text)


def results_block(results: Path) -> str:
    s = json.loads((results / "summary.json").read_text())
    fig4 = s[f"regimes_{SCENARIO}"]
    rows = sorted(fig4["rows"], key=lambda r: (r["consumption"] != "lumped", r["routing_error"]))
    lines = [
        f"Default run: {fig4['trials']} trials per routing error to T = {fig4['t_max']:.0e} "
        f"slots at the critical point (R_bar = C_LB = {s['c_lb_J_per_slot']:.1f} J/slot, "
        f"sigma_R^2 = {s['consumption_var_J2_per_slot']:.4g} J^2/slot):",
        "",
        "| consumption | routing error | drift mu [J/slot] | T* [slots] | transition (p-value) | "
        "breakpoint [slots], 95% | T* from realised drift, 95% | mean D_T at T_max [J] | "
        "diffusion [J] | exact discrete [J] |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t_star = "inf" if r["t_star"] is None else f"{r['t_star']:.3g}"
        detected = "yes" if r["transition_detected"] else "no"
        bp, est = "-", "-"
        if r["transition_detected"]:
            bp = f"{r['breakpoint_T']:.3g} [{r['breakpoint_low']:.3g}, {r['breakpoint_high']:.3g}]"
            est = f"{r['t_star_estimate']:.3g} [{_num(r['t_star_low'])}, {_num(r['t_star_high'])}]"
        exact = "-" if r["exact_D_Tmax_J"] is None else f"{r['exact_D_Tmax_J']:.4g}"
        lines.append(
            f"| {r['consumption']} | {r['routing_error']:g} | {r['mu']:.3g} | {t_star} | "
            f"{detected} ({r['p_value']:.2g}) | {bp} | {est} | "
            f"{r['mean_D_Tmax_J']:.4g} ± {r['sem_D_Tmax_J']:.2g} | "
            f"{r['closed_form_D_Tmax_J']:.4g} | {exact} |"
        )
    agree = s.get("sweep", {})
    if agree.get("deviation_points"):
        lines += [
            "",
            "Fig. 2: share of the Monte Carlo points within two standard errors of the "
            "diffusion closed form: "
            + ", ".join(f"{v:.0%} ({k})" for k, v in agree["deviation_points_within_2se"].items())
            + "; of the exact discrete walk: "
            + ", ".join(
                f"{v:.0%} ({k})" for k, v in agree["deviation_points_within_2se_exact"].items()
            )
            + ".",
        ]
        plain = agree.get("deviation_points_within_2se_exact_plain")
        if agree.get("deviation_estimator") == "control_variate" and plain:
            lines[-1] += (
                " The points are control-variate means (docs/model.md §11.7); the plain mean"
                " over trials gives "
                + ", ".join(f"{v:.0%} ({k})" for k, v in plain.items())
                + " against the exact walk."
            )
        check = agree.get("exact_consistency") or {}
        if check:
            # summaries written before the field was renamed hold z_at_t_max, without T
            z = check.get("z_at_last_point", check.get("z_at_t_max", {}))
            t = check.get("t_at_last_point", {})
            lines[-1] += (
                " Neighbouring points of one curve share their trials, so that share is noisy;"
                " the independent check is each sweep scenario's last shown point against the"
                f" exact walk: chi-square {check['chi2']:.3g} on {check['dof']} degrees of"
                f" freedom, p = {check['p_value']:.2g} (z = "
                + ", ".join(
                    f"{v:+.2f} ({k}" + (f", T = {t[k]:,.0f}" if k in t else "") + ")"
                    for k, v in z.items()
                )
                + ")."
            )
    sweep = pd.read_csv(results / "regimes" / "sweep.csv")
    lines += [
        "",
        "Provisioning sweep (large-T log-log slope of mean D_T, 95% trial-bootstrap "
        "interval, against Theorem 2 and against the closed form over the same window):",
        "",
        "| consumption | rho | regime | predicted exponent | fitted slope | 95% interval | "
        "closed form, same window |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sweep.itertuples():
        lines.append(
            f"| {r.consumption} | {r.provisioning:g} | {r.regime} | {r.predicted_exponent:g} | "
            f"{r.slope:.3f} | "
            f"[{r.slope_low:.3f}, {r.slope_high:.3f}] | {r.closed_form_slope:.3f} |"
        )
    return "\n".join(lines)


KWH = 3.6e6  # J


def _pm(mean, sem, scale=1.0, fmt=".3g") -> str:
    """``mean ± sem`` after dividing by ``scale``."""
    return f"{mean / scale:{fmt}} ± {sem / scale:.2g}"


def _kwh(stat: dict) -> str:
    """A ``{"mean_J", "sem_J"}`` record in kWh."""
    return _pm(stat["mean_J"], stat["sem_J"], KWH)


def decisions_block(results: Path) -> str:
    """Policies against myopic (paired), the planner's storage grid, the day-night cost at
    a real site and the carbon of the auxiliary energy, from summary.json."""
    s = json.loads((results / "summary.json").read_text())
    lines = []
    pol = s.get("policies") or []
    if pol:
        p0 = pol[0]
        lines += [
            f"Dispatch policies at the critical point (rho = {p0['provisioning']:g}, "
            f"{p0['trials']} trials to T = {p0['horizon_slots']:.0e} slots, common random "
            "numbers; differences against myopic routing paired trial by trial, tasks still "
            "queued at T billed; the change at T is a one-off transient plus a rate per slot "
            f"fitted from T = {p0['fit_window_start_slots']:,} on, docs/model.md §12.6):",
            "",
            "| policy | parameter | mean D_T [J] | change vs myopic at T [J] | one-off "
            "transient [J] | rate [J/slot] | missed deadlines | mean wait [s] |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in pol:
            missed = (
                "0 (guaranteed)"
                if r["missed_deadline_guaranteed"]
                else f"{r['missed_deadline_fraction']:.1%} (measured)"
            )
            lines.append(
                f"| {r['policy']} | {r['parameter']:g} | {_pm(r['mean_D_T_J'], r['sem_D_T_J'])} | "
                f"{_pm(r['diff_vs_myopic_J'], r['diff_vs_myopic_sem_J'])} | "
                f"{_pm(r['transient_diff_J'], r['transient_diff_sem_J'])} | "
                f"{_pm(r['rate_diff_J_per_slot'], r['rate_diff_sem_J_per_slot'])} | "
                f"{missed} | {r['mean_wait_s']:.3g} |"
            )
    routers = s.get("routers") or []
    if routers:
        lines += [
            "",
            f"Dispatcher overhead: a router with no routing error stops paying for itself "
            f"above {routers[0]['break_even_energy_J']:.3g} J per decision against "
            f"`{routers[0]['router']}` (routing error {routers[0]['routing_error']:g}).",
        ]
    store = s.get("storage") or []
    if store:
        caps = sorted({r["capacity_J"] for r in store if r["capacity_J"] is not None})
        has_inf = any(r["capacity_J"] is None for r in store)
        rhos = sorted({r["provisioning"] for r in store})
        cell = {(r["provisioning"], r["capacity_J"]): r for r in store}
        head = [f"{c:.0e} J" for c in caps] + (["unbounded"] if has_inf else [])
        lines += [
            "",
            f"The planner's grid: auxiliary / wasted energy per slot [J/slot] by provisioning "
            f"ratio and storage capacity ({store[0]['trials']} trials to "
            f"T = {store[0]['horizon_slots']:.0e} slots, ± standard errors):",
            "",
            "| rho | " + " | ".join(head) + " |",
            "|---|" + "---|" * len(head),
        ]
        for rho in rhos:
            row = []
            for c in [*caps, *([None] if has_inf else [])]:
                r = cell.get((rho, c))
                row.append(
                    "-"
                    if r is None
                    else f"{_pm(r['aux_J_per_slot'], r['aux_sem_J_per_slot'])} / "
                    f"{r['waste_J_per_slot']:.3g}"
                )
            lines.append(f"| {rho:g} | " + " | ".join(row) + " |")
    dn = s.get("day_night")
    if dn:
        st = dn["storage"]
        lines += [
            "",
            f"Day and night at a real site ({dn['site']['description']}; pvlib's TMY3 file "
            f"`{dn['site']['weather_file']}`, {dn['annual_yield_kWh_per_kW']:.0f} kWh per kW "
            f"of array a year), the default scenario at the critical point, "
            f"{dn['trials']} trials over {dn['horizon_days']:g} day(s) from midnight, extra "
            "auxiliary energy over the i.i.d. harvest at the same mean, paired trial by trial "
            "[kWh]:",
            "",
            f"- the day-night cycle alone: {_kwh(dn['cycle_cost'])};",
            f"- with the site's weather: {_kwh(dn['weather_cost'])};",
            f"- load aligned with the sun (amplitude {dn['amplitude']:g}) saves "
            f"{_kwh(dn['aligned_saving'])}, misaligned costs {_kwh(dn['misaligned_cost'])};",
            f"- storage to carry the load through the night: "
            f"{st['day-night']['daily_mean_J'] / KWH:.3g} kWh on the mean day, "
            f"{st['tmy']['daily_mean_J'] / KWH:.3g} kWh on average with the weather "
            f"(95th percentile {st['tmy']['daily_p95_J'] / KWH:.3g}, largest "
            f"{st['tmy']['daily_max_J'] / KWH:.3g}), {st['tmy']['annual_J'] / KWH:.3g} kWh "
            "to carry the whole year (seasonal).",
        ]
    site = s.get("site_storage")
    if site:
        rows = site["rows"]
        caps = list(dict.fromkeys(r["capacity_J"] for r in rows))
        hours = {r["capacity_J"]: r["capacity_hours"] for r in rows}
        head = ["unbounded" if c is None else f"{hours[c]:g} h = {c / KWH:.3g} kWh" for c in caps]
        cell = {(r["provisioning"], r["capacity_J"]): r for r in rows}
        lines += [
            "",
            f"How much storage that swing needs: auxiliary energy per day [kWh/day] at the site "
            f"(TMY weather) / for the i.i.d. harvest of the same mean, by provisioning ratio "
            f"and store capacity in hours of the {site['load_kW']:.3g} kW critical load "
            f"({site['trials']} paired trials over "
            f"{site['horizon_days']:g} days from midnight with an empty store, "
            f"{site['eta_charge']:g} charge and {site['eta_discharge']:g} discharge "
            "efficiency, ± standard errors):",
            "",
            "| rho | " + " | ".join(head) + " |",
            "|---|" + "---|" * len(head),
        ]
        for rho in dict.fromkeys(r["provisioning"] for r in rows):
            row = [
                f"{_pm(cell[rho, c]['tmy_kWh_per_day'], cell[rho, c]['tmy_sem_kWh_per_day'])} / "
                f"{_pm(cell[rho, c]['iid_kWh_per_day'], cell[rho, c]['iid_sem_kWh_per_day'])}"
                for c in caps
            ]
            lines.append(f"| {rho:g} | " + " | ".join(row) + " |")
    co2 = s.get("carbon")
    if co2:
        lumped = [r for r in co2["rows"] if r["consumption"] == "lumped"]
        lines += [
            "",
            f"Carbon of the auxiliary energy in {co2['region_name']}: "
            f"{co2['g_co2e_per_kWh']:.1f} g CO2e/kWh ({co2['source']}, {co2['year']}); "
            "at T_max: "
            + ", ".join(
                f"{_pm(r['kg_co2e'], r['kg_co2e_sem'])} kg at routing error {r['routing_error']:g}"
                for r in lumped
            )
            + " (lumped consumption).",
        ]
    return "\n".join(lines)


def site_year_block(results: Path) -> str:
    """A year at each site (docs/model.md §15): the planner's design and its metrics with
    95 % intervals across simulated weather years, from summary.json's ``site_year``."""
    s = json.loads((results / "summary.json").read_text())
    sy = s.get("site_year")
    if not sy:
        return "Run the pipeline with `site_year.activate: true` for a year at each site."

    def iv(m: dict, key: str, fmt: str) -> str:
        lo, hi = m[f"{key}_interval95"]
        return f"{m[key]:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"

    cost = sy["cost_model"]
    lines = [
        f"A year at each of pvlib's three TMY sites for the default workload ({sy['load']}, "
        f"{sy['load_kWh_per_year']:.0f} kWh/yr): the cheapest PV + battery design of the "
        f"`site_year` grid whose renewable fraction reaches {sy['target_renewable']:g} in at "
        f"least {sy['confidence']:.0%} of {sy['years']} simulated weather years (days "
        f"resampled within their month; battery from its periodic steady state), at "
        f"{cost['pv_per_kwp']:g} USD/kWp, {cost['battery_per_kwh']:g} USD/kWh, "
        f"{cost['battery_per_kw']:g} USD/kW, grid {cost['grid_price_per_kwh']:g} USD/kWh "
        f"and carbon {cost['carbon_price_per_kg']:g} USD/kg ({sy['carbon_region']}, "
        f"{sy['g_co2e_per_kWh']:.0f} g CO2e/kWh). Mean over the simulated years [95% "
        "interval of one year]:",
        "",
        "| site | PV yield [kWh/kWp/yr] | design | cost [USD/yr] | margin | renewable "
        "fraction | grid [kWh/yr] | spilled PV [kWh/yr] | full cycles/yr | carbon [kg "
        "CO2e/yr] |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for site in sy["sites"]:
        if "design" not in site:
            lines.append(f"| {site['site'].title()} | | {site.get('plan_error', '')} |||||||")
            continue
        d, m = site["design"], site["metrics"]
        lines.append(
            f"| {site['site'].title()} | {site['pv_kWh_per_kWp']:.0f} | "
            f"{d['pv_kwp']:.3g} kWp, {d['battery_kwh']:.3g} kWh / {d['battery_kw']:.3g} kW | "
            f"{site['cost_per_year']['total']:.0f} | {site['margin']:+.3f} | "
            f"{iv(m, 'renewable_fraction', '.3f')} | {iv(m, 'grid_kWh_per_year', '.0f')} | "
            f"{iv(m, 'spilled_kWh_per_year', '.0f')} | {iv(m, 'full_cycles_per_year', '.0f')} | "
            f"{iv(m, 'kg_co2e_per_year', '.0f')} |"
        )
    return "\n".join(lines)


def _num(x) -> str:
    """A number with three significant digits; None or inf as inf."""
    return "inf" if x is None or x == float("inf") else f"{x:.3g}"


def detector_block(bench: Path) -> str:
    """The detector's measured false-positive rate and power (benchmarks/detector.md)."""
    table = bench.with_name("detector.md")
    if not table.exists():
        return "Run `benchmarks/validate_detector.py` to measure the transition test."
    return table.read_text().strip()


def transition_calibration_block(bench: Path) -> str:
    """The transition test's false-positive rate at horizon 1e5 with the step-law null
    (benchmarks/transition_calibration.md, from its JSON)."""
    table = bench.with_name("transition_calibration.md")
    if not table.exists():
        return (
            "Run `benchmarks/transition_calibration.py` to measure the transition test at "
            "horizon 1e5."
        )
    return table.read_text().strip()


def fig2_agreement_block(bench: Path) -> str:
    """Fig. 2's agreement with the exact walk over seeds (benchmarks/fig2_agreement.md)."""
    table = bench.with_name("fig2_agreement.md")
    if not table.exists():
        return "Run `benchmarks/fig2_agreement.py` to measure Fig. 2's agreement over seeds."
    return table.read_text().strip()


def plan_accuracy_block(bench: Path) -> str:
    """``plan``'s timing model against recorded runs (benchmarks/plan_accuracy.md)."""
    table = bench.with_name("plan_accuracy.md")
    if not table.exists():
        return "Run `benchmarks/plan_accuracy.py` to compare `plan` with recorded runs."
    return table.read_text().strip()


def speed_block(bench: Path) -> str:
    b = json.loads(bench.read_text())
    lines = [
        f"Measured by `benchmarks/bench_engine.py` on this project's reference machine "
        f"({b['threads']} threads), all in one process on the default workload:",
        "",
        "| engine | slot-trials/s | vs RNG floor (1 thread) | vs RNG floor (same threads) | "
        "vs naive per-slot loop |",
        "|---|---|---|---|---|",
    ]
    for mode in ("lumped", "distributed"):
        m = b[mode]
        same = m.get("ratio_vs_rng_floor_same_threads")
        lines.append(
            f"| {mode} | {m['engine_slot_trials_per_s']:.3g} | "
            f"{m['ratio_vs_rng_floor']:.2f}x | {'-' if same is None else f'{same:.2f}x'} | "
            f"{m['speedup_vs_naive']:.0f}x |"
        )
    lines += ["", f"Distributed / lumped throughput: {b['distributed_vs_lumped']:.2f}."]
    kernel = b.get("per_slot_kernel")
    if kernel:
        lines += [
            "",
            f"Per-slot kernel (slack-aware deferral with a finite lossy store, lumped): "
            f"{kernel['engine_slot_trials_per_s']:.3g} slot-trials/s, "
            f"{kernel['ratio_vs_fast_path']:.2f}x the fast path.",
        ]
    supply = b.get("supply")
    if supply:
        names = {
            "ar1_phi0.9": "Gamma AR(1) harvest, phi = 0.9",
            "solar_tmy": "PV trace with its weather (Greensboro TMY)",
            "diurnal_load_a0.5": "daily arrival cycle, amplitude 0.5",
        }
        lines += [
            "",
            "Non-i.i.d. supplies (fast path, lumped) against the i.i.d. harvest: "
            + "; ".join(f"{names.get(k, k)} {v['ratio_vs_iid']:.2f}x" for k, v in supply.items())
            + ".",
        ]
    site = bench.with_name("site_year.json")
    if site.exists():
        y = json.loads(site.read_text())
        lines += [
            "",
            f"A year at a site (`benchmarks/bench_site_year.py`, one core): one year of one "
            f"design in {y['slot_3600s']['kernel_s_per_year'] * 1e3:.2f} ms with hourly slots "
            f"({y['slot_3600s']['speedup_vs_python_loop']:.0f}x a plain Python loop of the "
            f"same bookkeeping), {y['slot_60s']['kernel_s_per_year'] * 1e3:.1f} ms with 60 s "
            f"slots ({y['slot_60s']['speedup_vs_python_loop']:.0f}x); one design with its "
            f"steady state and 201 simulated years {y['design_200_years_s']:.2f} s; the "
            f"default grid ({y['default_grid']['designs']} designs x "
            f"{y['default_grid']['years']} years) {y['default_grid']['seconds']:.1f} s per "
            f"site, a larger one ({y['large_grid']['designs']} designs x "
            f"{y['large_grid']['years']} years) {y['large_grid']['seconds']:.0f} s per site"
            + (
                f" (measured with a load average of {y['load_average_1min']:.0f} from other "
                "work on the machine)."
                if "load_average_1min" in y
                else "."
            ),
        ]
    memory = bench.with_name("memory.json")
    if memory.exists():
        m = json.loads(memory.read_text())
        lines += [
            "",
            f"Memory (`--memory`): {m['trials']:,} trials of T = {m['horizon_slots']:.0e}"
            f" slots, both consumption modes, ran in {m['seconds']:.0f} s with a peak "
            f"resident size of {m['rss_peak_mb']:.0f} MB, of which "
            f"{m['rss_peak_mb'] - m['rss_before_mb']:.0f} MB is the simulation itself "
            f"(the rest, {m['rss_before_mb']:.0f} MB, is numpy, numba, scipy and xarray "
            "loaded).",
        ]
    return "\n".join(lines)


def serving_law_block(results: Path) -> str:
    """The serving law against the measured rows (docs/model.md §14)."""
    law = json.loads((results / "summary.json").read_text())["calibration"]["serving_law"]
    k = law["constants"]
    lines = [
        f"Fitted on the {law['accelerator']} ({law['source']}): step overhead "
        f"{1e3 * k['step_overhead_s']:.3g} ms, {k['eta_mem']:.3g} of peak bandwidth, "
        f"{k['eta_flop']:.3g} of peak FLOP/s, {k['phi_mem']:.3g} / {k['phi_flop']:.3g} of board "
        f"power while streaming / computing, {k['idle_power_w']:.0f} W idle (assumed). "
        f"In sample within a factor {law['in_sample_worst_factor']:.3g}; with each row's model "
        f"left out of the fit, median error {100 * law['held_out_median_abs_error']:.3g}% and "
        f"worst factor {law['held_out_worst_factor']:.3g}.",
        "",
        "| model | GPUs | batch | measured [J/token] | serving law | model held out | "
        "batch-of-one law (§1) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in law["rows"]:
        lines.append(
            f"| {r['model']} | {r['gpus']} | {r['batch']} | {r['energy_per_token_J']:.3g} | "
            f"{r['modelled_J']:.3g} | {r['held_out_J']:.3g} | {r['paper_J']:.3g} |"
        )
    return "\n".join(lines)


def serving_engine_block(results: Path) -> str:
    """The batched engine's serving study and the regimes under batching, from the
    summary's ``serving`` and ``serving_regimes`` (docs/model.md §14.2-14.3)."""
    from energy_routing.report.serving import MAX_MISSED, _iv, _pm, planner_choice

    s = json.loads((results / "summary.json").read_text())
    rows = s.get("serving") or []
    if not rows:
        return "The serving study did not run (`serving.activate: false`)."
    r0 = rows[0]
    lines = [
        f"The batched engine ({r0['law']} law, at most {r0['max_batch']} running sequences "
        f"per replica, myopic routing), {r0['trials']} trials per setting to "
        f"{r0['horizon_slots']} slots on common random numbers; mean ± one standard error "
        "over trials. Energy per task: the replicas' energy per generated token times the "
        "mean token budget; batch of one: the same tasks served alone (§1):",
        "",
        "| model | arrival rate [1/s] | replicas | mean batch | energy per task [J] | "
        "batch of one [J] | missed deadlines |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['arrival_rate_per_s']:g} | {r['replicas']} | "
            f"{_pm(r['mean_batch'], r['mean_batch_sem'])} | "
            f"{_pm(r['energy_per_task_J'], r['energy_per_task_J_sem'])} | "
            f"{_pm(r['paper_energy_per_task_J'], r['paper_energy_per_task_J_sem'])} | "
            f"{_pm(r['missed_deadline_fraction'], r['missed_deadline_fraction_sem'], '.2g')} |"
        )
    keep = [
        f"{c['model']} at {c['arrival_rate_per_s']:g}/s: "
        + (
            "none studied"
            if c["keeps_deadlines"] is None
            else str(c["keeps_deadlines"]["replicas"])
        )
        for c in planner_choice(rows)
    ]
    lines += [
        "",
        f"Fewest replicas missing at most {MAX_MISSED:.0%} of the deadlines (with 1.96 "
        f"standard errors): {'; '.join(keep)}.",
    ]
    g = s.get("serving_regimes") or {}
    if g.get("trials"):
        fpr = (g["transition_false_positive_rate"], g["transition_fpr_low"])
        lines += [
            "",
            f"The battery on batched consumption ({g['replicas']} replicas per model, "
            f"{g['arrival_rate_per_s']:g} tasks/s; {g['trials']} trials at rho = 1 to "
            f"T = {g['horizon_slots']} slots, 95% intervals): large-T slope of E[D_T] "
            f"{_iv(g['slope'], g['slope_low'], g['slope_high'])} against 0.5; long-run "
            f"sigma {_iv(g['sigma_long_run_J'], g['sigma_long_run_low'], g['sigma_long_run_high'])}"
            f" J/sqrt(slot) against the per-slot {g['sigma_slot_J']:.3g}; mean D_T at the "
            f"horizon {_pm(g['mc_D_Tmax_J'], g['mc_D_Tmax_sem'])} J (Monte Carlo) against "
            f"{g['diffusion_D_Tmax_J']:.3g} J (diffusion, long-run sigma) and "
            f"{g['diffusion_slot_sigma_D_Tmax_J']:.3g} J (per-slot sigma); the transition "
            f"test rejected {g['transition_rejections']} of {g['transition_groups']} "
            f"critical data sets (false-positive rate {_iv(*fpr, g['transition_fpr_high'], '.2g')}"
            f", level {g['alpha']:g}).",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    parser.add_argument("--bench", type=Path, default=ROOT / "benchmarks" / "latest.json")
    args = parser.parse_args()
    out = ROOT / "docs" / "figures"
    out.mkdir(parents=True, exist_ok=True)
    for _, stem in readme_figures():
        shutil.copyfile(args.results / "figures" / f"{stem}.png", out / f"{stem}.png")
    readme = ROOT / "README.md"
    text = _replace(readme.read_text(), "results", results_block(args.results))
    text = _replace(text, "figures", figures_block())
    if args.bench.exists():
        text = _replace(text, "speed", speed_block(args.bench))
    text = _replace(text, "detector", detector_block(args.bench))
    text = _replace(text, "transition_calibration", transition_calibration_block(args.bench))
    text = _replace(text, "fig2_agreement", fig2_agreement_block(args.bench))
    text = _replace(text, "plan_accuracy", plan_accuracy_block(args.bench))
    text = _replace(text, "decisions", decisions_block(args.results))
    text = _replace(text, "serving_law", serving_law_block(args.results))
    text = _replace(text, "serving_engine", serving_engine_block(args.results))
    text = _replace(text, "site_year", site_year_block(args.results))
    readme.write_text(text)


if __name__ == "__main__":
    main()
