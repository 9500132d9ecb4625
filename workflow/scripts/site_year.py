import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing.stages import common, site_year

with common.logged(snakemake.log[0]):
    site_year.site_year(
        json.loads(snakemake.params.cfg),
        grid_nc=snakemake.input.grid,
        dataset=snakemake.output.dataset,
        part_json=snakemake.output.part,
        threads=snakemake.threads,
    )
