import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing.stages import common, sweep

with common.logged(snakemake.log[0]):
    sweep.sweep(
        json.loads(snakemake.params.cfg),
        mc_ncs=list(snakemake.input.mc),
        grid_nc=snakemake.input.grid,
        out_csv=snakemake.output.table,
        points_csv=snakemake.output.points,
        part_json=snakemake.output.part,
    )
