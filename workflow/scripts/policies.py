import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing.stages import common, policies

with common.logged(snakemake.log[0]):
    policies.policies(
        json.loads(snakemake.params.cfg),
        grid_nc=snakemake.input.grid,
        out_nc=snakemake.output.dataset,
        part_json=snakemake.output.part,
        scenario=snakemake.wildcards.scenario,
        threads=snakemake.threads,
    )
