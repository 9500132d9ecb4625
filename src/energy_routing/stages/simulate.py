"""Stages 2-3: Monte Carlo shards and their merge."""

from __future__ import annotations

import json
from pathlib import Path

from energy_routing import grids, mcio, montecarlo
from energy_routing.mcio import write_netcdf_atomic
from energy_routing.provenance import git_revision, package_versions
from energy_routing.stages import load_dataset
from energy_routing.supply import Supply


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

    mc, sc = cfg["montecarlo"], cfg["scenario"]
    grid = load_dataset(grid_nc)
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
        "supply": (wl.supply or Supply()).describe(),
        "config_json": json.dumps(cfg, sort_keys=True),
    }
    ds = mcio.result_to_dataset(
        result,
        routing_error=routing_error,
        mu=mu,
        sigma=sigma,
        attrs=attrs,
        dt_s=float(grid.attrs["dt_s"]),
    )
    ds = ds.assign_coords(
        task_type=("task_type", grid.task.to_numpy(), ds.task_type.attrs),
        model=("model", grid.model.to_numpy(), ds.model.attrs),
    )
    write_netcdf_atomic(ds, out)


def mc_merge(shards: list[str], *, out) -> None:
    """Stage 3: merge a scenario's shards, add D_t statistics and provenance."""

    ds = mcio.merge_shards(shards)
    ds.attrs.update(
        package_versions_json=json.dumps(package_versions(), sort_keys=True),
        git_revision=git_revision(Path(__file__).parent),
    )
    write_netcdf_atomic(ds, out)
