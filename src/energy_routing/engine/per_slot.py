"""The per-slot kernel: queue, dispatch, consumption and battery slot by slot
(docs/model.md §6, §12).

The fast path (:mod:`energy_routing.engine.fast_path`) routes a whole chunk, builds its
consumption and then walks the battery. A policy that reads the battery or the queue, or a
finite battery, needs the state of slot t - 1 to decide slot t; :func:`slot_chunk` does
all of it in one numba loop per chunk, from the same chunk draws (tasks sorted by arrival
slot with a stable sort, keyed by their index in the chunk's draw order).

Named state
-----------
:class:`SlotState` is carried from chunk to chunk. Its scalars (:data:`STATE_FIELDS`) live
in one float64 vector whose first six entries have the fast path's layout:

========================  ===========================================================
``battery_J``             B_t, free battery (no floor, no bound) [J]
``battery_min_J``         min_{s<=t} B_s (D_t = -this) [J]
``stored_J``              stored energy of the :class:`~energy_routing.engine.storage.Storage` [J]
                          (the floored battery F_t when unbounded and lossless)
``aux_J``                 cumulative auxiliary energy U_t [J]
``sum_dx_J``              sum of (x_t - shift) [J]
``sum_dx2_J2``            sum of (x_t - shift)^2 [J^2]
``spilled_J``             cumulative harvest spilled by a full store [J]
``backlog_sum``           sum over slots of the tasks still queued at the end of the slot
``wait_sum_slots``        sum over started tasks of their wait [slot]
``dispatched``            number of tasks started
``missed``                number of tasks started after their last feasible start
``queue_len``             tasks queued at the end of the last slot
========================  ===========================================================

plus the queue (arrival slot, type, model, ordering key of each waiting task) and, for
distributed consumption, ``carry``: the energy already owed to the first S_max - 1 slots of
the next chunk by tasks in service.

Bit-identity with the fast path
-------------------------------
For the myopic policy (every task starts on arrival) with the unbounded lossless battery
the kernel performs the fast path's floating-point operations in the same order: lumped
consumption adds the energies of a slot's tasks in draw order from 0.0; distributed
consumption starts a slot from its carried value and adds the profiles of the tasks in
service in draw order (the active list is kept sorted by key); the walk's updates are the
same expressions. Results are therefore equal bit for bit (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from energy_routing.engine.policies import KIND_DEFERRAL, KIND_STATIC
from energy_routing.engine.storage import store_step

#: Names of the scalar state carried across chunks, in storage order.
STATE_FIELDS: tuple[str, ...] = (
    "battery_J",
    "battery_min_J",
    "stored_J",
    "aux_J",
    "sum_dx_J",
    "sum_dx2_J2",
    "spilled_J",
    "backlog_sum",
    "wait_sum_slots",
    "dispatched",
    "missed",
    "queue_len",
)
(
    S_B,
    S_BMIN,
    S_STORED,
    S_AUX,
    S_S1,
    S_S2,
    S_SPILL,
    S_BACKLOG,
    S_WAIT,
    S_DISP,
    S_MISS,
    S_QLEN,
) = range(len(STATE_FIELDS))


@dataclass
class SlotState:
    """State of one trial and consumption mode carried across chunks (see module doc).

    Attributes
    ----------
    values : ndarray of float64, shape (len(STATE_FIELDS),)
        The named scalars; read them by name, e.g. ``state.aux_J``.
    q_arrival, q_type, q_model, q_key : ndarray of int64
        The queue, FIFO: arrival slot (global, 1-based), type, model and ordering key of
        each waiting task; the first ``queue_len`` entries are live.
    q_energy : ndarray of float64
        Energy each waiting task will be charged (lumped) [J].
    carry : ndarray of float64, shape (S_max - 1,)
        Energy owed to the next chunk's first slots by tasks in service [J].
    """

    values: np.ndarray
    q_arrival: np.ndarray
    q_type: np.ndarray
    q_model: np.ndarray
    q_key: np.ndarray
    carry: np.ndarray
    q_energy: np.ndarray

    @classmethod
    def empty(cls, n_carry: int, values: np.ndarray | None = None) -> SlotState:
        """A fresh state (empty battery and queue); ``values`` may be a view to write into."""
        if values is None:
            values = np.zeros(len(STATE_FIELDS))
        values[:] = 0.0
        z = np.zeros(16, dtype=np.int64)
        return cls(values, z.copy(), z.copy(), z.copy(), z.copy(), np.zeros(n_carry), np.zeros(16))

    def reserve_queue(self, extra: int) -> None:
        """Grow the queue arrays to hold ``extra`` more tasks, keeping the live ones."""
        need = int(self.values[S_QLEN]) + int(extra)
        if self.q_arrival.size >= need:
            return
        size = max(need, 2 * self.q_arrival.size)
        for name in ("q_arrival", "q_type", "q_model", "q_key", "q_energy"):
            old = getattr(self, name)
            new = np.zeros(size, dtype=old.dtype)
            new[: old.size] = old
            setattr(self, name, new)


def _field_property(index: int, name: str) -> property:
    return property(lambda self: float(self.values[index]), doc=f"State field ``{name}``.")


for _i, _name in enumerate(STATE_FIELDS):
    setattr(SlotState, _name, _field_property(_i, _name))


@numba.njit(nogil=True, cache=True)
def slot_order(slots, n_slots):  # pragma: no cover - numba
    """Stable counting sort: the indices of ``slots`` ordered by slot, ties in index order.

    Equal to ``np.argsort(slots, kind="stable")`` for slots in [0, n_slots), in
    O(len(slots) + n_slots) time.
    """
    counts = np.zeros(n_slots + 1, dtype=np.int64)
    for j in range(slots.size):
        counts[slots[j] + 1] += 1
    for t in range(n_slots):
        counts[t + 1] += counts[t]
    order = np.empty(slots.size, dtype=np.int64)
    for j in range(slots.size):
        t = slots[j]
        order[counts[t]] = j
        counts[t] += 1
    return order


@numba.njit(nogil=True, cache=True)
def slot_chunk(
    harvest,
    t0,
    a_slot,
    a_type,
    a_model,
    a_key,
    a_e,
    q_arr,
    q_type,
    q_model,
    q_key,
    q_e,
    distributed,
    energy,
    profile,
    service_len,
    wait_limit,
    last_start,
    kind,
    reserve,
    v_weight,
    capacity,
    eta_c,
    eta_d,
    keep,
    carry,
    state,
    checkpoints,
    next_cp,
    deficit,
    battery,
    injected,
    spilled_rec,
    stored_rec,
    backlog_rec,
    owed_rec,
    shift,
):  # pragma: no cover - numba
    """Advance one trial and consumption mode through one chunk, slot by slot.

    Per slot t (global g = t0 + t + 1): (1) the slot's arrivals join the queue; (2) each
    queued task, in queue order, starts or waits by the policy's rule (``kind``:
    static = start now; deferral = start if the budget s - reserve - (energy started this
    slot) covers it; drift-plus-penalty = start if Q_t >= V max(0, e - budget)); a task
    that has waited ``wait_limit`` slots starts regardless; (3) the slot's consumption
    (lumped: energies of the tasks started now; distributed: profiles of the tasks in
    service); (4) free battery, store, auxiliary and spilled energy; (5) checkpoint records.

    Parameters
    ----------
    harvest : ndarray of float64, shape (L,)
        R_t of the chunk's slots [J].
    t0 : int
        Slots processed before the chunk.
    a_slot, a_type, a_model, a_key : ndarray of int64
        The chunk's tasks sorted by arrival slot (stable): slot within the chunk, type,
        model chosen at arrival, ordering key (index in the draw order).
    a_e : ndarray of float64
        Energy charged for each of those tasks under lumped consumption [J]: e_im, or a
        draw of the stochastic reasoning length (decisions always use e_im).
    q_arr, q_type, q_model, q_key, q_e : ndarray
        The queue (:class:`SlotState`), with room for all the chunk's tasks.
    distributed : bool
        Distributed (profile) instead of lumped consumption.
    energy, profile, service_len : ndarray
        e_im [J], per-slot profiles [J] and service lengths [slot].
    wait_limit, last_start : ndarray of int64, shape (K, M)
        Largest wait the policy allows, and the last feasible start [slot].
    kind : int
        Decision rule (:data:`~energy_routing.engine.policies.KIND_STATIC`, ...).
    reserve, v_weight : float
        Deferral reserve [J]; drift-plus-penalty V [tasks/J].
    capacity, eta_c, eta_d, keep : float
        Storage capacity [J], efficiencies [1] and kept fraction per slot [1].
    carry : ndarray of float64, shape (S_max - 1,)
        Distributed energy owed to the chunk's first slots [J]; replaced by the next one's.
    state : ndarray of float64, shape (len(STATE_FIELDS),)
        Named scalars, updated in place.
    checkpoints, next_cp, deficit, battery, injected, shift
        As for ``energy_routing.engine.fast_path.walk_chunk``; ``injected`` records U_t.
    spilled_rec, stored_rec, backlog_rec : ndarray of float64, shape (n_checkpoints,)
        Cumulative spilled harvest [J], stored energy [J] and queued tasks at checkpoints.
    owed_rec : ndarray of float64, shape (n_checkpoints,)
        Energy the tasks still queued at a checkpoint will be charged [J] (the sum of
        their lumped energies; docs/model.md §12.6, billing at the horizon).

    Returns
    -------
    int
        Index of the first checkpoint not yet recorded.
    """
    b = state[0]
    bmin = state[1]
    s = state[2]
    aux = state[3]
    s1 = state[4]
    s2 = state[5]
    spill = state[6]
    bl_sum = state[7]
    w_sum = state[8]
    n_disp = state[9]
    n_miss = state[10]
    q_len = np.int64(state[11])
    n_slots = harvest.size
    n_tasks = a_slot.size
    n_carry = carry.size
    cap_act = q_len + n_tasks + 1
    act_key = np.empty(cap_act, dtype=np.int64)
    act_type = np.empty(cap_act, dtype=np.int64)
    act_model = np.empty(cap_act, dtype=np.int64)
    act_start = np.empty(cap_act, dtype=np.int64)
    n_act = 0
    ptr = 0
    n_cp = checkpoints.size
    p = next_cp
    target = checkpoints[p] - t0 - 1 if p < n_cp else -1
    for t in range(n_slots):
        g = t0 + t + 1
        while ptr < n_tasks and a_slot[ptr] == t:
            q_arr[q_len] = g
            q_type[q_len] = a_type[ptr]
            q_model[q_len] = a_model[ptr]
            q_key[q_len] = a_key[ptr]
            q_e[q_len] = a_e[ptr]
            q_len += 1
            ptr += 1
        budget = s - reserve
        backlog = q_len
        c_lump = 0.0
        kept = 0
        for qi in range(q_len):
            i = q_type[qi]
            m = q_model[qi]
            w = g - q_arr[qi]
            e = energy[i, m]
            if kind == KIND_STATIC:
                go = True
            elif w >= wait_limit[i, m]:
                go = True
            elif kind == KIND_DEFERRAL:
                go = e <= budget
            else:
                need = e - budget
                go = need <= 0.0 or backlog >= v_weight * need
            if go:
                budget -= e
                w_sum += w
                n_disp += 1.0
                if w > last_start[i, m]:
                    n_miss += 1.0
                if distributed:
                    key = q_key[qi]
                    pos = n_act
                    while pos > 0 and act_key[pos - 1] > key:
                        act_key[pos] = act_key[pos - 1]
                        act_type[pos] = act_type[pos - 1]
                        act_model[pos] = act_model[pos - 1]
                        act_start[pos] = act_start[pos - 1]
                        pos -= 1
                    act_key[pos] = key
                    act_type[pos] = i
                    act_model[pos] = m
                    act_start[pos] = t
                    n_act += 1
                else:
                    c_lump += q_e[qi]
            else:
                q_arr[kept] = q_arr[qi]
                q_type[kept] = i
                q_model[kept] = m
                q_key[kept] = q_key[qi]
                q_e[kept] = q_e[qi]
                kept += 1
        q_len = kept
        if distributed:
            c = carry[t] if t < n_carry else 0.0
            alive = 0
            for k in range(n_act):
                i = act_type[k]
                m = act_model[k]
                idx = t - act_start[k]
                n = service_len[i, m]
                if idx < n:
                    c += profile[i, m, idx]
                if idx + 1 < n:
                    act_key[alive] = act_key[k]
                    act_type[alive] = i
                    act_model[alive] = m
                    act_start[alive] = act_start[k]
                    alive += 1
            n_act = alive
        else:
            c = c_lump
        x = harvest[t] - c
        b += x
        if b < bmin:
            bmin = b
        s, spilled, topped = store_step(s, x, capacity, eta_c, eta_d, keep, np.inf, np.inf)
        spill += spilled
        aux += topped
        d = x - shift
        s1 += d
        s2 += d * d
        bl_sum += q_len
        if t == target:
            deficit[p] = 0.0 - bmin
            battery[p] = b
            injected[p] = aux
            spilled_rec[p] = spill
            stored_rec[p] = s
            backlog_rec[p] = q_len
            owed = 0.0
            for qi in range(q_len):
                owed += q_e[qi]
            owed_rec[p] = owed
            p += 1
            target = checkpoints[p] - t0 - 1 if p < n_cp else -1
    if distributed and n_carry > 0:
        nxt = np.empty(n_carry)
        for k in range(n_carry):
            cell = n_slots + k
            v = carry[cell] if cell < n_carry else 0.0
            for a in range(n_act):
                idx = cell - act_start[a]
                if idx >= 0 and idx < service_len[act_type[a], act_model[a]]:
                    v += profile[act_type[a], act_model[a], idx]
            nxt[k] = v
        carry[:] = nxt
    for k in range(q_len):
        q_key[k] = k - q_len
    state[0] = b
    state[1] = bmin
    state[2] = s
    state[3] = aux
    state[4] = s1
    state[5] = s2
    state[6] = spill
    state[7] = bl_sum
    state[8] = w_sum
    state[9] = n_disp
    state[10] = n_miss
    state[11] = q_len
    return p
