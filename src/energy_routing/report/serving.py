"""The report's serving study and the battery's regimes under batching, built from the
``serving`` and ``serving_regimes`` entries of ``summary.json`` (docs/model.md §14.2-14.3).

Every number is a mean over trials with its standard error, or an estimate with its 95 %
interval, and each table says over how many trials and at which horizon it was measured.
:func:`planner_choice` is the planner's reading of the serving rows (the fewest replicas
that keep deadlines); :mod:`energy_routing.report.answers` quotes it.
"""

from __future__ import annotations

import math

import pandas as pd

from energy_routing.analysis.tables import PREDICTED_EXPONENT

#: Section titles (the answers link to them).
SERVING_TITLE = "Serving energy per task: replicas and arrival rate"
REGIMES_TITLE = "The battery's regimes under batching"
#: The planner's deadline target: missed-deadline fraction plus 1.96 standard errors.
MAX_MISSED = 0.01


def _pm(mean, sem, fmt: str = ".3g") -> str:
    """``mean ± sem`` (a dash when undefined)."""
    if mean is None:
        return "–"
    return f"{mean:{fmt}}" + ("" if sem is None else f" ± {sem:.2g}")


def _iv(x, lo, hi, fmt: str = ".3g") -> str:
    """``x [lo, hi]``, an unbounded end as ∞."""

    def f(v):
        return "∞" if v is None else f"{v:{fmt}}"

    return f"{f(x)} [{f(lo)}, {f(hi)}]"


def _ratio(r: dict) -> tuple[float | None, float | None]:
    """Batched over batch-of-one energy per task and its standard error, propagated as if
    the two were independent (conservative: they are means over the same tasks)."""
    a, b = r["energy_per_task_J"], r["paper_energy_per_task_J"]
    if a is None or not b:
        return None, None
    q = a / b
    rel = ((r["energy_per_task_J_sem"] or 0) / a) ** 2 if a else 0.0
    rel += ((r["paper_energy_per_task_J_sem"] or 0) / b) ** 2
    return q, q * rel**0.5


def _missed(r: dict) -> str:
    return _pm(r["missed_deadline_fraction"], r["missed_deadline_fraction_sem"], ".2g")


def planner_choice(rows: list[dict], max_missed: float = MAX_MISSED) -> list[dict]:
    """Per model and arrival rate, the fewest replicas whose missed-deadline fraction plus
    1.96 standard errors stays at or below ``max_missed``, and the fewest replicas studied
    (the most batching), each with its serving row (``None`` when no setting keeps the
    deadlines)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["model"], r["arrival_rate_per_s"]), []).append(r)
    out = []
    for (model, rate), group in groups.items():
        group = sorted(group, key=lambda r: r["replicas"])
        ok = [
            r
            for r in group
            if r["missed_deadline_fraction"] is not None
            and r["missed_deadline_fraction"] + 1.96 * (r["missed_deadline_fraction_sem"] or 0)
            <= max_missed
        ]
        out.append({"model": model, "arrival_rate_per_s": rate,
                    "keeps_deadlines": ok[0] if ok else None, "fewest": group[0]})  # fmt: skip
    return out


def serving_lines(rows: list[dict]) -> list[str]:
    """The serving study's subsection (docs/model.md §14.2)."""
    from energy_routing.report.tables import _table

    r0 = rows[0]
    out = [f"### {SERVING_TITLE}", ""]
    out += [
        f"The batched engine of docs/model.md §14.2 ({r0['law']} law, at most "
        f"{r0['max_batch']} running sequences per replica, myopic routing) serves the "
        f"configured tasks. *Measured*: {r0['trials']} trials per setting to a horizon of "
        f"{r0['horizon_slots']} slots from empty replicas, every setting on the same "
        "arrivals (common random numbers); each cell is the mean over trials ± one "
        "standard error. Energy per task is the replicas' energy in the horizon (idle "
        "included) per generated token, times the mean token budget of the routed tasks; "
        "the batch-of-one column serves the same tasks alone (the paper's law). The ratio's "
        "standard error treats the two as independent (conservative).",
        "",
    ]
    table = []
    for r in rows:
        q, q_se = _ratio(r)
        table.append(
            {
                "model": r["model"],
                "arrival_rate_per_s": r["arrival_rate_per_s"],
                "replicas": r["replicas"],
                "tasks_mean": r["tasks_mean"],
                "mean_batch": _pm(r["mean_batch"], r["mean_batch_sem"]),
                "served_J_per_token": _pm(r["energy_per_token_J"], r["energy_per_token_J_sem"]),
                "served_J_per_task": _pm(r["energy_per_task_J"], r["energy_per_task_J_sem"]),
                "batch_of_one_J_per_task": _pm(
                    r["paper_energy_per_task_J"], r["paper_energy_per_task_J_sem"]
                ),
                "served_over_batch_of_one": _pm(q, q_se),
                "missed_deadline_fraction": _missed(r),
            }
        )
    out += [_table(pd.DataFrame(table), 3), ""]
    out += [
        f"The planner's reading: per model and arrival rate, the fewest replicas whose "
        f"missed-deadline fraction plus 1.96 standard errors stays at or below "
        f"{MAX_MISSED:g}, against the fewest replicas studied (the fullest batches):",
        "",
    ]
    for c in planner_choice(rows):
        ok, few = c["keeps_deadlines"], c["fewest"]
        head = f"- {c['model']} at {c['arrival_rate_per_s']:g} tasks/s: "
        if ok is None:
            head += "no studied number of replicas keeps the deadlines"
        else:
            head += (
                f"**{ok['replicas']} replicas**, "
                f"{_pm(ok['energy_per_task_J'], ok['energy_per_task_J_sem'])} J per task "
                f"(batch of one {ok['paper_energy_per_task_J']:.3g} J, mean batch "
                f"{ok['mean_batch']:.3g})"
            )
        if ok is None or few["replicas"] != ok["replicas"]:
            head += (
                f"; {few['replicas']} replicas would spend "
                f"{_pm(few['energy_per_task_J'], few['energy_per_task_J_sem'])} J per task "
                f"but miss {_missed(few)} of the deadlines"
            )
        out.append(head + ".")
    return [*out, ""]


