"""The report's "Dispatch policies" and "Storage: the planner's chart" sections, built from
``summary.json`` (docs/model.md §12), and the readings of their figures.

Every sentence is built from the numbers it states: the paired difference of a policy
against myopic routing (same arrivals, harvests and routes) with its paired standard error,
and the storage grid's auxiliary energy per slot with its standard error over trials. A
difference counts as real when it is more than two standard errors from zero. The tables'
column headers are in :data:`energy_routing.report.tables.HEADERS`.
"""

from __future__ import annotations

import math

import pandas as pd

from energy_routing.engine.policies import POLICIES
from energy_routing.studies.policies import POLICY_RECORD_KEYS


def _label(name: str) -> str:
    """A policy's name in words, from its class (the config key if none is registered)."""
    cls = POLICIES.get(name)
    return cls.label if cls else name


def _num(x: float, digits: int) -> str:
    """``x`` to ``digits`` significant digits, with thousands separators, no exponent."""
    if x == 0 or not math.isfinite(x) or not 1e-3 <= abs(x) < 1e9:
        return f"{x:.{digits}g}"
    return f"{float(f'{x:.{digits}g}'):,.{max(0, digits - 1 - math.floor(math.log10(abs(x))))}f}"


def _pm(mean: float, sem: float, unit: str = "J") -> str:
    return f"{_num(mean, 4)} ± {_num(sem, 2)} {unit}"


def _signed(mean: float, sem: float, unit: str = "J") -> str:
    return f"{'+' if mean > 0 else ''}{_pm(mean, sem, unit)}"


def _real(mean: float, sem: float) -> bool:
    """More than two standard errors away from zero."""
    return abs(mean) > 2 * sem


def _setting(r: dict) -> str:
    cls = POLICIES.get(r["policy"])
    return cls.setting(r["parameter"]) if cls else f"{r['parameter']:g}"


def _by_scenario(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r.get("scenario", "policies"), []).append(r)
    return out


def _where(rho: float) -> str:
    return "the critical point ρ = 1" if rho == 1 else f"ρ = {rho:g}"


def _gain(r: dict) -> dict:
    """A row's paired gain against myopic: transient [J] and rate [J/slot] with their
    standard errors, and whether each is told apart from 0 (two standard errors)."""
    tr, tr_se = r["transient_diff_J"], r["transient_diff_sem_J"]
    rate, rate_se = r["rate_diff_J_per_slot"], r["rate_diff_sem_J_per_slot"]
    return {
        "transient": tr,
        "transient_se": tr_se,
        "rate": rate,
        "rate_se": rate_se,
        "transient_saves": tr < 0 and _real(tr, tr_se),
        "rate_saves": rate < 0 and _real(rate, rate_se),
        "rate_costs": rate > 0 and _real(rate, rate_se),
    }


def _rate_pm(r: dict) -> str:
    return _pm(r["rate_diff_J_per_slot"], r["rate_diff_sem_J_per_slot"], "J/slot")


def _missed(r: dict) -> str:
    """Missed deadlines: a guarantee where the policy cannot miss one, else measured."""
    if r.get("missed_deadline_guaranteed"):
        return "no missed deadline (guaranteed by construction)"
    sem = r.get("missed_deadline_sem", float("nan"))
    return f"missed deadlines {r['missed_deadline_fraction']:.2%} ± {sem:.1%} (measured)"


def _missed_cell(r: dict) -> str:
    """The table's missed-deadline cell: "0 (guaranteed)" or the measured fraction."""
    if r.get("missed_deadline_guaranteed"):
        return "0 (guaranteed)"
    return f"{r['missed_deadline_fraction']:.3g} ± {r.get('missed_deadline_sem', float('nan')):.2g}"


def _rate_words(g: dict) -> str:
    rate = _pm(g["rate"], g["rate_se"], "J/slot")
    if g["rate_saves"]:
        return f"and a lasting saving of {_pm(-g['rate'], g['rate_se'], 'J/slot')}"
    if g["rate_costs"]:
        return f"but a rate difference of +{rate}, a lasting extra cost"
    return f"with a rate difference of {rate}, not distinguishable from 0"


def _transient_words(g: dict) -> str:
    if g["transient_saves"]:
        return f"a one-off saving of {_pm(-g['transient'], g['transient_se'])}"
    return f"a one-off difference of {_signed(g['transient'], g['transient_se'])}"


