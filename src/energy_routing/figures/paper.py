"""Figures of the paper and beyond, drawn with seaborn (docs/model.md §10).

Each ``fig_*`` function takes data (datasets or frames, never paths) and returns a
matplotlib Figure; :func:`save` writes it in every configured format, atomically.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import xarray as xr

from energy_routing.io.atomic import atomic_output
from energy_routing.theory import diffusion as theory


def apply_style(fig_cfg: dict) -> None:
    """Set the seaborn theme from the ``figures`` config section."""
    sns.set_theme(context=fig_cfg["context"], style=fig_cfg["style"], palette=fig_cfg["palette"])


def save(fig, stem: str | Path, fig_cfg: dict) -> list[Path]:
    """Write ``fig`` as ``<stem>.<fmt>`` for every configured format; close it."""
    paths = []
    for fmt in fig_cfg["formats"]:
        path = Path(f"{stem}.{fmt}")
        with atomic_output(path) as tmp:
            fig.savefig(
                tmp,
                dpi=fig_cfg["dpi"],
                bbox_inches="tight",
                format=fmt,
                metadata={"CreationDate": None} if fmt == "pdf" else None,
            )
        paths.append(path)
    plt.close(fig)
    return paths


def fig_costs(fine: xr.Dataset, grid: xr.Dataset):
    """Fig. 3: energy and latency per task against difficulty, per model.

    Lines: each model on the dense difficulty grid. Markers: the configured tasks, filled
    where the model meets the task's deadline and hollow where it does not; a black ring
    marks the arrival-feasible minimum-energy choice m*(i). Short horizontal bars on the
    latency panel are the deadlines.
    """
    models = list(fine.model.values)
    colors = dict(zip(models, sns.color_palette(n_colors=len(models)), strict=True))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    panels = [("energy_J", "Energy per task [J]"), ("latency_s", "Latency per task [s]")]
    for ax, (var, label) in zip(axes, panels, strict=True):
        df = fine[var].to_dataframe().reset_index()
        sns.lineplot(
            data=df, x="difficulty", y=var, hue="model", palette=colors, ax=ax, legend=False
        )
        for m in models:
            t = grid.sel(model=m)
            feas = t.feasible.to_numpy()
            x, y = t.difficulty.to_numpy(), t[var].to_numpy()
            ax.scatter(x[feas], y[feas], color=colors[m], s=36, zorder=3)
            ax.scatter(
                x[~feas],
                y[~feas],
                facecolor="white",
                edgecolor=colors[m],
                s=36,
                zorder=3,
                linewidth=1.5,
            )
            chosen = t.best_model.to_numpy() == m
            ax.scatter(
                x[chosen],
                y[chosen],
                facecolor="none",
                edgecolor="black",
                s=130,
                linewidth=1.3,
                zorder=4,
            )
        ax.set_xlabel("Task difficulty $l$ [nats/token] (lower is harder)")
        ax.set_ylabel(label)
    _shade_tradeoff(axes, fine)
    ax = axes[1]
    top = float(grid.latency_s.max()) * 1.3
    ax.set_ylim(0, top)
    deadline = grid.deadline_s.to_numpy()
    low = deadline <= top
    ax.scatter(
        grid.difficulty[low],
        deadline[low],
        marker="_",
        s=300,
        color="crimson",
        linewidths=2.5,
        zorder=5,
    )
    for x, d in zip(grid.difficulty.to_numpy()[~low], deadline[~low], strict=True):
        ax.annotate(
            f"{d:g} s",
            (x, top),
            xytext=(0, -12),
            textcoords="offset points",
            ha="center",
            fontsize="small",
            color="crimson",
            arrowprops={"arrowstyle": "->", "color": "crimson"},
        )
    handles = [plt.Line2D([], [], color=colors[m], marker="o", label=f"{m} model") for m in models]
    handles += [
        plt.Line2D(
            [],
            [],
            color="0.4",
            marker="o",
            markerfacecolor="white",
            linestyle="",
            label="misses deadline",
        ),
        plt.Line2D(
            [],
            [],
            color="black",
            marker="o",
            markerfacecolor="none",
            markersize=11,
            linestyle="",
            label="min-energy feasible choice",
        ),
        plt.Line2D(
            [],
            [],
            color="crimson",
            marker="_",
            markersize=14,
            markeredgewidth=2.5,
            linestyle="",
            label="deadline (arrow: off scale)",
        ),
        plt.Rectangle((0, 0), 1, 1, color="0.85", label="cheapest model is not the fastest"),
    ]
    fig.legend(
        handles=handles, loc="lower center", ncol=4, frameon=False, bbox_to_anchor=(0.5, -0.1)
    )
    fig.suptitle("Per-task energy and latency of each model (minimum token budget)")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def _shade_tradeoff(axes, fine: xr.Dataset) -> None:
    """Shade the difficulties where the minimum-energy model is not the fastest one."""
    cheap = fine.energy_J.argmin("model").to_numpy()
    fast = fine.latency_s.argmin("model").to_numpy()
    x = fine.difficulty.to_numpy()
    edges = np.flatnonzero(np.diff(np.r_[0, (cheap != fast).astype(int), 0]))
    for lo, hi in zip(edges[::2], edges[1::2], strict=True):
        for ax in axes:
            ax.axvspan(x[lo], x[hi - 1], color="0.85", zorder=0, lw=0)


def _panels(modes, width: float, height: float, sharey: bool):
    """One axis per consumption mode, side by side."""
    fig, axes = plt.subplots(
        1, len(modes), figsize=(width * len(modes), height), sharey=sharey, squeeze=False
    )
    return fig, list(axes[0])


MODE_MARKERS = {"lumped": "o", "distributed": "s"}


def fig_deviation(mc_points: pd.DataFrame | None = None, modes=("lumped",)):
    """Fig. 2: deviation g from drift-only scaling against r = mu sqrt(T) / sigma.

    The closed form :func:`energy_routing.theory.diffusion.deviation_g` as a line; Monte Carlo
    estimates (columns ``r``, ``g``, ``g_sem``, ``consumption``) as points with error bars
    when given, one marker per consumption mode in ``modes``; when the points also carry
    the plain mean (``g_plain``), ``g`` is the control-variate estimate of
    :func:`energy_routing.analysis.tables.deviation_points` and the legend says so.
    """
    r = np.linspace(-4, 4, 401)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(r, theory.deviation_g(r), color="black", label="closed form (diffusion)")
    has_exact = mc_points is not None and "g_exact" in mc_points
    if has_exact and "lumped" in modes and np.isfinite(mc_points["g_exact"]).any():
        pts = mc_points[np.isfinite(mc_points["g_exact"])]
        ax.plot(
            pts["r"],
            pts["g_exact"],
            ls="",
            marker="x",
            ms=5,
            color="black",
            zorder=4,
            label="exact discrete walk (lumped)",
        )
    if mc_points is not None and len(mc_points):
        estimate = ", control variate" if "g_plain" in mc_points else ""
        for mode in modes:
            pts = mc_points[mc_points["consumption"] == mode]
            ax.errorbar(
                pts["r"],
                pts["g"],
                yerr=2 * pts["g_sem"],
                fmt=MODE_MARKERS[mode],
                ms=4,
                capsize=2,
                alpha=0.8,
                label=f"Monte Carlo, {mode}{estimate} (±2 s.e.)",
            )
    ax.axvline(0, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel(r"$r = \mu\sqrt{T}/\sigma$ [-]")
    ax.set_ylabel(r"$g = (E[D_T] - \max(0, -\mu T)) / (\sigma\sqrt{2T/\pi})$ [-]")
    ax.set_title("Deviation from drift-only scaling")
    # Headroom above g = 1 so that the legend does not hide the points near r = 0.
    low, high = ax.get_ylim()
    ax.set_ylim(low, high + 0.35 * (high - low))
    ax.legend(fontsize="small", loc="upper left")
    fig.tight_layout()
    return fig


def fig_deficit_growth(
    ds: xr.Dataset, fits: pd.DataFrame, modes=("lumped",), curves: pd.DataFrame | None = None
):
    """Fig. 4: mean D_T against T (log-log), one line per routing error, one panel per
    consumption mode.

    Bands: mean ± 1.96 standard errors over trials. Dashed: the diffusion closed form
    E[D_T] with the analytic mu and sigma of each routing error. Black dots (lumped panel,
    when ``curves`` from :func:`energy_routing.analysis.tables.theory_curves` are given): the
    exact discrete E[D_T]. Dotted verticals with a shaded interval: breakpoints where the
    calibrated transition test detects a sqrt-to-linear transition; triangles on the axis:
    the theoretical crossovers T*.
    """
    errs = ds.routing_error.to_numpy()
    colors = sns.color_palette("viridis", n_colors=len(errs))
    fig, axes = _panels(modes, 7.0, 5.0, sharey=False)
    T = ds.time.to_numpy().astype(float)
    for ax, mode in zip(axes, modes, strict=True):
        for eps, color in zip(errs, colors, strict=True):
            sel = ds.sel(routing_error=eps, consumption=mode)
            y, se = sel.deficit_mean_J.to_numpy(), sel.deficit_sem_J.to_numpy()
            mu, sigma = float(sel.mu_J_per_slot), float(sel.sigma_J_per_sqrt_slot)
            ax.plot(T, y, color=color, lw=1.8, label=rf"$\epsilon$ = {eps:g}")
            ax.fill_between(
                T,
                np.maximum(y - 1.96 * se, y * 1e-3),
                y + 1.96 * se,
                color=color,
                alpha=0.25,
                lw=0,
            )
            ax.plot(T, theory.expected_deficit(mu, sigma, T), color=color, ls="--", lw=1)
            if curves is not None and mode == "lumped":
                exact = curves[curves.routing_error == eps].iloc[:: max(1, len(T) // 24)]
                ax.plot(exact["T"], exact["exact_J"], ls="", marker=".", ms=4, color="black")
            row = fits[(fits.routing_error == eps) & (fits.consumption == mode)]
            if len(row) and bool(row.transition_detected.iloc[0]):
                r = row.iloc[0]
                ax.axvline(float(r.breakpoint_T), color=color, ls=":", lw=1.5)
                if "breakpoint_low" in row and np.isfinite(r.breakpoint_low):
                    ax.axvspan(r.breakpoint_low, r.breakpoint_high, color=color, alpha=0.08, lw=0)
            t_star = float(theory.crossover_time(mu, sigma))
            if T[0] <= t_star <= T[-1]:
                ax.plot(
                    [t_star],
                    [0],
                    marker="^",
                    color=color,
                    ms=9,
                    clip_on=False,
                    transform=ax.get_xaxis_transform(),
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("Horizon $T$ [slots]")
        ax.set_title(f"{mode.capitalize()} consumption")
    axes[0].set_ylabel(r"Mean auxiliary energy $E[D_T]$ [J]")
    extra = [
        plt.Line2D([], [], color="0.3", ls="--", label="closed form (diffusion)"),
        *(
            [plt.Line2D([], [], color="black", marker=".", ls="", label="exact discrete walk")]
            if curves is not None and "lumped" in modes
            else []
        ),
        plt.Line2D([], [], color="0.3", ls=":", label="detected breakpoint (interval shaded)"),
        plt.Line2D([], [], color="0.3", marker="^", ls="", label="crossover $T^*$"),
    ]
    handles, _ = axes[0].get_legend_handles_labels()
    axes[0].legend(handles=handles + extra, fontsize="small", loc="upper left")
    fig.suptitle("Routing errors turn sqrt(T) growth linear")
    fig.tight_layout()
    return fig


def fig_sweep(datasets: dict[str, xr.Dataset], table: pd.DataFrame, modes=("lumped",)):
    """The three regimes of Theorem 2: deficit curves per provisioning ratio (first mode
    solid, a second mode dotted), and the fitted large-T log-log slopes with bootstrap
    intervals, per consumption mode, against the predicted 1, 1/2, 0.
    """
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1.25, 1]})
    lines = dict(zip(modes, ["-", ":"], strict=False))
    for mode in modes:
        rows = table[table.consumption == mode].sort_values("provisioning")
        for (_, row), color in zip(rows.iterrows(), _regime_colors(rows), strict=True):
            sel = datasets[row.scenario].sel(routing_error=row.routing_error, consumption=mode)
            T = sel.time.to_numpy().astype(float)
            label = rf"$\rho$ = {row.provisioning:g} ({row.regime})" if mode == modes[0] else None
            ax.plot(T, sel.deficit_mean_J, color=color, lw=1.8, ls=lines[mode], label=label)
            if mode == modes[0]:
                closed = theory.expected_deficit(row.mu, row.sigma, T)
                ax.plot(T, closed, color=color, ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Horizon $T$ [slots]")
    ax.set_ylabel(r"Mean auxiliary energy $E[D_T]$ [J]")
    shown = " / ".join(f"{m} {'solid' if lines[m] == '-' else 'dotted'}" for m in modes)
    ax.set_title(f"Deficit growth by provisioning ratio ({shown}; dashed: closed form)")
    ax.legend(fontsize="small")
    offsets = dict(zip(modes, [-0.006, 0.006] if len(modes) > 1 else [0.0], strict=True))
    for mode in modes:
        rows = table[table.consumption == mode].sort_values("provisioning")
        x = rows.provisioning.to_numpy() + offsets[mode]
        yerr = np.maximum(0.0, [rows.slope - rows.slope_low, rows.slope_high - rows.slope])
        bx.errorbar(
            x,
            rows.slope,
            yerr=yerr,
            fmt=MODE_MARKERS[mode],
            color="black" if mode == "lumped" else "0.5",
            capsize=3,
            label=f"fitted slope, {mode} (95% bootstrap CI)",
        )
    bx.scatter(
        table.provisioning.unique(),
        table.drop_duplicates("provisioning").predicted_exponent,
        marker="_",
        s=400,
        color="crimson",
        zorder=3,
        label="Theorem 2: 1, 1/2, 0",
    )
    bx.set_xlabel(r"Provisioning ratio $\rho = \bar R / C_{LB}$ [-]")
    bx.set_ylabel("Large-T log-log slope of $E[D_T]$ [-]")
    bx.set_title("Three regimes")
    bx.set_ylim(-0.15, 1.15)
    bx.legend(fontsize="small", loc="lower left")
    fig.tight_layout()
    return fig


def _regime_colors(table: pd.DataFrame) -> list:
    """Reds for deficits, black at the critical point, blues for surpluses; deeper colours
    further from rho = 1."""
    reds = sns.color_palette("Reds", n_colors=int((table.regime == "deficit").sum()) + 2)[2:]
    blues = sns.color_palette("Blues", n_colors=int((table.regime == "surplus").sum()) + 2)[2:]
    out, r, b = [], list(reversed(reds)), list(blues)
    for reg in table.regime:
        out.append(r.pop(0) if reg == "deficit" else b.pop(0) if reg == "surplus" else "black")
    return out


def fig_distribution(ds: xr.Dataset, modes=("lumped",)):
    """Distribution of D_T across trials at T_max against the closed-form CDF, per
    routing error (empirical CDF solid, diffusion CDF dashed), one panel per mode."""
    errs = ds.routing_error.to_numpy()
    colors = sns.color_palette("viridis", n_colors=len(errs))
    t_max = float(ds.time[-1])
    fig, axes = _panels(modes, 6.4, 4.6, sharey=True)
    for ax, mode in zip(axes, modes, strict=True):
        for eps, color in zip(errs, colors, strict=True):
            sel = ds.sel(routing_error=eps, consumption=mode)
            d = np.sort(sel.deficit_J.isel(time=-1).to_numpy())
            ax.step(
                d,
                np.arange(1, d.size + 1) / d.size,
                where="post",
                color=color,
                label=rf"$\epsilon$ = {eps:g}",
            )
            grid = np.linspace(0, d.max() * 1.1, 300)
            mu, sigma = float(sel.mu_J_per_slot), float(sel.sigma_J_per_sqrt_slot)
            ax.plot(grid, theory.deficit_cdf(grid, mu, sigma, t_max), color=color, ls="--", lw=1)
        ax.set_xlabel(rf"Auxiliary energy $D_T$ at $T$ = {t_max:.3g} slots [J]")
        ax.set_title(f"{mode.capitalize()} consumption")
    axes[0].set_ylabel(r"$P(D_T \leq d)$ [-]")
    axes[-1].legend(fontsize="small", loc="lower right")
    fig.suptitle(f"Spread of D_T over {ds.sizes['trial']} trials (dashed: closed form)")
    fig.tight_layout()
    return fig
