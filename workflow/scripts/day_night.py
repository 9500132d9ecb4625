import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing.stages import common, day_night

with common.logged(snakemake.log[0]):
    day_night.day_night(
        json.loads(snakemake.params.cfg),
        grid_nc=snakemake.input.grid,
        table_csv=snakemake.output.table,
        part_json=snakemake.output.part,
        threads=snakemake.threads,
    )
