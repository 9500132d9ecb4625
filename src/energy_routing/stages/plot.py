"""Figures from the grids, the Monte Carlo datasets and the fitted tables."""

from __future__ import annotations

import pandas as pd

from energy_routing import figures
from energy_routing.stages import load_dataset


def figure_costs(fig_cfg: dict, *, grid_nc, fine_nc, stem) -> None:
    """Fig. 3 from the two grids."""

    figures.apply_style(fig_cfg)
    fig = figures.fig_costs(load_dataset(fine_nc), load_dataset(grid_nc))
    figures.save(fig, stem, fig_cfg)


def figure_deviation(fig_cfg: dict, *, stem, mc_points_csv=None) -> None:
    """Fig. 2 from the closed form, with Monte Carlo points when given."""

    figures.apply_style(fig_cfg)
    points = pd.read_csv(mc_points_csv) if mc_points_csv else None
    figures.save(figures.fig_deviation(points), stem, fig_cfg)


def figure_growth(fig_cfg: dict, *, mc_nc, regimes_csv, stem) -> None:
    """Fig. 4 and the distribution of D_T at T_max, from one scenario."""

    figures.apply_style(fig_cfg)
    ds, fits = load_dataset(mc_nc), pd.read_csv(regimes_csv)
    figures.save(figures.fig_deficit_growth(ds, fits), stem, fig_cfg)


def figure_distribution(fig_cfg: dict, *, mc_nc, stem) -> None:
    """The distribution of D_T across trials at T_max against the closed-form CDF."""
    figures.apply_style(fig_cfg)
    figures.save(figures.fig_distribution(load_dataset(mc_nc)), stem, fig_cfg)


def figure_sweep(fig_cfg: dict, *, mc_ncs: dict[str, str], sweep_csv, stem) -> None:
    """The regime sweep figure."""

    figures.apply_style(fig_cfg)
    datasets = {name: load_dataset(path) for name, path in mc_ncs.items()}
    figures.save(figures.fig_sweep(datasets, pd.read_csv(sweep_csv)), stem, fig_cfg)
