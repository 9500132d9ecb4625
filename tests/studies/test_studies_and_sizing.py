"""Tests of the storage grid, its Pareto front and the ``size`` query
(docs/model.md §12.7)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from engine_workloads import small_workload
from snakerun import ROOT

from energy_routing import cli
from energy_routing.engine.driver import log_checkpoints
from energy_routing.engine.streams import scenario_key
from energy_routing.studies import sizing
from energy_routing.studies.storage import storage_grid, storage_records


@pytest.fixture(scope="module")
def grid() -> xr.Dataset:
    return storage_grid(
        small_workload,
        [0.9, 1.0, 1.2],
        [2.0, 10.0, math.inf],
        checkpoints=log_checkpoints(10, 4000, 15),
        trials=12,
        root_seed=4,
        scenario_key=scenario_key("sizing"),
        chunk_slots=1000,
    )


def test_storage_grid_shapes_and_monotone_means(grid):
    assert grid.aux_J_per_slot.dims == ("provisioning", "capacity_J", "trial")
    assert grid.aux_J_per_slot.shape == (3, 3, 12)
    assert grid.aux_over_time_J_per_slot.shape == (3, 3, grid.sizes["time"])
    per_trial = grid.aux_J_per_slot.values
    # lossless stores on common random numbers: more capacity never needs more aux energy
    assert np.all(np.diff(per_trial, axis=1) <= 1e-12)
    # an unbounded store never spills; a small store spills more when over-provisioned
    assert np.all(grid.waste_J_per_slot.values[:, -1] == 0.0)
    waste = grid.waste_mean_J_per_slot.values
    assert waste[2, 0] > waste[0, 0] > 0
    aux = grid.aux_mean_J_per_slot.values
    assert aux[0, 0] > aux[2, 0]
    sem = grid.aux_sem_J_per_slot.values
    assert np.allclose(sem, per_trial.std(axis=2, ddof=1) / np.sqrt(12))
    # over time: the last checkpoint's mean of U_t / t is the per-trial mean at T
    assert np.allclose(grid.aux_over_time_J_per_slot.values[..., -1], aux)


def test_storage_records(grid):
    recs = storage_records(grid)
    assert len(recs) == 9
    keys = {
        "provisioning",
        "capacity_J",
        "aux_J_per_slot",
        "aux_sem_J_per_slot",
        "waste_J_per_slot",
        "waste_sem_J_per_slot",
    }
    assert all(set(r) == keys for r in recs)
    assert recs[2]["capacity_J"] is None and recs[0]["capacity_J"] == 2.0


def _synthetic(aux_mean, waste_mean, caps, per_trial=None):
    aux_mean, waste_mean = np.asarray(aux_mean, float), np.asarray(waste_mean, float)
    if per_trial is None:
        per_trial = np.repeat(aux_mean[..., None], 4, axis=2)
    zeros = np.zeros_like(aux_mean)
    return xr.Dataset(
        {
            "aux_J_per_slot": (("provisioning", "capacity_J", "trial"), per_trial),
            "aux_mean_J_per_slot": (("provisioning", "capacity_J"), aux_mean),
            "aux_sem_J_per_slot": (("provisioning", "capacity_J"), zeros + 0.5),
            "waste_mean_J_per_slot": (("provisioning", "capacity_J"), waste_mean),
            "waste_sem_J_per_slot": (("provisioning", "capacity_J"), zeros),
        },
        coords={"provisioning": [1.0, 1.1][: aux_mean.shape[0]], "capacity_J": caps},
    )


def test_pareto_front_by_hand():
    # designs (aux, waste, cap): a=(5,1,1) b=(4,1,2) c=(6,2,2) d=(3,3,1)
    ds = _synthetic([[5.0, 4.0], [3.0, 6.0]], [[1.0, 1.0], [3.0, 2.0]], [1.0, 2.0])
    front = sizing.pareto_front(ds).values
    # c is dominated by b (better aux and waste, same capacity); the others are not
    assert front.tolist() == [[True, True], [True, False]]


def test_size_answers_the_cheapest_design():
    ds = _synthetic([[5.0, 4.0], [3.0, 1.0]], [[0.0, 0.0], [2.0, 1.0]], [1.0, 2.0])
    rec = sizing.size(ds, max_aux_J_per_slot=4.5)
    assert (rec["provisioning"], rec["capacity_J"]) == (1.0, 2.0)
    rec = sizing.size(ds, max_aux_J_per_slot=4.5, max_capacity_J=1.5)
    assert (rec["provisioning"], rec["capacity_J"]) == (1.1, 1.0)
    rec = sizing.size(ds, max_aux_J_per_slot=4.5, capacity_cost_per_J=1.0)
    assert (rec["provisioning"], rec["capacity_J"]) == (1.1, 1.0)  # 2.1 < 3.0
    assert sizing.size(ds, max_aux_J_per_slot=0.5) is None
    # conservative: mean + 2 sem (sem 0.5) must meet the target
    rec = sizing.size(ds, max_aux_J_per_slot=4.5, conservative=True)
    assert (rec["provisioning"], rec["capacity_J"]) == (1.1, 1.0)


def test_size_with_a_probability_target():
    per_trial = np.zeros((1, 2, 10))
    per_trial[0, 0] = np.arange(10.0)  # 6 of 10 trials <= 5.5
    per_trial[0, 1] = np.arange(10.0) / 2  # 10 of 10
    ds = _synthetic([[4.5, 2.25]], [[0.0, 0.0]], [1.0, 2.0], per_trial)
    rec = sizing.size(ds, max_aux_J_per_slot=5.5, probability=0.6)
    assert rec["capacity_J"] == 1.0 and rec["probability_met"] == 0.6
    lo, hi = rec["probability_interval"]
    assert lo < 0.6 < hi and rec["trials"] == 10
    rec = sizing.size(ds, max_aux_J_per_slot=5.5, probability=0.9)
    assert rec["capacity_J"] == 2.0
    rec = sizing.size(ds, max_aux_J_per_slot=5.5, probability=0.6, conservative=True)
    assert rec["capacity_J"] == 2.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_aux_J_per_slot": -1.0}, "max_aux_J_per_slot"),
        ({"max_aux_J_per_slot": 1.0, "probability": 0.0}, "probability"),
        ({"max_aux_J_per_slot": 1.0, "probability": 1.5}, "probability"),
        ({"max_aux_J_per_slot": 1.0, "max_capacity_J": 0.0}, "max_capacity_J"),
    ],
)
def test_size_rejects_bad_targets(kwargs, message):
    ds = _synthetic([[1.0]], [[0.0]], [1.0])
    with pytest.raises(ValueError, match=message):
        sizing.size(ds, **kwargs)


def test_size_command_on_a_written_grid(grid, tmp_path, capsys):
    path = tmp_path / "grid.nc"
    grid.to_netcdf(path)
    target = float(grid.aux_mean_J_per_slot.values[1, 1]) * 1.0001
    assert sizing.main(["--grid", str(path), "--max-aux", str(target)]) == 0
    out = capsys.readouterr().out
    assert "Cheapest design" in out and "rho = " in out and "±" in out
    assert sizing.main(["--grid", str(path), "--max-aux", "0", "--json"]) in (0, 1)
    assert sizing.main(["--grid", str(path), "--max-aux", "-0.0", "--probability", "1"]) in (0, 1)


def test_size_command_explains_its_cost_model_and_budget(grid, tmp_path, capsys):
    path = tmp_path / "grid.nc"
    grid.to_netcdf(path)
    target = float(grid.aux_mean_J_per_slot.values[1, 1]) * 1.0001
    assert cli.main(["size", "--grid", str(path), "--max-aux", str(target)]) == 0
    out = capsys.readouterr().out
    assert "cost = 1 x rho; storage is free" in out and "--capacity-cost" in out
    args = ["--capacity-cost", "1e-4", "--provisioning-cost", "2"]
    assert cli.main(["size", "--grid", str(path), "--max-aux", str(target), *args]) == 0
    assert "cost = 2 x rho + 0.0001 x capacity [J]" in capsys.readouterr().out
    smallest = float(grid.capacity_J.values[0])
    budget = ["--max-capacity", f"{smallest:g}", "--max-aux", "0"]
    assert cli.main(["size", "--grid", str(path), *budget]) == 1
    assert f"with a store of at most {smallest:g} J" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["size", "--help"])
    assert "(default: 0.0)" in capsys.readouterr().out


def test_size_command_refuses_what_is_not_a_grid_in_one_sentence(grid, tmp_path, capsys):
    """A Monte Carlo dataset, the site storage grid or a text file once gave a traceback or
    numpy's ambiguity error; each is now one line on stderr and exit status 2."""
    other = tmp_path / "other.nc"
    grid.drop_vars("aux_J_per_slot").to_netcdf(other)
    text = tmp_path / "notes.txt"
    text.write_text("not a grid")
    for path, words in (
        (other, "not a planner's storage grid"),
        (text, "not a NetCDF file"),
        (tmp_path / "missing.nc", "no such file"),
    ):
        assert cli.main(["size", "--grid", str(path), "--max-aux", "5"]) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------------------
