import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing.stages import common, mc_shard

with common.logged(snakemake.log[0]):
    w = snakemake.wildcards
    mc_shard.mc_shard(
        json.loads(snakemake.params.cfg),
        grid_nc=snakemake.input.grid,
        scenario=w.scenario,
        routing_error=float(w.eps),
        start=int(w.start),
        stop=int(w.stop),
        out=snakemake.output[0],
        threads=snakemake.threads,
    )
