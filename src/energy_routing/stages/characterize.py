"""Stage 1: model and task tables, the per-task grid and the dense difficulty grid."""

from __future__ import annotations

from energy_routing.io.atomic import atomic_output, write_json
from energy_routing.io.netcdf import write_netcdf_atomic
from energy_routing.io.provenance import provenance
from energy_routing.model import grids


def characterize(cfg: dict, *, models_csv, tasks_csv, grid_nc, fine_nc, part_json) -> None:
    """Stage 1: model and task tables, the per-task grid and the dense difficulty grid."""
    grid = grids.task_grid(cfg)
    fine = grids.difficulty_grid(cfg)
    attrs = provenance(cfg)
    with atomic_output(models_csv) as tmp:
        grids.model_table(cfg).to_csv(tmp, index=False)
    with atomic_output(tasks_csv) as tmp:
        grids.task_table(grid).to_csv(tmp, index=False)
    write_netcdf_atomic(grid.assign_attrs(attrs), grid_nc)
    write_netcdf_atomic(fine.assign_attrs(attrs), fine_nc)
    write_json(grids.grid_summary(grid, cfg), part_json)
