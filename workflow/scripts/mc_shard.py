import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing import stages
from energy_routing.stages import simulate

with stages.logged(snakemake.log[0]):
    w = snakemake.wildcards
    simulate.mc_shard(
        json.loads(snakemake.params.cfg),
        grid_nc=snakemake.input.grid,
        scenario=w.scenario,
        routing_error=float(w.eps),
        start=int(w.start),
        stop=int(w.stop),
        out=snakemake.output[0],
        threads=snakemake.threads,
    )
