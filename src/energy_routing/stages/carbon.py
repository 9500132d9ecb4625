"""Stage ``carbon``: the mean auxiliary energy at T_max of every named scenario, routing
error and consumption mode as emissions of the configured grid region, with the
intensity's source and year (:mod:`energy_routing.supply.carbon`, docs/model.md §13).
"""

from __future__ import annotations

import json
from pathlib import Path

from energy_routing.io.atomic import write_json
from energy_routing.supply import carbon as co2


def carbon(cfg: dict, *, regimes_parts: dict[str, str], part_json) -> None:
    """Emissions of the mean auxiliary energy at T_max per scenario, routing error and
    consumption mode (docs/model.md §13).

    ``cfg`` holds the ``carbon`` section; ``regimes_parts`` maps scenario name -> the
    regimes stage's JSON part.
    """

    rows = []
    for name, path in regimes_parts.items():
        part = json.loads(Path(path).read_text())
        for r in part["rows"]:
            rows.append(
                {
                    "scenario": name,
                    "routing_error": r["routing_error"],
                    "consumption": r["consumption"],
                    "t_max": part["t_max"],
                    "aux_J": r["mean_D_Tmax_J"],
                    "aux_sem_J": r["sem_D_Tmax_J"],
                }
            )
    c = cfg["carbon"]
    labels = {f"{r['scenario']}|{r['routing_error']:g}|{r['consumption']}": r for r in rows}
    out = co2.summary({k: r["aux_J"] for k, r in labels.items()}, c["region"], c["source"])
    for key, r in labels.items():
        r["aux_kWh"] = out["aux"][key]["aux_kWh"]
        r["kg_co2e"] = out["aux"][key]["kg_co2e"]
        r["kg_co2e_sem"] = r["kg_co2e"] * r["aux_sem_J"] / r["aux_J"] if r["aux_J"] else 0.0
    del out["aux"]
    out["carbon_source"] = c["source"]
    out["rows"] = rows
    write_json(out, part_json)