def regimes_lines(g: dict) -> list[str]:
    """The regimes under batching (docs/model.md §14.3): the volatility, drift, T*, the
    deficit at the horizon, the slopes and the transition test's level."""
    from energy_routing.report.tables import _table

    if not g.get("trials"):
        return []
    n, horizon = g["trials"], g["horizon_slots"]

    def giv(key, low, high, fmt=".3g"):
        return _iv(g[key], g[low], g[high], fmt)

    def gpm(key, sem):
        return _pm(g[key], g[sem])

    basis = f"{n} trials at ρ = 1, T = {horizon} slots"
    claims = [
        {
            "quantity": "drift μ, realised (B_T / T) [J/slot]",
            "estimate": _iv(g["mu_J_per_slot"], g["mu_low"], g["mu_high"]),
            "basis": f"{basis}; t-interval",
        },
        {
            "quantity": "σ from the per-slot variance (i.i.d. Lemma 2) [J/√slot]",
            "estimate": f"{g['sigma_slot_J']:.3g}",
            "basis": f"{basis}; what the §11 theory would use",
        },
        {
            "quantity": "σ from the long-run variance [J/√slot]",
            "estimate": giv("sigma_long_run_J", "sigma_long_run_low", "sigma_long_run_high"),
            "basis": f"{basis}; batch means, interval from the variance's SE",
        },
        {
            "quantity": "long-run variance of C_t [J²/slot]",
            "estimate": gpm("consumption_long_run_var_J2_per_slot", "consumption_long_run_var_sem"),
            "basis": f"per-slot variance {g['consumption_var_J2_per_slot']:.3g}; ± SE over trials",
        },
        {
            "quantity": "the same, blocks twice as long [J²/slot]",
            "estimate": gpm(
                "consumption_long_run_var_2x_block", "consumption_long_run_var_2x_block_sem"
            ),
            "basis": "check that the blocks are long enough",
        },
        {
            "quantity": "crossover T* [slots]",
            "estimate": _iv(g["t_star_slots"], g["t_star_low"], g["t_star_high"]),
            "basis": "from μ and σ with their intervals",
        },
        {
            "quantity": "mean D_T at the horizon, Monte Carlo [J]",
            "estimate": _pm(g["mc_D_Tmax_J"], g["mc_D_Tmax_sem"]),
            "basis": f"{basis}; ± SE",
        },
        {
            "quantity": "diffusion, long-run σ / per-slot σ [J]",
            "estimate": f"{g['diffusion_D_Tmax_J']:.3g} / {g['diffusion_slot_sigma_D_Tmax_J']:.3g}",
            "basis": "closed form at the realised drift",
        },
        {
            "quantity": "large-T slope of E[D_T] at ρ = 1 (theory: 0.5) [-]",
            "estimate": _iv(g["slope"], g["slope_low"], g["slope_high"]),
            "basis": f"{basis}, from T = {g['slope_from_T']:.3g}; trial bootstrap; "
            f"holds 0.5: {'yes' if g['slope_holds_half'] else 'no'}",
        },
        {
            "quantity": "diffusion's slope over the same window [-]",
            "estimate": giv(
                "diffusion_slope_at_mu", "diffusion_slope_low", "diffusion_slope_high", ".4g"
            ),
            "basis": "at the realised drift, range over its interval",
        },
        {
            "quantity": f"transition test's false-positive rate (level {g['alpha']:g}) [-]",
            "estimate": giv(
                "transition_false_positive_rate", "transition_fpr_low", "transition_fpr_high", ".2g"
            ),
            "basis": f"{g['transition_rejections']} of {g['transition_groups']} disjoint "
            f"groups of {g['transition_group_trials']} critical trials; Clopper-Pearson",
        },
    ]
    out = [f"### {REGIMES_TITLE}", ""]
    out += [
        f"The battery walks on batched consumption (docs/model.md §14.3): {g['law']} law, "
        f"{g['replicas']} replicas per model of at most {g['max_batch']} sequences, "
        f"{g['arrival_rate_per_s']:g} tasks/s, the harvest Gamma and i.i.d. with mean ρ "
        f"times the trials' mean consumption {g['consumption_mean_J_per_slot']:.4g} J/slot. "
        f"*Measured*: {n} trials at ρ = 1, horizon {horizon} slots after the warm-up; "
        "intervals 95 %. The exact discrete theory of §11 is withheld "
        f"({g['exact_withheld']}); Lemma 2 and T* take the long-run variance instead.",
        "",
        _table(pd.DataFrame(claims)),
        "",
        "Large-T slope of E[D_T] at every provisioning ratio against the exponent of "
        "Theorem 2 (95 % trial-bootstrap interval):",
        "",
    ]
    slopes = pd.DataFrame(g["slopes"])
    slopes["predicted_exponent"] = [
        PREDICTED_EXPONENT["critical" if p == 1.0 else "deficit" if p < 1.0 else "surplus"]
        for p in slopes["provisioning"]
    ]
    slopes["agrees"] = [
        bool(lo <= p <= hi)
        for lo, p, hi in zip(slopes.slope_low, slopes.predicted_exponent, slopes.slope_high,
                             strict=True)
    ]  # fmt: skip
    cols = ["provisioning", "trials", "predicted_exponent", "slope", "slope_low", "slope_high"]
    out += [_table(slopes[[*cols, "agrees"]], 3), ""]
    off = [p for p in slopes["provisioning"] if p != 1.0]
    if off:
        gap = min(abs(1.0 - p) for p in off) * g["consumption_mean_J_per_slot"]
        t_off = 2.0 * g["sigma_long_run_J"] ** 2 / (math.pi * gap**2)
        out += [
            f"Away from ρ = 1 Theorem 2's exponent holds only for T well past T*: at the "
            f"nearest ratio, |μ| = {gap:.3g} J/slot and T* = 2σ²/(πμ²) ≈ {t_off:.3g} slots, "
            f"against a window from T = {g['slope_from_T']:.3g} to {horizon} slots, so a "
            "fitted slope a little inside [0, 1] is the finite horizon, not a new regime.",
            "",
        ]
    ratio = g["sigma_long_run_J"] / g["sigma_slot_J"]
    out += [
        f"Batched consumption is correlated from slot to slot: the long-run σ is "
        f"{ratio:.2g} times the per-slot one, and a reserve or a T* sized with the per-slot "
        "σ would be too small by that factor (squared for T*).",
        "",
    ]
    return out


