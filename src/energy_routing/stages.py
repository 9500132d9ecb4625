"""One function per pipeline stage: validated config and paths in, files out.

The Snakemake scripts under ``workflow/scripts`` are single calls into these functions,
so every stage can also run (and be tested) without Snakemake.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from energy_routing import figures, grids
from energy_routing.atomic import atomic_output, write_json
from energy_routing.errors import EnergyRoutingError
from energy_routing.mcio import write_netcdf_atomic
from energy_routing.provenance import provenance


@contextlib.contextmanager
def logged(log_path):
    """Send a stage's stderr to its log; state the pipeline's own errors in one line.

    An :class:`~energy_routing.errors.EnergyRoutingError` (bad config, corrupted shard)
    or an :class:`OSError` (disk full, unwritable results) ends the stage with
    ``error: <message>`` as the log's last line and exit status 1; anything else keeps
    its traceback.
    """
    with open(log_path, "w") as log, contextlib.redirect_stderr(log):
        try:
            yield
        except (EnergyRoutingError, OSError) as err:
            print(f"error: {err}", file=log)
            raise SystemExit(1) from None


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


def _load(path):
    import xarray as xr

    with xr.open_dataset(path) as ds:
        return ds.load()


def mc_shard(
    cfg: dict,
    *,
    grid_nc,
    scenario: str,
    routing_error: float,
    start: int,
    stop: int,
    out,
    threads: int = 1,
) -> None:
    """Stage 2: simulate trials ``start..stop-1`` of one scenario and routing error.

    ``cfg`` holds exactly what shapes the result: ``montecarlo`` (seed, t_min, checkpoints,
    chunk_slots), ``scenario`` (provisioning, t_max), ``arrival_rate`` and ``harvest``;
    it is stored in the shard's attributes.
    """
    from energy_routing import mcio, montecarlo

    mc, sc = cfg["montecarlo"], cfg["scenario"]
    grid = _load(grid_nc)
    wl = grids.workload(grid, cfg, sc["provisioning"])
    result = montecarlo.simulate(
        wl,
        routing_error=routing_error,
        checkpoints=montecarlo.log_checkpoints(mc["t_min"], sc["t_max"], mc["checkpoints"]),
        trials=range(start, stop),
        root_seed=mc["seed"],
        scenario_key=montecarlo.scenario_key(scenario),
        chunk_slots=mc["chunk_slots"],
        n_threads=threads,
    )
    mu, sigma = montecarlo.drift_volatility(wl, routing_error)
    attrs = {
        "scenario": scenario,
        "provisioning": float(sc["provisioning"]),
        "config_json": json.dumps(cfg, sort_keys=True),
    }
    ds = mcio.result_to_dataset(
        result, routing_error=routing_error, mu=mu, sigma=sigma, attrs=attrs
    )
    ds = ds.assign_coords(
        task_type=("task_type", grid.task.to_numpy(), ds.task_type.attrs),
        model=("model", grid.model.to_numpy(), ds.model.attrs),
    )
    write_netcdf_atomic(ds, out)


def mc_merge(shards: list[str], *, out) -> None:
    """Stage 3: merge a scenario's shards, add D_t statistics and provenance."""
    from energy_routing import mcio
    from energy_routing.provenance import git_revision, package_versions

    ds = mcio.merge_shards(shards)
    ds.attrs.update(
        package_versions_json=json.dumps(package_versions(), sort_keys=True),
        git_revision=git_revision(Path(__file__).parent),
    )
    write_netcdf_atomic(ds, out)


def regimes(cfg: dict, *, mc_nc, out_csv, part_json) -> None:
    """Stage 4: BIC regime detection per routing error, beside the theory (MODEL.md 9)."""
    from energy_routing import analysis

    ds = _load(mc_nc)
    r = cfg["regimes"]
    table = analysis.regime_table(
        ds,
        bic_penalty=r["bic_penalty"],
        min_points=r["min_points"],
        quantiles=cfg["reserve_quantiles"],
    )
    with atomic_output(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    keep = [
        "routing_error",
        "consumption",
        "mu",
        "sigma",
        "regime",
        "t_star",
        "transition_detected",
        "breakpoint_T",
        "a",
        "a_se",
        "c",
        "c_se",
        "bic_pure",
        "bic_segmented",
        "mean_D_Tmax_J",
        "sem_D_Tmax_J",
        "closed_form_D_Tmax_J",
    ]
    keep += [c for c in table.columns if c.startswith("reserve_")]
    write_json(
        {
            "scenario": ds.attrs.get("scenario"),
            "t_max": float(ds.time[-1]),
            "trials": int(ds.sizes["trial"]),
            "rows": _records(table[keep]),
        },
        part_json,
    )


def _records(df) -> list[dict]:
    """Rows as JSON-ready dicts (NaN -> None)."""
    return json.loads(df.to_json(orient="records"))


def sweep(cfg: dict, *, mc_ncs: dict[str, str], out_csv, points_csv, part_json) -> None:
    """Stage 4b: Theorem 2's three regimes from the provisioning sweep, and Fig. 2's points."""
    from energy_routing import analysis

    datasets = {name: _load(path) for name, path in mc_ncs.items()}
    table = analysis.sweep_table(datasets, slope_from_T=cfg["regimes"]["slope_from_T"])
    points = analysis.deviation_points(datasets)
    with atomic_output(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_output(points_csv) as tmp:
        points.to_csv(tmp, index=False)
    write_json({"rows": _records(table)}, part_json)


def figure_growth(fig_cfg: dict, *, mc_nc, regimes_csv, stem) -> None:
    """Fig. 4 and the distribution of D_T at T_max, from one scenario."""
    import pandas as pd

    figures.apply_style(fig_cfg)
    ds, fits = _load(mc_nc), pd.read_csv(regimes_csv)
    figures.save(figures.fig_deficit_growth(ds, fits), stem, fig_cfg)


def figure_distribution(fig_cfg: dict, *, mc_nc, stem) -> None:
    """The distribution of D_T across trials at T_max against the closed-form CDF."""
    figures.apply_style(fig_cfg)
    figures.save(figures.fig_distribution(_load(mc_nc)), stem, fig_cfg)


def figure_sweep(fig_cfg: dict, *, mc_ncs: dict[str, str], sweep_csv, stem) -> None:
    """The regime sweep figure."""
    import pandas as pd

    figures.apply_style(fig_cfg)
    datasets = {name: _load(path) for name, path in mc_ncs.items()}
    figures.save(figures.fig_sweep(datasets, pd.read_csv(sweep_csv)), stem, fig_cfg)


def report(*, summary_json, models_csv, tasks_csv, figures: list[str], html, md) -> None:
    """Stage 5: the Markdown report and its self-contained HTML twin."""
    import pandas as pd

    from energy_routing import report as rep

    root = Path(md).parent
    text = rep.build_markdown(
        json.loads(Path(summary_json).read_text()),
        pd.read_csv(models_csv),
        pd.read_csv(tasks_csv),
        figures,
        root,
    )
    with atomic_output(md) as tmp:
        tmp.write_text(text)
    with atomic_output(html) as tmp:
        tmp.write_text(rep.to_html(text, root))
