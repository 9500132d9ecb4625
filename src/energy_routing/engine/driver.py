"""The engine's driver: :func:`simulate` runs trials of the slotted battery chunk by chunk
(docs/model.md §6-8, §12).

A trial, one sample path of docs/model.md §6, is walked in chunks of ``chunk_slots`` slots
with its state carried over and recorded at log-spaced checkpoints only
(:func:`log_checkpoints`), so memory is O(trials x checkpoints + chunk) for any horizon. A
chunk passes four stages: (1) :func:`~energy_routing.engine.draws.draw_chunk`, all its
randomness; (2) :func:`~energy_routing.engine.draws.route_myopic`, a model per task; (3)
lumped or distributed consumption; (4) :func:`~energy_routing.engine.fast_path.walk_chunk`,
the battery, its minimum, the floored battery and the injections. A static policy on the
unbounded lossless store takes this fast path; a state-dependent policy, a finite or lossy
store or random task energies run stages 3-4 in
:func:`energy_routing.engine.per_slot.slot_chunk`, slot by slot (bit for bit alike under the
myopic policy). Trials may run on threads; they come back as a :class:`SimulationResult`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from energy_routing.engine.draws import EnginePlan, draw_chunk, route_myopic, tally_routes
from energy_routing.engine.energy import EnergyLaw, energy_stream
from energy_routing.engine.fast_path import (
    _STATE_B,
    _STATE_S1,
    _STATE_S2,
    _STATE_SIZE,
    _carry_spill,
    distributed_consumption,
    lumped_consumption,
    walk_chunk,
)
from energy_routing.engine.per_slot import STATE_FIELDS, SlotState, slot_chunk, slot_order
from energy_routing.engine.policies import Myopic, Policy, last_start_slots
from energy_routing.engine.storage import Storage
from energy_routing.engine.streams import trial_streams
from energy_routing.model.workload import Workload
from energy_routing.theory.moments import _check_routing_error, _route_probabilities

#: Consumption modes, in the order the engine stores them (docs/model.md §6, eq. 24-25).
CONSUMPTION_MODES: tuple[str, ...] = ("lumped", "distributed")


# --------------------------------------------------------------------------------------
# Checkpoints, keys and streams
# --------------------------------------------------------------------------------------


def log_checkpoints(t_min: int, t_max: int, n: int) -> np.ndarray:
    """Log-spaced recording slots between ``t_min`` and ``t_max`` (docs/model.md §9).

    Parameters
    ----------
    t_min, t_max : int
        First and last checkpoint [slot], 1 <= t_min <= t_max.
    n : int
        Requested number of checkpoints; fewer are returned when rounding to whole slots
        makes some coincide.

    Returns
    -------
    ndarray of int64
        Unique, strictly increasing slots, the first ``t_min`` and the last ``t_max``.

    Examples
    --------
    >>> log_checkpoints(1, 1000, 4).tolist()
    [1, 10, 100, 1000]
    >>> log_checkpoints(1, 5, 10).tolist()
    [1, 2, 3, 4, 5]
    """
    t_min, t_max, n = int(t_min), int(t_max), int(n)
    if t_min < 1 or t_max < t_min:
        raise ValueError(f"log_checkpoints: need 1 <= t_min <= t_max, got {t_min}, {t_max}")
    if n < 1:
        raise ValueError(f"log_checkpoints: need n >= 1, got {n}")
    if n == 1:
        return np.array([t_max], dtype=np.int64)
    slots = np.rint(np.geomspace(t_min, t_max, n)).astype(np.int64)
    slots[0], slots[-1] = t_min, t_max
    return np.unique(slots)


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulationResult:
    """Per-trial records of one simulation (docs/model.md §6-8, §12).

    Attributes
    ----------
    consumption : tuple of str
        Consumption modes, the first axis of the mode-indexed arrays.
    trials : ndarray of int64, shape (n_trials,)
        Global trial indices.
    checkpoints : ndarray of int64, shape (n_checkpoints,)
        Recording slots t [slot].
    deficit_J : ndarray, shape (mode, trial, checkpoint)
        D_t [J] of the free battery.
    battery_J : ndarray, shape (mode, trial, checkpoint)
        Unconstrained battery B_t [J].
    aux_injected_J : ndarray, shape (mode, trial, checkpoint)
        Cumulative auxiliary energy U_t [J] of the store (equals D_t for the unbounded
        lossless store, Thm. 1).
    realised_drift_J_per_slot : ndarray, shape (mode, trial)
        B_T / T at T = last checkpoint [J/slot].
    increment_var_J2_per_slot : ndarray, shape (mode, trial)
        Sample variance (ddof=1) of the per-slot increments R_t - C_t up to T [J^2/slot];
        NaN when T = 1.
    task_counts : ndarray of int64, shape (trial, K, M)
        Number of tasks of each type routed to each model up to T (arrival slots <= T).
    routing_error : float
        epsilon [1].
    root_seed, scenario_key, chunk_slots : int
        Reproducibility parameters of the run.
    policy, policy_parameter : str, float
        The policy's name and swept parameter (docs/model.md §12).
    storage : Storage
        The store walked.
    kernel : str
        ``"fast"`` (vectorised path) or ``"per_slot"``.
    spilled_J, stored_J, backlog : ndarray, shape (mode, trial, checkpoint)
        Cumulative spilled harvest [J], stored energy [J] and queued tasks at the
        checkpoints. On the fast path: 0, F_t = B_t + U_t (to rounding) and 0.
    dispatched, wait_slots, missed, backlog_slots : ndarray, shape (mode, trial)
        Tasks started up to T, their total wait [slot], those started after their last
        feasible start, and the sum over slots of the tasks queued at a slot's end
        [task slot]. On the fast path every task arriving by T starts on arrival.
    failed_tasks : ndarray of int64, shape (trial,) or None
        With an energy law (docs/model.md §12.5): tasks that ran out of budget.
    queued_energy_J : ndarray, shape (mode, trial, checkpoint) or None
        Energy the tasks still queued at a checkpoint will be charged [J] (0 on the fast
        path, where every task starts on arrival).
    settled_aux_J : ndarray, shape (mode, trial, checkpoint) or None
        U_t with the queued tasks billed at the checkpoint (docs/model.md §12.6):
        :meth:`~energy_routing.engine.storage.Storage.settle` of ``aux_injected_J``,
        ``stored_J`` and ``queued_energy_J``; equal to ``aux_injected_J`` when nothing waits.
    """

    consumption: tuple[str, ...]
    trials: np.ndarray
    checkpoints: np.ndarray
    deficit_J: np.ndarray
    battery_J: np.ndarray
    aux_injected_J: np.ndarray
    realised_drift_J_per_slot: np.ndarray
    increment_var_J2_per_slot: np.ndarray
    task_counts: np.ndarray
    routing_error: float
    root_seed: int
    scenario_key: int
    chunk_slots: int
    policy: str = "myopic"
    policy_parameter: float = 0.0
    storage: Storage = field(default_factory=Storage)
    kernel: str = "fast"
    spilled_J: np.ndarray | None = None
    stored_J: np.ndarray | None = None
    backlog: np.ndarray | None = None
    dispatched: np.ndarray | None = None
    wait_slots: np.ndarray | None = None
    missed: np.ndarray | None = None
    backlog_slots: np.ndarray | None = None
    failed_tasks: np.ndarray | None = None
    queued_energy_J: np.ndarray | None = None
    settled_aux_J: np.ndarray | None = None


def _check_checkpoints(checkpoints: Iterable[int]) -> np.ndarray:
    cps = np.asarray(checkpoints)
    if cps.ndim != 1 or cps.size == 0 or not np.issubdtype(cps.dtype, np.integer):
        raise ValueError("checkpoints: expected a non-empty 1-D array of integer slots")
    cps = cps.astype(np.int64)
    if cps[0] < 1 or np.any(np.diff(cps) <= 0):
        raise ValueError("checkpoints: slots must be >= 1 and strictly increasing")
    return cps


def _routed_chunks(plan, streams, horizon: int, chunk_slots: int, task_counts: np.ndarray):
    """The chunks of one trial, drawn and routed (stages 1-2): yields ``(t0, L, draws,
    types, models)`` for consecutive chunks of at most ``chunk_slots`` slots up to
    ``horizon``, tallying the routes into ``task_counts``. The harvest buffer is reused:
    a chunk's draws are valid until the next one is drawn."""
    harvest_buf = np.empty(chunk_slots)
    supply_state = plan.start_trial(streams)
    t0 = 0
    while t0 < horizon:
        n_slots = min(chunk_slots, horizon - t0)
        draws = draw_chunk(streams, plan, n_slots, harvest_buf, supply_state)
        types, models = route_myopic(draws, plan)
        tally_routes(draws, plan, task_counts)
        yield t0, n_slots, draws, types, models
        t0 += n_slots


