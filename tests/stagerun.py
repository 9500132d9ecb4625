"""Running the pipeline's stages directly, without Snakemake, for the fast stage tests."""

from __future__ import annotations

import json
from pathlib import Path

from energy_routing.stages import characterize, mc_merge, registry
from energy_routing.stages import mc_shard as stages_mc_shard


def characterize_into(cfg: dict, folder: Path) -> dict[str, Path]:
    """The characterize stage's outputs under ``folder``, by the registry's output names."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {k: folder / Path(v).name for k, v in registry.STAGES["characterize"].outputs.items()}
    characterize.characterize(
        json.loads(registry.stage_config(cfg, "characterize")),
        models_csv=paths["models"],
        tasks_csv=paths["tasks"],
        grid_nc=paths["grid"],
        fine_nc=paths["fine"],
        part_json=paths["part"],
    )
    return paths


def simulate_scenario(
    cfg: dict,
    grid_nc: Path,
    folder: Path,
    name: str,
    *,
    provisioning: float,
    routing_errors,
    t_max: int,
    trial_ranges=((0, 6), (6, 12)),
) -> tuple[list[Path], Path]:
    """A scenario's shards (each routing error x trial range) and their merge, as the
    workflow writes them: ``(shards, merged)``."""
    scenario = {"provisioning": provisioning, "t_max": t_max}
    stage_cfg = json.loads(registry.stage_config(cfg, "mc_shard", scenario=scenario))
    shards = []
    for eps in routing_errors:
        for start, stop in trial_ranges:
            out = folder / f"shards/{name}/eps{eps:g}/trials{start}-{stop}.nc"
            out.parent.mkdir(parents=True, exist_ok=True)
            stages_mc_shard.mc_shard(
                stage_cfg,
                grid_nc=grid_nc,
                scenario=name,
                routing_error=eps,
                start=start,
                stop=stop,
                out=out,
            )
            shards.append(out)
    merged = folder / f"{name}.nc"
    mc_merge.mc_merge([str(p) for p in shards], out=merged)
    return shards, merged
