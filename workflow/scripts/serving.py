import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing.stages import common, serving

with common.logged(snakemake.log[0]):
    serving.serving(
        json.loads(snakemake.params.cfg),
        grid_nc=snakemake.input.grid,
        out_nc=snakemake.output.dataset,
        regimes_nc=snakemake.output.regimes,
        part_json=snakemake.output.part,
        regimes_part_json=snakemake.output.regimes_part,
        routers_nc=snakemake.output.routers,
        routers_part_json=snakemake.output.routers_part,
        threads=snakemake.threads,
    )
