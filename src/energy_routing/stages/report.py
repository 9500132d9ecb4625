"""Stage ``report``: ``results/report.md`` and the self-contained ``results/report.html``
from the summary, the tables and the figures (:mod:`energy_routing.report`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from energy_routing.io.atomic import atomic_output
from energy_routing.report import build as rep
from energy_routing.stages import registry


def report_figures(paths: list[str]) -> list[tuple[str, str, str]]:
    """``(title, stem, png)`` for the PNG figures among ``paths``, in the registry's order;
    a per-scenario figure's title names its scenario."""
    pngs = {Path(p).stem: p for p in paths if p.endswith(".png")}
    out = []
    for fig in registry.FIGURES:
        for stem in sorted(pngs):
            if stem == fig.stem:
                out.append((fig.title, stem, pngs[stem]))
            elif fig.scope == "scenario" and stem.startswith(fig.stem + "_"):
                out.append((f"{fig.title} ({stem.removeprefix(fig.stem + '_')})", stem, pngs[stem]))
    return out


def report(*, summary_json, models_csv, tasks_csv, figures: list[str], html, md) -> None:
    """Stage 5: the Markdown report and its self-contained HTML twin."""

    root = Path(md).parent
    text = rep.build_markdown(
        json.loads(Path(summary_json).read_text()),
        pd.read_csv(models_csv),
        pd.read_csv(tasks_csv),
        report_figures(figures),
        root,
    )
    with atomic_output(md) as tmp:
        tmp.write_text(text)
    with atomic_output(html) as tmp:
        tmp.write_text(rep.to_html(text, root))
