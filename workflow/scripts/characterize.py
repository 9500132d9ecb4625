import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing.stages import characterize, common

with common.logged(snakemake.log[0]):
    characterize.characterize(
        json.loads(snakemake.params.cfg),
        models_csv=snakemake.output.models,
        tasks_csv=snakemake.output.tasks,
        grid_nc=snakemake.output.grid,
        fine_nc=snakemake.output.fine,
        part_json=snakemake.output.part,
    )
