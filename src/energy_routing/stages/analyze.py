"""Stage 4: regime detection per scenario and the provisioning sweep."""

from __future__ import annotations

import json
from pathlib import Path

from energy_routing import analysis, grids
from energy_routing.atomic import atomic_output, write_json
from energy_routing.stages import load_dataset
from energy_routing.supply import Supply


def _workload(grid, cfg: dict, provisioning: float):
    """The engine's input at a provisioning ratio: the exact theory's increment law."""
    return grids.workload(grid, cfg, provisioning)


def regimes(cfg: dict, *, mc_nc, grid_nc, out_csv, curves_csv, part_json) -> None:
    """Stage 4: the calibrated transition test per routing error and mode, beside the
    diffusion, exact discrete and corrected theory (docs/model.md §9, §11)."""
    ds = load_dataset(mc_nc)
    grid = load_dataset(grid_nc)
    r = cfg["regimes"]
    workload = _workload(grid, cfg, float(ds.attrs["provisioning"]))
    table = analysis.regime_table(
        ds,
        bic_penalty=r["bic_penalty"],
        min_points=r["min_points"],
        fit_from_T=analysis.fit_window(r["fit_from_T"], int(grid.service_slots.max())),
        quantiles=cfg["reserve_quantiles"],
        modes=cfg["consumption"],
        workload=workload,
        seed=cfg["montecarlo"]["seed"],
    )
    with atomic_output(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_output(curves_csv) as tmp:
        analysis.theory_curves(ds, workload).to_csv(tmp, index=False)
    keep = [
        "routing_error",
        "consumption",
        "mu",
        "sigma",
        "regime",
        "t_star",
        "transition_detected",
        "p_value",
        "breakpoint_T",
        "breakpoint_low",
        "breakpoint_high",
        "detection_frequency",
        "t_star_estimate",
        "t_star_low",
        "t_star_high",
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
            "rows": _records(table[keep]),
        },
        part_json,
    )


def _records(df) -> list[dict]:
    """Rows as JSON-ready dicts (NaN -> None)."""
    return json.loads(df.to_json(orient="records"))


def sweep(cfg: dict, *, mc_ncs: list[str], grid_nc, out_csv, points_csv, part_json) -> None:
    """Stage 4b: Theorem 2's three regimes from the provisioning sweep, and Fig. 2's points
    (from the regime fit window on, where the walk is diffusive). Fig. 2's points and their
    agreement with theory use the control-variate mean deficit (docs/model.md §11.7); the
    plain mean's agreement is kept beside it (``..._plain``).

    ``mc_ncs`` are the sweep scenarios' merged datasets, named by their file stems.
    """
    datasets = {Path(p).stem: load_dataset(p) for p in mc_ncs}
    modes = cfg["consumption"]
    grid = load_dataset(grid_nc)
    window = analysis.fit_window(cfg["regimes"]["fit_from_T"], int(grid.service_slots.max()))
    workloads = {
        name: _workload(grid, cfg, float(ds.attrs["provisioning"])) for name, ds in datasets.items()
    }
    table = analysis.sweep_table(datasets, slope_from_T=cfg["regimes"]["slope_from_T"], modes=modes)
    points = analysis.deviation_points(datasets, modes=modes, from_T=window, workloads=workloads)
    with atomic_output(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_output(points_csv) as tmp:
        points.to_csv(tmp, index=False)
    write_json(
        {
            "rows": _records(table),
            "deviation_points": len(points),
            "deviation_estimator": "control_variate",
            "deviation_points_within_2se": analysis.agreement_by_mode(points),
            "deviation_points_within_2se_exact": analysis.agreement_by_mode(points, "exact"),
            "deviation_points_within_2se_plain": analysis.agreement_by_mode(points, plain=True),
            "deviation_points_within_2se_exact_plain": analysis.agreement_by_mode(
                points, "exact", plain=True
            ),
            "exact_consistency": analysis.exact_consistency(points),
            "exact_consistency_plain": analysis.exact_consistency(points, plain=True),
        },
        part_json,
    )
