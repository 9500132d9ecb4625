"""Stage 4c: dispatch policies, dispatchers and the storage grid (docs/model.md §12).

Thin wrappers of :mod:`energy_routing.engine.studies`: each reads the task grid, runs one
study, adds the provenance and CF global attributes, and writes the dataset (NetCDF) and
its ``summary.json`` entries (a JSON list, merged at the top level of the summary under
``policies``, ``routers`` or ``storage``).
"""

from __future__ import annotations

from energy_routing.atomic import write_json
from energy_routing.engine import compare, studies
from energy_routing.stages import load_dataset, with_threads, write_study

_TITLES = {
    "policies": "energy-routing dispatch-policy study (docs/model.md §12.6)",
    "routers": "energy-routing dispatcher-overhead study (docs/model.md §12.8)",
    "storage": "energy-routing storage grid: provisioning x capacity (docs/model.md §12.7)",
}


def _write(ds, cfg: dict, kind: str, out_nc) -> None:
    write_study(ds, cfg, kind, _TITLES[kind], out_nc)


def policies(
    cfg: dict, *, grid_nc, out_nc, part_json, scenario: str | None = None, threads: int = 1
) -> None:
    """Every configured policy case against myopic on common random numbers.

    With ``scenario`` (a key of ``cfg["scenarios"]``) the study runs at that scenario's
    provisioning on its random streams; without, at ``policies.provisioning``. The part is
    the list of :func:`energy_routing.engine.compare.policy_records`, each with the
    scenario, its provisioning, the trials and the horizon. ``threads`` (montecarlo.threads
    in the config) does not change the numbers.
    """
    ds = studies.policy_study(load_dataset(grid_nc), with_threads(cfg, threads), scenario=scenario)
    _write(ds, cfg, "policies", out_nc)
    common = {
        "scenario": str(ds.attrs["scenario"]),
        "provisioning": float(ds.attrs["provisioning"]),
        "trials": int(ds.sizes["trial"]),
        "horizon_slots": int(ds.attrs["horizon_slots"]),
    }
    write_json([{**common, **r} for r in compare.policy_records(ds)], part_json)


def routers(cfg: dict, *, grid_nc, out_nc, part_json, threads: int = 1) -> None:
    """Dispatchers with overhead against the first (reference) router.

    The part is the list of :func:`energy_routing.engine.compare.router_records`, each
    with the study's provisioning, trials, horizon and the break-even decision energy.
    """
    ds = studies.router_study(load_dataset(grid_nc), with_threads(cfg, threads))
    _write(ds, cfg, "routers", out_nc)
    common = {
        "provisioning": float(ds.attrs["provisioning"]),
        "trials": int(ds.sizes["trial"]),
        "horizon_slots": int(ds.attrs["horizon_slots"]),
        "break_even_energy_J": float(ds.attrs["break_even_energy_J"]),
    }
    write_json([{**common, **r} for r in compare.router_records(ds)], part_json)


def storage(cfg: dict, *, grid_nc, out_nc, part_json, threads: int = 1) -> None:
    """The planner's grid of provisioning x store capacity (myopic routing).

    The part is the list of :func:`energy_routing.engine.compare.storage_records`, each
    with the trials and the horizon.
    """
    ds = studies.storage_study(load_dataset(grid_nc), with_threads(cfg, threads))
    _write(ds, cfg, "storage", out_nc)
    common = {"trials": int(ds.sizes["trial"]), "horizon_slots": int(ds.time.values[-1])}
    write_json([{**common, **r} for r in compare.storage_records(ds)], part_json)