# Config-driven studies (docs/model.md §12)
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_grid():

    from energy_routing import config
    from energy_routing.model import grids

    cfg = config.load(ROOT / "config" / "config.yaml")
    return grids.task_grid(cfg), cfg


def _small(cfg):
    import copy

    cfg = copy.deepcopy(cfg)
    cfg["montecarlo"] = dict(cfg.get("montecarlo") or {}) | {"checkpoints": 8, "t_min": 10}
    cfg["policies"] = {
        "trials": 3,
        "t_max": 2000,
        "slack_deferral": {"max_wait_s": [0.0, 20.0]},
        "drift_plus_penalty": {"V_tasks_per_J": [0.0, 1.0]},
        "variance_aware": {"risk_weight_per_J": [0.0, 0.05]},
        "storage": {"capacity_J": 5.0e4, "eta_charge": 0.9},
        "routers": [
            {"name": "light", "routing_error": 0.05},
            {"name": "heavy", "routing_error": 0.0, "energy_J": 2.0, "latency_s": 0.5},
        ],
    }
    cfg["storage_grid"] = {
        "provisioning": [0.95, 1.05],
        "capacity_J": [1.0e4, None],
        "trials": 3,
        "t_max": 2000,
    }
    return cfg


def test_studies_run_from_the_config(default_grid):
    from energy_routing.studies import policies, routers, storage
    from energy_routing.studies import policies as compare

    grid, cfg = default_grid
    cfg = _small(cfg)
    ds = policies.policy_study(grid, cfg)
    assert ds.attrs["storage_capacity_J"] == 5.0e4 and ds.attrs["storage_eta_charge"] == 0.9
    recs = compare.policy_records(ds)
    assert {(r["policy"], r["parameter"]) for r in recs} == {
        ("myopic", 0.0),
        ("myopic", 0.05),
        ("slack_deferral", 0.0),
        ("slack_deferral", 20.0),
        ("drift_plus_penalty", 0.0),
        ("drift_plus_penalty", 1.0),
        ("variance_aware", 0.0),
        ("variance_aware", 0.05),
    }
    st = storage.storage_study(grid, cfg)
    assert st.aux_J_per_slot.shape == (2, 2, 3)
    assert math.isinf(st.capacity_J.values[-1])
    ro = routers.router_study(grid, cfg)
    assert list(ro.router.values) == ["light", "heavy"]
    assert ro.attrs["break_even_energy_J"] == pytest.approx(0.05 * 67.77, rel=1e-3)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"policies": {"trails": 3}}, "policies.trails"),
        ({"policies": {"consumption": "both"}}, "policies.consumption"),
        ({"policies": {"slack_deferral": {"max_wait_s": [-1.0]}}}, "max_wait_s"),
        ({"policies": {"drift_plus_penalty": {"V_tasks_per_J": []}}}, "V_tasks_per_J"),
        ({"policies": {"storage": {"eta_charge": 2.0}}}, "policies.storage.eta_charge"),
        ({"policies": {"routers": [{"name": "x", "energy_J": -1.0}]}}, r"routers\[0\]"),
        ({"policies": {"routers": [{"name": "x", "speed": 1.0}]}}, r"routers\[0\]"),
        ({"storage_grid": {"capacity_J": [0.0]}}, "storage_grid.capacity_J"),
        ({"storage_grid": {"eta_discharge": 0.0}}, "storage_grid.eta_discharge"),
    ],
)
def test_studies_reject_misconfiguration_naming_the_key(default_grid, patch, message):
    from energy_routing.studies import policies, routers, storage

    grid, cfg = default_grid
    cfg = _small(cfg)
    for name, value in patch.items():
        cfg[name] = cfg[name] | value
    run = (
        storage.storage_study
        if "storage_grid" in patch
        else routers.router_study
        if "routers" in str(patch)
        else policies.policy_study
    )
    with pytest.raises(ValueError, match=message):
        run(grid, cfg)


