"""Speed of a year at a real site (docs/model.md §15) against a plain Python loop.

Measured in one process, one core, on Greensboro's TMY year with 10 kWp of PV, a 20 kWh /
5 kW battery (95 % charge and discharge efficiency, 0.1 %/day self-discharge) and a
constant 2 kW load:

* ``walk_years`` (the numba kernel) on one year of hourly slots and on one year of 60 s
  slots;
* the same bookkeeping written as a plain Python loop over the slots (the store update of
  docs/model.md §12.1 with power limits, and the yearly totals), on the same year;
* one design end to end as ``energy-routing site`` runs it: the periodic steady state, the
  typical year, a warm-up year and 200 simulated years (hourly slots);
* a planner's grid: the default ``site_year`` grid at one site (96 designs x 200 years),
  and a larger one (16 x 12 x 3 = 576 designs x 500 years).

Best time of ``--repeats`` runs each, the kernel and the loop taking turns. The loop's
totals must equal the kernel's (to 1e-9 relative), else the benchmark fails.

Usage: ``python benchmarks/bench_site_year.py [--json] [--repeats N]``; the saved figures
are in ``benchmarks/site_year.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from energy_routing import config
from energy_routing.engine.storage import walk_years
from energy_routing.studies import site_plan, site_year

KWP, KWH, KW, LOAD_KW = 10.0, 20.0, 5.0, 2.0


def python_loop(pv_W, kwp, load_J, dt_s, s0, store) -> list[float]:
    """One year of the store's bookkeeping, written plainly (no numba, no numpy per slot)."""
    capacity, eta_c, eta_d, keep, charge_max, discharge_max = store
    per_hour = len(load_J) // len(pv_W)
    pv_list, load_list = pv_W.tolist(), load_J.tolist()
    s = s0
    tot = [0.0] * 6
    for t in range(len(load_list)):
        p = pv_list[t // per_hour] * kwp * dt_s
        c = load_list[t]
        x = p - c
        spilled = aux = 0.0
        s = s * keep
        before = s
        if x >= 0:
            if x > charge_max:
                spilled, x = x - charge_max, charge_max
            s += eta_c * x
            if s > capacity:
                spilled += (s - capacity) / eta_c
                s = capacity
        else:
            if x < -discharge_max:
                aux, x = -discharge_max - x, -discharge_max
            s += x / eta_d
            if s < 0:
                aux -= s * eta_d
                s = 0.0
        tot[0] += p
        tot[1] += c
        tot[2] += min(p, c)
        tot[3] += aux
        tot[4] += spilled
        if p - c < 0:
            tot[5] += before - s
    return [*tot, s]


def best(func, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    pv = site_year.site_pv("723170TYA.CSV")["pv_W_per_kWp"]
    bat = site_year.Battery(KWH, KW)
    report = {}
    for dt in (3600.0, 60.0):
        load = site_year.constant_load(LOAD_KW, dt)
        store = bat.store(dt)
        pv2 = np.ascontiguousarray(pv[None, :])
        kernel = walk_years(pv2, KWP, load, dt, 0.0, *store)[0]  # compiles
        loop = python_loop(pv, KWP, load, dt, 0.0, store)
        np.testing.assert_allclose(kernel, loop, rtol=1e-9, atol=1e-6)
        t_kernel = best(lambda: walk_years(pv2, KWP, load, dt, 0.0, *store), args.repeats)  # noqa: B023
        t_loop = best(lambda: python_loop(pv, KWP, load, dt, 0.0, store), max(1, args.repeats // 2))  # noqa: B023
        report[f"slot_{int(dt)}s"] = {
            "slots_per_year": int(load.size),
            "kernel_s_per_year": t_kernel,
            "python_loop_s_per_year": t_loop,
            "speedup_vs_python_loop": t_loop / t_kernel,
        }
    load = site_year.constant_load(LOAD_KW)
    site_year.simulate_design(pv, KWP, load, bat, years=200)
    t_design = best(lambda: site_year.simulate_design(pv, KWP, load, bat, years=200), 3)
    sec = config.section_defaults("site_year")
    axes = {
        "pv_kwp": [LOAD_KW * v for v in sec["pv_kwp_per_kw"]],
        "battery_kwh": [LOAD_KW * v for v in sec["battery_hours"]],
        "battery_kw": [LOAD_KW * v for v in sec["battery_kw_per_kw"]],
    }
    t_grid = best(
        lambda: site_plan.design_grid(pv, load, **axes, g_co2e_per_kWh=400.0, years=200), 1
    )
    n_designs = int(np.prod([len(v) for v in axes.values()]))
    large = {
        "pv_kwp": list(LOAD_KW * np.linspace(1.0, 32.0, 16)),
        "battery_kwh": list(LOAD_KW * np.linspace(0.0, 48.0, 12)),
        "battery_kw": [LOAD_KW * v for v in (0.5, 1.0, 2.0)],
    }
    t_large = best(
        lambda: site_plan.design_grid(pv, load, **large, g_co2e_per_kWh=400.0, years=500), 1
    )
    report["load_average_1min"] = os.getloadavg()[0]  # other work on the machine
    report["design_200_years_s"] = t_design
    report["default_grid"] = {"designs": n_designs, "years": 200, "seconds": t_grid}
    report["large_grid"] = {"designs": 16 * 12 * 3, "years": 500, "seconds": t_large}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for key in ("slot_3600s", "slot_60s"):
        r = report[key]
        print(
            f"one year, {r['slots_per_year']} slots: kernel {r['kernel_s_per_year'] * 1e3:.2f} ms, "
            f"Python loop {r['python_loop_s_per_year'] * 1e3:.0f} ms, "
            f"{r['speedup_vs_python_loop']:.0f}x"
        )
    print(f"one design, steady state + TMY + 201 simulated years (hourly): {t_design:.3f} s")
    print(f"default grid ({n_designs} designs x 200 years, one site): {t_grid:.2f} s")
    print(f"large grid (576 designs x 500 years, one site): {t_large:.1f} s")


if __name__ == "__main__":
    main()
