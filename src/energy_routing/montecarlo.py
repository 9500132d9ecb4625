"""Streaming Monte Carlo engine for the battery deficit (docs/model.md §6-8).

One trial is one sample path of the slotted system of docs/model.md §6: Poisson task arrivals,
task types drawn from the mix, i.i.d. Gamma harvest, and a routing policy (docs/model.md §8) that
turns each task into an energy demand. From the same randomness the engine builds two
consumption series, *lumped* (a task's whole energy in its arrival slot, eq. 24) and
*distributed* (its per-slot profile from its dispatch slot on, eq. 25), and walks each of
them through

* the unconstrained battery B_t = B_{t-1} + R_t - C_t from B_0 = 0 and its deficit
  D_t = max(0, -min_{0<=s<=t} B_s) (Thm. 1), and
* independently, the floored battery F_t = max(0, F_{t-1} + R_t - C_t) with its cumulative
  auxiliary injection A_t (the greedy top-up of Thm. 1), so that A_t == D_t can be checked.

Values are recorded at a few (log-spaced) checkpoints only; time is processed in chunks of
``chunk_slots`` slots with the running state carried over, so memory is
O(trials x checkpoints + chunk) whatever the horizon.

Stages of one chunk
-------------------
Each chunk of a trial goes through four separable stages:

1. :func:`draw_chunk` -- all randomness of the chunk (arrivals, slots, routing uniforms or
   counts, harvest). It does not depend on the policy except through the routing draws,
   which come from their own stream.
2. :func:`route_myopic` -- the policy: a model for every task (docs/model.md §8).
3. :func:`lumped_consumption` / :func:`distributed_consumption` -- per-slot energy.
4. :func:`walk_chunk` -- battery, running minimum, floored battery, injections and
   checkpoint sampling, fused in one numba loop.

The seam (docs/model.md §12): :func:`simulate` takes a ``policy``
(:mod:`energy_routing.engine.policies`) and a ``storage``
(:mod:`energy_routing.engine.storage`). A static policy (myopic with routing error,
variance-aware) with the unbounded lossless store takes stages 2-4 above, the fast path.
A state-dependent policy (slack-aware deferral, drift-plus-penalty) or a finite or lossy
store needs the battery and the queue in every slot: stages 2-4 are then replaced by the
per-slot numba kernel :func:`energy_routing.engine.kernels.slot_chunk`, which takes the
same chunk draws (tasks sorted by slot with a stable sort), carries its named state
(:class:`energy_routing.engine.kernels.SlotState`: battery, store, auxiliary and spilled
energy, queue, energy owed to the next chunk) across chunks and writes the same checkpoint
records. Run with the myopic policy it reproduces the fast path bit for bit. The trial
loop, the random streams, the sharding and the result container are shared.

Random streams
--------------
Trial ``k`` of scenario ``key`` under root seed ``s`` owns four independent generators,
``np.random.Generator(np.random.PCG64(np.random.SeedSequence(s, spawn_key=(key, k, j))))``
for ``j`` = 0 (arrival counts), 1 (slots within the chunk), 2 (routing), 3 (harvest). A
trial's path therefore depends only on (root seed, scenario key, trial index, chunk size):
not on sharding, thread count or execution order. Neither the routing error nor the policy
nor the store is part of the key, so runs that differ only in them see the same arrivals
and harvests (common random numbers); runs with the same routing error see the same routes.

Per chunk of L slots, arrivals are drawn by Poisson splitting: for each task type i one
count N_i ~ Poisson(lambda * mix_i * L), then one uniform slot per task. This has exactly
the law of Poisson(lambda) arrivals per slot with i.i.d. types. Misrouting is drawn as
M_i ~ Binomial(N_i, epsilon) per type, applied to the first M_i tasks of that type (their
slots are i.i.d., so which ones is immaterial), plus one uniform integer per misrouted task
only when more than one alternative model is feasible.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numba
import numpy as np

from energy_routing.engine.energy import EnergyLaw, energy_stream
from energy_routing.engine.kernels import STATE_FIELDS, SlotState, slot_chunk, slot_order
from energy_routing.engine.policies import Myopic, Policy, last_start_slots
from energy_routing.engine.storage import Storage
from energy_routing.supply import Supply, draw_arrivals_nhpp

__all__ = [
    "CONSUMPTION_MODES",
    "ChunkDraws",
    "EnginePlan",
    "SimulationResult",
    "Workload",
    "distributed_consumption",
    "draw_chunk",
    "drift_volatility",
    "harvest_gamma",
    "lemma2",
    "log_checkpoints",
    "lumped_consumption",
    "policy_moments",
    "route_myopic",
    "route_probabilities",
    "scenario_key",
    "simulate",
    "tally_routes",
    "trial_streams",
    "walk_chunk",
]

#: Consumption modes, in the order the engine stores them (docs/model.md §6, eq. 24-25).
CONSUMPTION_MODES: tuple[str, ...] = ("lumped", "distributed")

# Indices of the per-trial child streams (the last element of the SeedSequence spawn key).
STREAM_ARRIVALS = 0
STREAM_SLOTS = 1
STREAM_ROUTING = 2
STREAM_HARVEST = 3
_N_STREAMS = 4

# Layout of the per-mode walk state carried across chunks.
_STATE_B, _STATE_BMIN, _STATE_F, _STATE_A, _STATE_S1, _STATE_S2 = range(6)
_STATE_SIZE = 6


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """Everything the engine needs about tasks, models and supply (docs/model.md §4-6).

    Parameters
    ----------
    mix : ndarray, shape (K,)
        Task-type probabilities [1]; non-negative, summing to 1.
    energy_J : ndarray, shape (K, M)
        Total energy of a task of type i served by model m [J].
    profile_J : ndarray, shape (K, M, S)
        Per-slot energy while in service [J], zero-padded after the service length; sums
        over the last axis to ``energy_J`` (to rounding) (docs/model.md §5).
    feasible : ndarray of bool, shape (K, M)
        Whether model m meets task i's deadline when dispatched at arrival (docs/model.md §4).
    best_model : ndarray of int, shape (K,)
        m*(i), the feasible model of minimum energy (eq. 20-22).
    arrival_rate : float
        lambda, mean number of task arrivals per slot [1/slot].
    harvest_mean_J : float
        R_bar, mean harvest per slot [J].
    harvest_var_J2 : float
        sigma_R^2, variance of the harvest per slot [J^2]; 0 means a deterministic R_bar.
    slack_s : ndarray, shape (K, M), optional
        Delta_i - Delta_disp - Theta_im [s]: how long a task may wait before model m misses
        its deadline (docs/model.md §4); negative exactly where ``feasible`` is False.
        Needed only by policies that defer (docs/model.md §12).
    dt_s : float, default 1
        Slot length [s], to turn ``slack_s`` into slots.
    supply : energy_routing.supply.Supply, optional
        Time structure of harvest and load (correlated or solar harvest, daily cycle of
        the arrival rate; docs/model.md §13) around ``harvest_mean_J``, ``harvest_var_J2``
        and ``arrival_rate``; None (or the default Supply) is the model of §6.

    Raises
    ------
    ValueError
        Naming the offending field, if a shape, sign or consistency check fails.
    """

    mix: np.ndarray
    energy_J: np.ndarray
    profile_J: np.ndarray
    feasible: np.ndarray
    best_model: np.ndarray
    arrival_rate: float
    harvest_mean_J: float
    harvest_var_J2: float
    slack_s: np.ndarray | None = None
    dt_s: float = 1.0
    supply: Supply | None = None

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        mix = np.array(self.mix, dtype=np.float64)
        energy = np.array(self.energy_J, dtype=np.float64)
        profile = np.array(self.profile_J, dtype=np.float64)
        feasible = np.array(self.feasible)
        best = np.array(self.best_model)

        if mix.ndim != 1 or mix.size == 0:
            raise ValueError(f"mix: expected a non-empty 1-D array, got shape {mix.shape}")
        n_types = mix.size
        if not np.all(np.isfinite(mix)) or np.any(mix < 0):
            raise ValueError("mix: probabilities must be finite and non-negative")
        if abs(float(mix.sum()) - 1.0) > 1e-9:
            raise ValueError(f"mix: probabilities must sum to 1, got {float(mix.sum())!r}")
        if energy.ndim != 2 or energy.shape[0] != n_types or energy.shape[1] == 0:
            raise ValueError(f"energy_J: expected shape ({n_types}, M), got {energy.shape}")
        n_models = energy.shape[1]
        if not np.all(np.isfinite(energy)) or np.any(energy < 0):
            raise ValueError("energy_J: energies must be finite and non-negative")
        if profile.ndim != 3 or profile.shape[:2] != energy.shape or profile.shape[2] == 0:
            raise ValueError(
                f"profile_J: expected shape ({n_types}, {n_models}, S), got {profile.shape}"
            )
        if not np.all(np.isfinite(profile)) or np.any(profile < 0):
            raise ValueError("profile_J: per-slot energies must be finite and non-negative")
        if not np.allclose(profile.sum(axis=2), energy, rtol=1e-9, atol=0.0):
            raise ValueError("profile_J: per-slot profiles must sum to energy_J")
        if feasible.shape != energy.shape or feasible.dtype != np.bool_:
            raise ValueError(
                f"feasible: expected a bool array of shape {energy.shape}, "
                f"got {feasible.dtype} {feasible.shape}"
            )
        if best.shape != (n_types,) or not np.issubdtype(best.dtype, np.integer):
            raise ValueError(
                f"best_model: expected {n_types} integers, got {best.dtype} {best.shape}"
            )
        if np.any(best < 0) or np.any(best >= n_models):
            raise ValueError(f"best_model: model indices must lie in [0, {n_models})")
        rows = np.arange(n_types)
        if not np.all(feasible[rows, best]):
            bad = rows[~feasible[rows, best]].tolist()
            raise ValueError(f"best_model: not feasible for task types {bad}")
        cheapest = np.where(feasible, energy, np.inf).min(axis=1)
        if np.any(energy[rows, best] > cheapest):
            bad = rows[energy[rows, best] > cheapest].tolist()
            raise ValueError(
                f"best_model: not the minimum-energy feasible model for task types {bad}"
            )
        for name in ("arrival_rate", "harvest_mean_J", "harvest_var_J2"):
            value = float(getattr(self, name))
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name}: must be finite and non-negative, got {value!r}")
            put(name, value)
        if self.harvest_var_J2 > 0 and self.harvest_mean_J == 0:
            raise ValueError("harvest_var_J2: a positive variance needs harvest_mean_J > 0")

        if self.slack_s is not None:
            slack = np.array(self.slack_s, dtype=np.float64)
            if slack.shape != energy.shape or not np.all(np.isfinite(slack)):
                raise ValueError(f"slack_s: expected finite values of shape {energy.shape}")
            if np.any((slack >= 0) != feasible):
                raise ValueError("slack_s: must be >= 0 exactly where feasible is True")
            slack.setflags(write=False)
            put("slack_s", slack)
        dt_s = float(self.dt_s)
        if not np.isfinite(dt_s) or dt_s <= 0:
            raise ValueError(f"dt_s: must be finite and > 0, got {dt_s!r}")
        put("dt_s", dt_s)
        if self.supply is not None:
            if not isinstance(self.supply, Supply):
                raise ValueError(f"supply: expected a Supply, got {type(self.supply).__name__}")
            if self.supply.is_default:
                put("supply", None)
        for arr in (mix, energy, profile, feasible):
            arr.setflags(write=False)
        best = best.astype(np.int64)
        best.setflags(write=False)
        put("mix", mix)
        put("energy_J", energy)
        put("profile_J", profile)
        put("feasible", feasible)
        put("best_model", best)

    @property
    def n_types(self) -> int:
        """Number of task types K."""
        return int(self.mix.size)

    @property
    def n_models(self) -> int:
        """Number of hosted models M."""
        return int(self.energy_J.shape[1])

    def alternatives(self, task_type: int) -> np.ndarray:
        """The feasible models other than m*(i) for task type ``i``, in index order: where
        a misrouted task may go (docs/model.md §8)."""
        alts = np.flatnonzero(self.feasible[task_type])
        return alts[alts != self.best_model[task_type]]

    @property
    def harvest_gamma(self) -> tuple[float, float]:
        """Shape [-] and scale [J] of the Gamma harvest, see :func:`harvest_gamma`."""
        return harvest_gamma(self.harvest_mean_J, self.harvest_var_J2)

    @property
    def harvest_long_run_var_J2(self) -> float:
        """Long-run variance of the harvest [J^2/slot]: ``harvest_var_J2`` for i.i.d. slots,
        else :meth:`energy_routing.supply.Supply.long_run_var_J2` (docs/model.md §7, §13)."""
        if self.supply is None:
            return self.harvest_var_J2
        return self.supply.long_run_var_J2(self.harvest_mean_J, self.harvest_var_J2, self.dt_s)


def harvest_gamma(mean_J: float, var_J2: float) -> tuple[float, float]:
    """Shape k [-] and scale theta [J] of the Gamma harvest with mean k theta = ``mean_J``
    and variance k theta^2 = ``var_J2`` (docs/model.md §6).

    A zero variance is the deterministic harvest R_t = ``mean_J``, the limit of the Gamma
    law as k -> inf at a fixed mean: ``(inf, 0.0)``.

    >>> harvest_gamma(600.0, 360000.0)
    (1.0, 600.0)
    >>> harvest_gamma(600.0, 0.0)
    (inf, 0.0)
    """
    mean_J, var_J2 = float(mean_J), float(var_J2)
    if var_J2 == 0:
        return float("inf"), 0.0
    return mean_J * mean_J / var_J2, var_J2 / mean_J


# --------------------------------------------------------------------------------------
# Analytic moments (docs/model.md §7-8)
# --------------------------------------------------------------------------------------


def _alternatives(workload: Workload, task_type: int, best: np.ndarray | None) -> np.ndarray:
    """Feasible models of type i other than its primary model (m*(i) unless ``best``)."""
    if best is None:
        return workload.alternatives(task_type)
    alts = np.flatnonzero(workload.feasible[task_type])
    return alts[alts != best[task_type]]


def _route_probabilities(
    workload: Workload, routing_error: float, best: np.ndarray | None = None
) -> np.ndarray:
    """Probability that a task of type i is served by model m under the policy, (K, M).

    ``best`` replaces m*(i) as the primary model (a static policy's route table).
    """
    probs = np.zeros(workload.energy_J.shape)
    for i in range(workload.n_types):
        best_i = workload.best_model[i] if best is None else best[i]
        alts = _alternatives(workload, i, best)
        if alts.size == 0:
            probs[i, best_i] = 1.0
        else:
            probs[i, best_i] = 1.0 - routing_error
            probs[i, alts] = routing_error / alts.size
    return probs


def route_probabilities(workload: Workload, policy) -> np.ndarray:
    """Pr[m | i] of a policy (docs/model.md §8, §12), shape (K, M): its route table with
    its routing error spread uniformly over the other feasible models. Waiting policies
    keep the model chosen at arrival, so this holds for every policy of
    :mod:`energy_routing.engine.policies`."""
    return _route_probabilities(workload, policy.routing_error, policy.route_table(workload))


def policy_moments(workload: Workload, routing_error: float) -> tuple[float, float]:
    """Mean and second moment of the per-task energy under the routed policy (docs/model.md §8).

    A task of type i goes to m*(i) with probability 1 - epsilon and to each of its other
    feasible models with probability epsilon / (number of them); a type with a single
    feasible model always goes to m*(i).

    Parameters
    ----------
    workload : Workload
        Task types, energies and feasibility.
    routing_error : float
        epsilon, probability of misrouting a task [1], in [0, 1].

    Returns
    -------
    mean_J : float
        E[e], expected energy of one task [J].
    second_moment_J2 : float
        E[e^2] [J^2].

    Examples
    --------
    >>> w = Workload(mix=np.array([0.5, 0.5]), energy_J=np.array([[1.0, 3.0], [2.0, 4.0]]),
    ...              profile_J=np.array([[[1.0], [3.0]], [[2.0], [4.0]]]),
    ...              feasible=np.array([[True, True], [True, False]]),
    ...              best_model=np.array([0, 0]), arrival_rate=1.0,
    ...              harvest_mean_J=1.5, harvest_var_J2=0.0)
    >>> policy_moments(w, 0.5)
    (2.0, 4.5)
    """
    _check_routing_error(routing_error)
    probs = _route_probabilities(workload, routing_error)
    per_type_mean = (probs * workload.energy_J).sum(axis=1)
    per_type_sq = (probs * workload.energy_J**2).sum(axis=1)
    return float(workload.mix @ per_type_mean), float(workload.mix @ per_type_sq)


def drift_volatility(workload: Workload, routing_error: float) -> tuple[float, float]:
    """Drift and volatility of the battery per slot (docs/model.md §7, Lemma 2).

    mu = R_bar - lambda E[e] and sigma^2 = sigma_R^2 + lambda E[e^2] (compound Poisson).

    Parameters
    ----------
    workload : Workload
        Task types, energies, arrival rate and harvest moments.
    routing_error : float
        epsilon, probability of misrouting a task [1].

    Returns
    -------
    mu : float
        Drift [J/slot].
    sigma : float
        Volatility [J/sqrt(slot)].
    """
    return lemma2(workload, *policy_moments(workload, routing_error))


def lemma2(workload: Workload, mean_J: float, second_J2: float) -> tuple[float, float]:
    """Drift mu [J/slot] and volatility sigma [J/sqrt(slot)] of the lumped walk from the
    per-task energy's mean [J] and second moment [J^2] (Lemma 2, docs/model.md §7):
    mu = R_bar - lambda E[e], sigma^2 = sigma_R^2 + lambda E[e^2], with the harvest's
    long-run variance as sigma_R^2 when its slots are correlated (docs/model.md §13).
    A daily cycle of the arrival rate keeps lambda E[e^2] over whole days."""
    mu = workload.harvest_mean_J - workload.arrival_rate * mean_J
    harvest_var = workload.harvest_long_run_var_J2
    sigma = float(np.sqrt(harvest_var + workload.arrival_rate * second_J2))
    return float(mu), sigma


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


def scenario_key(name: str) -> int:
    """Stable integer key of a scenario name, for the random streams (CRC-32 of UTF-8).

    Unlike ``hash``, this is the same in every process and Python version.

    Examples
    --------
    >>> scenario_key("critical")
    1464146891
    """
    return zlib.crc32(name.encode("utf-8"))


def trial_streams(root_seed: int, key: int, trial: int) -> tuple[np.random.Generator, ...]:
    """The four independent generators of one trial: arrivals, slots, routing, harvest.

    Parameters
    ----------
    root_seed : int
        Root entropy of the whole study.
    key : int
        Scenario key (see :func:`scenario_key`).
    trial : int
        Global trial index.

    Returns
    -------
    tuple of numpy.random.Generator
        Indexed by ``STREAM_ARRIVALS``, ``STREAM_SLOTS``, ``STREAM_ROUTING``,
        ``STREAM_HARVEST``.
    """
    return tuple(
        np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(root_seed, spawn_key=(key, trial, j)))
        )
        for j in range(_N_STREAMS)
    )


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
    harvest_model: object | None = None  # chunk generator (supply.py); None: the Gamma above
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
        needed when the workload has a :class:`~energy_routing.supply.Supply` (daily
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


# --------------------------------------------------------------------------------------
# Stage 3: consumption (numba)
# --------------------------------------------------------------------------------------


@numba.njit(nogil=True, cache=True)
def lumped_consumption(slots, types, models, energy, out):  # pragma: no cover - numba
    """Lumped consumption of a chunk (docs/model.md §6, eq. 24; stage 3).

    Parameters
    ----------
    slots, types, models : ndarray of int64, shape (n_tasks,)
        Arrival slot (within the chunk), type and serving model of each task.
    energy : ndarray, shape (K, M)
        Task energy [J].
    out : ndarray of float64, shape (L,)
        Overwritten with C_t [J] for the L slots of the chunk.
    """
    out[:] = 0.0
    for j in range(slots.size):
        out[slots[j]] += energy[types[j], models[j]]


@numba.njit(nogil=True, cache=True)
def distributed_consumption(
    slots, types, models, profile, service_len, buf
):  # pragma: no cover - numba
    """Add the per-slot profiles of a chunk's tasks (docs/model.md §5-6, eq. 25; stage 3).

    Parameters
    ----------
    slots, types, models : ndarray of int64, shape (n_tasks,)
        Dispatch slot (within the chunk), type and serving model of each task.
    profile : ndarray, shape (K, M, S)
        Per-slot energy while in service [J].
    service_len : ndarray of int64, shape (K, M)
        Number of leading profile slots to spread.
    buf : ndarray of float64, shape (>= L + S - 1,)
        Consumption of slot t of the chunk at index t [J]; must already hold the spill-over
        of earlier chunks. Tasks add to it; entries at L and beyond spill into the next chunk.
    """
    for j in range(slots.size):
        i = types[j]
        m = models[j]
        n = service_len[i, m]
        shape = profile[i, m]
        target = buf[slots[j] : slots[j] + n]  # 1-D views let LLVM vectorise the add
        for k in range(n):
            target[k] += shape[k]


@numba.njit(nogil=True, cache=True)
def _carry_spill(buf, n_slots, n_carry):  # pragma: no cover - numba
    """Move the spill-over past ``n_slots`` to the front of ``buf`` and clear the rest."""
    for k in range(n_carry):
        buf[k] = buf[n_slots + k]
    for k in range(n_carry, buf.size):
        buf[k] = 0.0


# --------------------------------------------------------------------------------------
# Stage 4: the walk (numba)
# --------------------------------------------------------------------------------------


@numba.njit(nogil=True, cache=True)
def walk_chunk(
    harvest, consumption, state, t0, checkpoints, next_cp, deficit, battery, injected, shift
):  # pragma: no cover - numba
    """Advance the battery through one chunk and sample the checkpoints (docs/model.md §6, Thm. 1).

    For each slot t = t0 + 1, ..., t0 + L, with x_t = R_t - C_t:
    B_t = B_{t-1} + x_t, running minimum m_t = min(m_{t-1}, B_t) (m_0 = B_0 = 0),
    floored battery F_t = max(0, F_{t-1} + x_t) with the shortfall added to A_t, and the
    shifted sums sum(x_t - shift), sum((x_t - shift)^2). At a checkpoint t it records
    D_t = -m_t, B_t and A_t.

    Parameters
    ----------
    harvest, consumption : ndarray of float64, shape (>= L,)
        R_t and C_t [J] of the chunk's slots; ``harvest.size`` sets L.
    state : ndarray of float64, shape (6,)
        Carried state (B, m, F, A, S1, S2) [J, J, J, J, J, J^2], updated in place.
    t0 : int
        Slots already processed before this chunk.
    checkpoints : ndarray of int64
        Strictly increasing recording slots (global).
    next_cp : int
        Index of the first checkpoint not yet recorded.
    deficit, battery, injected : ndarray of float64, shape (n_checkpoints,)
        Records of D_t, B_t and A_t [J], written at the checkpoints in this chunk.
    shift : float
        Centre of the increment sums [J] (the expected increment keeps them well conditioned).

    Returns
    -------
    int
        Index of the first checkpoint not yet recorded after this chunk.
    """
    b = state[0]
    bmin = state[1]
    f = state[2]
    a = state[3]
    s1 = state[4]
    s2 = state[5]
    n_cp = checkpoints.size
    p = next_cp
    target = checkpoints[p] - t0 - 1 if p < n_cp else -1
    for j in range(harvest.size):
        x = harvest[j] - consumption[j]
        b += x
        if b < bmin:
            bmin = b
        f += x
        if f < 0.0:
            a -= f
            f = 0.0
        d = x - shift
        s1 += d
        s2 += d * d
        if j == target:
            deficit[p] = 0.0 - bmin
            battery[p] = b
            injected[p] = a
            p += 1
            target = checkpoints[p] - t0 - 1 if p < n_cp else -1
    state[0] = b
    state[1] = bmin
    state[2] = f
    state[3] = a
    state[4] = s1
    state[5] = s2
    return p


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


def _check_routing_error(routing_error: float) -> None:
    if not 0.0 <= float(routing_error) <= 1.0:
        raise ValueError(f"routing_error: must lie in [0, 1], got {routing_error!r}")


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
        **per_trial,
    )
