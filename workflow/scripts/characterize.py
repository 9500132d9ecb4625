import json
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: SIM115

from energy_routing import stages  # noqa: E402

stages.characterize(
    json.loads(snakemake.params.cfg),
    models_csv=snakemake.output.models,
    tasks_csv=snakemake.output.tasks,
    grid_nc=snakemake.output.grid,
    fine_nc=snakemake.output.fine,
    part_json=snakemake.output.part,
)
