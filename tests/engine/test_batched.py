"""The batched serving engine (docs/model.md §14.2): identities with today's engine,
energy conservation, reproducibility, common random numbers and kernel properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_routing import config
from energy_routing.engine.batched import (
    LOG_ARRIVAL,
    LOG_DONE,
    LOG_ENERGY,
    LOG_MODEL,
    LOG_TYPE,
    ServingPlan,
    batch_of_one_energy,
    serve_tasks,
    serve_trial,
    trial_metrics,
    walk_consumption,
)
from energy_routing.engine.batched_kernel import ACC_BUSY_J, ACC_IDLE_J, ACC_STEPS, ACC_TOKENS
from energy_routing.engine.draws import EnginePlan
from energy_routing.engine.driver import _routed_chunks, simulate
from energy_routing.engine.fast_path import _carry_spill, distributed_consumption
from energy_routing.engine.streams import trial_streams
from energy_routing.model import grids, serving
from energy_routing.model.catalogue import ACCELERATORS
from energy_routing.model.hardware import total_energy, total_time

#: Relative tolerance of the identities: round-off of sums of a few hundred terms.
RTOL = 1e-12


@pytest.fixture(scope="module")
def setup():
    cfg = config.load("config/config.yaml")
    grid = grids.task_grid(cfg)
    hw = grids.hardware(cfg)
    coef = np.array(
        [
            serving.StepCoefficients.paper(m["params"], m["n_layers"], m["d_attn"], hw).as_array()
            for m in cfg["models"]
        ]
    )
    return cfg, grid, coef


def _plan(grid, coef, replicas, max_batch, idle=(0.0, 0.0)):
    return ServingPlan(
        tokens=grid.tokens.values,
        deadline_s=grid.deadline_s.values,
        coef=coef,
        idle_w=np.asarray(idle, dtype=float),
        replicas=np.asarray(replicas),
        max_batch=max_batch,
    )


def _today_distributed(plan, streams, horizon, chunk):
    """C_t of today's distributed path (engine.fast_path), from the same routed chunks."""
    n_carry = plan.max_service - 1
    buf = np.zeros(chunk + n_carry)
    ref = np.empty(horizon)
    counts = np.zeros(plan.energy.shape, dtype=np.int64)
    for t0, n, d, types, models in _routed_chunks(plan, streams, horizon, chunk, counts):
        distributed_consumption(d.slots, types, models, plan.profile, plan.service_len, buf)
        ref[t0 : t0 + n] = buf[:n]
        _carry_spill(buf, n, n_carry)
    return ref


def test_paper_step_coefficients_are_the_per_token_law(setup):
    cfg, _, coef = setup
    table = grids.model_table(cfg)
    for m, c in enumerate(coef):
        np.testing.assert_allclose(c[3] + c[4], table.a_J_per_token[m], rtol=1e-15)
        np.testing.assert_allclose(c[0] + c[1], table.u_s_per_token[m], rtol=1e-15)
        assert c[5] == table.b_J_per_token2[m] and c[2] == table.v_s_per_token2[m]


def test_identity_many_replicas_batch_one(setup):
    """(a) Paper coefficients, batch 1, more replicas than tasks ever in service: every
    task's energy is E_m(n*), its completion time the §1 clock's T_m(n*) + v n*/2, and
    C_t is today's distributed consumption slot by slot."""
    cfg, grid, coef = setup
    wl = grids.workload(grid, cfg)
    plan = EnginePlan.build(wl, 0.05)
    sp = _plan(grid, coef, [80, 80], 1)
    horizon, chunk = 3000, 1000
    tr = serve_trial(
        plan, sp, trial_streams(5, 11, 0), horizon, chunk_slots=chunk, keep_consumption=True
    )
    ref = _today_distributed(plan, trial_streams(5, 11, 0), horizon, chunk)
    assert np.max(np.abs(tr.consumption - ref)) <= RTOL * ref.max()
    d = tr.done
    typ, mod = d[:, LOG_TYPE].astype(int), d[:, LOG_MODEL].astype(int)
    n = grid.tokens.values[typ, mod]
    table = grids.model_table(cfg)
    a, b = table.a_J_per_token.values[mod], table.b_J_per_token2.values[mod]
    u, v = table.u_s_per_token.values[mod], table.v_s_per_token2.values[mod]
    np.testing.assert_allclose(d[:, LOG_ENERGY], total_energy(n, a, b), rtol=RTOL)
    np.testing.assert_allclose(
        d[:, LOG_DONE] - d[:, LOG_ARRIVAL], total_time(n, u, v) + v * n / 2, rtol=1e-9
    )
    assert d.shape[0] > 2500  # nearly every task of the path is checked


