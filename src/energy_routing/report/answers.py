"""The report's opening: the answers a planner came for, then the contents.

Each answer is one line built by a *provider*, a function of ``summary.json`` that returns
an :class:`Answer` (or None when its study did not run): the answer with its uncertainty
and the horizon or conditions it holds for, and the title of the section it comes from,
which the line links to. :data:`PROVIDERS` lists them in the order shown; a new section
adds its answer by appending its provider there (the section's own module builds it from
the same numbers as the section).

Section links use :func:`heading_ids`: one id per heading of the Markdown, as GitHub
forms them (lower case, punctuation dropped, spaces to hyphens, ``-1``, ``-2`` for a
repeat); :func:`energy_routing.report.build.to_html` gives the HTML headings the same ids,
so the links work in both files.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from energy_routing.report import policies, realworld
from energy_routing.report import serving as report_serving


@dataclass(frozen=True)
class Answer:
    """One line of the answers section.

    Attributes
    ----------
    question : str
        What it answers, a few words ("Dispatch rule").
    text : str
        The answer, its uncertainty and where it holds, in one sentence or two.
    section : str
        The title of the report section it comes from (its heading, without the #s).
    """

    question: str
    text: str
    section: str


def dispatch_answer(s: dict) -> Answer | None:
    """Which dispatch rule, and why: :func:`energy_routing.report.policies.recommend` on the
    first policy scenario, as a transient and a rate with their horizons."""
    scenarios = policies._by_scenario(s.get("policies") or [])
    if not scenarios:
        return None
    rows = next(iter(scenarios.values()))
    r0 = rows[0]
    where = (
        f"at {policies._where(r0['provisioning'])} (scenario `{r0.get('scenario', '-')}`, "
        f"{r0['trials']} paired trials, horizons {policies._horizons(r0)})"
    )
    rec = policies.recommend(rows)
    if rec is None:
        text = (
            f"Keep myopic routing: no other policy saves energy beyond two standard errors {where}."
        )
    else:
        b, g = rec["row"], rec["gain"]
        text = (
            f"{policies._label(b['policy']).capitalize()} at {policies._setting(b)} "
            f"{where}: {policies._transient_words(g)} against myopic routing, "
            f"{policies._rate_words(g)}; mean wait {b['mean_wait_s']:.3g} s, "
            f"{policies._missed(b)}. Why: it saves the most by T without costing more per "
            "slot"
            + ("" if g["rate_saves"] else ", and its saving is one-off, not a share of U_T")
            + (
                f"; {policies._label(rec['close'][0][0]['policy'])} is not told apart from it"
                if rec["close"]
                else ""
            )
            + "."
        )
    return Answer("Dispatch rule", text, "Dispatch policies")


def _load_W(s: dict) -> float | None:
    """The critical load [W]: C_LB per slot over the slot length."""
    c_lb, dt = s.get("c_lb_J_per_slot"), s.get("dt_s")
    return c_lb / dt if c_lb and dt else None


def storage_answer(s: dict) -> Answer | None:
    """How much storage, in kWh and hours of the critical load: the planner's chart at the
    default provisioning (:func:`energy_routing.report.policies.storage_need`)."""
    rows = s.get("storage")
    load = _load_W(s)
    if not rows or load is None:
        return None
    rho, what = policies._default_rho(s)
    need = policies.storage_need(rows, rho)
    if need is None:
        return None
    n = need["need"]
    r0 = rows[0]
    cond = (
        f"at ρ = {rho:g} ({what}, i.i.d. harvest, myopic routing, {r0['trials']} trials to "
        f"T = {r0['horizon_slots']:,} slots)"
    )
    aux = policies._pm(n["aux_J_per_slot"], n["aux_sem_J_per_slot"], "J/slot")
    if n["capacity_J"] is None:
        text = f"No finite store of the grid suffices {cond}: only the unbounded one reaches {aux}."
    else:
        cap = n["capacity_J"]
        text = (
            f"About {realworld._kwh(cap):.3g} kWh ({cap / load / 3600:.3g} h of the "
            f"{load:.4g} W critical load C_LB) {cond}: the auxiliary energy is then {aux}, "
            "and more storage lowers it by no more than two standard errors."
        )
    return Answer("Storage", text, "Storage: the planner's chart")


def site_year_answer(s: dict) -> Answer | None:
    """What the site needs over a year (docs/model.md §15): the planner's cheapest PV and
    battery design for the renewable target at each site, with the year-to-year interval."""
    sy = s.get("site_year")
    planned = [x for x in (sy or {}).get("sites", []) if "design" in x]
    if not planned:
        return None
    parts = []
    for x in planned:
        d, m = x["design"], x["metrics"]
        lo, hi = m["renewable_fraction_interval95"]
        glo, ghi = m["grid_kWh_per_year_interval95"]
        parts.append(
            f"{x['site'].title()}: {d['pv_kwp']:.3g} kWp of PV and {d['battery_kwh']:.3g} kWh / "
            f"{d['battery_kw']:.3g} kW of battery, {x['cost_per_year']['total']:.0f} USD/yr, "
            f"renewable fraction {m['renewable_fraction']:.3f} [{lo:.3f}, {hi:.3f}], grid "
            f"{m['grid_kWh_per_year']:.0f} [{glo:.0f}, {ghi:.0f}] kWh/yr"
        )
    text = (
        f"For the {sy['load']} ({sy['load_kWh_per_year']:.0f} kWh/yr), the cheapest design "
        f"reaching a renewable fraction of {sy['target_renewable']:g} in at least "
        f"{sy['confidence']:.0%} of {sy['years']} simulated weather years (mean [95% interval "
        f"of one year]): " + "; ".join(parts) + "."
    )
    return Answer(
        "What the site needs", text, "A year at each site: PV and battery for a renewable target"
    )


def site_answer(s: dict) -> Answer | None:
    """What the real site needs: the site storage grid at its lowest provisioning, the
    smallest store within two standard errors of the largest (its grid energy per day),
    and the deterministic trace's daily and seasonal stores."""
    st = s.get("site_storage")
    if not st:
        return None
    rho = min(r["provisioning"] for r in st["rows"])
    at = [r for r in st["rows"] if r["provisioning"] == rho]
    order = sorted(at, key=lambda r: math.inf if r["capacity_J"] is None else r["capacity_J"])
    top = order[-1]
    need = next(
        r
        for r in order
        if r["tmy_kWh_per_day"] - top["tmy_kWh_per_day"]
        <= 2 * math.hypot(r["tmy_sem_kWh_per_day"], top["tmy_sem_kWh_per_day"])
    )
    site = (s.get("day_night") or {}).get("site", {}).get("name", "the PV site")
    grid = f"{need['tmy_kWh_per_day']:.3g} ± {need['tmy_sem_kWh_per_day']:.2g} kWh/day"
    iid = f"{need['iid_kWh_per_day']:.3g} ± {need['iid_sem_kWh_per_day']:.2g}"
    if need["capacity_J"] is None:
        store = "an unbounded store (no finite one of the grid comes within two standard errors)"
    else:
        store = (
            f"about {need['capacity_hours']:g} h of the {st['load_kW']:.3g} kW critical load "
            f"({realworld._kwh(need['capacity_J']):.3g} kWh) of storage"
        )
    trace = st["trace_storage_J"]
    text = (
        f"At {site} (TMY weather, ρ = {rho:g}, {st['trials']} trials over "
        f"{st['horizon_days']:.3g} days from an empty store): {store}; with it the grid "
        f"still supplies {grid} ({iid} with an i.i.d. harvest of the same mean), and more "
        "storage lowers that by no more than two standard errors. On the deterministic "
        "trace the mean day's surplus needs "
        f"{realworld._kwh(trace['daily_mean_J']):.3g} kWh (95th percentile "
        f"{realworld._kwh(trace['daily_p95_J']):.3g} kWh), and buying nothing over the "
        f"replayed year {realworld._kwh(trace['annual_J']):.3g} kWh of seasonal storage."
    )
    return Answer("Storage for the day-night swing", text, "How much storage the swing needs")


def carbon_answer(s: dict) -> Answer | None:
    """The carbon of the auxiliary energy of the first scenario's reference case (no
    routing error, lumped consumption), and of the day-night cycle's extra."""
    c = s.get("carbon")
    if not c or not c.get("rows"):
        return None
    ref = [r for r in c["rows"] if r["routing_error"] == 0 and r["consumption"] == "lumped"]
    r = (ref or c["rows"])[0]
    year = c["year"] if c["year"] is not None else "no year stated"
    text = (
        f"{r['kg_co2e']:.3g} ± {r['kg_co2e_sem']:.2g} kg CO2e for the "
        f"{r['aux_kWh']:.3g} kWh of auxiliary energy of scenario `{r['scenario']}` over "
        f"T = {r['t_max']:.3g} slots (ε = {r['routing_error']:g}, {r['consumption']} "
        f"consumption), at {c['g_co2e_per_kWh']:.4g} g CO2e/kWh ({c['region']}, {year})"
    )
    if "day_night" in s:
        g = c["g_co2e_per_kWh"] / 1000.0
        cyc = s["day_night"]["cycle_cost"]
        text += (
            f"; at the real site the day-night cycle adds "
            f"{realworld._kwh(cyc['mean_J']) * g:.3g} ± {realworld._kwh(cyc['sem_J']) * g:.2g} "
            f"kg CO2e over {s['day_night']['horizon_days']:.3g} day(s)"
        )
    return Answer("Carbon", text + ".", "Carbon of the auxiliary energy")


#: The answers, in the order shown: each a function of the summary returning an Answer
#: or None (its study did not run). A new section appends its own provider here.
def serving_answer(s: dict) -> Answer | None:
    """Energy per token as models are served: the serving law at the measured row nearest
    batch 64 of the first model, against the batch-of-one law, with the law's held-out
    error (docs/model.md §14)."""
    law = (s.get("calibration") or {}).get("serving_law")
    if not law:
        return None
    first = [r for r in law["rows"] if r["model"] == law["rows"][0]["model"]]
    r = min(first, key=lambda r: abs(math.log(r["batch"] / 64)))
    text = (
        f"Served with continuous batching, {r['model']} on {r['gpus']} {law['accelerator']} at "
        f"{r['batch']} running sequences spends {r['modelled_J']:.3g} J per output token "
        f"(measured {r['energy_per_token_J']:.3g}), against {r['paper_J']:.3g} J for the "
        f"paper's batch-of-one law, {r['paper_J'] / r['modelled_J']:.0f} times more. The law "
        f"predicts models left out of its fit with a median error of "
        f"{100 * law['held_out_median_abs_error']:.2g}% (worst factor "
        f"{law['held_out_worst_factor']:.3g}) on {len(law['rows'])} measured H100 rows."
    )
    return Answer("Energy per token as served", text, "Serving under continuous batching")


def replicas_answer(s: dict) -> Answer | None:
    """How many replicas to keep powered: at the study's highest arrival rate, per model,
    :func:`energy_routing.report.serving.planner_choice` (the fewest replicas that keep the
    deadlines) against the batch of one, and what the fewest replicas studied would save
    and miss (docs/model.md §14.2)."""
    rows = s.get("serving") or []
    if not rows:
        return None
    rate = max(r["arrival_rate_per_s"] for r in rows)
    r0 = rows[0]
    pm = report_serving._pm
    parts = []
    for c in report_serving.planner_choice(rows):
        if c["arrival_rate_per_s"] != rate:
            continue
        ok, few = c["keeps_deadlines"], c["fewest"]
        part = (
            f"{c['model']}: no studied number of replicas"
            if ok is None
            else f"{c['model']}: {ok['replicas']} replicas, "
            f"{pm(ok['energy_per_task_J'], ok['energy_per_task_J_sem'])} J per task "
            f"against {ok['paper_energy_per_task_J']:.3g} J batch-of-one"
        )
        if ok is None or few["replicas"] != ok["replicas"]:
            part += (
                f" ({few['replicas']} would batch {few['mean_batch']:.3g} sequences and "
                f"spend {pm(few['energy_per_task_J'], few['energy_per_task_J_sem'])} J but "
                f"miss {few['missed_deadline_fraction']:.0%} of the deadlines)"
            )
        parts.append(part)
    text = (
        f"At {rate:g} tasks/s ({r0['law']} law, batches of at most {r0['max_batch']}, "
        f"{r0['trials']} trials of {r0['horizon_slots']} slots), the fewest replicas that "
        f"miss at most {report_serving.MAX_MISSED:.0%} of the deadlines (with 1.96 standard "
        "errors): " + "; ".join(parts) + "."
    )
    return Answer("Replicas to keep powered", text, report_serving.SERVING_TITLE)


def batched_regimes_answer(s: dict) -> Answer | None:
    """Whether the battery's regimes and Lemma 2 hold under batching: the critical slope
    against 0.5, the long-run sigma against the per-slot one, and the transition test's
    false-positive rate (docs/model.md §14.3)."""
    g = s.get("serving_regimes") or {}
    if not g.get("trials"):
        return None
    iv = report_serving._iv
    fpr_hi = g["transition_fpr_high"]
    text = (
        f"At the critical point E[D_T] still grows like √T: slope "
        f"{iv(g['slope'], g['slope_low'], g['slope_high'])} against 0.5 ({g['trials']} "
        f"trials to T = {g['horizon_slots']} slots, 95 % bootstrap interval), but size "
        f"reserves with the long-run σ = "
        f"{iv(g['sigma_long_run_J'], g['sigma_long_run_low'], g['sigma_long_run_high'])} "
        f"J/√slot, {g['sigma_long_run_J'] / g['sigma_slot_J']:.2g} times the per-slot "
        f"{g['sigma_slot_J']:.3g} (diffusion E[D_T] {g['diffusion_D_Tmax_J']:.3g} J against "
        f"the Monte Carlo's {g['mc_D_Tmax_J']:.3g} ± {g['mc_D_Tmax_sem']:.2g} J). The "
        f"transition test rejected {g['transition_rejections']} of "
        f"{g['transition_groups']} critical data sets (false-positive rate "
        f"{iv(g['transition_false_positive_rate'], g['transition_fpr_low'], fpr_hi, '.2g')}, "
        f"level {g['alpha']:g})."
    )
    return Answer("Battery under batching", text, report_serving.REGIMES_TITLE)


PROVIDERS: list[Callable[[dict], Answer | None]] = [
    dispatch_answer,
    storage_answer,
    site_year_answer,
    site_answer,
    carbon_answer,
    serving_answer,
    replicas_answer,
    batched_regimes_answer,
]

#: Titles of the two opening sections (the first's id is ``answers``).
ANSWERS_TITLE = "Answers"
CONTENTS_TITLE = "Contents"


def slug(title: str) -> str:
    """A heading's anchor as GitHub forms it.

    >>> slug("Storage: the planner's chart")
    'storage-the-planners-chart'
    >>> slug("Regimes: scenario `fig4`")
    'regimes-scenario-fig4'
    """
    text = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return text.replace(" ", "-")


def headings(md_text: str) -> list[tuple[int, str]]:
    """``(level, title)`` of every ATX heading of the Markdown, in order."""
    out = []
    for line in md_text.splitlines():
        m = re.match(r"(#{1,6}) +(.+?) *$", line)
        if m:
            out.append((len(m[1]), m[2]))
    return out


def heading_ids(md_text: str) -> list[str]:
    """The anchor of every heading of the Markdown, in order; repeats get -1, -2, ...

    >>> heading_ids("# A\\n## B c\\n### B c\\n")
    ['a', 'b-c', 'b-c-1']
    """
    seen: dict[str, int] = {}
    out = []
    for _, title in headings(md_text):
        base = slug(title)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.append(base if n == 0 else f"{base}-{n}")
    return out


def answers(s: dict) -> list[Answer]:
    """Every provider's answer for this summary (those whose study ran)."""
    return [a for a in (p(s) for p in PROVIDERS) if a is not None]


def opening(s: dict, body: list[str]) -> list[str]:
    """Markdown lines of the answers section and the contents of ``body`` (the report's
    sections after them): every answer links to its section, every heading of the body is
    listed (level 2 and 3)."""
    body_text = "\n".join(body)
    found = answers(s)
    # The ids as they will be in the whole report: the two opening headings come first.
    opening_heads = f"## {ANSWERS_TITLE}\n## {CONTENTS_TITLE}\n"
    ids = heading_ids(opening_heads + body_text)[2:]
    anchor = {}
    for (_, title), i in zip(headings(body_text), ids, strict=True):
        anchor.setdefault(title, i)
    out = [f"## {ANSWERS_TITLE}", ""]
    if not found:
        out += ["The studies that answer the planner's questions did not run.", ""]
    for a in found:
        link = f" ([{a.section}](#{anchor[a.section]}))" if a.section in anchor else ""
        out.append(f"- **{a.question}.** {a.text}{link}")
    out += ["", f"## {CONTENTS_TITLE}", ""]
    for (level, title), i in zip(headings(body_text), ids, strict=True):
        if level in (2, 3):
            out.append(f"{'  ' * (level - 2)}- [{_plain(title)}](#{i})")
    return [*out, ""]


def _plain(title: str) -> str:
    """A heading's words for a link text (its code spans as plain text)."""
    return title.replace("`", "")
