"""Stage ``serving``: serving under continuous batching (docs/model.md §14.2-14.3).

Reads the task grid, runs :func:`energy_routing.studies.serving.serving_study` and, when
``serving.regimes.activate``, :func:`energy_routing.studies.serving.regimes_study`, and
writes both datasets (NetCDF, with provenance and CF global attributes) and two
``summary.json`` parts: the list ``serving`` (one entry per model, arrival rate and
replicas) and the entry ``serving_regimes``
(:func:`energy_routing.analysis.serving.regimes_summary`). When given their paths, it
also writes the comparison of batch-aware with myopic routing,
:func:`energy_routing.studies.serving.router_study` (run when
``serving.router_comparison.activate``), and its part, the list ``serving_routers``
(:func:`energy_routing.studies.serving.router_records`; empty when not run).
"""

from __future__ import annotations

import xarray as xr

from energy_routing.analysis.serving import regimes_summary
from energy_routing.io.atomic import write_json
from energy_routing.stages.common import load_dataset, write_study
from energy_routing.studies import serving as study

TITLE = "energy-routing serving under continuous batching (docs/model.md §14.2)"
ROUTERS_TITLE = "energy-routing batch-aware against myopic routing (docs/model.md §14.2)"
REGIMES_TITLE = "energy-routing battery regimes on batched consumption (docs/model.md §14.3)"


def serving(
    cfg: dict,
    *,
    grid_nc,
    out_nc,
    regimes_nc,
    part_json,
    regimes_part_json,
    routers_nc=None,
    routers_part_json=None,
    threads: int = 1,
) -> None:
    """The serving study and the regimes under batching (threads are not used: every
    trial is short and the kernel is compiled once per process)."""
    grid = load_dataset(grid_nc)
    ds = study.serving_study(grid, cfg)
    write_study(ds, cfg, "serving", TITLE, out_nc)
    write_json(study.serving_records(ds), part_json)
    reg = study.serving_section(cfg)["regimes"]
    if reg["activate"]:
        rds = study.regimes_study(grid, cfg)
        part = regimes_summary(
            rds,
            group=int(reg["transition_group"]),
            seed=int((cfg.get("montecarlo") or {}).get("seed", 2601)),
        )
    else:
        rds, part = xr.Dataset(), {"activate": False}
    write_study(rds, cfg, "serving_regimes", REGIMES_TITLE, regimes_nc)
    write_json(part, regimes_part_json)
    if routers_nc is None:
        return
    if study.serving_section(cfg)["router_comparison"]["activate"]:
        cds = study.router_study(grid, cfg)
        records = study.router_records(cds)
    else:
        cds, records = xr.Dataset(), []
    write_study(cds, cfg, "serving_routers", ROUTERS_TITLE, routers_nc)
    write_json(records, routers_part_json)
