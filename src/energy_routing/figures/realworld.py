"""Figures of real supply, real hardware and carbon, drawn with seaborn (docs/model.md §13).

Like :mod:`energy_routing.figures.paper`: each ``fig_*`` function takes data (frames, arrays,
dicts; never paths) and returns a matplotlib Figure, units in the axis labels. Save with
:func:`energy_routing.figures.paper.save`.
"""

from __future__ import annotations

import matplotlib

from energy_routing.units import J_PER_KWH, SECONDS_PER_DAY

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def fig_solar_profile(pv: dict, mean_J: float | None = None, dt_s: float = 1.0):
    """PV harvest of the TMY year: mean daily shape per month and the daily energy over the
    year against clear sky (docs/model.md §13).

    Parameters
    ----------
    pv : dict
        Output of :func:`energy_routing.supply.solar.pv_hourly`.
    mean_J : float, optional
        Scale the profile to this mean harvest [J/slot] (default: per kW of array).
    dt_s : float
        Slot length [s], for the scaling.
    """
    ac, clear = np.asarray(pv["ac_W"]), np.asarray(pv["clear_ac_W"])
    scale = 1.0 if mean_J is None else (mean_J / dt_s) / ac.mean()
    unit = "per kW of array" if mean_J is None else f"scaled to {mean_J:.0f} J/slot"
    days = (ac * scale).reshape(365, 24)
    month = np.repeat(np.arange(12), [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    colors = sns.color_palette("twilight", 12)
    hours = np.arange(24) + 0.5
    for m in range(12):
        axes[0].plot(hours, days[month == m].mean(axis=0) / 1000, color=colors[m], label=_MONTHS[m])
    axes[0].axhline(ac.mean() * scale / 1000, color="k", ls="--", lw=1, label="annual mean")
    axes[0].set(
        xlabel="Hour of day, local standard time [h]",
        ylabel="Mean AC power [kW]",
        xlim=(0, 24),
        xticks=range(0, 25, 3),
    )
    axes[0].legend(ncol=2, fontsize="x-small", title="month")
    daily = days.sum(axis=1) * 3600 / J_PER_KWH
    daily_clear = (clear * scale).reshape(365, 24).sum(axis=1) * 3600 / J_PER_KWH
    doy = np.arange(1, 366)
    axes[1].plot(doy, daily_clear, color="0.6", lw=1, label="clear sky (Ineichen)")
    axes[1].plot(doy, daily, lw=0.8, label="TMY weather")
    axes[1].set(xlabel="Day of year [-]", ylabel="Daily AC energy [kWh]", xlim=(1, 365))
    axes[1].legend(fontsize="small")
    site = pv["site"]
    fig.suptitle(f"PV harvest, {site['name']} ({site['weather_file']}), {unit}")
    fig.tight_layout()
    return fig


def fig_day_night(rows, storage: dict | None = None, dt_s: float = 1.0):
    """Mean deficit D_T against the horizon for each harvest and load, with +-1.96
    standard errors (docs/model.md §13); optionally the storage the swing needs.

    Parameters
    ----------
    rows : list of dict or pandas.DataFrame
        From :func:`energy_routing.studies.site.day_night_study` (``harvest``, ``load``,
        ``horizon_slots``, ``mean_J``, ``sem_J``).
    storage : dict, optional
        Its second return value (J).
    dt_s : float
        Slot length [s], for the time axis in days.
    """
    df = pd.DataFrame(rows).copy()
    df["days"] = df["horizon_slots"] * dt_s / SECONDS_PER_DAY
    # Horizons of a few days read better in hours on a linear axis.
    short = df["days"].max() <= 3
    xcol = "hours" if short else "days"
    df["hours"] = df["days"] * 24
    ncols = 2 if storage else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.2 * ncols, 5.4), squeeze=False)
    ax = axes[0, 0]
    harvests = list(dict.fromkeys(df["harvest"]))
    colors = dict(zip(harvests, sns.color_palette(n_colors=len(harvests)), strict=True))
    styles = {"flat": "-", "aligned": "--", "misaligned": ":"}
    for (h, load), g in df.groupby(["harvest", "load"], sort=False):
        g = g.sort_values("days")
        y, e = g["mean_J"] / J_PER_KWH, 1.96 * g["sem_J"] / J_PER_KWH
        ax.plot(
            g[xcol],
            y,
            styles.get(load, "-"),
            marker="o",
            ms=3,
            color=colors[h],
            label=f"{h}, {load} load",
        )
        # On the log axis a band reaching below zero is cut at a tenth of the mean.
        low = np.maximum(y - e, y / 10)
        ax.fill_between(g[xcol], low, y + e, color=colors[h], alpha=0.15, lw=0)
    ax.set(
        xscale="linear" if short else "log",
        yscale="log",
        xlabel="Horizon T [hours]" if short else "Horizon T [days]",
        ylabel="Mean auxiliary energy E[D_T] [kWh]",
    )
    if short and df["hours"].nunique() <= 12:
        ax.set_xticks(sorted(df["hours"].unique()))
    ax.legend(fontsize="x-small", ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    if storage:
        ax2 = axes[0, 1]
        recs = [
            {"profile": p, "measure": k.replace("_J", "").replace("_", " "), "kWh": v / J_PER_KWH}
            for p, d in storage.items()
            for k, v in d.items()
        ]
        palette = {p: colors.get(p, "0.5") for p in storage}
        sns.barplot(
            pd.DataFrame(recs), x="measure", y="kWh", hue="profile", ax=ax2, palette=palette
        )
        ax2.set(yscale="log", xlabel="", ylabel="Storage the swing needs [kWh]")
    fig.tight_layout()
    return fig


def fig_calibration(table: pd.DataFrame):
    """Energy per output token: modelled here (batch 1 and batch B) against EcoLogits'
    external estimate, and their ratio, per model and accelerator (docs/model.md §13)."""
    t = table.copy()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.6), sharey=True)
    order = list(dict.fromkeys(t["model"]))
    accs = list(dict.fromkeys(t["accelerator"]))
    colors = dict(zip(accs, sns.color_palette(n_colors=len(accs)), strict=True))
    ypos = {m: i for i, m in enumerate(order)}
    batch = int(t["batch_size"].iloc[0])
    for j, acc in enumerate(accs):
        g = t[t["accelerator"] == acc]
        y = g["model"].map(ypos).to_numpy() + 0.3 * (j / max(len(accs) - 1, 1) - 0.5)
        axes[0].scatter(
            g["modelled_here_J_per_token"],
            y,
            color=colors[acc],
            marker="o",
            s=22,
            label=f"modelled here, {acc}, batch 1",
        )
        axes[0].scatter(
            g["modelled_here_batch_J_per_token"],
            y,
            facecolor="none",
            edgecolor=colors[acc],
            marker="s",
            s=22,
        )
    ext = t.drop_duplicates("model").set_index("model").loc[order]
    axes[0].scatter(
        ext["external_estimate_J_per_token"],
        np.arange(len(order)),
        marker="x",
        s=80,
        color="k",
        label="external estimate (EcoLogits)",
        zorder=5,
    )
    axes[0].scatter(
        ext["external_gpu_only_J_per_token"],
        np.arange(len(order)),
        marker="+",
        s=80,
        color="0.4",
        label="external, GPUs only",
        zorder=5,
    )
    axes[0].scatter(
        [],
        [],
        facecolor="none",
        edgecolor="0.3",
        marker="s",
        label=f"modelled here, batch {batch} (hollow)",
    )
    axes[0].set(
        xscale="log",
        xlabel="Energy per output token [J/token]",
        ylabel="",
        yticks=range(len(order)),
        yticklabels=order,
    )
    axes[0].invert_yaxis()
    fig.legend(
        *axes[0].get_legend_handles_labels(),
        loc="lower center",
        ncol=3,
        fontsize="x-small",
        bbox_to_anchor=(0.5, -0.02),
    )
    ratio = pd.concat(
        [
            t.assign(kind="batch 1 / EcoLogits", ratio=t["ratio_modelled_to_external"]),
            t.assign(kind="batch B / EcoLogits GPUs", ratio=t["ratio_batch_to_external_gpu"]),
        ]
    )
    sns.stripplot(
        ratio, y="model", x="ratio", hue="kind", order=order, ax=axes[1], jitter=0.15, size=5
    )
    axes[1].axvline(1.0, color="k", lw=1)
    axes[1].set(xscale="log", xlabel="Ratio modelled here / external estimate [-]")
    axes[1].legend(fontsize="x-small")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def fig_serving_law(rows: pd.DataFrame, accelerator: str = "H100-SXM5-80GB"):
    """Energy per output token and replica power against the running batch: measured rows
    (points), the serving law with the shipped constants (lines) and the batch-of-one law
    of §1 (dashed), per model (docs/model.md §14)."""
    from energy_routing.model import serving

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    models = list(dict.fromkeys(rows["model"]))
    colors = dict(zip(models, sns.color_palette(n_colors=len(models)), strict=True))
    k = serving.constants(accelerator)
    from energy_routing.model.catalogue import ACCELERATORS

    accel = ACCELERATORS[accelerator]
    batch = np.geomspace(1, 512, 60)
    for m in models:
        g = rows[rows["model"] == m]
        gpus, context = int(g["gpus"].iloc[0]), float(g["context"].iloc[0])
        arch = serving.ServingArch.from_catalogue(m)
        law = serving.step(arch, accel, k, gpus, batch, context)
        label = f"{m}, {gpus} GPU{'s' if gpus > 1 else ''}"
        c = colors[m]
        axes[0].plot(batch, law.energy_per_token_j, color=c, label=f"{label}: serving law")
        axes[0].scatter(g["batch"], g["energy_per_token_J"], color=c, s=28, zorder=5)
        paper = float(serving.paper_energy_per_token(arch, accel, gpus, context))
        axes[0].axhline(paper, color=c, ls="--", lw=1)
        axes[1].plot(batch, law.power_w / gpus, color=c)
        axes[1].scatter(g["batch"], g["power_W"] / gpus, color=c, s=28, zorder=5)
    top = max(float(serving.paper_energy_per_token(serving.ServingArch.from_catalogue(m), accel,
              int(rows.loc[rows.model == m, "gpus"].iloc[0]), 0.0)) for m in models)  # fmt: skip
    axes[0].set_ylim(top=2.0 * top)
    axes[0].scatter([], [], color="0.3", s=28, label="measured (ML.ENERGY)")
    axes[0].plot([], [], color="0.3", ls="--", lw=1, label="batch-of-one law (§1)")
    axes[0].set(
        xscale="log",
        yscale="log",
        xlabel="Running sequences B [-]",
        ylabel="Energy per output token [J/token]",
    )
    axes[0].legend(fontsize="x-small")
    axes[1].axhline(accel.board_power_w, color="k", lw=1, ls=":")
    axes[1].axhline(k.idle_power_w, color="0.5", lw=1, ls=":")
    axes[1].set(
        xscale="log",
        ylim=(0, accel.board_power_w * 1.08),
        xlabel="Running sequences B [-]",
        ylabel=f"Power per accelerator [W] ({accelerator})",
    )
    axes[1].annotate("board power", (1.1, accel.board_power_w), va="bottom", fontsize="small")
    axes[1].annotate("idle", (1.1, k.idle_power_w), va="bottom", fontsize="small")
    fig.tight_layout()
    return fig


