"""Stages 1-2 of a chunk: all its randomness, then myopic routing (docs/model.md §6, §8, §13).

:class:`EnginePlan` prepares the workload's tables once per simulation, and
:func:`draw_chunk` draws a chunk of L slots from the trial's streams. Arrivals come by
Poisson splitting, N_i ~ Poisson(lambda mix_i L) per task type and one uniform slot per
task, which is exactly Poisson(lambda) arrivals per slot with i.i.d. types (with a daily
load cycle, the non-homogeneous arrivals of :mod:`energy_routing.supply.load`). Misrouting
is M_i ~ Binomial(N_i, epsilon) per type, applied to the type's first M_i tasks, with one
uniform pick per misrouted task only where several alternatives are feasible; the harvest
R_t [J] has its own stream. :func:`route_myopic` gives every task its model and
:func:`tally_routes` counts the tasks per (type, model).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from energy_routing.engine.streams import (
    STREAM_ARRIVALS,
    STREAM_HARVEST,
    STREAM_ROUTING,
    STREAM_SLOTS,
)
from energy_routing.model.workload import Workload
from energy_routing.supply.load import draw_arrivals_nhpp
from energy_routing.supply.supply import Supply
from energy_routing.theory.moments import _alternatives

# --------------------------------------------------------------------------------------
# Stage 1: randomness of one chunk
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnginePlan:
    """Workload tables prepared once per simulation (read-only, shared by threads).

    Built by :meth:`EnginePlan.build` from a :class:`Workload` and the routing error:
    arrival rate per type [1/slot], energies and profiles [J], service lengths [slot],
    the alternative feasible models of each type, and the Gamma shape and scale [J] of the
    harvest (docs/model.md §5-6, 8).
    """

    mix_rate: np.ndarray  # (K,) lambda * mix_i [1/slot]
    energy: np.ndarray  # (K, M) [J]
    profile: np.ndarray  # (K, M, S) [J], C-contiguous
    service_len: np.ndarray  # (K, M) int64, last non-zero profile slot + 1
    best: np.ndarray  # (K,) int64
    alternatives: np.ndarray  # (K, M) int64, other feasible models first, padded with -1
    n_alternatives: np.ndarray  # (K,) int64
    routing_error: float
    harvest_shape: float  # Gamma shape k; inf for a deterministic harvest
    harvest_scale: float  # Gamma scale theta [J]
    harvest_mean: float  # [J]
    max_service: int  # S_max [slot]
    harvest_model: object | None = (
        None  # chunk generator (supply/harvests.py); None: the Gamma above
    )
    supply: Supply | None = None  # daily arrival cycle and harvest model, None: §6
    mean_rate: float = 0.0  # lambda [1/slot]
    mix: np.ndarray | None = None  # (K,) [1]
    dt_s: float = 1.0  # [s]

    @classmethod
    def build(
        cls, workload: Workload, routing_error: float, best: np.ndarray | None = None
    ) -> EnginePlan:
        """Tables for ``workload``; ``best`` (K,) replaces m*(i) as each type's primary
        model (a static policy's route table, docs/model.md §12.3)."""
        n_types, n_models = workload.energy_J.shape
        profile = np.ascontiguousarray(workload.profile_J)
        nonzero = profile > 0
        last = profile.shape[2] - np.argmax(nonzero[:, :, ::-1], axis=2)
        service_len = np.where(nonzero.any(axis=2), last, 0).astype(np.int64)
        alternatives = np.full((n_types, n_models), -1, dtype=np.int64)
        n_alt = np.zeros(n_types, dtype=np.int64)
        for i in range(n_types):
            alts = _alternatives(workload, i, best)
            alternatives[i, : alts.size] = alts
            n_alt[i] = alts.size
        shape, scale = workload.harvest_gamma
        return cls(
            mix_rate=workload.arrival_rate * workload.mix,
            energy=np.ascontiguousarray(workload.energy_J),
            profile=profile,
            service_len=service_len,
            best=np.ascontiguousarray(
                workload.best_model if best is None else best, dtype=np.int64
            ),
            alternatives=alternatives,
            n_alternatives=n_alt,
            routing_error=float(routing_error),
            harvest_shape=shape,
            harvest_scale=scale,
            harvest_mean=workload.harvest_mean_J,
            max_service=max(int(service_len.max()), 1),
            harvest_model=None
            if workload.supply is None or workload.supply.harvest == "iid"
            else workload.supply.harvest_model(
                workload.harvest_mean_J, workload.harvest_var_J2, workload.dt_s
            ),
            supply=workload.supply,
            mean_rate=workload.arrival_rate,
            mix=workload.mix,
            dt_s=workload.dt_s,
        )

    def start_trial(self, streams: tuple[np.random.Generator, ...]) -> SupplyState:
        """The supply state of a new trial: the harvest model's initial state (drawn from
        the harvest stream; nothing is drawn for the i.i.d. harvest) and slot 0."""
        model = self.harvest_model
        return SupplyState(
            slot=0, harvest=None if model is None else model.init_state(streams[STREAM_HARVEST])
        )


@dataclass
class SupplyState:
    """What a trial carries from chunk to chunk besides the walk: the slots already drawn
    (the daily cycles are functions of the slot) and the harvest model's state."""

    slot: int
    harvest: object = None


@dataclass(frozen=True)
class ChunkDraws:
    """All random variates of one chunk of one trial (stage 1).

    Attributes
    ----------
    counts : ndarray of int64, shape (K,)
        Number of arrivals of each task type in the chunk.
    slots : ndarray of int64, shape (sum(counts),)
        Arrival slot of each task, relative to the chunk start, grouped by type (all tasks
        of type 0 first, then type 1, ...).
    misrouted : ndarray of int64, shape (K,)
        Number of misrouted tasks of each type: the first ``misrouted[i]`` tasks of type i.
    alternative_pick : ndarray of int64, shape (sum(misrouted),)
        For each misrouted task (grouped by type), the index of its alternative among the
        feasible non-optimal models; zero when there is only one.
    harvest : ndarray of float64, shape (L,)
        R_t of each slot of the chunk [J].
    """

    counts: np.ndarray
    slots: np.ndarray
    misrouted: np.ndarray
    alternative_pick: np.ndarray
    harvest: np.ndarray = field(repr=False)


def draw_chunk(
    streams: tuple[np.random.Generator, ...],
    plan: EnginePlan,
    n_slots: int,
    harvest_out: np.ndarray,
    state: SupplyState | None = None,
) -> ChunkDraws:
    """Draw the randomness of one chunk of ``n_slots`` slots (docs/model.md §6, 8, 13; stage 1).

    Parameters
    ----------
    streams : tuple of Generator
        The trial's generators (:func:`trial_streams`), advanced in place.
    plan : EnginePlan
        Prepared workload tables.
    n_slots : int
        Chunk length L [slot].
    harvest_out : ndarray of float64
        Buffer of at least ``n_slots`` elements; its first ``n_slots`` receive R_t [J].
    state : SupplyState, optional
        The trial's supply state (:meth:`EnginePlan.start_trial`), advanced in place;
        needed when the workload has a :class:`~energy_routing.supply.supply.Supply` (daily
        cycles and correlated harvests depend on the slot and on the past). Without one
        the draws are those of the model of §6, which the supply leaves bit for bit.

    Returns
    -------
    ChunkDraws
        Arrival counts and slots, misrouting draws and the harvest view.
    """
    rates = None
    if plan.supply is not None:
        if state is None:
            raise ValueError("state: a workload with a supply needs the trial's state")
        rates = plan.supply.arrival_rates(
            state.slot + np.arange(n_slots), plan.dt_s, plan.mean_rate
        )
    if rates is None:
        counts = streams[STREAM_ARRIVALS].poisson(plan.mix_rate * n_slots)
        slots = streams[STREAM_SLOTS].integers(0, n_slots, size=int(counts.sum()))
    else:
        counts, slots = draw_arrivals_nhpp(
            streams[STREAM_ARRIVALS], streams[STREAM_SLOTS], rates, plan.mix
        )
    rng_route = streams[STREAM_ROUTING]
    eligible = plan.n_alternatives > 0
    if plan.routing_error > 0:
        misrouted = np.where(eligible, rng_route.binomial(counts, plan.routing_error), 0)
        many = plan.n_alternatives > 1
        if np.any(misrouted[many] > 0):
            highs = np.repeat(np.maximum(plan.n_alternatives, 1), misrouted)
            picks = np.zeros(highs.size, dtype=np.int64)
            draw = highs > 1
            picks[draw] = rng_route.integers(0, highs[draw])
        else:
            picks = np.zeros(int(misrouted.sum()), dtype=np.int64)
    else:
        misrouted = np.zeros_like(counts)
        picks = np.zeros(0, dtype=np.int64)
    harvest = harvest_out[:n_slots]
    if plan.harvest_model is not None:
        _, state.harvest = plan.harvest_model.draw(
            streams[STREAM_HARVEST], n_slots, state.harvest, out=harvest
        )
    elif np.isfinite(plan.harvest_shape):
        streams[STREAM_HARVEST].standard_gamma(plan.harvest_shape, out=harvest)
        np.multiply(harvest, plan.harvest_scale, out=harvest)
    else:
        harvest.fill(plan.harvest_mean)
    if state is not None:
        state.slot += n_slots
    return ChunkDraws(counts, slots, misrouted, picks, harvest)


# --------------------------------------------------------------------------------------
# Stage 2: the policy
# --------------------------------------------------------------------------------------


def route_myopic(draws: ChunkDraws, plan: EnginePlan) -> tuple[np.ndarray, np.ndarray]:
    """Myopic routing with routing error: a model for every task (docs/model.md §8; stage 2).

    Each task is dispatched in its arrival slot to m*(i), except the misrouted ones, which
    go to the alternative feasible model chosen in ``draws.alternative_pick``.

    Parameters
    ----------
    draws : ChunkDraws
        The chunk's randomness.
    plan : EnginePlan
        Prepared workload tables.

    Returns
    -------
    types : ndarray of int64, shape (n_tasks,)
        Task type of each task.
    models : ndarray of int64, shape (n_tasks,)
        Serving model of each task.
    """
    n_types = plan.best.size
    types = np.repeat(np.arange(n_types, dtype=np.int64), draws.counts)
    models = np.repeat(plan.best, draws.counts)
    if draws.alternative_pick.size:
        starts = np.concatenate(([0], np.cumsum(draws.counts)[:-1]))
        pick_start = 0
        for i in np.flatnonzero(draws.misrouted):
            k = int(draws.misrouted[i])
            picks = draws.alternative_pick[pick_start : pick_start + k]
            models[starts[i] : starts[i] + k] = plan.alternatives[i, picks]
            pick_start += k
    return types, models


def tally_routes(draws: ChunkDraws, plan: EnginePlan, task_counts: np.ndarray) -> None:
    """Add the chunk's tasks per (type, serving model) to ``task_counts`` (docs/model.md §8).

    Counted from the per-type draws, without a pass over the tasks: N_i - M_i tasks of
    type i went to m*(i), and the misrouted ones to the alternatives they picked.

    Parameters
    ----------
    draws : ChunkDraws
        The chunk's randomness.
    plan : EnginePlan
        Prepared workload tables.
    task_counts : ndarray of int64, shape (K, M)
        Running counts, updated in place.
    """
    n_types = plan.best.size
    task_counts[np.arange(n_types), plan.best] += draws.counts - draws.misrouted
    pick_start = 0
    for i in np.flatnonzero(draws.misrouted):
        k = int(draws.misrouted[i])
        picks = draws.alternative_pick[pick_start : pick_start + k]
        n_alt = int(plan.n_alternatives[i])
        task_counts[i, plan.alternatives[i, :n_alt]] += np.bincount(picks, minlength=n_alt)
        pick_start += k