def recommend(rows: list[dict]) -> dict | None:
    """The case to use instead of myopic, from one scenario's rows, or None (keep myopic).

    Candidates save beyond two standard errors, once (transient) or per slot (rate), and
    do not cost more per slot beyond two standard errors (a lasting extra cost outgrows
    any one-off saving). The best is the candidate with the largest saving at the horizon,
    transient + rate x T. Returns ``row``, its ``gain`` (:func:`_gain`) and ``close``: the
    best case of every other policy whose saving at T is within two combined standard
    errors of it.
    """
    alternatives = [r for r in rows if r["policy"] != "myopic" and r["parameter"] != 0]
    pool = [
        (r, g)
        for r, g in ((r, _gain(r)) for r in alternatives)
        if (g["transient_saves"] or g["rate_saves"]) and not g["rate_costs"]
    ]
    if not pool:
        return None
    best, g = min(pool, key=lambda rg: rg[0]["diff_vs_myopic_J"])
    close: dict[str, tuple[dict, dict]] = {}
    for r, h in sorted(pool, key=lambda rg: rg[0]["diff_vs_myopic_J"]):
        gap = r["diff_vs_myopic_J"] - best["diff_vs_myopic_J"]
        tie = 2 * math.hypot(r["diff_vs_myopic_sem_J"], best["diff_vs_myopic_sem_J"])
        if r["policy"] != best["policy"] and r["policy"] not in close and gap <= tie:
            close[r["policy"]] = (r, h)
    return {"row": best, "gain": g, "close": list(close.values())}


def _horizons(r0: dict) -> str:
    return f"{r0['fit_window_start_slots']:,} to {r0['horizon_slots']:,} slots"


def _policy_advice(rows: list[dict]) -> str:
    """Which policy to use, from the paired transients and rates against myopic (ε = 0);
    every statement holds at every horizon of the fit window (docs/model.md §12.6)."""
    r0 = rows[0]
    alternatives = [r for r in rows if r["policy"] != "myopic" and r["parameter"] != 0]
    parts = []
    for name in dict.fromkeys(r["policy"] for r in alternatives):
        cases = [r for r in alternatives if r["policy"] == name]
        rec = recommend(cases)
        if rec is not None:
            b, g = rec["row"], rec["gain"]
            parts.append(
                f"{_label(name)} at {_setting(b)}: {_transient_words(g)} {_rate_words(g)} "
                f"(mean wait {b['mean_wait_s']:.3g} s, {_missed(b)})"
            )
            continue
        same = [r for r in cases if r["diff_vs_myopic_J"] == 0 == r["diff_vs_myopic_sem_J"]]
        costs = [r for r in cases if _gain(r)["rate_costs"]]
        text = f"{_label(name)} saves nothing beyond two standard errors"
        if same:
            verb = "routes" if len(same) == 1 else "route"
            text += f" ({', '.join(_setting(r) for r in same)} {verb} exactly as myopic)"
        if costs:
            lo, hi = costs[0], costs[-1]
            text += f"; it costs +{_rate_pm(lo)} at {_setting(lo)}"
            if hi is not lo:
                text += f" up to +{_rate_pm(hi)} at {_setting(hi)}"
        parts.append(text)
    myopic = [r for r in rows if r["policy"] == "myopic" and r["parameter"] == 0.0]
    base = myopic[0] if myopic else None
    text = (
        f"At {_where(r0['provisioning'])} (scenario `{r0.get('scenario', '-')}`, "
        f"{r0['trials']} paired trials to T = {r0['horizon_slots']:,} slots"
        + (f", myopic U_T = {_pm(base['mean_D_T_J'], base['sem_D_T_J'])}" if base else "")
        + "; each difference against myopic is a one-off transient plus a rate per slot, "
        f"fitted from {_horizons(r0)}, ± one paired standard error): " + "; ".join(parts) + "."
    )
    rec = recommend(rows)
    if rec is None:
        return text + " No policy beats myopic routing at any of these horizons: keep myopic."
    best, g = rec["row"], rec["gain"]
    text += (
        f" Use {_label(best['policy'])} at {_setting(best)}: {_transient_words(g)}, made "
        f"in the start-up (before about {r0['fit_window_start_slots']:,} slots), "
        f"{_rate_words(g)}. {_horizon_claim(g, r0)}"
    )
    if rec["close"]:
        c, h = rec["close"][0]
        text += (
            f" {_label(c['policy']).capitalize()} at {_setting(c)} ({_transient_words(h)} "
            f"{_rate_words(h)}) saves as much at T within two standard errors, so these "
            "trials do not tell the two apart."
        )
    return text