def _run_trial(
    plan: EnginePlan,
    streams: tuple[np.random.Generator, ...],
    modes: tuple[str, ...],
    checkpoints: np.ndarray,
    chunk_slots: int,
    shift: float,
    records: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    state: np.ndarray,
    task_counts: np.ndarray,
) -> None:
    """Simulate one trial chunk by chunk, writing into the given record rows."""
    n_carry = plan.max_service - 1
    lumped_buf = np.empty(chunk_slots)
    spread_buf = np.zeros(chunk_slots + n_carry)
    state[:] = 0.0
    next_cp = np.zeros(len(modes), dtype=np.int64)
    chunks = _routed_chunks(plan, streams, int(checkpoints[-1]), chunk_slots, task_counts)
    for t0, n_slots, draws, types, models in chunks:
        for k, mode in enumerate(modes):
            if mode == "lumped":
                consumption = lumped_buf[:n_slots]
                lumped_consumption(draws.slots, types, models, plan.energy, consumption)
            else:
                distributed_consumption(
                    draws.slots, types, models, plan.profile, plan.service_len, spread_buf
                )
                consumption = spread_buf
            deficit, battery, injected = records[k]
            next_cp[k] = walk_chunk(
                draws.harvest,
                consumption,
                state[k],
                t0,
                checkpoints,
                next_cp[k],
                deficit,
                battery,
                injected,
                shift,
            )
            if mode == "distributed":
                _carry_spill(spread_buf, n_slots, n_carry)


