"""Per-task grids, feasibility and profiles on the default scenario (docs/model.md §4-5, 10)."""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
import yaml
from scipy.stats import binom
from snakerun import ROOT

from energy_routing.config import ConfigError, validate
from energy_routing.model import grids

# ----------------------------------------------------------------------------------------
# The default grid recomputed in the test from the formulas of docs/model.md §1-5, with
# the paper's constants written out here (not read from the package): Chinchilla frontier
# -> sigmoid skill probability -> k* by a linear scan of the binomial tail (scipy.stats,
# where the package bisects the incomplete beta function) -> n* -> E_m(n*), T_m(n*).
# ----------------------------------------------------------------------------------------

MODELS = {"1B": 1.0e9, "10B": 1.0e10}  # N_m; both with 48 layers and d_attn = 2048
N_LAYERS, D_ATTN = 48, 2048
E_MEM, E_FLOP, BANDWIDTH, THROUGHPUT = 1e-11, 1e-12, 5e12, 2e13
CHIN_E, CHIN_A, CHIN_ALPHA, CHIN_BETA = 1.69, 406.4, 0.34, 0.28
STEEPNESS, SKILLS, OMEGA, TOLERANCE = 5.0, 50, 20, 0.1
DEADLINES = [80, 40, 40, 40, 17, 40, 40, 40, 40, 80]
ARRIVAL_RATE, DT = 1.0, 1.0

#: k* per task (rows t0..t9) and model (1B, 10B), from the scan below; a pin against
#: both the package and this file drifting together.
ATTEMPTS = [
    [2892, 392], [2593, 357], [2326, 325], [2088, 297], [1874, 271],
    [1682, 248], [1511, 228], [1358, 210], [1221, 193], [1098, 179],
]  # fmt: skip
#: Minimum-energy feasible model per task: 10B where it is cheaper (t0, t1) and where
#: the 17 s deadline rules the 1B model out (t4), 1B elsewhere.
CHOSEN = ["10B", "10B", "1B", "1B", "10B", "1B", "1B", "1B", "1B", "1B"]


@functools.cache
def independent_grid() -> dict:
    """The default grid from docs/model.md §1-5 in plain numpy/scipy (arrays task x model)."""
    raw = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    difficulty = np.array([t["difficulty"] for t in raw["tasks"]], dtype=float)
    gamma_big = CHIN_A * (1 + CHIN_ALPHA / CHIN_BETA)
    n_params = np.array(list(MODELS.values()))
    loss = CHIN_E + gamma_big * n_params**-CHIN_ALPHA
    p = 1.0 / (1.0 + np.exp(-STEEPNESS * (difficulty[:, None] - loss[None, :])))
    k_grid = np.arange(SKILLS, 20_000)
    k = np.empty(p.shape, dtype=np.int64)
    for idx, prob in np.ndenumerate(p):
        ok = binom.sf(SKILLS - 1, k_grid, prob) >= 1 - TOLERANCE  # P(Binomial(k, p) >= s)
        assert ok.any() and not ok[0]
        k[idx] = k_grid[np.argmax(ok)]
    n = OMEGA * k
    a = n_params * (E_MEM + 2 * E_FLOP)
    b = 2 * N_LAYERS * D_ATTN * E_FLOP
    u = n_params / BANDWIDTH + 2 * n_params / THROUGHPUT
    v = 2 * N_LAYERS * D_ATTN / THROUGHPUT
    energy = a * n + b * n * (n - 1) / 2
    latency = u * n + v * n * (n - 1) / 2
    feasible = latency <= np.array(DEADLINES, dtype=float)[:, None]
    e_lb = np.where(feasible, energy, np.inf).min(axis=1)
    chosen = [list(MODELS)[j] for j in np.where(feasible, energy, np.inf).argmin(axis=1)]
    return {
        "difficulty": difficulty,
        "skill_prob": p,
        "attempts": k,
        "tokens": n,
        "energy_J": energy,
        "latency_s": latency,
        "service_slots": np.ceil(latency / DT).astype(np.int64),
        "feasible": feasible,
        "e_lb_J": e_lb,
        "chosen": chosen,
        "c_lb": ARRIVAL_RATE * e_lb.mean(),
        "var_lb": ARRIVAL_RATE * (e_lb**2).mean(),
        "coef": (a, b, u, v),
    }


def test_default_config_is_the_papers_scenario():
    raw = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    ref = independent_grid()
    np.testing.assert_allclose(ref["difficulty"], np.linspace(1.7, 1.9, 10), atol=1e-6)
    assert [t["deadline_s"] for t in raw["tasks"]] == DEADLINES
    assert [m["params"] for m in raw["models"]] == list(MODELS.values())
    assert raw["hardware"] == {
        "e_mem": E_MEM,
        "e_flop": E_FLOP,
        "bandwidth": BANDWIDTH,
        "throughput": THROUGHPUT,
    }


