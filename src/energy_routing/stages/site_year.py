"""Stage ``site_year``: a whole year at each configured site, the planner's grid of PV x
battery designs over simulated weather years and the cheapest design meeting the target
(:func:`energy_routing.studies.site_plan.site_year_study`, docs/model.md §15).
"""

from __future__ import annotations

from energy_routing.io.atomic import write_json
from energy_routing.stages.common import load_dataset, write_study
from energy_routing.studies import site_plan


def site_year(cfg: dict, *, grid_nc, dataset, part_json, threads: int = 1) -> None:
    """The ``site_year`` study written as NetCDF, and its summary as a JSON part
    (``threads`` is accepted for the rule's signature; the study runs on one core)."""
    grid = load_dataset(grid_nc) if cfg["site_year"]["load_kw"] is None else None
    ds, summary = site_plan.site_year_study(cfg, grid)
    title = "energy-routing: a year at real PV sites, PV x battery designs (docs/model.md §15)"
    write_study(ds, cfg, "site_year", title, dataset)
    write_json(summary, part_json)
