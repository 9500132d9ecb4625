"""Stage 5: summary.json from the stages' JSON parts, and the reports."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from energy_routing import report as rep
from energy_routing.atomic import atomic_output, write_json
from energy_routing.stages import registry

#: Parts holding a list whose key is one of these, alone or followed by ``_<scenario>``:
#: their entries are appended to one top-level list of that name.
LIST_PARTS = ("policies",)


def summary(parts: dict[str, str], out) -> None:
    """Merge the stages' JSON parts into ``summary.json`` (the grid part at top level;
    the list parts of :data:`LIST_PARTS` concatenated into one top-level list each)."""
    merged: dict = {}
    for key, path in parts.items():
        data = json.loads(Path(path).read_text())
        if key == "grid":
            merged.update(data)
        elif isinstance(data, list) and key.split("_")[0] in LIST_PARTS:
            merged.setdefault(key.split("_")[0], []).extend(data)
        else:
            merged[key] = data
    write_json(merged, out)


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