def test_figures_of_the_studies(default_grid):
    """Every study figure draws from its dataset, with units in every axis label."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from energy_routing.figures import policies as fp
    from energy_routing.studies import policies, routers, storage

    grid, cfg = default_grid
    cfg = _small(cfg)
    pol = policies.policy_study(grid, cfg)
    st = storage.storage_study(grid, cfg)
    ro = routers.router_study(grid, cfg)
    for make, ds in (
        (fp.fig_deferral, pol),
        (fp.fig_dpp_frontier, pol),
        (fp.fig_variance_aware, pol),
        (fp.fig_storage_planner, st),
        (fp.fig_routers, ro),
    ):
        fig = make(ds)
        assert isinstance(fig, Figure)
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>":
                continue
            assert "[" in ax.get_xlabel() and "[" in ax.get_ylabel(), make.__name__
        plt.close(fig)


def test_study_files_pass_the_cf_checker(default_grid, tmp_path):
    """Written as the pipeline writes NetCDF (netcdf.write_netcdf_atomic, CF global
    attributes), the three study datasets get no CF-1.11 error or warning (strict)."""
    import json
    import warnings

    runner = pytest.importorskip("compliance_checker.runner")
    from energy_routing.io import netcdf
    from energy_routing.io.provenance import cf_global_attrs
    from energy_routing.studies import policies, routers, storage

    grid, cfg = default_grid
    cfg = _small(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        runner.CheckSuite.load_all_available_checkers()
    for name, study in (
        ("policies", policies.policy_study),
        ("storage", storage.storage_study),
        ("routers", routers.router_study),
    ):
        ds = study(grid, cfg)
        ds.attrs.update(cf_global_attrs(history="test", title=f"energy-routing {name} study"))
        path = tmp_path / f"{name}.nc"
        netcdf.write_netcdf_atomic(ds, path)
        out = tmp_path / f"{name}.json"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the checker's own plugin noise
            runner.ComplianceChecker.run_checker(
                str(path),
                ["cf:1.11"],
                0,
                "strict",
                output_filename=str(out),
                output_format="json",
            )
        report = json.loads(out.read_text())["cf:1.11"]
        assert report["high_count"] + report["medium_count"] == 0, name


def test_policy_study_of_a_named_scenario_shares_its_random_numbers(default_grid):
    """Run for a scenario, the study's myopic reference is the scenario's own Monte Carlo
    path (same key, same trials): its U_T equals the engine's D_T of those trials."""
    from energy_routing.engine.driver import log_checkpoints, simulate
    from energy_routing.engine.streams import scenario_key
    from energy_routing.model import grids
    from energy_routing.studies import policies

    grid, cfg = default_grid
    cfg = _small(cfg)
    cfg["scenarios"] = {"fig4": {"provisioning": 1.05, "routing_errors": [0.0]}}
    del cfg["policies"]["storage"]  # the unbounded lossless store: U_T of the engine's walk
    cfg["policies"]["stochastic_length"] = False  # oracle energies, as the scenario's runs
    ds = policies.policy_study(grid, cfg, scenario="fig4")
    assert ds.attrs["scenario"] == "fig4" and ds.attrs["provisioning"] == 1.05
    mc = simulate(
        grids.workload(grid, cfg, 1.05),
        routing_error=0.0,
        checkpoints=log_checkpoints(10, 2000, 8),
        trials=3,
        root_seed=cfg["montecarlo"]["seed"],
        scenario_key=scenario_key("fig4"),
        chunk_slots=cfg["montecarlo"]["chunk_slots"],
        consumption=("lumped",),
    )
    assert np.array_equal(ds.aux_J.sel(policy="myopic").values[0], mc.aux_injected_J[0, :, -1])
    with pytest.raises(ValueError, match="scenario 'nope'"):
        policies.policy_study(grid, cfg, scenario="nope")


def test_policy_study_with_random_energies_is_at_its_critical_point(default_grid):
    """With stochastic reasoning length the harvest is re-centred on the myopic mean
    energy of that law: the reported drift of the reference is 0 (rho = 1)."""
    from energy_routing.studies import policies
    from energy_routing.studies import policies as compare

    grid, cfg = default_grid
    cfg = _small(cfg)
    del cfg["policies"]["storage"]
    ds = policies.policy_study(grid, cfg)
    assert ds.attrs["task_energy"] == "stochastic reasoning length"
    recs = {(r["policy"], r["parameter"]): r for r in compare.policy_records(ds)}
    assert recs["myopic", 0.0]["mu_J_per_slot"] == pytest.approx(0.0, abs=1e-9)
    assert recs["myopic", 0.05]["mu_J_per_slot"] < 0
    cfg["policies"]["consumption"] = "distributed"
    with pytest.raises(ValueError, match=r"policies\.stochastic_length"):
        policies.policy_study(grid, cfg)