def readings(s: dict) -> dict[str, str]:
    """The sentence under ``fig_serving``: per model, at the highest arrival rate, the
    fewest replicas studied against the most (the economy of batching and its price in
    deadlines), means ± one standard error."""
    rows = s.get("serving") or []
    rates = [r["arrival_rate_per_s"] for r in rows]
    if not rows:
        return {}
    top = [r for r in rows if r["arrival_rate_per_s"] == max(rates)]
    parts = []
    for model in dict.fromkeys(r["model"] for r in top):
        mine = sorted((r for r in top if r["model"] == model and r["energy_per_task_J"]),
                      key=lambda r: r["replicas"])  # fmt: skip
        if len(mine) < 2:
            continue
        few, many = mine[0], mine[-1]
        parts.append(
            f"{model} on {few['replicas']} replicas batches {few['mean_batch']:.3g} sequences "
            f"and spends {_pm(few['energy_per_task_J'], few['energy_per_task_J_sem'])} J per "
            f"task, missing {_missed(few)} of the deadlines; on {many['replicas']} it batches "
            f"{many['mean_batch']:.3g}, spends "
            f"{_pm(many['energy_per_task_J'], many['energy_per_task_J_sem'])} J and misses "
            f"{_missed(many)}"
        )
    if not parts:
        return {}
    text = (
        f"At {max(rates):g} tasks/s: " + "; ".join(parts) + f" ({rows[0]['trials']} trials of "
        f"{rows[0]['horizon_slots']} slots per setting, mean ± one standard error)."
    )
    return {"fig_serving": text}


def section(s: dict) -> list[str]:
    """Both subsections, each when its study ran; empty otherwise."""
    out = serving_lines(s["serving"]) if s.get("serving") else []
    reg = s.get("serving_regimes") or {}
    return out + (regimes_lines(reg) if reg.get("activate", True) else [])
