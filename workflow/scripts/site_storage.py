import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing import stages
from energy_routing.stages import realworld

with stages.logged(snakemake.log[0]):
    realworld.site_storage(
        json.loads(snakemake.params.cfg),
        grid_nc=snakemake.input.grid,
        dataset=snakemake.output.dataset,
        part_json=snakemake.output.part,
        threads=snakemake.threads,
    )
