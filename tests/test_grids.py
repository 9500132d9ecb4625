"""Per-task grids, feasibility and profiles on the default scenario (docs/model.md §4-5, 10)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from energy_routing import grids
from energy_routing.config import ConfigError, validate


def test_grid_dimensions_and_attributes(default_grid):
    g = default_grid
    assert dict(g.sizes) == {"task": 10, "model": 2, "slot": int(g.service_slots.max())}
    for name in ["energy_J", "latency_s", "profile_J", "e_lb_J", "feasible", "tokens"]:
        assert {"units", "long_name"} <= set(g[name].attrs)
    assert list(g.model.values) == ["1B", "10B"]


def test_profiles_sum_to_total_energy(default_grid):
    g = default_grid
    np.testing.assert_allclose(g.profile_J.sum("slot"), g.energy_J, rtol=1e-12)
    assert float(g.profile_J.min()) >= 0.0
    # No energy after the service ends, some energy in every slot of service.
    slot = g.slot.to_numpy()[None, None, :]
    inside = slot <= g.service_slots.to_numpy()[..., None]
    assert np.all(g.profile_J.to_numpy()[~inside] == 0.0)
    assert np.all(g.profile_J.to_numpy()[inside] > 0.0)


def test_service_slots_cover_latency(default_grid):
    g = default_grid
    s, t = g.service_slots.to_numpy(), g.latency_s.to_numpy()
    assert np.all((s - 1 < t) & (t <= s))


def test_paper_figure3_claims(default_cfg, default_grid):
    """docs/model.md §10: at l = 1.7 10B is cheaper and faster, at 1.9 1B is; a band between."""
    g = default_grid
    e, t = g.energy_J, g.latency_s
    first, last = g.task.values[0], g.task.values[-1]
    assert e.sel(task=first, model="10B") < e.sel(task=first, model="1B")
    assert t.sel(task=first, model="10B") < t.sel(task=first, model="1B")
    assert e.sel(task=last, model="1B") < e.sel(task=last, model="10B")
    assert t.sel(task=last, model="1B") < t.sel(task=last, model="10B")
    fine = grids.difficulty_grid(default_cfg)
    band = (fine.energy_J.sel(model="1B") < fine.energy_J.sel(model="10B")) & (
        fine.latency_s.sel(model="1B") > fine.latency_s.sel(model="10B")
    )
    assert band.any()
    lo, hi = fine.difficulty[band].min(), fine.difficulty[band].max()
    assert 1.7 < lo < hi < 1.9


def test_strict_deadline_forces_the_fast_model(default_grid):
    g = default_grid
    t4 = g.sel(task="t4")
    assert not bool(t4.feasible.sel(model="1B"))
    assert str(t4.best_model.values) == "10B"
    # ... although the small model would be cheaper without the deadline.
    assert t4.energy_J.sel(model="1B") < t4.energy_J.sel(model="10B")


def test_lower_bound_is_min_feasible_energy(default_grid):
    g = default_grid
    masked = g.energy_J.where(g.feasible)
    np.testing.assert_allclose(g.e_lb_J, masked.min("model"))
    mix = g.mix.to_numpy()
    assert float(g.c_lb_J_per_slot) == pytest.approx(mix @ g.e_lb_J.to_numpy())
    assert float(g.consumption_var_J2_per_slot) == pytest.approx(mix @ g.e_lb_J.to_numpy() ** 2)


def test_harvest_defaults_are_critical(default_cfg, default_grid):
    h = grids.harvest_parameters(default_grid, default_cfg)
    assert h["harvest_mean_J"] == pytest.approx(float(default_grid.c_lb_J_per_slot))
    assert h["harvest_var_J2"] == pytest.approx(float(default_grid.consumption_var_J2_per_slot))
    assert h["gamma_shape"] * h["gamma_scale_J"] == pytest.approx(h["harvest_mean_J"])
    assert h["gamma_shape"] * h["gamma_scale_J"] ** 2 == pytest.approx(h["harvest_var_J2"])


def test_infeasible_task_is_named(default_cfg):
    cfg = copy.deepcopy(default_cfg)
    cfg["tasks"][4]["deadline_s"] = 5
    with pytest.raises(ConfigError, match=r"tasks\[4\]\.deadline_s.*'t4'.*no feasible model"):
        grids.task_grid(validate(cfg))


def test_token_cap_names_task_and_model(default_cfg):
    cfg = copy.deepcopy(default_cfg)
    cfg["ds3"]["max_attempts"] = 1000
    with pytest.raises(ConfigError, match=r"ds3\.max_attempts.*task t0 on model 1B"):
        grids.task_grid(validate(cfg))


def test_summary_has_key_figures(default_cfg, default_grid):
    s = grids.grid_summary(default_grid, default_cfg)
    assert s["c_lb_J_per_slot"] > 0 and s["consumption_var_J2_per_slot"] > 0
    assert len(s["tasks"]) == 10
    t = s["tasks"][4]
    assert set(t["energy_J"]) == {"1B", "10B"} and t["chosen_model"] == "10B"
