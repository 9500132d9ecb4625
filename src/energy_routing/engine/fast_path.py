"""Stages 3-4 of a chunk on the fast path, in numba: consumption, then the battery walk
(docs/model.md §5-6, Thm. 1).

With a static policy and the unbounded lossless store a chunk is routed at once, so its
consumption C_t [J] can be built first: :func:`lumped_consumption` puts a task's whole
energy in its arrival slot (eq. 24), :func:`distributed_consumption` spreads its per-slot
profile from its dispatch slot on (eq. 25), carrying what spills past the chunk. Then
:func:`walk_chunk` advances in one loop the free battery B_t = B_{t-1} + R_t - C_t (B_0 = 0)
and its running minimum, so D_t = max(0, -min_{s<=t} B_s), and the floored battery
F_t = max(0, F_{t-1} + R_t - C_t) with its cumulative injection A_t [J] (A_t == D_t by
Thm. 1), recording them at the checkpoints.
"""

from __future__ import annotations

import numba

# Layout of the per-mode walk state carried across chunks.
_STATE_B, _STATE_BMIN, _STATE_F, _STATE_A, _STATE_S1, _STATE_S2 = range(6)
_STATE_SIZE = 6


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
