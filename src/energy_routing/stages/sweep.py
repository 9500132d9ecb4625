"""Stage ``sweep``: Theorem 2's three regimes from the provisioning sweep, and Fig. 2's
Monte Carlo points against the exact and diffusion curves (docs/model.md §7, §9).
"""

from __future__ import annotations

from pathlib import Path

from energy_routing.analysis import tables
from energy_routing.io.atomic import atomic_output, write_json
from energy_routing.model import grids
from energy_routing.stages.common import load_dataset, records


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
    window = tables.fit_window(cfg["regimes"]["fit_from_T"], int(grid.service_slots.max()))
    workloads = {
        name: grids.workload(grid, cfg, float(ds.attrs["provisioning"]))
        for name, ds in datasets.items()
    }
    table = tables.sweep_table(datasets, slope_from_T=cfg["regimes"]["slope_from_T"], modes=modes)
    points = tables.deviation_points(datasets, modes=modes, from_T=window, workloads=workloads)
    with atomic_output(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_output(points_csv) as tmp:
        points.to_csv(tmp, index=False)
    write_json(
        {
            "rows": records(table),
            "deviation_points": len(points),
            "deviation_estimator": "control_variate",
            "deviation_points_within_2se": tables.agreement_by_mode(points),
            "deviation_points_within_2se_exact": tables.agreement_by_mode(points, "exact"),
            "deviation_points_within_2se_plain": tables.agreement_by_mode(points, plain=True),
            "deviation_points_within_2se_exact_plain": tables.agreement_by_mode(
                points, "exact", plain=True
            ),
            "exact_consistency": tables.exact_consistency(points),
            "exact_consistency_plain": tables.exact_consistency(points, plain=True),
        },
        part_json,
    )
