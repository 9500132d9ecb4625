import json
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115

from energy_routing import stages  # noqa: E402

stages.figure_costs(
    json.loads(snakemake.params.cfg)["figures"],
    grid_nc=snakemake.input.grid,
    fine_nc=snakemake.input.fine,
    stem=snakemake.params.stem,
)
