"""The summary report: a Markdown document and a self-contained HTML twin.

Everything in it is read from the pipeline's outputs (``summary.json``, the tables, the
figures); the sentences that interpret a figure are built from the same numbers, so the
report cannot drift from the results.
"""

from __future__ import annotations

import base64
import math
import re
from pathlib import Path

import markdown
import pandas as pd

from energy_routing.analysis.tables import TRANSITION_COLUMNS
from energy_routing.report import answers, realworld, serving
from energy_routing.report.tables import _table
from energy_routing.supply.supply import Supply

#: Report column headers (with units) for the keys of the tables and summary rows.
#: How the default supply describes itself (docs/model.md §6, §13).
DEFAULT_SUPPLY = Supply().describe()


def _reading_costs(s: dict) -> str:
    tasks = s["tasks"]
    first, last = tasks[0], tasks[-1]

    def cheaper_faster(t):
        e, lat = t["energy_J"], t["latency_s"]
        m = min(e, key=e.get)
        return m, lat[m] == min(lat.values())

    m0, f0 = cheaper_faster(first)
    m1, f1 = cheaper_faster(last)
    forced = [
        t["name"] for t in tasks if t["chosen_model"] != min(t["energy_J"], key=t["energy_J"].get)
    ]
    text = (
        f"At difficulty {first['difficulty']:.3g} the {m0} model is the cheaper"
        f"{' and the faster' if f0 else ''} one; at {last['difficulty']:.3g} the {m1} "
        f"model is{' both cheaper and faster' if f1 else ' cheaper'}. The shaded band "
        "marks difficulties where the cheapest model is not the fastest, so deadlines can "
        "force the more expensive choice"
    )
    if forced:
        text += f": here that happens for task(s) {', '.join(forced)}."
    else:
        text += "; with the configured deadlines no task is forced off its cheapest model."
    return text


def _by_mode(rows: list[dict]) -> dict[str, list[dict]]:
    """Rows grouped by consumption mode, in order of first appearance."""
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["consumption"], []).append(r)
    return out


def _interval(lo, hi) -> str:
    """``[lo, hi]`` with three significant digits; inf as ∞."""
    return (
        "["
        + ", ".join("∞" if v is None or not math.isfinite(v) else f"{v:.3g}" for v in (lo, hi))
        + "]"
    )


def _reading_growth(rows: list[dict]) -> str:
    texts = []
    for mode, group in _by_mode(rows).items():
        parts = []
        for r in group:
            t_star = "∞" if r["t_star"] is None else f"{r['t_star']:.3g}"
            if r["transition_detected"]:
                parts.append(
                    f"ε = {r['routing_error']:g}: transition at T ≈ {r['breakpoint_T']:.3g} "
                    f"slots {_interval(r['breakpoint_low'], r['breakpoint_high'])} (p = "
                    f"{r['p_value']:.2g}, detected in {r['detection_frequency']:.0%} of "
                    f"resamples), T* estimated {r['t_star_estimate']:.3g} "
                    f"{_interval(r['t_star_low'], r['t_star_high'])} against {t_star}"
                )
            else:
                parts.append(
                    f"ε = {r['routing_error']:g}: no transition (p = {r['p_value']:.2g}; "
                    f"T* = {t_star} slots)"
                )
        texts.append(f"With {mode} consumption the calibrated test finds: " + "; ".join(parts))
    return (
        ". ".join(texts) + ". The test's level is 5% by simulation under the critical null, "
        "accounting for the correlation between checkpoints; intervals are 95% over "
        "resampled trials. Misrouting adds a negative drift to a critical system, so the "
        "mean deficit, which grows like sqrt(T) at ε = 0, turns linear once T passes the "
        "crossover T* = 2σ²/(πμ²); larger routing errors cross over earlier. Black dots: "
        "the exact E[D_T] of the discrete walk (lumped consumption)."
    )


