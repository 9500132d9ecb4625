"""Stage ``figures``: every figure of the pipeline from its input files (docs/model.md §10,
§12, §13).

Each ``figure_*`` function is named by an entry of
:data:`energy_routing.stages.registry.FIGURES` and called through :func:`draw` with the
figure config, the consumption modes to show, the output stem and the entry's inputs: the
grids, the Monte Carlo and study datasets, the fitted tables or a JSON part. It loads them
and hands the data to :mod:`energy_routing.figures`, which draws; :func:`draw` saves.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from energy_routing.figures import paper
from energy_routing.stages.common import load_dataset


def draw(plot: str, cfg: dict, *, stem, **inputs) -> None:
    """Draw the registry's figure function ``plot`` and save it under ``stem``.

    ``cfg`` holds the ``figures`` section and the ``consumption`` modes to show.
    """
    fig_cfg = cfg["figures"]
    paper.apply_style(fig_cfg)
    fig = globals()[plot](tuple(cfg["consumption"]), **inputs)
    paper.save(fig, stem, fig_cfg)


def _datasets(paths) -> dict:
    """Datasets by scenario name (the file stem), in the given order."""
    return {Path(p).stem: load_dataset(p) for p in paths}


def figure_costs(modes, *, grid_nc, fine_nc):
    """Fig. 3 from the two grids (the consumption mode plays no part)."""
    return paper.fig_costs(load_dataset(fine_nc), load_dataset(grid_nc))


def figure_deviation(modes, *, mc_points_csv=None):
    """Fig. 2 from the closed form, with Monte Carlo points when given."""
    points = pd.read_csv(mc_points_csv) if mc_points_csv else None
    return paper.fig_deviation(points, modes)


def figure_growth(modes, *, mc_nc, regimes_csv, curves_csv):
    """Fig. 4 of one scenario, one panel per consumption mode, with the theory curves."""
    return paper.fig_deficit_growth(
        load_dataset(mc_nc), pd.read_csv(regimes_csv), modes, pd.read_csv(curves_csv)
    )


def figure_distribution(modes, *, mc_nc):
    """The distribution of D_T across trials at T_max against the closed-form CDF."""
    return paper.fig_distribution(load_dataset(mc_nc), modes)


def figure_sweep(modes, *, mc_ncs, sweep_csv):
    """The regime sweep figure."""
    return paper.fig_sweep(_datasets(mc_ncs), pd.read_csv(sweep_csv), modes)


def figure_deferral(modes, *, policies_nc):
    """Slack-aware deferral against myopic: the saving and the wait (docs/model.md §12.2)."""
    from energy_routing.figures import policies

    return policies.fig_deferral(load_dataset(policies_nc))


def figure_dpp_frontier(modes, *, policies_nc):
    """Drift-plus-penalty: queue against the paired change of U_T (docs/model.md §12.4)."""
    from energy_routing.figures import policies

    return policies.fig_dpp_frontier(load_dataset(policies_nc))


def figure_variance_aware(modes, *, policies_nc):
    """Variance-aware routing: sigma and E[D_T] against the risk weight (§12.3)."""
    from energy_routing.figures import policies

    return policies.fig_variance_aware(load_dataset(policies_nc))


def figure_routers(modes, *, routers_nc):
    """Dispatcher overhead and its break-even decision energy (docs/model.md §12.8)."""
    from energy_routing.figures import policies

    return policies.fig_routers(load_dataset(routers_nc))


def figure_storage_planner(modes, *, storage_nc):
    """The planner's chart over provisioning x capacity (docs/model.md §12.7)."""
    from energy_routing.figures import policies

    return policies.fig_storage_planner(load_dataset(storage_nc))


def figure_calibration(modes, *, calibration_csv):
    """Energy per output token, modelled here against EcoLogits (docs/model.md §13)."""
    from energy_routing.figures import realworld

    return realworld.fig_calibration(pd.read_csv(calibration_csv))


def figure_serving_law(modes, *, serving_law_csv):
    """Energy per token and power against the batch, law and measurements (docs/model.md §14)."""
    from energy_routing.figures import realworld

    return realworld.fig_serving_law(pd.read_csv(serving_law_csv))


def figure_sensitivity(modes, *, sensitivity_csv, calibration_json):
    """C_LB and E[D_T] against the factor on the energy constants (docs/model.md §13)."""
    import json

    from energy_routing.figures import realworld

    horizon = json.loads(Path(calibration_json).read_text())["sensitivity_horizon_slots"]
    table = pd.read_csv(sensitivity_csv, keep_default_na=False)
    return realworld.fig_sensitivity(table, horizon)


def figure_day_night(modes, *, day_night_csv, day_night_json):
    """Mean deficit against the horizon per harvest and load, and the storage the swing
    needs (docs/model.md §13)."""
    import json

    from energy_routing.figures import realworld

    part = json.loads(Path(day_night_json).read_text())
    return realworld.fig_day_night(pd.read_csv(day_night_csv), part["storage"], dt_s=part["dt_s"])


def figure_site_storage(modes, *, site_storage_json):
    """Auxiliary energy per day against store capacity at a real site and for the i.i.d.
    harvest (docs/model.md §13)."""
    import json

    from energy_routing.figures import realworld

    return realworld.fig_site_storage(json.loads(Path(site_storage_json).read_text()))


def figure_carbon(modes, *, carbon_json):
    """Emissions of the mean auxiliary energy per scenario, routing error and consumption
    mode (docs/model.md §13)."""
    import json

    from energy_routing.figures import realworld

    part = json.loads(Path(carbon_json).read_text())
    rows = [r for r in part["rows"] if r["consumption"] in modes]
    return realworld.fig_carbon(rows, part)


def figure_site_year(modes, *, site_year_json):
    """Renewable fraction over PV and battery at each site, with the planner's design and
    the cost-optimal frontier (docs/model.md §15)."""
    import json

    from energy_routing.figures import realworld

    return realworld.fig_site_year(json.loads(Path(site_year_json).read_text()))


def figure_serving(modes, *, serving_nc):
    """Energy per task, mean batch and missed deadlines against replicas and arrival rate,
    with the batch-of-one reference (docs/model.md §14.2)."""
    from energy_routing.figures import serving

    return serving.fig_serving(load_dataset(serving_nc))
