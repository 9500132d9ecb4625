import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing.stages import calibration, common

with common.logged(snakemake.log[0]):
    calibration.calibration(
        json.loads(snakemake.params.cfg),
        table_csv=snakemake.output.table,
        sensitivity_csv=snakemake.output.sensitivity,
        serving_law_csv=snakemake.output.serving_law,
        part_json=snakemake.output.part,
    )
