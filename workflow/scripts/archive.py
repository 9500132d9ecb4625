import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from energy_routing import archive, stages

with stages.logged(snakemake.log[0]):
    archive.create(
        snakemake.output[0],
        results="results",
        config=snakemake.params.config,
        only=[f for f in snakemake.input.results if f.startswith("results/")],
    )
