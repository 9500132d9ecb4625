"""Serving under continuous batching: a trial's replicas, queues and battery (docs/model.md §14.2).

Each model runs on a number of replicas, each with a maximum batch. The chunks of a trial
are drawn and routed exactly as in the engine of §6-8 (:func:`energy_routing.engine.
driver._routed_chunks`: the same streams, so arrivals, types, routes and harvests are common
random numbers with today's engine and across serving settings). A routed task joins its
model's FIFO queue at the start of its arrival slot and is admitted to the least-loaded
replica with room, at the slot start or when a sequence of that replica completes; every
running sequence gains one token per step until it reaches its budget n* (the task grid's
``tokens``). :func:`~energy_routing.engine.batched_kernel.serve_chunk` advances each
replica through each slot event by event; the consumption C_t of a slot is the replicas'
energy in it, idle replicas included. The battery and the auxiliary energy walk on
x_t = R_t - C_t with :func:`~energy_routing.engine.fast_path.walk_chunk`.

With ``ServingPlan.router = "batch_aware"`` a task that was not misrouted is placed
instead, at the start of its arrival slot, on the feasible replica with room and the
smallest marginal energy given the current batches
(:func:`~energy_routing.engine.batched_kernel.route_batch_aware`), and waits in its
routed model's queue only when there is none; the draws are the same, so the two
routers are paired trial by trial.

A task's completion time is measured from the start of its arrival slot to its last
token; it misses its deadline when that plus the dispatch latency exceeds ``deadline_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from energy_routing.engine.batched_kernel import (
    ACC_BUSY_J,
    ACC_IDLE_J,
    ACC_STEPS,
    ACC_TOKENS,
    N_ACC,
    serve_chunk,
)
from energy_routing.engine.draws import EnginePlan
from energy_routing.engine.driver import _routed_chunks
from energy_routing.engine.fast_path import _STATE_SIZE, walk_chunk
from energy_routing.engine.streams import trial_streams

#: The routers of the serving engine (docs/model.md §14.2), by kernel code.
ROUTERS = ("myopic", "batch_aware")

# Columns of a completion log row.
LOG_ID, LOG_TYPE, LOG_MODEL, LOG_ARRIVAL, LOG_DONE, LOG_ENERGY = range(6)


@dataclass(frozen=True)
class ServingPlan:
    """How each model is served (docs/model.md §14.2).

    Attributes
    ----------
    tokens : ndarray, shape (K, M)
        Budget n* of a task of type i on model m [tokens].
    deadline_s : ndarray, shape (K,)
        Deadline of each type less the dispatch latency [s]: the most a task may take from
        the start of its arrival slot to its last token.
    coef : ndarray, shape (M, 6)
        Step coefficients of each model (``StepCoefficients.as_array``) [s, s, s, J, J, J].
    idle_w : ndarray, shape (M,)
        Power of an empty powered replica of each model [W].
    replicas : ndarray of int64, shape (M,)
        Replicas of each model (>= 1).
    max_batch : int
        Running sequences per replica at most (>= 1).
    router : str
        ``myopic``: a task waits for a replica of the model it was routed to at arrival;
        ``batch_aware``: a task that was not misrouted joins, at the start of its arrival
        slot, the replica with room and the smallest marginal energy among the feasible
        models' replicas on which it would meet its deadline, and otherwise waits for
        its routed model (docs/model.md §14.2).
    candidates : ndarray of int64, shape (K, M), optional
        The models the batch-aware router may choose for each type, -1 padded (the
        route table's model and its feasible alternatives, :func:`candidate_models`);
        default every model.
    paper_coef : ndarray, shape (M, 6), optional
        The batch-of-one law the serving figures compare with (docs/model.md §1; for a
        fitted law, its paper limit); default ``coef``.
    """

    tokens: np.ndarray
    deadline_s: np.ndarray
    coef: np.ndarray
    idle_w: np.ndarray
    replicas: np.ndarray
    max_batch: int
    paper_coef: np.ndarray | None = None
    router: str = "myopic"
    candidates: np.ndarray | None = None

    def __post_init__(self) -> None:
        put = object.__setattr__
        tokens = np.ascontiguousarray(self.tokens, dtype=np.float64)
        coef = np.ascontiguousarray(self.coef, dtype=np.float64)
        replicas = np.ascontiguousarray(self.replicas, dtype=np.int64)
        idle = np.ascontiguousarray(self.idle_w, dtype=np.float64)
        n_models = tokens.shape[1]
        if coef.shape != (n_models, 6) or not np.all(np.isfinite(coef)) or np.any(coef < 0):
            raise ValueError(f"coef: expected finite values >= 0 of shape ({n_models}, 6)")
        if np.any(coef[:, 0] + coef[:, 1] <= 0):
            raise ValueError("coef: a step must take time (t_fixed + t_seq > 0)")
        if replicas.shape != (n_models,) or np.any(replicas < 1):
            raise ValueError(f"replicas: expected {n_models} whole numbers >= 1")
        if idle.shape != (n_models,) or np.any(idle < 0) or not np.all(np.isfinite(idle)):
            raise ValueError(f"idle_w: expected {n_models} finite powers >= 0")
        if int(self.max_batch) < 1:
            raise ValueError(f"max_batch: must be >= 1, got {self.max_batch!r}")
        if np.any(tokens < 1):
            raise ValueError("tokens: every budget must be at least one token")
        paper = coef if self.paper_coef is None else np.asarray(self.paper_coef, dtype=float)
        if paper.shape != coef.shape or not np.all(np.isfinite(paper)):
            raise ValueError(f"paper_coef: expected finite values of shape ({n_models}, 6)")
        if self.router not in ROUTERS:
            raise ValueError(f"router: expected one of {', '.join(ROUTERS)}, got {self.router!r}")
        n_types = tokens.shape[0]
        cand = (
            np.tile(np.arange(n_models, dtype=np.int64), (n_types, 1))
            if self.candidates is None
            else np.ascontiguousarray(self.candidates, dtype=np.int64)
        )
        if cand.shape != (n_types, n_models) or np.any(cand >= n_models) or np.any(cand[:, 0] < 0):
            raise ValueError(f"candidates: expected ({n_types}, {n_models}) models, -1 padded")
        put(self, "candidates", cand)
        put(self, "paper_coef", paper)
        put(self, "tokens", tokens)
        put(self, "coef", coef)
        put(self, "replicas", replicas)
        put(self, "idle_w", idle)
        put(self, "deadline_s", np.asarray(self.deadline_s, dtype=np.float64))
        put(self, "max_batch", int(self.max_batch))

    @property
    def rep_first(self) -> np.ndarray:
        """Model m's replicas are ``rep_first[m] .. rep_first[m + 1] - 1``."""
        return np.concatenate(([0], np.cumsum(self.replicas))).astype(np.int64)


@dataclass
class ServingState:
    """What a trial carries from chunk to chunk: every replica's running sequences and
    the tasks still queued (docs/model.md §14.2)."""

    g: np.ndarray  # (R, B) tokens generated [tokens]
    need: np.ndarray  # (R, B) budget n* [tokens]
    arr: np.ndarray  # (R, B) arrival [s]
    typ: np.ndarray  # (R, B) int64
    tid: np.ndarray  # (R, B) int64 task id
    own_e: np.ndarray  # (R, B) energy booked to the sequence [J]
    nrun: np.ndarray  # (R,) int64 running sequences
    queue: dict = field(default_factory=dict)  # carried tasks: column -> array
    next_id: int = 0

    @classmethod
    def empty(cls, splan: ServingPlan) -> ServingState:
        shape = (int(splan.replicas.sum()), splan.max_batch)
        return cls(
            g=np.zeros(shape),
            need=np.zeros(shape),
            arr=np.zeros(shape),
            typ=np.zeros(shape, dtype=np.int64),
            tid=np.zeros(shape, dtype=np.int64),
            own_e=np.zeros(shape),
            nrun=np.zeros(shape[0], dtype=np.int64),
            queue={k: np.zeros(0, dtype=t) for k, t in _QUEUE_COLUMNS.items()},
        )

    def unfinished(self, splan: ServingPlan) -> dict:
        """Tasks running or queued: arrival [s], type and model."""
        rep_model = np.repeat(np.arange(splan.replicas.size), splan.replicas)
        run = np.arange(self.g.shape[1])[None, :] < self.nrun[:, None]
        models = np.broadcast_to(rep_model[:, None], run.shape)[run]
        return {
            "arrival_s": np.concatenate((self.arr[run], self.queue["arr"])),
            "type": np.concatenate((self.typ[run], self.queue["type"])),
            "model": np.concatenate((models, self.queue["model"])),
        }


_QUEUE_COLUMNS = {
    "slot": np.int64,
    "arr": np.float64,
    "need": np.float64,
    "type": np.int64,
    "id": np.int64,
    "model": np.int64,
}


def serve_routed_chunk(
    t0: int,
    n_slots: int,
    dt: float,
    slots: np.ndarray,
    types: np.ndarray,
    models: np.ndarray,
    splan: ServingPlan,
    state: ServingState,
    out: np.ndarray,
    acc: np.ndarray,
    pinned: np.ndarray | None = None,
) -> np.ndarray:
    """Serve one routed chunk (docs/model.md §14.2): queue its tasks behind the carried
    ones, run the kernel, carry what is still queued.

    Parameters
    ----------
    t0, n_slots, dt :
        Slots before the chunk, its length, the slot length [s].
    slots, types, models : ndarray of int64
        Arrival slot within the chunk, type and model of each routed task.
    splan, state :
        Serving plan and the trial's state (updated in place).
    out : ndarray, shape (>= n_slots,)
        Receives C_t [J] of the chunk's slots.
    acc : ndarray, shape (M, 5)
        Per-model tokens, steps, busy and idle energy [J], busy time [s], added to.
    pinned : ndarray of bool, optional
        Tasks whose model the batch-aware router keeps (the misrouted ones,
        :func:`misrouted_mask`); default none.

    Returns
    -------
    ndarray, shape (n_done, 6)
        Tasks completed in the chunk: id, type, model, arrival [s], completion [s], energy [J].
    """
    order = np.argsort(slots, kind="stable")
    new_slot = t0 + slots[order].astype(np.int64)
    new_type = types[order].astype(np.int64)
    new_model = models[order].astype(np.int64)
    n_new = new_slot.size
    q = state.queue
    cols = {
        "slot": np.concatenate((q["slot"], new_slot)),
        "arr": np.concatenate((q["arr"], new_slot * dt)),
        "need": np.concatenate((q["need"], splan.tokens[new_type, new_model])),
        "type": np.concatenate((q["type"], new_type)),
        "id": np.concatenate((q["id"], state.next_id + np.arange(n_new, dtype=np.int64))),
        "model": np.concatenate((q["model"], new_model)),
    }
    state.next_id += n_new
    n_old = q["slot"].size
    pin = np.zeros(n_old + n_new, dtype=np.uint8)
    if pinned is not None:
        pin[n_old:] = np.asarray(pinned, dtype=bool)[order]
    taken = np.zeros(n_old + n_new, dtype=np.uint8)
    n_models = splan.replicas.size
    qidx = np.argsort(cols["model"], kind="stable").astype(np.int64)
    qstart = np.concatenate(([0], np.cumsum(np.bincount(cols["model"], minlength=n_models))))
    qstart = qstart.astype(np.int64)
    head = qstart[:-1].copy()
    log = np.empty((cols["slot"].size + int(state.nrun.sum()), 6))
    n_log = serve_chunk(
        t0,
        n_slots,
        float(dt),
        cols["slot"],
        cols["arr"],
        cols["need"],
        cols["type"],
        cols["id"],
        qidx,
        qstart,
        head,
        splan.coef,
        splan.idle_w,
        splan.rep_first,
        splan.max_batch,
        state.g,
        state.need,
        state.arr,
        state.typ,
        state.tid,
        state.own_e,
        state.nrun,
        out,
        acc,
        log,
        0,
        ROUTERS.index(splan.router),
        pin,
        taken,
        splan.candidates,
        splan.tokens,
        splan.deadline_s,
    )
    left = np.concatenate([qidx[head[m] : qstart[m + 1]] for m in range(n_models)])
    left = np.sort(left[taken[left] == 0])  # arrival order
    state.queue = {k: v[left] for k, v in cols.items()}
    return log[:n_log]


@dataclass(frozen=True)
class ServedTrial:
    """One trial of batched serving (docs/model.md §14.2).

    Attributes
    ----------
    acc : ndarray, shape (M, 5)
        Per model: tokens generated, steps, busy energy [J], idle energy [J], busy time [s].
    done : ndarray, shape (n_done, 6)
        Completed tasks: id, type, model, arrival [s], completion [s], energy booked [J].
    unfinished : dict
        Tasks running or queued at the horizon: ``arrival_s``, ``type``, ``model``.
    consumption : ndarray or None, shape (T,)
        C_t [J] of every slot, when asked for.
    deficit, battery, injected : ndarray or None, shape (n_checkpoints,)
        D_t, B_t and U_t [J] at the checkpoints, when asked for.
    horizon : int
        T [slot].
    """

    acc: np.ndarray
    done: np.ndarray
    unfinished: dict
    consumption: np.ndarray | None
    deficit: np.ndarray | None
    battery: np.ndarray | None
    injected: np.ndarray | None
    horizon: int


def serve_trial(
    plan: EnginePlan,
    splan: ServingPlan,
    streams: tuple[np.random.Generator, ...],
    horizon: int,
    *,
    chunk_slots: int = 65536,
    checkpoints: np.ndarray | None = None,
    keep_consumption: bool = False,
    shift: float = 0.0,
    walk_from: int = 0,
) -> ServedTrial:
    """Serve one trial to ``horizon`` slots (docs/model.md §14.2).

    Parameters
    ----------
    plan : EnginePlan
        The workload's tables (arrivals, routing, harvest), as for :func:`simulate`.
    splan : ServingPlan
        Replicas, batches and the serving law.
    streams : tuple of Generator
        The trial's streams (:func:`~energy_routing.engine.streams.trial_streams`).
    horizon : int
        T [slot].
    chunk_slots : int
        Slots per chunk (part of the path, as in :func:`simulate`).
    checkpoints : ndarray of int64, optional
        Slots at which to record the walk on x_t = R_t - C_t (last <= horizon).
    keep_consumption : bool
        Keep C_t of every slot.
    shift : float
        Centre of the walk's increment sums [J] (only conditions them).
    walk_from : int
        Slots served before the battery starts (B = 0 at slot ``walk_from``): the replicas
        start empty, and a walk from slot 0 would see their warm-up as a surplus. The
        checkpoints count slots from there; the harvest of the skipped slots is drawn
        (and dropped), so the streams stay those of :func:`simulate`.
    """
    state = ServingState.empty(splan)
    n_models = splan.replicas.size
    acc = np.zeros((n_models, N_ACC))
    buf = np.empty(chunk_slots)
    logs = []
    kept = np.empty(horizon) if keep_consumption else None
    walk = checkpoints is not None
    if walk:
        cps = np.asarray(checkpoints, dtype=np.int64)
        rec = [np.full(cps.size, np.nan) for _ in range(3)]
        wstate = np.zeros(_STATE_SIZE)
        next_cp = 0
    counts = np.zeros(plan.energy.shape, dtype=np.int64)
    for t0, n_slots, draws, types, models in _routed_chunks(
        plan, streams, horizon, chunk_slots, counts
    ):
        out = buf[:n_slots]
        pinned = misrouted_mask(draws) if splan.router != "myopic" else None
        logs.append(
            serve_routed_chunk(
                t0,
                n_slots,
                plan.dt_s,
                draws.slots,
                types,
                models,
                splan,
                state,
                out,
                acc,
                pinned,
            )
        )
        if kept is not None:
            kept[t0 : t0 + n_slots] = out
        if walk:
            next_cp = _walk_part(
                draws.harvest, out, t0, walk_from, wstate, cps, next_cp, rec, shift
            )
    return ServedTrial(
        acc=acc,
        done=np.concatenate(logs) if logs else np.zeros((0, 6)),
        unfinished=state.unfinished(splan),
        consumption=kept,
        deficit=rec[0] if walk else None,
        battery=rec[1] if walk else None,
        injected=rec[2] if walk else None,
        horizon=int(horizon),
    )


def misrouted_mask(draws) -> np.ndarray:
    """Which of a chunk's tasks (in the order of :func:`~energy_routing.engine.draws.
    route_myopic`) were misrouted: the first ``misrouted[i]`` of each type's group."""
    starts = np.concatenate(([0], np.cumsum(draws.counts)[:-1]))
    pos = np.arange(int(draws.counts.sum())) - np.repeat(starts, draws.counts)
    return pos < np.repeat(draws.misrouted, draws.counts)


def candidate_models(plan: EnginePlan) -> np.ndarray:
    """(K, M) int64: each type's route-table model m*(i) and then its feasible
    alternatives, -1 padded: the models the batch-aware router may choose (§14.2)."""
    n_types, n_models = plan.energy.shape
    cand = np.full((n_types, n_models), -1, dtype=np.int64)
    cand[:, 0] = plan.best
    for i in range(n_types):
        k = int(plan.n_alternatives[i])
        cand[i, 1 : 1 + k] = plan.alternatives[i, :k]
    return cand


def _walk_part(harvest, consumption, t0, walk_from, wstate, cps, next_cp, rec, shift) -> int:
    """Walk the chunk's slots from ``walk_from`` on (fast_path.walk_chunk)."""
    n_slots = harvest.size
    off = max(0, walk_from - t0)
    if off >= n_slots:
        return next_cp
    return walk_chunk(
        harvest[off:], consumption[off:], wstate, t0 + off - walk_from, cps, next_cp,
        rec[0], rec[1], rec[2], shift,
    )  # fmt: skip


def walk_consumption(
    plan: EnginePlan,
    streams: tuple[np.random.Generator, ...],
    consumption: np.ndarray,
    checkpoints: np.ndarray,
    *,
    chunk_slots: int = 65536,
    walk_from: int = 0,
    shift: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The battery on a served trial's C_t [J] with the harvest of ``plan`` (docs/model.md
    §14.3): the trial's chunks are drawn again from its streams, so R_t is the harvest
    :func:`serve_trial` would walk with, and the consumption, which the harvest does not
    change, is served once for several harvests. Returns D_t, B_t and U_t [J] at the
    checkpoints (counted from ``walk_from``)."""
    cps = np.asarray(checkpoints, dtype=np.int64)
    rec = [np.full(cps.size, np.nan) for _ in range(3)]
    wstate = np.zeros(_STATE_SIZE)
    next_cp = 0
    counts = np.zeros(plan.energy.shape, dtype=np.int64)
    for t0, n_slots, draws, _, _ in _routed_chunks(
        plan, streams, consumption.size, chunk_slots, counts
    ):
        c = consumption[t0 : t0 + n_slots]
        next_cp = _walk_part(draws.harvest, c, t0, walk_from, wstate, cps, next_cp, rec, shift)
    return rec[0], rec[1], rec[2]


def trial_metrics(trial: ServedTrial, splan: ServingPlan, dt: float) -> dict:
    """Per-model serving figures of one trial (docs/model.md §14.2), arrays of shape (M,).

    ``mean_batch`` = tokens / steps (running sequences per step while busy);
    ``energy_per_token_J`` = the replicas' energy in the horizon, idle included, per token
    generated in it; ``energy_per_task_J`` = that times the mean budget n* of the model's
    routed tasks; ``paper_energy_per_task_J`` = the mean over those tasks of the batch-of-one
    energy E_m(n*) under the plan's coefficients with one sequence
    (:func:`batch_of_one_energy`); ``missed_fraction`` = tasks that missed their deadline
    among those whose deadline fell within the horizon (a task still running or queued at
    the horizon counts as missed when its deadline has passed, and is left out otherwise);
    ``tasks`` = tasks routed to the model. NaN where a model has no task.
    """
    acc = trial.acc
    n_models = acc.shape[0]
    typ, mod, judged, missed = _outcomes(trial, splan, dt)
    budgets = splan.tokens[typ, mod]
    paper = batch_of_one_energy(splan, typ, mod)
    out = {k: np.full(n_models, np.nan) for k in _METRICS}
    for m in range(n_models):
        sel = mod == m
        energy = acc[m, ACC_BUSY_J] + acc[m, ACC_IDLE_J]
        out["tasks"][m] = sel.sum()
        if acc[m, ACC_STEPS] > 0:
            out["mean_batch"][m] = acc[m, ACC_TOKENS] / acc[m, ACC_STEPS]
            out["energy_per_token_J"][m] = energy / acc[m, ACC_TOKENS]
        if sel.any():
            out["energy_per_task_J"][m] = out["energy_per_token_J"][m] * budgets[sel].mean()
            out["paper_energy_per_task_J"][m] = paper[sel].mean()
        if (judged & sel).any():
            out["missed_fraction"][m] = missed[sel].sum() / (judged & sel).sum()
    return out


def _outcomes(trial: ServedTrial, splan: ServingPlan, dt: float) -> tuple[np.ndarray, ...]:
    """Every task of the trial, completed or not: type, model, whether its deadline fell
    within the horizon (judged) and whether it missed it (docs/model.md §14.2)."""
    done = trial.done
    un = trial.unfinished
    typ = np.concatenate((done[:, LOG_TYPE].astype(np.int64), un["type"]))
    mod = np.concatenate((done[:, LOG_MODEL].astype(np.int64), un["model"]))
    arr = np.concatenate((done[:, LOG_ARRIVAL], un["arrival_s"]))
    finish = np.concatenate((done[:, LOG_DONE], np.full(un["type"].size, np.inf)))
    due = arr + splan.deadline_s[typ]
    judged = due <= trial.horizon * dt
    return typ, mod, judged, judged & (finish > due)


def trial_totals(trial: ServedTrial, splan: ServingPlan, dt: float) -> dict:
    """All-model serving figures of one trial (docs/model.md §14.2), for comparing routers
    on the same arrivals: ``energy_per_task_J`` = the replicas' energy in the horizon, idle
    included, over the tasks that arrived in it (the same count under every router);
    ``missed_fraction`` = tasks that missed their deadline among those due within the
    horizon (as :func:`trial_metrics`); ``unfinished_fraction`` = tasks still running or
    queued at the horizon among those arrived (the work the energy figure leaves out);
    ``tasks``. NaN without tasks."""
    _, _, judged, missed = _outcomes(trial, splan, dt)
    n = judged.size
    energy = float(trial.acc[:, ACC_BUSY_J].sum() + trial.acc[:, ACC_IDLE_J].sum())
    return {
        "tasks": float(n),
        "energy_per_task_J": energy / n if n else np.nan,
        "missed_fraction": missed.sum() / judged.sum() if judged.any() else np.nan,
        "unfinished_fraction": trial.unfinished["type"].size / n if n else np.nan,
    }


_METRICS = (
    "tasks",
    "mean_batch",
    "energy_per_token_J",
    "energy_per_task_J",
    "paper_energy_per_task_J",
    "missed_fraction",
)


def batch_of_one_energy(splan: ServingPlan, types: np.ndarray, models: np.ndarray) -> np.ndarray:
    """Energy of each task served alone under the plan's batch-of-one law,
    ``A n + e_ctx n (n - 1) / 2`` with ``A = e_fixed + e_seq`` [J] (docs/model.md §1)."""
    n = splan.tokens[types, models]
    c = splan.paper_coef[models]
    return (c[:, 3] + c[:, 4]) * n + c[:, 5] * n * (n - 1.0) / 2.0


def serve_trials(
    plan: EnginePlan,
    splan: ServingPlan,
    *,
    root_seed: int,
    scenario_key: int,
    trials: int,
    horizon: int,
    chunk_slots: int = 65536,
    **kwargs,
) -> list[ServedTrial]:
    """:func:`serve_trial` for trials ``0 .. trials - 1`` on the streams keyed by
    (root_seed, scenario_key, trial), as :func:`~energy_routing.engine.driver.simulate`."""
    return [
        serve_trial(
            plan,
            splan,
            trial_streams(root_seed, scenario_key, k),
            horizon,
            chunk_slots=chunk_slots,
            **kwargs,
        )
        for k in range(trials)
    ]


def serve_tasks(
    splan: ServingPlan,
    dt: float,
    slots: np.ndarray,
    types: np.ndarray,
    models: np.ndarray,
    *,
    chunk_slots: int = 256,
    max_slots: int = 1_000_000,
) -> tuple[ServedTrial, np.ndarray]:
    """Serve a given list of tasks (arrival slot, type, model) until every one is done
    (docs/model.md §14.2): no harvest, no further arrivals. Returns the trial and C_t of
    every slot served [J]."""
    state = ServingState.empty(splan)
    acc = np.zeros((splan.replicas.size, N_ACC))
    slots = np.asarray(slots, dtype=np.int64)
    types = np.asarray(types, dtype=np.int64)
    models = np.asarray(models, dtype=np.int64)
    cons, logs, t0 = [], [], 0
    while t0 < max_slots:
        sel = (slots >= t0) & (slots < t0 + chunk_slots)
        out = np.empty(chunk_slots)
        logs.append(
            serve_routed_chunk(
                t0,
                chunk_slots,
                dt,
                slots[sel] - t0,
                types[sel],
                models[sel],
                splan,
                state,
                out,
                acc,
            )
        )
        cons.append(out)
        t0 += chunk_slots
        if t0 > slots.max(initial=-1) and state.nrun.sum() == 0 and state.queue["id"].size == 0:
            break
    if slots.size and slots.max() >= t0:
        raise ValueError("max_slots: the tasks were not all served in time")
    trial = ServedTrial(
        acc, np.concatenate(logs), state.unfinished(splan), None, None, None, None, t0
    )
    return trial, np.concatenate(cons)
