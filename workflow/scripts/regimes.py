import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing.stages import common, regimes

with common.logged(snakemake.log[0]):
    regimes.regimes(
        json.loads(snakemake.params.cfg),
        mc_nc=snakemake.input.mc,
        grid_nc=snakemake.input.grid,
        out_csv=snakemake.output.table,
        curves_csv=snakemake.output.curves,
        part_json=snakemake.output.part,
    )