def _horizon_claim(g: dict, r0: dict) -> str:
    """What the transient and rate say at every horizon of the fit window."""
    if g["rate_saves"]:
        return (
            f"At every horizon T from {_horizons(r0)} the expected saving is the one-off "
            "amount plus the rate times T; the rate is the part that lasts."
        )
    T = r0["horizon_slots"]
    return (
        f"At every horizon T from {_horizons(r0)} the expected difference is the one-off "
        f"amount plus the rate times T, and the rate term is within two standard errors of "
        f"0 (at T = {T:,} slots it is {_signed(g['rate'] * T, g['rate_se'] * T)}): the "
        "saving does not grow in proportion to T, so as a share of U_T it fades as T grows."
    )


def _router_advice(rows: list[dict]) -> str:
    ref = rows[0]
    be = ref["break_even_energy_J"]
    pays = [
        r["router"]
        for r in rows[1:]
        if r["diff_vs_reference_J"] < 0
        and _real(r["diff_vs_reference_J"], r["diff_vs_reference_sem_J"])
    ]
    costs = [
        r["router"]
        for r in rows[1:]
        if r["diff_vs_reference_J"] > 0
        and _real(r["diff_vs_reference_J"], r["diff_vs_reference_sem_J"])
    ]
    return (
        f"Against the reference router `{ref['router']}` (ε = {ref['routing_error']:g}, "
        f"{ref['dispatch_energy_J']:g} J per decision) at {_where(ref['provisioning'])}, a "
        f"zero-error router pays for itself while its decision costs less than {be:.3g} J "
        "(break-even, closed form). Paired over "
        f"{ref['trials']} trials to T = {ref['horizon_slots']:,} slots: "
        f"{', '.join(f'`{n}`' for n in pays) or 'none'} save energy, "
        f"{', '.join(f'`{n}`' for n in costs) or 'none'} cost more (beyond two standard "
        "errors)."
    )


def policies_section(s: dict) -> list[str]:
    """Markdown lines of "Dispatch policies"; empty when the studies did not run."""
    from energy_routing.report.tables import _table

    if not s.get("policies") and not s.get("routers"):
        return []
    out = ["## Dispatch policies", ""]
    out += [
        "Each policy runs on the same arrivals, harvests and routes as myopic routing "
        "(cheapest feasible model, ε = 0), so its paired difference U_T(policy) − "
        "U_T(myopic) has a much smaller standard error than either mean (docs/model.md §12). "
        "Tasks still queued at a horizon are billed there (from the store first, then as "
        "auxiliary energy), so waiting is never free. A deferring policy makes most of its "
        "difference in the start-up, so the difference is split, trial by trial, into a "
        "one-off transient [J] and a rate [J/slot] fitted on the later part of the horizon "
        "(docs/model.md §12.6); the difference at T is transient + rate × T. Missed "
        "deadlines are a guarantee where the policy cannot miss one by construction, and "
        "a measurement (± its standard error) where it can; failed tasks are those whose "
        "stochastic reasoning length ran out of budget.",
        "",
    ]
    # The record's own keys (one home), the parameter written as a setting with its unit.
    cols = ["setting" if k == "parameter" else k for k in POLICY_RECORD_KEYS]
    cols.append("failed_task_fraction")
    for name, rows in _by_scenario(s.get("policies") or []).items():
        df = pd.DataFrame(rows)
        df["setting"] = [_setting(r) for r in rows]
        df["missed_deadline_fraction"] = [_missed_cell(r) for r in rows]
        df["policy"] = [_label(p) for p in df["policy"]]
        out += [f"### Scenario `{name}`", "", _table(df[cols]), "", _policy_advice(rows), ""]
    if s.get("routers"):
        rows = s["routers"]
        cols = [
            "router",
            "routing_error",
            "dispatch_energy_J",
            "dispatch_latency_s",
            "mean_D_T_J",
            "sem_D_T_J",
            "diff_vs_reference_J",
            "diff_vs_reference_sem_J",
            "closed_form_D_T_J",
        ]
        out += ["### Dispatcher overhead", "", _table(pd.DataFrame(rows)[cols]), ""]
        out += [_router_advice(rows), ""]
    return out


def _cap(c) -> str:
    return "unbounded" if c is None else f"{_num(c, 3)} J"