def test_identity_one_replica_without_overlap(setup):
    """(b) One replica of batch 1 per model, no idle power: on a path where no two tasks
    of a model overlap, the walk's D_t, B_t and U_t equal today's engine's."""
    cfg, grid, coef = setup
    wl = grids.workload(grid, {**cfg, "arrival_rate": 0.001})
    cps = np.array([10, 100, 1000, 5000, 20000])
    n_trials = 8
    ref = simulate(
        wl,
        checkpoints=cps,
        trials=n_trials,
        root_seed=9,
        scenario_key=3,
        routing_error=0.1,
        chunk_slots=4096,
        consumption=("distributed",),
    )
    plan = EnginePlan.build(wl, 0.1)
    sp = _plan(grid, coef, [1, 1], 1)
    checked = 0
    for k in range(n_trials):
        tr = serve_trial(
            plan, sp, trial_streams(9, 3, k), int(cps[-1]), chunk_slots=4096, checkpoints=cps
        )
        d = tr.done
        typ, mod = d[:, LOG_TYPE].astype(int), d[:, LOG_MODEL].astype(int)
        alone = grid.latency_s.values[typ, mod]
        # The premise: nobody waited (each took its own service time, within v n*/2).
        if not np.all(d[:, LOG_DONE] - d[:, LOG_ARRIVAL] - alone < 1e-3):
            continue
        checked += 1
        scale = np.abs(ref.battery_J[0, k]).max()
        for mine, theirs in (
            (tr.deficit, ref.deficit_J),
            (tr.battery, ref.battery_J),
            (tr.injected, ref.aux_injected_J),
        ):
            assert np.max(np.abs(mine - theirs[0, k])) <= RTOL * scale
    assert checked >= 6, checked


def test_one_replica_with_overlap_queues(setup):
    """With one replica of batch 1, overlapping tasks wait: the identity needs (b)'s premise."""
    _, grid, coef = setup
    tr, _ = serve_tasks(_plan(grid, coef, [1, 1], 1), 1.0, [0, 0], [2, 2], [0, 0])
    lat = np.sort(tr.done[:, LOG_DONE] - tr.done[:, LOG_ARRIVAL])
    assert lat[1] == pytest.approx(2 * lat[0], rel=1e-9)


def _coef_h100(grid, cfg):
    arch = [
        serving.ServingArch.from_paper(m["params"], m["n_layers"], m["d_attn"])
        for m in cfg["models"]
    ]
    k = serving.constants("H100-SXM5-80GB")
    acc = ACCELERATORS["H100-SXM5-80GB"]
    return np.array([serving.StepCoefficients.of(a, acc, k, 1).as_array() for a in arch]), k


def test_energy_conservation_with_idle(setup):
    """Sum of C_t = steps' fixed energy + each task's own tokens + idle energy."""
    cfg, grid, _ = setup
    coef, k = _coef_h100(grid, cfg)
    sp = _plan(grid, coef, [3, 2], 8, idle=(k.idle_power_w, k.idle_power_w))
    rng = np.random.default_rng(4)
    n = 60
    slots, types, models = rng.integers(0, 50, n), rng.integers(0, 10, n), rng.integers(0, 2, n)
    tr, cons = serve_tasks(sp, 1.0, slots, types, models, chunk_slots=64)
    assert tr.done.shape[0] == n
    acc = tr.acc
    np.testing.assert_allclose(
        cons.sum(), acc[:, ACC_BUSY_J].sum() + acc[:, ACC_IDLE_J].sum(), rtol=RTOL
    )
    np.testing.assert_allclose(tr.done[:, LOG_ENERGY].sum(), acc[:, ACC_BUSY_J].sum(), rtol=RTOL)
    nb = grid.tokens.values[types, models]
    c = coef[models]
    own = c[:, 4] * nb + c[:, 5] * nb * (nb - 1) / 2
    np.testing.assert_allclose(
        acc[:, ACC_BUSY_J].sum(), own.sum() + (coef[:, 3] * acc[:, ACC_STEPS]).sum(), rtol=1e-10
    )
    np.testing.assert_allclose(acc[:, ACC_TOKENS].sum(), nb.sum(), rtol=RTOL)
    busy_s = acc[:, 4]
    idle_s = np.array([3, 2]) * cons.size - busy_s
    np.testing.assert_allclose(acc[:, ACC_IDLE_J], k.idle_power_w * idle_s, rtol=1e-9)