def _reading_deviation(sweep: dict | None) -> str:
    text = (
        "The deviation g is 1 at r = 0 (pure fluctuation, sqrt(T) growth) and falls off "
        "on both sides, symmetrically: far from r = 0 the drift term max(0, -mu T) "
        "carries E[D_T] (deficit) or the deficit saturates (surplus)."
    )
    if sweep and sweep.get("deviation_points"):
        shares = ", ".join(
            f"{share:.0%} ({mode})" for mode, share in sweep["deviation_points_within_2se"].items()
        )
        text += (
            f" Of the {sweep['deviation_points']} Monte Carlo points, {shares} lie within "
            "two standard errors of the diffusion closed form, which is too high by a "
            "nearly constant ladder offset of the discrete walk."
        )
        exact = sweep.get("deviation_points_within_2se_exact") or {}
        if exact:
            text += (
                " Against the exact discrete walk (crosses): "
                + ", ".join(f"{share:.0%} ({mode})" for mode, share in exact.items())
                + " within two standard errors."
            )
        plain = sweep.get("deviation_points_within_2se_exact_plain") or {}
        if sweep.get("deviation_estimator") == "control_variate":
            text += (
                " The points are control-variate means (the free walk's positions at T, "
                "T/2, T/4, ..., whose means mu t are exact, take out most of the noise; "
                "docs/model.md §11.7)"
                + (
                    "; with the plain mean over trials "
                    + ", ".join(f"{share:.0%} ({mode})" for mode, share in plain.items())
                    + " lie within two standard errors of the exact walk."
                    if plain
                    else "."
                )
            )
    return text


def _reading_distribution(rows: list[dict]) -> str:
    ks = "; ".join(
        f"{mode}: "
        + ", ".join(f"ε = {r['routing_error']:g}: {r['ks_distance']:.3f}" for r in group)
        for mode, group in _by_mode(rows).items()
    )
    return (
        "Across trials D_T is spread about as widely as its mean at the critical point "
        "and concentrates around |mu| T once the drift dominates. Largest gap between "
        f"the empirical and closed-form CDFs (Kolmogorov-Smirnov distance), {ks}."
    )


def _reading_sweep(rows: list[dict]) -> str:
    counts = ", ".join(
        f"{sum(bool(r['agrees']) for r in group)} of {len(group)} ({mode})"
        for mode, group in _by_mode(rows).items()
    )
    return (
        "Large-T log-log slopes of E[D_T] against the exponents Theorem 2 predicts "
        "(1 for a deficit, 1/2 at the critical point, 0 for a surplus): the prediction lies "
        f"inside the 95% trial-bootstrap interval for {counts} provisioning ratios."
    )


