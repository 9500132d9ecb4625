import json
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from energy_routing import stages

stages.figure_costs(
    json.loads(snakemake.params.cfg)["figures"],
    grid_nc=snakemake.input.grid,
    fine_nc=snakemake.input.fine,
    stem=snakemake.params.stem,
)
