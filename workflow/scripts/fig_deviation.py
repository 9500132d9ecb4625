import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from energy_routing import stages
from energy_routing.stages import plot

with stages.logged(snakemake.log[0]):
    plot.figure_deviation(
        json.loads(snakemake.params.cfg)["figures"],
        stem=snakemake.params.stem,
        mc_points_csv=snakemake.input.points[0] if snakemake.input.points else None,
    )