def build_markdown(
    summary: dict,
    models: pd.DataFrame,
    tasks: pd.DataFrame,
    figures: list[tuple[str, str, str]],
    root: Path,
) -> str:
    """The report as Markdown; figure links are relative to ``root`` (the report's folder).

    ``figures`` lists ``(title, name, png_path)`` in the order to show them; ``name`` is
    the figure's file stem, which keys its reading.
    """
    s = summary
    head = ["# Energy-aware routing: summary report", ""]
    head += [
        "Generated by the energy-routing pipeline from its own results (model: arXiv:2601.00823).",
        "",
    ]
    out = ["## Scenario", ""]
    h = s["harvest"]
    out += [
        f"- Arrival rate λ = {s['arrival_rate_per_slot']:g} tasks/slot, slot length "
        f"{s['dt_s']:g} s, {len(s['tasks'])} task types, models: {', '.join(s['models'])}.",
        f"- Frontier law L(N) = {s['frontier_law']['L_irr']:.3g} + "
        f"{s['frontier_law']['Gamma']:.4g} N^-{s['frontier_law']['gamma']:.3g}.",
        f"- Lower-bound consumption C_LB = **{s['c_lb_J_per_slot']:.5g} J/slot**, lumped "
        f"consumption variance λE[e_LB²] = {s['consumption_var_J2_per_slot']:.5g} J²/slot.",
        f"- Harvest at ρ = 1: Gamma with mean {h['harvest_mean_J']:.5g} J and variance "
        f"{h['harvest_var_J2']:.5g} J² "
        + (f"(shape {h['gamma_shape']:.3g})." if h["gamma_shape"] else "(deterministic)."),
        "",
    ]
    out += ["## Models", "", _table(models), ""]
    t = tasks.pivot_table(
        index=["task", "difficulty", "deadline_s"],
        columns="model",
        values=["energy_J", "latency_s"],
        sort=False,
    )
    t.columns = [f"{a} ({b})" for a, b in t.columns]
    t = t.reset_index()
    chosen = tasks[tasks.chosen].set_index("task")["model"]
    t["chosen model"] = t["task"].map(chosen)
    out += ["## Tasks", "", _table(t), ""]
    for key, val in s.items():
        if key.startswith("regimes_"):
            out += [
                f"## Regimes: scenario `{val['scenario']}`",
                "",
                f"{val['trials']} trials to T = {val['t_max']:.3g} slots. Supply: "
                f"{val.get('supply', DEFAULT_SUPPLY)}.",
                "",
            ]
            if val.get("supply", DEFAULT_SUPPLY) != DEFAULT_SUPPLY:
                out += [
                    "The closed forms use the harvest's long-run variance (docs/model.md §13) "
                    "and are an approximation for this supply; a daily cycle, the seasons and "
                    "the first night make the deficit grow faster than the diffusion over "
                    "short horizons, and the exact discrete theory does not apply. The "
                    "transition test's threshold is simulated for independent slots, so "
                    "against such a supply a detection can be the daily or seasonal cycle "
                    "rather than a drift.",
                    "",
                ]
            cols = [
                "routing_error",
                "consumption",
                "mu",
                "t_star",
                *TRANSITION_COLUMNS,
            ]
            df = pd.DataFrame(val["rows"])
            out += [
                "Transition test (calibrated to a 5% false-positive rate; intervals 95% over "
                "resampled trials; T* estimated from the realised drifts):",
                "",
                _table(df[cols]),
                "",
                "Mean deficit at T_max: Monte Carlo, diffusion closed form, exact discrete "
                "walk (with its error bound) and corrected diffusion (lumped consumption):",
                "",
                _table(
                    df[
                        [
                            "routing_error",
                            "consumption",
                            "sigma",
                            "mean_D_Tmax_J",
                            "sem_D_Tmax_J",
                            "closed_form_D_Tmax_J",
                            "exact_D_Tmax_J",
                            "exact_bound_J",
                            "corrected_D_Tmax_J",
                        ]
                    ]
                ),
                "",
            ]
            res = [c for c in df.columns if c.startswith("reserve_")]
            out += [
                "Reserves at T_max (energy that covers the deficit with probability q; "
                "Monte Carlo quantile next to the closed form):",
                "",
                _table(df[["routing_error", "consumption", *res]]),
                "",
            ]
    if "sweep" in s:
        df = pd.DataFrame(s["sweep"]["rows"])
        out += [
            "## Provisioning sweep",
            "",
            _table(
                df[
                    [
                        "provisioning",
                        "consumption",
                        "mu",
                        "regime",
                        "predicted_exponent",
                        "slope",
                        "slope_low",
                        "slope_high",
                        "agrees",
                    ]
                ]
            ),
            "",
            _reading_sweep(s["sweep"]["rows"]),
            "",
        ]
    out += realworld.section(s)
    from energy_routing.report import policies

    out += policies.sections(s)
    out += ["## Figures", ""]
    readings = {
        "fig3_costs": _reading_costs(s),
        "fig2_deviation": _reading_deviation(s.get("sweep")),
    }
    for key, val in s.items():
        if key.startswith("regimes_"):
            name = key.removeprefix("regimes_")
            readings[f"fig4_growth_{name}"] = _reading_growth(val["rows"])
            readings[f"fig_distribution_{name}"] = _reading_distribution(val["rows"])
    if "sweep" in s:
        readings["fig_sweep"] = _reading_sweep(s["sweep"]["rows"])
    readings.update(policies.readings(s))
    readings.update(serving.readings(s))
    for title, name, path in figures:
        rel = Path(path).resolve().relative_to(root.resolve())
        out += [f"### {title}", "", f"![{title}]({rel.as_posix()})", ""]
        if name in readings:
            out += [readings[name], ""]
    # The answers and the contents open the report, above every section they link to.
    return "\n".join(head + answers.opening(s, out) + out)


def to_html(md_text: str, root: Path) -> str:
    """Self-contained HTML: the Markdown rendered, every image inlined as a data URI."""
    body = markdown.markdown(md_text, extensions=["tables"])
    # Every heading gets the id its links use (answers.heading_ids, GitHub's anchors).
    ids = iter(answers.heading_ids(md_text))
    body, n = re.subn(r"<h([1-6])>", lambda m: f'<h{m[1]} id="{next(ids)}">', body)
    if n != len(answers.headings(md_text)):
        raise ValueError(f"report: {n} HTML headings for {len(answers.headings(md_text))}")

    def inline(m):
        data = base64.b64encode((root / m.group(1)).read_bytes()).decode()
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="([^"]+\.png)"', inline, body)
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.45}"
        "table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}"
        "td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}"
        "img{max-width:100%}"
    )
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>Energy-aware routing: summary report</title><style>{style}</style>"
        f"</head><body>\n{body}\n</body></html>\n"
    )
