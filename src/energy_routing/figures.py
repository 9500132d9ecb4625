"""Figures of the paper and beyond, drawn with seaborn (MODEL.md 10).

Each ``fig_*`` function takes data (datasets or frames, never paths) and returns a
matplotlib Figure; :func:`save` writes it in every configured format, atomically.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402

from energy_routing import theory  # noqa: E402
from energy_routing.atomic import atomic_output  # noqa: E402


def apply_style(fig_cfg: dict) -> None:
    """Set the seaborn theme from the ``figures`` config section."""
    sns.set_theme(context=fig_cfg["context"], style=fig_cfg["style"], palette=fig_cfg["palette"])


def save(fig, stem: str | Path, fig_cfg: dict) -> list[Path]:
    """Write ``fig`` as ``<stem>.<fmt>`` for every configured format; close it."""
    paths = []
    for fmt in fig_cfg["formats"]:
        path = Path(f"{stem}.{fmt}")
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=fig_cfg["dpi"], bbox_inches="tight", format=fmt,
                        metadata={"CreationDate": None} if fmt == "pdf" else None)
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
        sns.lineplot(data=df, x="difficulty", y=var, hue="model", palette=colors, ax=ax,
                     legend=False)
        for m in models:
            t = grid.sel(model=m)
            feas = t.feasible.to_numpy()
            x, y = t.difficulty.to_numpy(), t[var].to_numpy()
            ax.scatter(x[feas], y[feas], color=colors[m], s=36, zorder=3)
            ax.scatter(x[~feas], y[~feas], facecolor="white", edgecolor=colors[m], s=36,
                       zorder=3, linewidth=1.5)
            chosen = t.best_model.to_numpy() == m
            ax.scatter(x[chosen], y[chosen], facecolor="none", edgecolor="black", s=130,
                       linewidth=1.3, zorder=4)
        ax.set_xlabel("Task difficulty $l$ [nats/token] (lower is harder)")
        ax.set_ylabel(label)
    _shade_tradeoff(axes, fine)
    ax = axes[1]
    top = float(grid.latency_s.max()) * 1.3
    ax.set_ylim(0, top)
    deadline = grid.deadline_s.to_numpy()
    low = deadline <= top
    ax.scatter(grid.difficulty[low], deadline[low], marker="_", s=300, color="crimson", linewidths=2.5, zorder=5)
    for x, d in zip(grid.difficulty.to_numpy()[~low], deadline[~low], strict=True):
        ax.annotate(f"{d:g} s", (x, top), xytext=(0, -12), textcoords="offset points",
                    ha="center", fontsize="small", color="crimson",
                    arrowprops={"arrowstyle": "->", "color": "crimson"})
    handles = [plt.Line2D([], [], color=colors[m], marker="o", label=f"{m} model")
               for m in models]
    handles += [
        plt.Line2D([], [], color="0.4", marker="o", markerfacecolor="white", linestyle="",
                   label="misses deadline"),
        plt.Line2D([], [], color="black", marker="o", markerfacecolor="none", markersize=11,
                   linestyle="", label="min-energy feasible choice"),
        plt.Line2D([], [], color="crimson", marker="_", markersize=14, markeredgewidth=2.5, linestyle="",
                   label="deadline (arrow: off scale)"),
        plt.Rectangle((0, 0), 1, 1, color="0.85", label="cheapest model is not the fastest"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False,
               bbox_to_anchor=(0.5, -0.1))
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


def fig_deviation(mc_points: pd.DataFrame | None = None):
    """Fig. 2: deviation g from drift-only scaling against r = mu sqrt(T) / sigma.

    The closed form :func:`energy_routing.theory.deviation_g` as a line; Monte Carlo
    estimates (columns ``r``, ``g``, ``g_sem``) as points with error bars when given.
    """
    r = np.linspace(-4, 4, 401)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(r, theory.deviation_g(r), color="black", label="closed form (diffusion)")
    if mc_points is not None and len(mc_points):
        ax.errorbar(mc_points["r"], mc_points["g"], yerr=2 * mc_points["g_sem"], fmt="o",
                    ms=4, capsize=2, label="Monte Carlo (±2 s.e.)")
    ax.axvline(0, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel(r"$r = \mu\sqrt{T}/\sigma$ [-]")
    ax.set_ylabel(r"$g = (E[D_T] - \max(0, -\mu T)) / (\sigma\sqrt{2T/\pi})$ [-]")
    ax.set_title("Deviation from drift-only scaling")
    ax.legend()
    fig.tight_layout()
    return fig
