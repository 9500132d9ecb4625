"""Stage ``policies``: every dispatch policy against myopic, one scenario (docs/model.md §12.6).

Reads the task grid, runs :func:`energy_routing.studies.policies.policy_study` and writes
the dataset (NetCDF, with provenance and CF global attributes) and its ``summary.json``
entries, a JSON list merged at the summary's top level under ``policies``.
"""

from __future__ import annotations

from energy_routing.io.atomic import write_json
from energy_routing.stages.common import load_dataset, with_threads, write_study
from energy_routing.studies import policies as study

TITLE = "energy-routing dispatch-policy study (docs/model.md §12.6)"


def policies(
    cfg: dict, *, grid_nc, out_nc, part_json, scenario: str | None = None, threads: int = 1
) -> None:
    """Every configured policy case against myopic on common random numbers.

    With ``scenario`` (a key of ``cfg["scenarios"]``) the study runs at that scenario's
    provisioning on its random streams; without, at ``policies.provisioning``. The part is
    the list of :func:`energy_routing.studies.policies.policy_records`, each with the
    scenario, its provisioning, the trials and the horizon. ``threads`` (montecarlo.threads
    in the config) does not change the numbers.
    """
    ds = study.policy_study(load_dataset(grid_nc), with_threads(cfg, threads), scenario=scenario)
    write_study(ds, cfg, "policies", TITLE, out_nc)
    common = {
        "scenario": str(ds.attrs["scenario"]),
        "provisioning": float(ds.attrs["provisioning"]),
        "trials": int(ds.sizes["trial"]),
        "horizon_slots": int(ds.attrs["horizon_slots"]),
    }
    write_json([{**common, **r} for r in study.policy_records(ds)], part_json)
