"""Stage ``storage``: the planner's grid of provisioning x store capacity (docs/model.md §12.7).

Reads the task grid, runs :func:`energy_routing.studies.storage.storage_study` and writes the
dataset (NetCDF, with provenance and CF global attributes) and its ``summary.json`` entries,
a JSON list merged at the summary's top level under ``storage``.
"""

from __future__ import annotations

from energy_routing.io.atomic import write_json
from energy_routing.stages.common import load_dataset, with_threads, write_study
from energy_routing.studies import storage as study

TITLE = "energy-routing storage grid: provisioning x capacity (docs/model.md §12.7)"


def storage(cfg: dict, *, grid_nc, out_nc, part_json, threads: int = 1) -> None:
    """The planner's grid of provisioning x store capacity (myopic routing).

    The part is the list of :func:`energy_routing.studies.storage.storage_records`, each
    with the trials and the horizon.
    """
    ds = study.storage_study(load_dataset(grid_nc), with_threads(cfg, threads))
    write_study(ds, cfg, "storage", TITLE, out_nc)
    common = {"trials": int(ds.sizes["trial"]), "horizon_slots": int(ds.time.values[-1])}
    write_json([{**common, **r} for r in study.storage_records(ds)], part_json)