def test_independent_recomputation_matches_the_pins():
    ref = independent_grid()
    assert ref["attempts"].tolist() == ATTEMPTS
    assert ref["chosen"] == CHOSEN
    assert round(ref["c_lb"], 2) == 593.38


def test_default_grid_regression(default_grid):
    """docs/model.md §1-4 on the default config, against the recomputation above."""
    g, ref = default_grid, independent_grid()
    assert list(g.model.values) == list(MODELS)
    np.testing.assert_array_equal(g.attempts.to_numpy(), ATTEMPTS)
    np.testing.assert_array_equal(g.tokens.to_numpy(), ref["tokens"])
    np.testing.assert_allclose(g.skill_prob.to_numpy(), ref["skill_prob"], rtol=1e-12)
    np.testing.assert_allclose(g.energy_J.to_numpy(), ref["energy_J"], rtol=1e-12)
    np.testing.assert_allclose(g.latency_s.to_numpy(), ref["latency_s"], rtol=1e-12)
    np.testing.assert_array_equal(g.service_slots.to_numpy(), ref["service_slots"])
    np.testing.assert_array_equal(g.feasible.to_numpy(), ref["feasible"])
    assert g.best_model.to_numpy().tolist() == CHOSEN
    np.testing.assert_allclose(g.e_lb_J.to_numpy(), ref["e_lb_J"], rtol=1e-12)
    np.testing.assert_allclose(g.mix.to_numpy(), 0.1, rtol=1e-15)
    assert round(float(g.c_lb_J_per_slot), 2) == 593.38
    assert float(g.c_lb_J_per_slot) == pytest.approx(ref["c_lb"], rel=1e-12)
    assert float(g.consumption_var_J2_per_slot) == pytest.approx(ref["var_lb"], rel=1e-12)


def test_profiles_follow_the_continuous_token_clock(default_grid):
    """docs/model.md §5: slot j draws E(x(j dt)) - E(x((j-1) dt)), x clipped at n*."""
    g, ref = default_grid, independent_grid()
    a, b, u, v = ref["coef"]
    for i in range(len(DEADLINES)):
        for m in range(len(MODELS)):
            n_star, s = ref["tokens"][i, m], ref["service_slots"][i, m]
            t = np.arange(s + 1) * DT
            x = np.minimum((-u[m] + np.sqrt(u[m] ** 2 + 2 * v * t)) / v, n_star)
            cum = a[m] * x + b * x * (x - 1) / 2
            cum[-1] = ref["energy_J"][i, m]  # the last slot takes what remains of E(n*)
            expected = np.zeros(g.sizes["slot"])
            expected[:s] = np.diff(cum)
            np.testing.assert_allclose(
                g.profile_J.to_numpy()[i, m], expected, rtol=1e-9, atol=1e-9 * cum[-1]
            )


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


def test_harvest_defaults_are_critical(default_cfg, default_grid):
    """docs/model.md §6: R_bar = C_LB and sigma_R^2 = lambda E[e_LB^2] by default."""
    ref = independent_grid()
    h = grids.harvest_parameters(default_grid, default_cfg)
    assert h["harvest_mean_J"] == pytest.approx(ref["c_lb"], rel=1e-12)
    assert h["harvest_var_J2"] == pytest.approx(ref["var_lb"], rel=1e-12)
    half = grids.harvest_parameters(default_grid, default_cfg, provisioning=0.5)
    assert half["harvest_mean_J"] == pytest.approx(0.5 * ref["c_lb"], rel=1e-12)
    assert half["harvest_var_J2"] == pytest.approx(ref["var_lb"], rel=1e-12)
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
    ref = independent_grid()
    s = grids.grid_summary(default_grid, default_cfg)
    assert s["c_lb_J_per_slot"] == pytest.approx(ref["c_lb"], rel=1e-12)
    assert s["consumption_var_J2_per_slot"] == pytest.approx(ref["var_lb"], rel=1e-12)
    assert [t["chosen_model"] for t in s["tasks"]] == CHOSEN
    for i, t in enumerate(s["tasks"]):
        for j, m in enumerate(MODELS):
            assert t["energy_J"][m] == pytest.approx(ref["energy_J"][i, j], rel=1e-12)
            assert t["latency_s"][m] == pytest.approx(ref["latency_s"][i, j], rel=1e-12)
            assert t["tokens"][m] == ref["tokens"][i, j]
            assert t["feasible"][m] == ref["feasible"][i, j]
        assert t["e_lb_J"] == pytest.approx(ref["e_lb_J"][i], rel=1e-12)
