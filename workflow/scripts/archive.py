import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing.stages import archive, common

with common.logged(snakemake.log[0]):
    archive.archive(
        snakemake.output[0],
        config=snakemake.params.config,
        results=list(snakemake.input.results),
    )
