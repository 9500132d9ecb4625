import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing.stages import common, figures

with common.logged(snakemake.log[0]):
    figures.draw(
        snakemake.params.plot,
        json.loads(snakemake.params.cfg),
        stem=snakemake.params.stem,
        **{k: v for k, v in snakemake.input.items() if k != "code"},
    )