def _grid_table(rows: list[dict], var: str) -> pd.DataFrame:
    caps = list(dict.fromkeys(r["capacity_J"] for r in rows))
    table: dict[float, dict] = {}
    for r in rows:
        cell = f"{r[var]:.4g} ± {r[var.replace('_J_per_slot', '_sem_J_per_slot')]:.2g}"
        table.setdefault(r["provisioning"], {})[f"capacity {_cap(r['capacity_J'])}"] = cell
    df = pd.DataFrame.from_dict(table, orient="index")[[f"capacity {_cap(c)}" for c in caps]]
    return df.rename_axis("provisioning").reset_index()


def storage_need(rows: list[dict], rho: float) -> dict | None:
    """At provisioning ``rho``: the smallest capacity whose auxiliary energy per slot is
    within two (combined) standard errors of the largest capacity's, with both values."""
    at = [r for r in rows if r["provisioning"] == rho]
    if not at:
        return None
    order = sorted(at, key=lambda r: math.inf if r["capacity_J"] is None else r["capacity_J"])
    top = order[-1]
    for r in order:
        gap = r["aux_J_per_slot"] - top["aux_J_per_slot"]
        if gap <= 2 * math.hypot(r["aux_sem_J_per_slot"], top["aux_sem_J_per_slot"]):
            return {"need": r, "largest": top, "smallest": order[0]}
    return {"need": top, "largest": top, "smallest": order[0]}


def cheapest_design(rows: list[dict], target: float) -> dict | None:
    """The lowest provisioning, then the smallest capacity, whose auxiliary energy per slot
    is below ``target`` by two standard errors."""
    ok = [r for r in rows if r["aux_J_per_slot"] + 2 * r["aux_sem_J_per_slot"] <= target]
    key = lambda r: (r["provisioning"], math.inf if r["capacity_J"] is None else r["capacity_J"])  # noqa: E731
    return min(ok, key=key) if ok else None


def _default_rho(s: dict) -> tuple[float, str]:
    """The default scenario's provisioning (the first policy scenario's), else 1."""
    pol = s.get("policies") or []
    if pol:
        return float(pol[0]["provisioning"]), f"scenario `{pol[0].get('scenario')}`"
    return 1.0, "the critical point"


def storage_advice(s: dict) -> str:
    rows = s["storage"]
    rho, what = _default_rho(s)
    r0 = rows[0]
    lines = [
        f"Myopic routing, {r0['trials']} trials to T = {r0['horizon_slots']:,} slots per design, "
        "common random numbers across designs; mean ± standard error over trials."
    ]
    need = storage_need(rows, rho)
    if need is None:
        lines.append(f"The grid has no design at ρ = {rho:g} ({what}).")
    else:
        n, top, low = need["need"], need["largest"], need["smallest"]
        lines.append(
            f"At ρ = {rho:g} ({what}) the auxiliary energy falls from "
            f"{_pm(low['aux_J_per_slot'], low['aux_sem_J_per_slot'], 'J/slot')} with "
            f"{_cap(low['capacity_J'])} of storage to "
            f"{_pm(top['aux_J_per_slot'], top['aux_sem_J_per_slot'], 'J/slot')} with "
            f"{_cap(top['capacity_J'])}; storage beyond {_cap(n['capacity_J'])} "
            f"({_pm(n['aux_J_per_slot'], n['aux_sem_J_per_slot'], 'J/slot')}) lowers it by "
            "no more than two standard errors, so this scenario needs about "
            f"{_cap(n['capacity_J'])} of storage."
        )
        if rho <= 1 and top["aux_J_per_slot"] > 2 * top["aux_sem_J_per_slot"]:
            lines.append(
                "Storage alone does not remove the auxiliary energy here: at or below the "
                "critical point the deficit keeps growing with T, so only provisioning "
                "above ρ = 1 brings it towards zero."
            )
    c_lb = s.get("c_lb_J_per_slot")
    if c_lb:
        target = 0.01 * c_lb
        best = cheapest_design(rows, target)
        if best is None:
            lines.append(
                f"No design of the grid keeps the auxiliary energy below 1% of C_LB "
                f"({target:.3g} J/slot) by two standard errors."
            )
        else:
            lines.append(
                f"The least provisioned design that keeps the auxiliary energy below 1% of "
                f"C_LB ({target:.3g} J/slot) by two standard errors is ρ = "
                f"{best['provisioning']:g} with {_cap(best['capacity_J'])} "
                f"({_pm(best['aux_J_per_slot'], best['aux_sem_J_per_slot'], 'J/slot')}, "
                f"wasting {_pm(best['waste_J_per_slot'], best['waste_sem_J_per_slot'], 'J/slot')}"
                "); `energy-routing size --grid results/storage/grid.nc --max-aux X` finds "
                "the cheapest design for other targets and costs."
            )
    return " ".join(lines)


