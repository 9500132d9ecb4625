import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing.stages import carbon, common

with common.logged(snakemake.log[0]):
    carbon.carbon(
        json.loads(snakemake.params.cfg),
        regimes_parts=dict(zip(snakemake.params.scenarios, snakemake.input.regimes, strict=True)),
        part_json=snakemake.output.part,
    )