def fig_sensitivity(table: pd.DataFrame, horizon: float):
    """E[D_T] at the horizon and C_LB against the factor on the energy constants, with the
    supply sized for the nominal hardware (docs/model.md §13)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    sns.lineplot(table, x="factor", y="c_lb_J_per_slot", hue="moved", marker="o", ax=axes[0])
    axes[0].set(
        xlabel="Factor on the energy constant(s) [-]",
        ylabel="Lower-bound consumption C_LB [J/slot]",
    )
    t = table.assign(
        kwh=table["expected_deficit_J"] / J_PER_KWH,
        kwh_re=table["expected_deficit_reprovisioned_J"] / J_PER_KWH,
    )
    sns.lineplot(t, x="factor", y="kwh", hue="moved", marker="o", ax=axes[1])
    for row in t.itertuples():
        if row.changed_tasks:
            axes[1].annotate(
                row.changed_tasks,
                (row.factor, row.kwh),
                fontsize="x-small",
                textcoords="offset points",
                xytext=(3, 3),
            )
    base = t[t["factor"] == 1.0]["kwh_re"]
    if len(base):
        axes[1].axhline(float(base.iloc[0]), color="0.5", ls=":", lw=1, label="nominal, critical")
    axes[1].set(
        yscale="log",
        xlabel="Factor on the energy constant(s) [-]",
        ylabel=f"E[D_T] at T = {horizon:.3g} slots [kWh]",
    )
    axes[1].legend(
        fontsize="x-small",
        title="moved (labels: tasks that change model)",
        loc="upper left",
        title_fontsize="x-small",
    )
    fig.tight_layout()
    return fig


def fig_carbon(rows, intensity: dict):
    """Mean auxiliary energy at T_max as emissions for one grid region, with 95%
    intervals over trials (docs/model.md §13).

    Parameters
    ----------
    rows : list of dict or pandas.DataFrame
        The carbon stage's rows: ``scenario``, ``routing_error``, ``consumption``,
        ``kg_co2e`` and its standard error ``kg_co2e_sem`` [kg CO2e].
    intensity : dict
        ``region_name``, ``g_co2e_per_kWh``, ``source`` and ``year`` (None when not stated).
    """
    df = pd.DataFrame(rows)
    df["case"] = [
        f"{s}, ε = {e:g}" for s, e in zip(df["scenario"], df["routing_error"], strict=True)
    ]
    fig, ax = plt.subplots(
        figsize=(7.5, 0.45 * df["case"].nunique() * df["consumption"].nunique() + 2.2)
    )
    modes = list(dict.fromkeys(df["consumption"]))
    cases = list(dict.fromkeys(df["case"]))
    height = 0.8 / len(modes)
    for k, (mode, color) in enumerate(
        zip(modes, sns.color_palette(n_colors=len(modes)), strict=True)
    ):
        g = df[df["consumption"] == mode].set_index("case").loc[cases]
        y = np.arange(len(cases)) + (k - (len(modes) - 1) / 2) * height
        ax.barh(
            y,
            g["kg_co2e"],
            height=height,
            color=color,
            label=f"{mode} consumption",
            xerr=1.96 * g["kg_co2e_sem"],
            error_kw={"lw": 1, "capsize": 2},
        )
    ax.set_yticks(np.arange(len(cases)), cases)
    ax.invert_yaxis()
    year = f", {intensity['year']}" if intensity.get("year") else ", no year stated"
    ax.set(
        xscale="log",
        xlabel="Emissions of the mean auxiliary energy at T_max [kg CO2e]",
        ylabel="",
        title=f"{intensity['region_name']}: {intensity['g_co2e_per_kWh']:.0f} g CO2e/kWh{year}",
    )
    ax.legend(fontsize="small", loc="upper right")
    fig.text(
        0.01, 0.01, f"source: {intensity['source']}", fontsize="xx-small", va="bottom", wrap=True
    )
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def fig_site_storage(part: dict):
    """Auxiliary energy per day against the store's capacity at a real site and for the
    i.i.d. harvest of the same mean, with 95% intervals over paired trials
    (docs/model.md §12.7, §13).

    Parameters
    ----------
    part : dict
        :func:`energy_routing.stages.site_storage.site_storage_summary`: ``rows`` per
        provisioning and capacity (``capacity_hours``, hours of the critical load, None =
        unbounded; ``load_kW``) with ``<harvest>_kWh_per_day`` and
        ``<harvest>_sem_kWh_per_day``, ``trace_storage_J`` of the deterministic trace.
    """
    df = pd.DataFrame(part["rows"])
    finite = df["capacity_hours"].dropna()
    top = float(finite.max()) if len(finite) else 1.0
    unbounded_at = top * 3.0  # where the unbounded store is drawn
    df["cap"] = df["capacity_hours"].fillna(unbounded_at)
    hour_J = part["load_kW"] * J_PER_KWH  # one hour of the critical load [J]
    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    harvests = [
        c.removesuffix("_kWh_per_day")
        for c in df.columns
        if c.endswith("_kWh_per_day") and "_sem_" not in c and not c.startswith("excess")
    ]
    colors = dict(zip(harvests, sns.color_palette(n_colors=len(harvests)), strict=True))
    styles = ["-", "--", ":", "-."]
    for k, (rho, g) in enumerate(df.groupby("provisioning")):
        g = g.sort_values("cap")
        for h in harvests:
            y = g[f"{h}_kWh_per_day"].to_numpy()
            e = 1.96 * g[f"{h}_sem_kWh_per_day"].to_numpy()
            label = {"iid": "i.i.d. Gamma harvest", "tmy": "real site (TMY weather)"}.get(h, h)
            # on the log axis a bar reaching below zero is cut at a tenth of the mean
            ax.errorbar(
                g["cap"],
                y,
                yerr=[np.minimum(e, 0.9 * y), e],
                fmt=styles[k % 4],
                marker="o",
                ms=4,
                capsize=2,
                color=colors[h],
                label=f"{label}, ρ = {rho:g}",
            )
    trace = part.get("trace_storage_J", {})
    for key, name in (("daily_mean_J", "mean night"), ("daily_p95_J", "95th-percentile night")):
        if key in trace:
            ax.axvline(trace[key] / hour_J, color="0.4", lw=0.8, ls=":")
            ax.text(
                trace[key] / hour_J,
                1.0,
                f" {name}",
                transform=ax.get_xaxis_transform(),
                rotation=90,
                va="top",
                ha="right",
                fontsize="x-small",
                color="0.3",
            )
    ax.set(xscale="log", yscale="log")
    ticks = [*sorted(set(finite)), unbounded_at]
    ax.set_xticks(ticks, [*(f"{t:.3g}" for t in ticks[:-1]), "∞"])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set(
        xlabel=f"Store capacity [hours of the {part['load_kW']:.3g} kW critical load]",
        ylabel="Mean auxiliary energy [kWh/day]",
        title=f"Empty store at midnight, {part['horizon_days']:.3g} days, "
        f"{part['trials']} paired trials",
    )
    ax.legend(fontsize="x-small", loc="center right")
    fig.tight_layout()
    return fig


def fig_site_year(part: dict):
    """Renewable fraction over PV size and battery capacity at each site, the planner's
    design and the cost-optimal frontier (docs/model.md §15).

    Parameters
    ----------
    part : dict
        :func:`energy_routing.studies.site_plan.site_year_study`'s summary: ``axes``
        (``pv_kwp``, ``battery_kwh``), and per site in ``sites`` its ``contour`` (mean
        renewable fraction over simulated years and its (1 - confidence) quantile, both
        (pv, battery) at the chosen design's battery power), ``design`` and ``frontier``.
    """
    sites = part["sites"]
    pv = np.asarray(part["axes"]["pv_kwp"])
    kwh = np.asarray(part["axes"]["battery_kwh"])
    target, conf = part["target_renewable"], part["confidence"]
    fig, axes = plt.subplots(
        1, len(sites), figsize=(4.0 * len(sites) + 1.0, 4.6), squeeze=False, layout="constrained"
    )
    levels = np.linspace(0.0, 1.0, 11)
    for ax, site in zip(axes[0], sites, strict=True):
        ax.set_title(
            f"{site['site'].title()}\n{site['pv_kWh_per_kWp']:.0f} kWh/kWp/yr",
            fontsize="small",
        )
        if "contour" not in site:
            ax.text(0.5, 0.5, site.get("plan_error", "no design"), ha="center", wrap=True)
            continue
        mean = np.asarray(site["contour"]["renewable_fraction_mean"])
        quant = np.asarray(site["contour"]["renewable_fraction_quantile"])
        filled = ax.contourf(pv, kwh, mean.T, levels=levels, cmap="viridis", vmin=0, vmax=1)
        lines = ax.contour(pv, kwh, mean.T, levels=levels, colors="white", linewidths=0.4)
        ax.clabel(lines, fmt="%.1f", fontsize="xx-small")
        if quant.min() < target < quant.max():
            ax.contour(pv, kwh, quant.T, levels=[target], colors="orange", linewidths=1.5)
        front = site["frontier"]
        ax.plot(
            [f["pv_kwp"] for f in front],
            [f["battery_kwh"] for f in front],
            "w--",
            marker=".",
            lw=0.8,
            label="cost-optimal frontier",
        )
        d = site["design"]
        ax.plot(d["pv_kwp"], d["battery_kwh"], "r*", ms=14, label="planner's design")
        ax.set(xlabel="PV array [kWp]", ylabel="Battery [kWh]")
    axes[0][0].plot([], [], color="orange", label=f"{target:g} reached in {conf:.0%} of years")
    axes[0][0].legend(fontsize="x-small", loc="upper left")
    fig.colorbar(filled, ax=axes[0].tolist(), label="Mean renewable fraction [-]")
    fig.suptitle(
        f"A year at each site: load {part['load']}, {part['years']} simulated years, battery "
        f"power {sites[0].get('contour', {}).get('battery_kw', float('nan')):.3g} kW",
        fontsize="small",
    )
    return fig