def storage_section(s: dict) -> list[str]:
    """Markdown lines of "Storage: the planner's chart"; empty when the grid did not run."""
    from energy_routing.report.tables import _table

    if not s.get("storage"):
        return []
    rows = s["storage"]
    return [
        "## Storage: the planner's chart",
        "",
        storage_advice(s),
        "",
        "Auxiliary energy per slot [J/slot] by provisioning ρ [-] (rows) and store "
        "capacity (columns):",
        "",
        _table(_grid_table(rows, "aux_J_per_slot")),
        "",
        "Wasted (spilled) harvest per slot [J/slot]:",
        "",
        _table(_grid_table(rows, "waste_J_per_slot")),
        "",
    ]


def sections(s: dict) -> list[str]:
    """Both sections, in order."""
    return policies_section(s) + storage_section(s)


def readings(s: dict) -> dict[str, str]:
    """The sentences under the figures, by figure file stem."""
    out: dict[str, str] = {}
    for name, rows in _by_scenario(s.get("policies") or []).items():
        by = {p: [r for r in rows if r["policy"] == p] for p in POLICIES}
        if by["slack_deferral"]:
            last = max(by["slack_deferral"], key=lambda r: r["parameter"])
            g = _gain(last)
            out[f"fig_deferral_{name}"] = (
                f"With a maximum wait of {last['parameter']:g} s the deferral changes U_T by "
                f"{_signed(last['diff_vs_myopic_J'], last['diff_vs_myopic_sem_J'])} "
                f"(paired, at T = {last['horizon_slots']:,} slots) for a mean wait of "
                f"{last['mean_wait_s']:.3g} s per task: {_transient_words(g)} "
                f"{_rate_words(g)}."
            )
        if by["drift_plus_penalty"]:
            b = min(by["drift_plus_penalty"], key=lambda r: r["transient_diff_J"])
            g = _gain(b)
            out[f"fig_dpp_frontier_{name}"] = (
                f"The largest one-off saving comes at V = {b['parameter']:g} tasks/J "
                f"with a mean queue of {b['mean_backlog_tasks']:.3g} tasks: "
                f"{_transient_words(g)} {_rate_words(g)}."
            )
        if by["variance_aware"]:
            va = by["variance_aware"]
            lo, hi = va[0], va[-1]
            out[f"fig_variance_aware_{name}"] = (
                f"From κ = {lo['parameter']:g} to {hi['parameter']:g} /J, σ goes from "
                f"{lo.get('sigma_stochastic_J', lo['sigma_J']):.4g} to "
                f"{hi.get('sigma_stochastic_J', hi['sigma_J']):.4g} J/√slot and the mean U_T "
                f"from {_pm(lo['mean_D_T_J'], lo['sem_D_T_J'])} to "
                f"{_pm(hi['mean_D_T_J'], hi['sem_D_T_J'])}"
                + (
                    ": the lower-variance model is the more expensive one here, so "
                    "penalising variance adds a negative drift."
                    if hi["diff_vs_myopic_J"] > 0
                    and _real(hi["diff_vs_myopic_J"], hi["diff_vs_myopic_sem_J"])
                    else "."
                )
            )
    if s.get("routers"):
        rows = s["routers"]
        out["fig_routers"] = (
            f"The closed form breaks even at {rows[0]['break_even_energy_J']:.3g} J per "
            "decision; simulated, paired: "
            + ", ".join(
                f"`{r['router']}` {_signed(r['diff_vs_reference_J'], r['diff_vs_reference_sem_J'])}"
                for r in rows[1:]
            )
            + "."
        )
    if s.get("storage"):
        rho, what = _default_rho(s)
        need = storage_need(s["storage"], rho)
        if need is not None:
            n = need["need"]
            out["fig_storage_planner"] = (
                f"At ρ = {rho:g} ({what}) about {_cap(n['capacity_J'])} of storage takes the "
                f"auxiliary energy to {_pm(n['aux_J_per_slot'], n['aux_sem_J_per_slot'], 'J/slot')}"
                "; more storage does not lower it beyond two standard errors."
            )
    return out