def _run_trial_per_slot(
    plan: EnginePlan,
    streams: tuple[np.random.Generator, ...],
    modes: tuple[str, ...],
    checkpoints: np.ndarray,
    chunk_slots: int,
    shift: float,
    records: list[tuple[np.ndarray, ...]],
    values: np.ndarray,
    task_counts: np.ndarray,
    policy_tables: tuple[np.ndarray, np.ndarray, int, float, float],
    storage: Storage,
    energy_law: EnergyLaw | None = None,
    energy_rng: np.random.Generator | None = None,
    failed: np.ndarray | None = None,
) -> None:
    """Simulate one trial chunk by chunk through the per-slot kernel (docs/model.md §12).

    The chunk's draws are those of :func:`_run_trial` (same streams, same order), so every
    policy and store sees the same arrivals, routes and harvests. ``values`` (mode,
    field) receives the final named state of each mode.
    """
    n_carry = plan.max_service - 1
    wait_limit, last_start, kind, reserve, v_weight = policy_tables
    states = [SlotState.empty(n_carry, values[k]) for k in range(len(modes))]
    next_cp = np.zeros(len(modes), dtype=np.int64)
    chunks = _routed_chunks(plan, streams, int(checkpoints[-1]), chunk_slots, task_counts)
    for t0, n_slots, draws, types, models in chunks:
        order = slot_order(draws.slots, n_slots)
        a_slot = draws.slots[order]
        a_type = types[order]
        a_model = models[order]
        if energy_law is None:
            a_e = plan.energy[a_type, a_model]
        else:  # drawn in draw order, from the trial's own energy stream
            drawn, fails = energy_law.draw(types, models, energy_rng)
            a_e = drawn[order]
            failed[...] += int(fails.sum())
        for k, mode in enumerate(modes):
            st = states[k]
            st.reserve_queue(order.size)
            rec = records[k]
            next_cp[k] = slot_chunk(
                draws.harvest,
                t0,
                a_slot,
                a_type,
                a_model,
                order,
                a_e,
                st.q_arrival,
                st.q_type,
                st.q_model,
                st.q_key,
                st.q_energy,
                mode == "distributed",
                plan.energy,
                plan.profile,
                plan.service_len,
                wait_limit,
                last_start,
                kind,
                reserve,
                v_weight,
                storage.capacity_J,
                storage.eta_charge,
                storage.eta_discharge,
                storage.keep_per_slot,
                st.carry,
                st.values,
                checkpoints,
                next_cp[k],
                *rec,
                shift,
            )


def _policy_tables(workload: Workload, policy) -> tuple[np.ndarray, np.ndarray, int, float, float]:
    """Wait limits and last starts [slot] (K, M), kind, reserve [J], V [tasks/J]."""
    wait_limit = np.ascontiguousarray(policy.wait_limit(workload), dtype=np.int64)
    if workload.slack_s is not None:
        last_start = last_start_slots(workload.slack_s, workload.dt_s)
    else:  # static policies start on arrival, which is feasible by construction
        last_start = np.where(workload.feasible, 0, -1).astype(np.int64)
    reserve, v_weight = policy.kernel_params()
    return wait_limit, last_start, int(policy.kind), float(reserve), float(v_weight)


def simulate(
    workload: Workload,
    *,
    checkpoints: Iterable[int],
    trials: int | Iterable[int],
    root_seed: int,
    scenario_key: int,
    routing_error: float | None = None,
    policy: Policy | None = None,
    storage: Storage | None = None,
    chunk_slots: int = 65536,
    n_threads: int = 1,
    consumption: Iterable[str] = CONSUMPTION_MODES,
    kernel: str = "auto",
    energy_law: EnergyLaw | None = None,
) -> SimulationResult:
    """Simulate independent trials of the slotted battery (docs/model.md §6-8, §12).

    Parameters
    ----------
    workload : Workload
        Tasks, models, arrival rate and harvest (and ``slack_s`` for deferring policies).
    checkpoints : array_like of int
        Strictly increasing recording slots [slot]; the last one is the horizon T.
    trials : int or iterable of int
        Number of trials (indices 0..n-1) or the global trial indices to run (a shard).
    root_seed : int
        Root entropy of the study.
    scenario_key : int
        Key of the scenario (see :func:`scenario_key`); neither the routing error nor the
        policy nor the store is part of it (common random numbers).
    routing_error : float, optional
        epsilon [1]: shorthand for ``policy=Myopic(routing_error=...)`` (docs/model.md §8).
    policy : Policy, optional
        Dispatch policy (:mod:`energy_routing.engine.policies`); default myopic.
    storage : Storage, optional
        The store (:mod:`energy_routing.engine.storage`); default unbounded and lossless.
    chunk_slots : int, default 65536
        Slots per chunk [slot]; part of the scenario (paths depend on it deterministically).
    n_threads : int, default 1
        Worker threads over trials; results do not depend on it. 0 means ``os.cpu_count()``.
    consumption : iterable of str, default ("lumped", "distributed")
        Consumption modes to walk, a subset of :data:`CONSUMPTION_MODES`; both modes
        share the same randomness.
    kernel : {"auto", "fast", "per_slot"}
        ``auto`` takes the fast vectorised path for a static policy with the unbounded
        lossless store and the per-slot kernel otherwise; ``per_slot`` forces the kernel
        (it gives the fast path's results bit for bit where both apply); ``fast`` refuses
        what only the kernel can do.
    energy_law : EnergyLaw, optional
        Stochastic reasoning length (docs/model.md §12.5): each task is charged a random
        energy drawn from the trial's energy stream instead of e_im (lumped consumption
        only; decisions still use e_im). Runs the per-slot kernel.

    Returns
    -------
    SimulationResult
        Per-trial records at the checkpoints and at T.
    """
    if policy is None:
        policy = Myopic(routing_error=0.0 if routing_error is None else routing_error)
    elif routing_error is not None and float(routing_error) != policy.routing_error:
        raise ValueError(
            f"routing_error: {routing_error!r} given besides a policy with routing error "
            f"{policy.routing_error!r}; set it on the policy"
        )
    if not isinstance(policy, Policy):
        raise ValueError(f"policy: expected a Policy, got {type(policy).__name__}")
    storage = Storage() if storage is None else storage
    if not isinstance(storage, Storage):
        raise ValueError(f"storage: expected a Storage, got {type(storage).__name__}")
    routing_error = policy.routing_error
    _check_routing_error(routing_error)
    needs_kernel = policy.state_dependent or not storage.unbounded or energy_law is not None
    if kernel not in ("auto", "fast", "per_slot"):
        raise ValueError(f"kernel: expected 'auto', 'fast' or 'per_slot', got {kernel!r}")
    if kernel == "fast" and needs_kernel:
        raise ValueError(
            f"kernel: the fast path cannot run policy {policy.name!r} with a finite or lossy "
            "store or a state-dependent policy; use 'auto' or 'per_slot'"
        )
    per_slot = kernel == "per_slot" or (kernel == "auto" and needs_kernel)
    cps = _check_checkpoints(checkpoints)
    modes = tuple(consumption)
    if not modes or len(set(modes)) != len(modes) or not set(modes) <= set(CONSUMPTION_MODES):
        raise ValueError(f"consumption: expected distinct modes from {CONSUMPTION_MODES}")
    if energy_law is not None:
        if not isinstance(energy_law, EnergyLaw):
            raise ValueError(f"energy_law: expected an EnergyLaw, got {type(energy_law).__name__}")
        if modes != ("lumped",):
            raise ValueError(
                "energy_law: random task energies are charged lumped only; pass "
                "consumption=('lumped',)"
            )
        if energy_law.skill_prob.shape != workload.energy_J.shape:
            raise ValueError(
                f"energy_law: shape {energy_law.skill_prob.shape} does not match the "
                f"workload's {workload.energy_J.shape}"
            )
    if isinstance(trials, int | np.integer):
        trial_ids = np.arange(int(trials))
    else:
        trial_ids = np.asarray(list(trials))
    trial_ids = trial_ids.astype(np.int64)
    if trial_ids.ndim != 1 or np.any(trial_ids < 0) or np.unique(trial_ids).size != trial_ids.size:
        raise ValueError("trials: expected distinct non-negative trial indices")
    chunk_slots = int(chunk_slots)
    if chunk_slots < 1:
        raise ValueError(f"chunk_slots: must be >= 1, got {chunk_slots}")
    n_threads = int(n_threads) or (os.cpu_count() or 1)
    if n_threads < 1:
        raise ValueError(f"n_threads: must be >= 0, got {n_threads}")

    table = policy.route_table(workload)
    primary = None if np.array_equal(table, workload.best_model) else table
    plan = EnginePlan.build(workload, routing_error, primary)
    tables = _policy_tables(workload, policy) if per_slot else None
    probs = _route_probabilities(workload, routing_error, primary)
    mean_e = float(workload.mix @ (probs * workload.energy_J).sum(axis=1))
    shift = workload.harvest_mean_J - workload.arrival_rate * mean_e  # mu of the routes
    n_modes, n_trials, n_cp = len(modes), trial_ids.size, cps.size
    shape3 = (n_modes, n_trials, n_cp)
    deficit, battery, injected = np.zeros(shape3), np.zeros(shape3), np.zeros(shape3)
    spilled, stored, backlog = np.zeros(shape3), np.zeros(shape3), np.zeros(shape3)
    owed = np.zeros(shape3)
    states = np.zeros((n_trials, n_modes, len(STATE_FIELDS)))
    fast_states = np.zeros((n_trials, n_modes, _STATE_SIZE))
    task_counts = np.zeros((n_trials, workload.n_types, workload.n_models), dtype=np.int64)
    failed = np.zeros(n_trials, dtype=np.int64)

    def run(pos: int) -> None:
        streams = trial_streams(root_seed, scenario_key, int(trial_ids[pos]))
        if per_slot:
            records = [
                (
                    deficit[k, pos],
                    battery[k, pos],
                    injected[k, pos],
                    spilled[k, pos],
                    stored[k, pos],
                    backlog[k, pos],
                    owed[k, pos],
                )
                for k in range(n_modes)
            ]
            _run_trial_per_slot(
                plan,
                streams,
                modes,
                cps,
                chunk_slots,
                shift,
                records,
                states[pos],
                task_counts[pos],
                tables,
                storage,
                energy_law,
                None
                if energy_law is None
                else energy_stream(root_seed, scenario_key, int(trial_ids[pos])),
                failed[pos : pos + 1],
            )
        else:
            records = [(deficit[k, pos], battery[k, pos], injected[k, pos]) for k in range(n_modes)]
            _run_trial(
                plan,
                streams,
                modes,
                cps,
                chunk_slots,
                shift,
                records,
                fast_states[pos],
                task_counts[pos],
            )

    if n_threads == 1 or n_trials == 1:
        for pos in range(n_trials):
            run(pos)
    else:
        with ThreadPoolExecutor(max_workers=min(n_threads, n_trials)) as pool:
            for _ in pool.map(run, range(n_trials)):
                pass

    if not per_slot:
        states[:, :, :_STATE_SIZE] = fast_states
    horizon = float(cps[-1])
    sum1 = states[:, :, _STATE_S1].T
    sum2 = states[:, :, _STATE_S2].T
    drift = states[:, :, _STATE_B].T / horizon
    if cps[-1] > 1:
        inc_var = (sum2 - sum1 * sum1 / horizon) / (horizon - 1.0)
    else:
        inc_var = np.full((n_modes, n_trials), np.nan)
    if per_slot:
        per_trial = {
            name: np.ascontiguousarray(states[:, :, STATE_FIELDS.index(field)].T)
            for name, field in (
                ("dispatched", "dispatched"),
                ("wait_slots", "wait_sum_slots"),
                ("missed", "missed"),
                ("backlog_slots", "backlog_sum"),
            )
        }
    else:
        stored = battery + injected  # F_t = B_t + U_t (docs/model.md §6, eq. 47)
        arrived = task_counts.sum(axis=(1, 2)).astype(np.float64)
        zeros = np.zeros((n_modes, n_trials))
        per_trial = {
            "dispatched": np.broadcast_to(arrived, (n_modes, n_trials)).copy(),
            "wait_slots": zeros,
            "missed": zeros.copy(),
            "backlog_slots": zeros.copy(),
        }
    return SimulationResult(
        consumption=modes,
        trials=trial_ids,
        checkpoints=cps,
        deficit_J=deficit,
        battery_J=battery,
        aux_injected_J=injected,
        realised_drift_J_per_slot=np.ascontiguousarray(drift),
        increment_var_J2_per_slot=np.ascontiguousarray(inc_var),
        task_counts=task_counts,
        routing_error=float(routing_error),
        root_seed=int(root_seed),
        scenario_key=int(scenario_key),
        chunk_slots=chunk_slots,
        policy=policy.name,
        policy_parameter=float(policy.parameter),
        storage=storage,
        kernel="per_slot" if per_slot else "fast",
        spilled_J=spilled,
        stored_J=stored,
        backlog=backlog,
        failed_tasks=failed if energy_law is not None else None,
        queued_energy_J=owed,
        settled_aux_J=storage.settle(injected, stored, owed) if per_slot else injected,
        **per_trial,
    )