def test_reproducible_and_common_random_numbers(setup):
    cfg, grid, coef = setup
    wl = grids.workload(grid, cfg)
    plan = EnginePlan.build(wl, 0.05)
    runs = [
        serve_trial(
            plan,
            _plan(grid, coef, r, 16),
            trial_streams(2, 4, 1),
            800,
            chunk_slots=300,
            keep_consumption=True,
        )
        for r in ([1, 1], [1, 1], [3, 2])
    ]
    np.testing.assert_array_equal(runs[0].consumption, runs[1].consumption)
    np.testing.assert_array_equal(runs[0].done, runs[1].done)

    def tasks(tr):
        ids = np.concatenate((tr.done[:, 3], tr.unfinished["arrival_s"]))
        typ = np.concatenate((tr.done[:, 1], tr.unfinished["type"]))
        return np.sort(ids), np.sort(typ)

    for a, b in zip(tasks(runs[0]), tasks(runs[2]), strict=True):
        np.testing.assert_array_equal(a, b)  # the same arrivals and types, served otherwise


def test_metrics_paper_energy(setup):
    _, grid, coef = setup
    sp = _plan(grid, coef, [1, 1], 4)
    tr, _ = serve_tasks(sp, 1.0, [0, 1, 2], [0, 3, 5], [1, 0, 0])
    m = trial_metrics(tr, sp, 1.0)
    e = batch_of_one_energy(sp, np.array([3, 5]), np.array([0, 0]))
    assert m["paper_energy_per_task_J"][0] == pytest.approx(e.mean(), rel=1e-14)
    assert m["tasks"].tolist() == [2, 1]
    assert 1 <= m["mean_batch"][0] <= 2


tasks_st = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 9), st.integers(0, 1)), min_size=1, max_size=25
)


@settings(max_examples=25, deadline=None)
@given(tasks=tasks_st, r=st.integers(1, 3), extra=st.integers(1, 3))
def test_more_replicas_never_delay_a_task_at_batch_one(setup, tasks, r, extra):
    """FCFS with batch 1: adding replicas never makes any task finish later."""
    _, grid, coef = setup
    slots, types, models = map(np.array, zip(*tasks, strict=True))

    def finish(n):
        tr, _ = serve_tasks(_plan(grid, coef, [n, n], 1), 1.0, slots, types, models)
        d = tr.done[np.argsort(tr.done[:, 0])]
        return d[:, LOG_DONE]

    assert np.all(finish(r + extra) <= finish(r) + 1e-9)


@settings(max_examples=25, deadline=None)
@given(tasks=tasks_st, batch=st.integers(2, 32))
def test_batching_never_costs_more_than_batch_one(setup, tasks, batch):
    """Without idle power, a batch shares the weights' energy: the same tasks served with
    a larger batch take fewer steps and never more energy per token than batch one, and
    the energy beyond the steps' fixed part is the same."""
    cfg, grid, _ = setup
    coef, _ = _coef_h100(grid, cfg)
    slots, types, models = map(np.array, zip(*tasks, strict=True))
    out = []
    for b in (1, batch):
        tr, cons = serve_tasks(_plan(grid, coef, [1, 1], b), 1.0, slots, types, models)
        out.append((cons.sum(), tr.acc))
    (e1, acc1), (eb, accb) = out
    assert accb[:, ACC_STEPS].sum() <= acc1[:, ACC_STEPS].sum() * (1 + 1e-12)
    assert eb <= e1 * (1 + 1e-12)
    own1 = e1 - (coef[:, 3] * acc1[:, ACC_STEPS]).sum()
    ownb = eb - (coef[:, 3] * accb[:, ACC_STEPS]).sum()
    assert ownb == pytest.approx(own1, rel=1e-9)


def test_walk_consumption_is_the_trials_own_walk(setup):
    """Walking a served trial's C_t again draws the same harvest: the records are
    serve_trial's, bit for bit, walk_from included."""
    cfg, grid, coef = setup
    plan = EnginePlan.build(grids.workload(grid, cfg), 0.0)
    sp = _plan(grid, coef, [2, 2], 8)
    cps = np.array([5, 50, 500, 1400])
    tr = serve_trial(plan, sp, trial_streams(3, 1, 2), 1500, chunk_slots=400,
                     checkpoints=cps, keep_consumption=True, walk_from=100)  # fmt: skip
    d, b, u = walk_consumption(plan, trial_streams(3, 1, 2), tr.consumption, cps,
                               chunk_slots=400, walk_from=100)  # fmt: skip
    for mine, theirs in ((d, tr.deficit), (b, tr.battery), (u, tr.injected)):
        np.testing.assert_array_equal(mine, theirs)
