import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from energy_routing import stages
from energy_routing.stages import plot

with stages.logged(snakemake.log[0]):
    plot.figure_sweep(
        json.loads(snakemake.params.cfg)["figures"],
        mc_ncs=dict(zip(snakemake.params.names, snakemake.input.mc, strict=True)),
        sweep_csv=snakemake.input.table,
        stem=snakemake.params.stem,
    )
