"""Figures of the policy, storage and dispatcher studies (docs/model.md §12).

Each ``fig_*`` function takes datasets (never paths) and returns a matplotlib Figure;
``energy_routing.figures.paper.save`` writes it. Error bars are ±1.96 standard errors over
trials; differences against myopic are paired on common random numbers.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import xarray as xr

from energy_routing.studies import sizing

Z95 = 1.96


def _sem(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1) / math.sqrt(x.size)) if x.size > 1 else float("nan")


def _cases(ds: xr.Dataset, policy: str):
    """(parameter values, per-case arrays) of one policy, NaN padding dropped."""
    a = list(ds.policy.values).index(policy)
    values = ds.parameter_value.values[a]
    keep = ~np.isnan(values)
    return a, values[keep], np.flatnonzero(keep)


def fig_deferral(ds: xr.Dataset):
    """Slack-aware deferral against myopic: auxiliary energy saved and the wait it costs.

    Left: paired difference of U_T (deferral - myopic) [J] against the maximum wait [s],
    ±1.96 paired standard errors. Middle: mean wait per task [s] and time-averaged queue.
    Right (when the dataset has it): the paired difference against the horizon t [slots]
    for the longest wait, mean ±1.96 s.e. over trials, with the fitted transient + rate x t
    on the fit window (docs/model.md §12.6): most of the difference is made early.
    """
    a, values, idx = _cases(ds, "slack_deferral")
    diff = ds.diff_vs_myopic_J.values[a][idx]
    wait = ds.wait_slots_mean.values[a][idx] * float(ds.attrs["dt_s"])
    backlog = ds.backlog_mean_tasks.values[a][idx]
    by_horizon = "diff_vs_myopic_t_J" in ds
    fig, axes = plt.subplots(1, 3 if by_horizon else 2, figsize=(16 if by_horizon else 11, 4.2))
    if by_horizon:
        _by_horizon(axes[2], ds, a, int(idx[-1]), values[-1])
    mean = diff.mean(axis=1)
    err = np.array([Z95 * _sem(d) for d in diff])
    axes[0].errorbar(values, mean, yerr=err, marker="o", capsize=3)
    axes[0].axhline(0.0, color="0.4", lw=0.8, ls="--")
    axes[0].set_xlabel("maximum wait used [s]")
    axes[0].set_ylabel("U_T(deferral) - U_T(myopic) [J]")
    axes[0].set_title(f"auxiliary energy to T = {ds.attrs['horizon_slots']:,} slots")
    axes[1].plot(values, wait.mean(axis=1), marker="o", label="mean wait per task [s]")
    # Little's law: at one task per slot the two curves coincide; the queue is dashed.
    axes[1].plot(
        values,
        backlog.mean(axis=1),
        marker="s",
        ls="--",
        mfc="none",
        ms=9,
        label="mean queue [tasks]",
    )
    axes[1].set_xlabel("maximum wait used [s]")
    axes[1].set_ylabel("wait [s] / queue [tasks]")
    axes[1].legend()
    axes[1].set_title("what the deferral costs in latency")
    fig.tight_layout()
    return fig


def _by_horizon(ax, ds: xr.Dataset, a: int, j: int, value: float) -> None:
    """The paired difference of case (a, j) against the horizon, and its fitted line."""
    t = np.asarray(ds["time"].values)
    if not np.issubdtype(t.dtype, np.number):  # decoded as a duration
        t = t.astype("timedelta64[ns]").astype(np.int64) / 1e9 / float(ds.attrs["dt_s"])
    d = ds.diff_vs_myopic_t_J.values[a, j]
    mean = d.mean(axis=0)
    err = Z95 * np.array([_sem(d[:, k]) for k in range(t.size)])
    ax.plot(t, mean, color="C0", label="mean paired difference")
    ax.fill_between(t, mean - err, mean + err, color="C0", alpha=0.25, lw=0)
    tr = ds.transient_diff_J.values[a, j].mean()
    rate = ds.rate_diff_J_per_slot.values[a, j].mean()
    start = float(ds.attrs["fit_window_start_slots"])
    window = t[t >= start]
    ax.plot(window, tr + rate * window, color="C3", ls="--", label="transient + rate × t (fit)")
    ax.axhline(0.0, color="0.4", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("horizon t [slots]")
    ax.set_ylabel("U_t(deferral) - U_t(myopic) [J]")
    ax.set_title(f"by horizon, maximum wait {value:g} s")
    ax.legend(fontsize="small")


def fig_dpp_frontier(ds: xr.Dataset):
    """Drift-plus-penalty: the backlog / auxiliary-energy frontier as V sweeps.

    One point per V: mean queue length [tasks] against the paired change of U_T against
    myopic [J] (±1.96 paired s.e., from the common random numbers), labelled with V; the
    myopic policy is V = 0, at the origin. The mean U_T of myopic is in the title.
    """
    a, values, idx = _cases(ds, "drift_plus_penalty")
    diff = ds.diff_vs_myopic_J.values[a][idx]
    backlog = ds.backlog_mean_tasks.values[a][idx]
    ref = float(ds.aux_J.sel(policy="myopic").values[0].mean())
    fig, ax = plt.subplots(figsize=(6.5, 4.6))
    x = backlog.mean(axis=1)
    y = diff.mean(axis=1)
    ax.errorbar(
        x,
        y,
        xerr=[Z95 * _sem(b) for b in backlog],
        yerr=[Z95 * _sem(d) for d in diff],
        marker="o",
        capsize=3,
    )
    # One label per distinct point: values of V that dispatch alike share it.
    labels: dict[tuple[float, float], list[str]] = {}
    for xi, yi, v in zip(x, y, values, strict=True):
        labels.setdefault((round(float(xi), 9), round(float(yi), 6)), []).append(f"{v:g}")
    for (xi, yi), vs in labels.items():
        ax.annotate(f"V={', '.join(vs)}", (xi, yi), textcoords="offset points", xytext=(8, 4))
    ax.margins(x=0.15, y=0.12)
    ax.axhline(0.0, color="0.4", lw=0.8, ls="--")
    ax.set_xlabel("mean queue [tasks]")
    ax.set_ylabel("U_T(drift-plus-penalty) - U_T(myopic) [J]")
    ax.set_title(f"V in tasks/J; myopic: mean U_T = {ref:.3g} J", fontsize="medium")
    fig.tight_layout()
    return fig


def fig_variance_aware(ds: xr.Dataset):
    """Variance-aware routing as the risk weight kappa sweeps.

    Left: sigma of Lemma 2 with the stochastic-reasoning-length moments [J/sqrt(slot)].
    Right: E[D_T] at the myopic critical point, closed form (line) and simulated mean U_T
    with ±1.96 s.e. (points; random energies when the study drew them) [J]. kappa = 0 is
    myopic.
    """
    a, values, idx = _cases(ds, "variance_aware")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    sigma = ds.sigma_stochastic_J.values[a][idx]
    axes[0].plot(values, sigma, marker="o")
    axes[0].axhline(sigma[0], color="0.4", lw=0.8, ls="--", label="myopic")
    axes[0].set_xlabel("risk weight kappa [1/J]")
    axes[0].set_ylabel("sigma [J/sqrt(slot)]")
    axes[0].legend()
    aux = ds.aux_J.values[a][idx]
    axes[1].plot(values, ds.closed_form_D_T_J.values[a][idx], marker="", label="closed form")
    axes[1].errorbar(
        values,
        aux.mean(axis=1),
        yerr=[Z95 * _sem(u) for u in aux],
        marker="o",
        ls="none",
        capsize=3,
        label="simulated",
    )
    axes[1].set_xlabel("risk weight kappa [1/J]")
    axes[1].set_ylabel("E[D_T] [J]")
    axes[1].legend()
    fig.tight_layout()
    return fig


def fig_storage_planner(ds: xr.Dataset):
    """The planner's chart: auxiliary and wasted energy per slot over rho x capacity.

    Left and middle: heat maps of mean auxiliary and wasted (spilled) energy per slot [J]
    with the design grid; the Pareto-optimal designs (aux, waste, capacity) are outlined.
    Right: every design as a point (waste, aux), coloured by capacity, the front joined.
    """
    front = sizing.pareto_front(ds).values
    rhos = ds.provisioning.values
    caps = ds.capacity_J.values
    cap_labels = ["inf" if math.isinf(c) else f"{c:.3g}" for c in caps]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    for ax, var, title in (
        (axes[0], "aux_mean_J_per_slot", "auxiliary energy per slot [J]"),
        (axes[1], "waste_mean_J_per_slot", "wasted harvest per slot [J]"),
    ):
        sns.heatmap(
            ds[var].values,
            ax=ax,
            annot=True,
            fmt=".3g",
            cmap="viridis_r",
            xticklabels=cap_labels,
            yticklabels=[f"{r:g}" for r in rhos],
            cbar_kws={"label": "J per slot"},
        )
        for i, j in zip(*np.nonzero(front), strict=True):
            ax.add_patch(plt.Rectangle((j, i), 1, 1, fill=False, edgecolor="red", lw=2))
        ax.set_xlabel("store capacity [J]")
        ax.set_ylabel("provisioning rho [1]")
        ax.set_title(title)
    ax = axes[2]
    colors = sns.color_palette("mako", n_colors=caps.size)
    for j in range(caps.size):
        ax.scatter(
            ds.waste_mean_J_per_slot.values[:, j],
            ds.aux_mean_J_per_slot.values[:, j],
            color=colors[j],
            label=f"{cap_labels[j]} J",
        )
    pts = np.stack(
        [ds.waste_mean_J_per_slot.values[front], ds.aux_mean_J_per_slot.values[front]], axis=1
    )
    ax.scatter(pts[:, 0], pts[:, 1], facecolors="none", edgecolors="red", s=90, label="Pareto")
    ax.set_xlabel("wasted harvest per slot [J]")
    ax.set_ylabel("auxiliary energy per slot [J]")
    ax.legend(title="capacity", fontsize="small")
    ax.set_title("designs (red rings: Pareto-optimal in aux, waste, capacity)", fontsize="medium")
    fig.tight_layout()
    return fig


def fig_routers(ds: xr.Dataset):
    """Dispatcher overhead: when a heavier, more accurate router stops paying for itself.

    For each router after the first (the reference): the paired change of U_T against the
    reference [J] (±1.96 paired s.e., common random numbers) and the closed-form change
    E[D_T] - E[D_T](reference) against its energy per decision [J]; the dotted vertical
    line is the break-even decision energy. Below 0 the accurate router pays.
    """
    fig, ax = plt.subplots(figsize=(7, 4.6))
    e = ds.dispatch_energy_J.values
    diff = ds.diff_vs_reference_J.values
    closed = ds.closed_form_D_T_J.values
    heavy = np.arange(1, e.size)
    ax.errorbar(
        e[heavy],
        diff[heavy].mean(axis=1),
        yerr=[Z95 * _sem(diff[k]) for k in heavy],
        marker="o",
        capsize=3,
        ls="none",
        label="simulated (paired)",
    )
    ax.plot(e[heavy], closed[heavy] - closed[0], label="closed form")
    ref = f"{ds.router.values[0]} (epsilon={float(ds.routing_error.values[0]):g})"
    ax.axhline(0.0, color="0.3", ls="--", label=f"reference: {ref}")
    if "break_even_energy_J" in ds.attrs:
        ax.axvline(float(ds.attrs["break_even_energy_J"]), color="red", ls=":", label="break-even")
    ax.set_xlabel("energy per dispatch decision [J]")
    ax.set_ylabel(f"change of U_T at T = {ds.attrs['horizon_slots']:,} slots [J]")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig
