"""Stage ``mc_shard``: one shard of a scenario's Monte Carlo trials (docs/model.md §6-8).

Builds the scenario's workload from the task grid, runs
:func:`energy_routing.engine.driver.simulate` on a range of trials at one routing error
and writes the labelled shard (NetCDF, :mod:`energy_routing.io.netcdf`). A trial's numbers
depend only on (seed, scenario, trial), never on the shard it lands in.
"""

from __future__ import annotations

import json

from energy_routing.engine import driver, streams
from energy_routing.io import netcdf
from energy_routing.io.netcdf import write_netcdf_atomic
from energy_routing.model import grids
from energy_routing.stages.common import load_dataset
from energy_routing.supply.supply import Supply
from energy_routing.theory import moments


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
    result = driver.simulate(
        wl,
        routing_error=routing_error,
        checkpoints=driver.log_checkpoints(mc["t_min"], sc["t_max"], mc["checkpoints"]),
        trials=range(start, stop),
        root_seed=mc["seed"],
        scenario_key=streams.scenario_key(scenario),
        chunk_slots=mc["chunk_slots"],
        n_threads=threads,
    )
    mu, sigma = moments.drift_volatility(wl, routing_error)
    attrs = {
        "scenario": scenario,
        "provisioning": float(sc["provisioning"]),
        "supply": (wl.supply or Supply()).describe(),
        "config_json": json.dumps(cfg, sort_keys=True),
    }
    ds = netcdf.result_to_dataset(
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
