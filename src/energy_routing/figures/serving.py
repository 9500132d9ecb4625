"""Figures of serving under continuous batching, drawn with seaborn (docs/model.md §14.2).

Like :mod:`energy_routing.figures.paper`: each ``fig_*`` function takes data (here the
serving study's dataset, never a path) and returns a matplotlib Figure, units in the axis
labels. Save with :func:`energy_routing.figures.paper.save`.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import seaborn as sns
import xarray as xr

#: Rows of :func:`fig_serving`: variable of the serving dataset, axis label, log scale.
_ROWS = (
    ("energy_per_task_J", "Energy per task [J]", True),
    ("mean_batch", "Mean running batch B [-]", True),
    ("missed_fraction", "Missed-deadline fraction [-]", False),
)

_PLAIN = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
#: Minor ticks of a log axis labelled at 2, 3 and 5 times a power of ten.
_MINOR = matplotlib.ticker.FuncFormatter(
    lambda v, _: f"{v:g}" if v > 0 and round(v / 10 ** np.floor(np.log10(v))) in (2, 3, 5) else ""
)


def _errorbar(ax, x, mean, sem, **kw) -> None:
    """Means with +-1.96 standard errors (NaN points, a setting without tasks, left out)."""
    ok = np.isfinite(mean)
    yerr = 1.96 * np.nan_to_num(sem[ok])
    ax.errorbar(x[ok], mean[ok], yerr=yerr, marker="o", ms=5, capsize=3, lw=1.6, **kw)


def fig_serving(ds: xr.Dataset):
    """The planner's knob: energy per task, mean batch and missed-deadline fraction against
    the replicas kept powered, one line per arrival rate, one column per model, with
    +-1.96 standard errors over trials; dashed: the batch-of-one energy per task of the
    same routed tasks (docs/model.md §14.2).

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`energy_routing.studies.serving.serving_study` (``*_mean`` and
        ``*_sem`` over dims model x arrival_rate_per_s x replicas). A model no task was
        routed to is left out (named in the title).
    """
    every = [str(m) for m in ds.model.values]
    # A model that no task was routed to has no serving figures: it gets no column.
    models = [m for m in every if np.isfinite(ds["energy_per_task_J_mean"].sel(model=m)).any()]
    idle = [m for m in every if m not in models]
    if not models:
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.set_axis_off()
        ax.text(0.5, 0.5, "No task was routed to any model", ha="center", va="center")
        return fig
    rates = ds.arrival_rate_per_s.to_numpy()
    reps = ds.replicas.to_numpy().astype(float)
    colors = sns.color_palette("viridis", max(len(rates), 2))[: len(rates)][::-1]
    fig, axes = plt.subplots(
        len(_ROWS),
        len(models),
        figsize=(max(5.2 * len(models) + 1.2, 8.0), 11.0),
        sharex=True,
        squeeze=False,
        layout="constrained",
    )
    for j, m in enumerate(models):
        sel = ds.sel(model=m)
        for i, (name, label, log) in enumerate(_ROWS):
            ax = axes[i, j]
            for a, rate in enumerate(rates):
                mean = sel[f"{name}_mean"].to_numpy()[a]
                sem = sel[f"{name}_sem"].to_numpy()[a]
                _errorbar(ax, reps, mean, sem, color=colors[a], label=f"{rate:g} tasks/s")
                if name == "energy_per_task_J":
                    paper = sel["paper_energy_per_task_J_mean"].to_numpy()[a]
                    if np.isfinite(paper).any():
                        ax.axhline(np.nanmean(paper), color=colors[a], ls="--", lw=1)
            ax.set_xscale("log", base=2)
            if log:
                ax.set_yscale("log")
                ax.yaxis.set_major_formatter(_PLAIN)
                ax.yaxis.set_minor_formatter(_MINOR)
            if name == "missed_fraction":
                ax.set_ylim(-0.03, 1.03)
                ax.set_xlabel("Replicas kept powered [-]")
            if name == "mean_batch":
                ax.axhline(int(ds.attrs["max_batch"]), color="0.4", ls=":", lw=1)
            ax.set_ylabel(label if j == 0 else "")
            ax.grid(True, which="major", alpha=0.3)
        axes[0, j].set_title(f"Model {m}")
        axes[-1, j].xaxis.set_major_locator(matplotlib.ticker.FixedLocator(reps))
        axes[-1, j].xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        axes[-1, j].xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    top = axes[0, -1]
    top.plot([], [], color="0.3", ls="--", lw=1, label="batch of one (§1), top row")
    top.plot([], [], color="0.4", ls=":", lw=1, label="max batch, middle row")
    handles, labels = top.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 5),
               title="arrival rate (all models together)", fontsize="small")  # fmt: skip
    fig.suptitle(
        f"Serving under continuous batching: {ds.attrs['law']} law, max batch "
        f"{int(ds.attrs['max_batch'])},\n{ds.sizes['trial']} trials of "
        f"{int(ds.attrs['horizon_slots'])} slots per setting; bars: ±1.96 SE"
        + (f"\nno task routed to {', '.join(idle)}" if idle else "")
    )
    return fig
