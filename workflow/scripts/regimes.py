import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing import stages
from energy_routing.stages import analyze

with stages.logged(snakemake.log[0]):
    analyze.regimes(
        json.loads(snakemake.params.cfg),
        mc_nc=snakemake.input.mc,
        grid_nc=snakemake.input.grid,
        out_csv=snakemake.output.table,
        curves_csv=snakemake.output.curves,
        part_json=snakemake.output.part,
    )
