import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from energy_routing import stages
from energy_routing.stages import plot

with stages.logged(snakemake.log[0]):
    plot.figure_costs(
        json.loads(snakemake.params.cfg)["figures"],
        grid_nc=snakemake.input.grid,
        fine_nc=snakemake.input.fine,
        stem=snakemake.params.stem,
    )
