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


def _num(x) -> str:
    """A number with three significant digits; None or inf as inf."""
    return "inf" if x is None or x == float("inf") else f"{x:.3g}"


def detector_block(bench: Path) -> str:
    """The detector's measured false-positive rate and power (benchmarks/detector.md)."""
    table = bench.with_name("detector.md")
    if not table.exists():
        return "Run `benchmarks/validate_detector.py` to measure the transition test."
    return table.read_text().strip()


def speed_block(bench: Path) -> str:
    b = json.loads(bench.read_text())
    lines = [
        f"Measured by `benchmarks/bench_engine.py` on this project's reference machine "
        f"({b['threads']} threads), all in one process on the default workload:",
        "",
        "| engine | slot-trials/s | vs RNG floor | vs naive per-slot loop |",
        "|---|---|---|---|",
    ]
    for mode in ("lumped", "distributed"):
        m = b[mode]
        lines.append(
            f"| {mode} | {m['engine_slot_trials_per_s']:.3g} | "
            f"{m['ratio_vs_rng_floor']:.2f}x | {m['speedup_vs_naive']:.0f}x |"
        )
    lines += ["", f"Distributed / lumped throughput: {b['distributed_vs_lumped']:.2f}."]
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
    readme.write_text(text)


if __name__ == "__main__":
    main()
