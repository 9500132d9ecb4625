"""Stage ``regimes``: the regime table and theory curves of one named scenario
(docs/model.md §9, §11).

The calibrated transition test and the BIC shape per routing error and consumption mode
(:mod:`energy_routing.analysis.tables`), beside the diffusion, exact discrete and
corrected theory; writes the table, the curves (CSV) and the scenario's summary part.
"""

from __future__ import annotations

from energy_routing.analysis import tables
from energy_routing.io.atomic import atomic_output, write_json
from energy_routing.model import grids
from energy_routing.stages.common import load_dataset, records
from energy_routing.supply.supply import Supply


def regimes(cfg: dict, *, mc_nc, grid_nc, out_csv, curves_csv, part_json) -> None:
    """Stage 4: the calibrated transition test per routing error and mode, beside the
    diffusion, exact discrete and corrected theory (docs/model.md §9, §11)."""
    ds = load_dataset(mc_nc)
    grid = load_dataset(grid_nc)
    r = cfg["regimes"]
    workload = grids.workload(grid, cfg, float(ds.attrs["provisioning"]))
    table = tables.regime_table(
        ds,
        bic_penalty=r["bic_penalty"],
        min_points=r["min_points"],
        fit_from_T=tables.fit_window(r["fit_from_T"], int(grid.service_slots.max())),
        quantiles=cfg["reserve_quantiles"],
        modes=cfg["consumption"],
        workload=workload,
        seed=cfg["montecarlo"]["seed"],
    )
    with atomic_output(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_output(curves_csv) as tmp:
        tables.theory_curves(ds, workload).to_csv(tmp, index=False)
    keep = [
        "routing_error",
        "consumption",
        "mu",
        "sigma",
        "regime",
        "t_star",
        *tables.TRANSITION_COLUMNS,
        "bic_transition",
        "bic_breakpoint_T",
        "fit_from_T",
        "a",
        "a_se",
        "c",
        "c_se",
        "bic_pure",
        "bic_segmented",
        "mean_D_Tmax_J",
        "sem_D_Tmax_J",
        "mean_D_Tmax_cv_J",
        "sem_D_Tmax_cv_J",
        "closed_form_D_Tmax_J",
        "exact_D_Tmax_J",
        "exact_bound_J",
        "corrected_D_Tmax_J",
        "ks_distance",
    ]
    keep += [c for c in table.columns if c.startswith("reserve_")]
    write_json(
        {
            "scenario": ds.attrs.get("scenario"),
            "t_max": float(ds.time[-1]),
            "trials": int(ds.sizes["trial"]),
            "supply": ds.attrs.get("supply", Supply().describe()),
            "rows": records(table[keep]),
        },
        part_json,
    )
