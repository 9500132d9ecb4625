"""One function per pipeline stage: validated config and paths in, files out.

The Snakemake scripts under ``workflow/scripts`` are single calls into these functions,
so every stage can also run (and be tested) without Snakemake.
"""

from __future__ import annotations

import json
from pathlib import Path

from energy_routing import figures, grids
from energy_routing.atomic import atomic_output, write_json
from energy_routing.provenance import provenance


def write_netcdf(ds, path) -> None:
    """Write a dataset with zlib compression on every data variable, atomically."""
    enc = {v: {"zlib": True, "complevel": 4} for v in ds.data_vars if ds[v].dtype.kind in "biuf"}
    with atomic_output(path) as tmp:
        ds.to_netcdf(tmp, encoding=enc, engine="netcdf4")


def characterize(cfg: dict, *, models_csv, tasks_csv, grid_nc, fine_nc, part_json) -> None:
    """Stage 1: model and task tables, the per-task grid and the dense difficulty grid."""
    grid = grids.task_grid(cfg)
    fine = grids.difficulty_grid(cfg)
    attrs = provenance(cfg)
    with atomic_output(models_csv) as tmp:
        grids.model_table(cfg).to_csv(tmp, index=False)
    with atomic_output(tasks_csv) as tmp:
        grids.task_table(grid).to_csv(tmp, index=False)
    write_netcdf(grid.assign_attrs(attrs), grid_nc)
    write_netcdf(fine.assign_attrs(attrs), fine_nc)
    write_json(grids.grid_summary(grid, cfg), part_json)


def figure_costs(fig_cfg: dict, *, grid_nc, fine_nc, stem) -> None:
    """Fig. 3 from the two grids."""
    import xarray as xr

    figures.apply_style(fig_cfg)
    with xr.open_dataset(grid_nc) as grid, xr.open_dataset(fine_nc) as fine:
        figures.save(figures.fig_costs(fine.load(), grid.load()), stem, fig_cfg)


def figure_deviation(fig_cfg: dict, *, stem, mc_points_csv=None) -> None:
    """Fig. 2 from the closed form, with Monte Carlo points when given."""
    import pandas as pd

    figures.apply_style(fig_cfg)
    points = pd.read_csv(mc_points_csv) if mc_points_csv else None
    figures.save(figures.fig_deviation(points), stem, fig_cfg)


def summary(parts: dict[str, str], out) -> None:
    """Merge the stages' JSON parts into ``summary.json`` (the grid part at top level)."""
    merged: dict = {}
    for key, path in parts.items():
        data = json.loads(Path(path).read_text())
        if key == "grid":
            merged.update(data)
        else:
            merged[key] = data
    write_json(merged, out)
