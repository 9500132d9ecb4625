"""Stage ``summary``: ``results/summary.json`` merged from the stages' JSON parts."""

from __future__ import annotations

import json
from pathlib import Path

from energy_routing.io.atomic import write_json

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
