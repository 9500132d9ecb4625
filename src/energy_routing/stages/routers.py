"""Stage ``routers``: dispatchers with overhead against the reference router (docs/model.md §12.8).

Reads the task grid, runs :func:`energy_routing.studies.routers.router_study` and writes the
dataset (NetCDF, with provenance and CF global attributes) and its ``summary.json`` entries,
a JSON list merged at the summary's top level under ``routers``.
"""

from __future__ import annotations

from energy_routing.io.atomic import write_json
from energy_routing.stages.common import load_dataset, with_threads, write_study
from energy_routing.studies import routers as study

TITLE = "energy-routing dispatcher-overhead study (docs/model.md §12.8)"


def routers(cfg: dict, *, grid_nc, out_nc, part_json, threads: int = 1) -> None:
    """Dispatchers with overhead against the first (reference) router.

    The part is the list of :func:`energy_routing.studies.routers.router_records`, each
    with the study's provisioning, trials, horizon and the break-even decision energy.
    """
    ds = study.router_study(load_dataset(grid_nc), with_threads(cfg, threads))
    write_study(ds, cfg, "routers", TITLE, out_nc)
    common = {
        "provisioning": float(ds.attrs["provisioning"]),
        "trials": int(ds.sizes["trial"]),
        "horizon_slots": int(ds.attrs["horizon_slots"]),
        "break_even_energy_J": float(ds.attrs["break_even_energy_J"]),
    }
    write_json([{**common, **r} for r in study.router_records(ds)], part_json)
