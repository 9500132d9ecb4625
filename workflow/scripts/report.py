import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1] / "src"))

from energy_routing.stages import common, report

with common.logged(snakemake.log[0]):
    report.report(
        summary_json=snakemake.input.summary,
        models_csv=snakemake.input.models,
        tasks_csv=snakemake.input.tasks,
        figures=list(snakemake.input.figures),
        html=snakemake.output.html,
        md=snakemake.output.md,
    )
