"""The numba kernel of the batched serving engine (docs/model.md §14.2).

A replica of model m with ``b`` running sequences, holding ``S`` cached tokens in all,
decodes one token per sequence per step; a step costs ``t_fixed + t_seq b + t_ctx S``
seconds and ``e_fixed + e_seq b + e_ctx S`` joules (:class:`~energy_routing.model.serving.
StepCoefficients`). Token counts are continuous, as in docs/model.md §1 and §5: between two
events (a completion, an admission, a slot boundary) every running sequence advances by
the same ``y`` tokens, ``S`` grows by ``b y``, and the time and the replica's energy are

    tau(y) = A y + V y^2 / 2,                  A = t_fixed + t_seq b + t_ctx S,  V = t_ctx b
    E(y)   = (A_e - V_e / 2) y + V_e y^2 / 2,  A_e = e_fixed + e_seq b + e_ctx S,  V_e = e_ctx b

the clock of §1 (``u x + v x^2 / 2`` at ``b = 1``, inverted by ``tokens_by_time``) and
the energy polynomial of §1 (``a x + b x (x - 1) / 2``), which is how the profile of §5
books a task's energy by time. A sequence's own share is ``e_fixed y / b`` of the
weights plus its own tokens' dense and attention energy. An empty replica draws
``idle_w`` W.

State arrays are indexed ``[replica, position]``; every position ``< nrun[r]`` holds a
running sequence. Queues are FIFO per model over the chunk's task list (tasks carried
from earlier chunks first, then the chunk's arrivals by slot).
"""

from __future__ import annotations

import math

import numba
import numpy as np

# Columns of the per-model accumulators ``acc``.
ACC_TOKENS, ACC_STEPS, ACC_BUSY_J, ACC_IDLE_J, ACC_BUSY_S = range(5)
N_ACC = 5
# Layout of ``coef`` rows.
T_FIXED, T_SEQ, T_CTX, E_FIXED, E_SEQ, E_CTX = range(6)


@numba.njit(nogil=True, cache=True, inline="always")
def _tokens_by_time(t, u, v):  # pragma: no cover - numba
    """``model.hardware.tokens_by_time`` for scalars: solves ``u x + v x^2 / 2 = t``."""
    return 2.0 * t / (u + math.sqrt(u * u + 2.0 * v * t))


@numba.njit(nogil=True, cache=True)
def _advance(r, y, coef_m, g, nrun, own_e, acc_m, out, s):  # pragma: no cover - numba
    """Advance every running sequence of replica ``r`` by ``y`` tokens; book the energy
    in ``out[s]``, each sequence's share in ``own_e`` and the model's counters."""
    b = nrun[r]
    tot = 0.0
    for k in range(b):
        tot += g[r, k]
    fb = float(b)
    a_t = coef_m[T_FIXED] + coef_m[T_SEQ] * fb + coef_m[T_CTX] * tot
    v_t = coef_m[T_CTX] * fb
    a_e = coef_m[E_FIXED] + coef_m[E_SEQ] * fb + coef_m[E_CTX] * tot
    v_e = coef_m[E_CTX] * fb
    energy = (a_e - 0.5 * v_e) * y + 0.5 * v_e * y * y
    shared = coef_m[E_FIXED] * y / fb
    for k in range(b):
        own_e[r, k] += (
            shared + coef_m[E_SEQ] * y + coef_m[E_CTX] * (g[r, k] * y + 0.5 * (y * y - y))
        )
        g[r, k] += y
    out[s] += energy
    acc_m[ACC_TOKENS] += fb * y
    acc_m[ACC_STEPS] += y
    acc_m[ACC_BUSY_J] += energy
    acc_m[ACC_BUSY_S] += a_t * y + 0.5 * v_t * y * y


@numba.njit(nogil=True, cache=True)
def _time_to(r, y, coef_m, g, nrun):  # pragma: no cover - numba
    """Seconds replica ``r`` needs to advance its sequences by ``y`` tokens."""
    b = nrun[r]
    tot = 0.0
    for k in range(b):
        tot += g[r, k]
    a_t = coef_m[T_FIXED] + coef_m[T_SEQ] * b + coef_m[T_CTX] * tot
    return a_t * y + 0.5 * coef_m[T_CTX] * b * y * y


@numba.njit(nogil=True, cache=True)
def _tokens_in(r, tau, coef_m, g, nrun):  # pragma: no cover - numba
    """Tokens per sequence replica ``r`` produces in ``tau`` seconds."""
    b = nrun[r]
    tot = 0.0
    for k in range(b):
        tot += g[r, k]
    a_t = coef_m[T_FIXED] + coef_m[T_SEQ] * b + coef_m[T_CTX] * tot
    return _tokens_by_time(tau, a_t, coef_m[T_CTX] * b)


@numba.njit(nogil=True, cache=True)
def _admit(
    r, j, q_need, q_arr, q_type, q_id, g, need, arr, typ, tid, own_e, nrun
):  # pragma: no cover - numba
    k = nrun[r]
    g[r, k] = 0.0
    need[r, k] = q_need[j]
    arr[r, k] = q_arr[j]
    typ[r, k] = q_type[j]
    tid[r, k] = q_id[j]
    own_e[r, k] = 0.0
    nrun[r] = k + 1


@numba.njit(nogil=True, cache=True)
def join_time(n, b, tot, coef_m):  # pragma: no cover - numba
    """Seconds a replica with ``b`` running sequences holding ``tot`` cached tokens would
    need for ``n`` more tokens per sequence if a new task joined it and its batch then
    stayed at ``b + 1`` (docs/model.md §14.2): ``A n + V n^2 / 2`` with
    ``A = t_fixed + t_seq (b + 1) + t_ctx tot`` and ``V = t_ctx (b + 1)``."""
    fb = b + 1.0
    a_t = coef_m[T_FIXED] + coef_m[T_SEQ] * fb + coef_m[T_CTX] * tot
    return a_t * n + 0.5 * coef_m[T_CTX] * fb * n * n


@numba.njit(nogil=True, cache=True)
def marginal_energy(n, b, coef_m, idle_w_m):  # pragma: no cover - numba
    """Marginal energy [J] of a task of ``n`` tokens joining a replica with ``b`` running
    sequences (docs/model.md §14.2): its own tokens ``e_seq n + e_ctx n (n - 1) / 2`` plus
    the fixed part shared with the batch it joins, ``e_fixed n / (b + 1)``; an idle
    replica (``b = 0``) is credited the idle energy it no longer draws while it serves
    the task alone, ``idle_w (A n + V n^2 / 2)`` with ``A = t_fixed + t_seq``,
    ``V = t_ctx``."""
    own = coef_m[E_SEQ] * n + 0.5 * coef_m[E_CTX] * n * (n - 1.0)
    energy = own + coef_m[E_FIXED] * n / (b + 1.0)
    if b == 0:
        energy -= idle_w_m * join_time(n, 0, 0.0, coef_m)
    return energy


@numba.njit(nogil=True, cache=True)
def _spoils_a_deadline(r, now, coef_m, g, need, arr, typ, deadline_s, nrun):  # pragma: no cover
    """Whether one more sequence on replica ``r`` would make a running sequence that
    meets its deadline at batch b miss it at b + 1 (each judged by :func:`join_time`
    with the batch frozen; docs/model.md §14.2)."""
    b = nrun[r]
    tot = 0.0
    for k in range(b):
        tot += g[r, k]
    for k in range(b):
        left = need[r, k] - g[r, k]
        room = arr[r, k] + deadline_s[typ[r, k]] - now
        # join_time(.., b - 1, ..) is the time at batch b itself, (.., b, ..) at b + 1.
        if join_time(left, b - 1, tot, coef_m) <= room < join_time(left, b, tot, coef_m):
            return True
    return False


@numba.njit(nogil=True, cache=True)
def route_batch_aware(
    i, now, cand, tokens, deadline_s, coef, idle_w, rep_first, max_batch, g, need, arr, typ, nrun
):  # pragma: no cover - numba
    """The replica with room and the smallest :func:`marginal_energy` for a task of type
    ``i`` arriving at ``now`` [s] among the replicas of its candidate models ``cand[i]``
    (padded with -1) that are feasible: the task would meet its deadline there
    (:func:`join_time` <= ``deadline_s[i]``) and no running sequence that meets its own
    would miss it for the task's joining (:func:`_spoils_a_deadline`); the first found
    wins ties. Returns ``(replica, model)``, ``(-1, -1)`` when none qualifies
    (docs/model.md §14.2)."""
    best_r = -1
    best_m = -1
    best_e = math.inf
    for c in range(cand.shape[1]):
        m = cand[i, c]
        if m < 0:
            break
        n = tokens[i, m]
        cm = coef[m]
        for r in range(rep_first[m], rep_first[m + 1]):
            b = nrun[r]
            if b >= max_batch:
                continue
            e = marginal_energy(n, b, cm, idle_w[m])
            if e >= best_e:
                continue
            tot = 0.0
            for k in range(b):
                tot += g[r, k]
            if join_time(n, b, tot, cm) > deadline_s[i]:
                continue
            if _spoils_a_deadline(r, now, cm, g, need, arr, typ, deadline_s, nrun):
                continue
            best_e = e
            best_r = r
            best_m = m
    return best_r, best_m


@numba.njit(nogil=True, cache=True)
def serve_chunk(
    t0,
    n_slots,
    dt,
    q_slot,
    q_arr,
    q_need,
    q_type,
    q_id,
    qidx,
    qstart,
    head,
    coef,
    idle_w,
    rep_first,
    max_batch,
    g,
    need,
    arr,
    typ,
    tid,
    own_e,
    nrun,
    out,
    acc,
    log,
    n_log,
    router,
    pinned,
    taken,
    cand,
    tokens,
    deadline_s,
):  # pragma: no cover - numba
    """Serve slots ``t0 + 1 .. t0 + n_slots`` (docs/model.md §14.2).

    Parameters
    ----------
    t0 : int
        Slots already served; slot ``s`` of the chunk is global slot ``t0 + s`` (0-based)
        and spans ``[(t0 + s) dt, (t0 + s + 1) dt)`` seconds.
    n_slots : int
        Chunk length L.
    dt : float
        Slot length [s].
    q_slot, q_arr, q_need, q_type, q_id :
        The chunk's task list: global arrival slot, arrival time [s], budget n* [tokens],
        type, id.
    qidx, qstart, head :
        Model m's FIFO queue is ``qidx[head[m]:qstart[m + 1]]`` (``head`` updated in place).
    coef : (M, 6)
        Step coefficients of each model (``StepCoefficients.as_array``).
    idle_w : (M,)
        Power of an empty replica of each model [W].
    rep_first : (M + 1,)
        Model m's replicas are ``rep_first[m] .. rep_first[m + 1] - 1``.
    max_batch : int
        Running sequences per replica at most.
    g, need, arr, typ, tid, own_e, nrun :
        Replica state (carried across chunks): tokens generated, budget, arrival [s],
        type, task id, energy booked to the sequence [J]; running count.
    out : (>= L,)
        Overwritten with C_t [J] of the chunk's slots.
    acc : (M, 5)
        Per-model tokens, steps, busy energy [J], idle energy [J], busy time [s], added to.
    log : (n_log_max, 6)
        Completed tasks: id, type, model, arrival [s], completion [s], energy [J].
    n_log : int
        Rows of ``log`` already used.
    router : int
        0: every task waits in the queue of the model it was routed to at arrival
        (``qidx``). 1: batch-aware (docs/model.md §14.2): at the start of its arrival slot
        a task that is not ``pinned`` joins the replica :func:`route_batch_aware` picks,
        and its budget ``q_need`` becomes ``tokens[type, model]``; when none qualifies it
        stays in its queue. ``taken`` marks (uint8, in place) the tasks so placed; the
        queues skip them.
    pinned, taken : (n_tasks,) uint8
        Tasks whose model is fixed (misrouted); tasks placed by the batch-aware router.
    cand, tokens, deadline_s : (K, M) int64, (K, M), (K,)
        Candidate models of each type (-1 padded), budgets n* [tokens], deadline [s].

    Returns
    -------
    int
        Rows of ``log`` used after this chunk.
    """
    n_models = coef.shape[0]
    n_rep = nrun.size
    loc = np.zeros(n_rep)
    n_tasks = q_slot.size
    nxt = 0
    for s in range(n_slots):
        slot = t0 + s
        out[s] = 0.0
        start = slot * dt
        if router == 1:
            while nxt < n_tasks and q_slot[nxt] < slot:
                nxt += 1
            while nxt < n_tasks and q_slot[nxt] == slot:
                if pinned[nxt] == 0:
                    i = q_type[nxt]
                    r, m = route_batch_aware(
                        i, start, cand, tokens, deadline_s, coef, idle_w, rep_first, max_batch,
                        g, need, arr, typ, nrun,
                    )  # fmt: skip
                    if r >= 0:
                        q_need[nxt] = tokens[i, m]
                        _admit(
                            r, nxt, q_need, q_arr, q_type, q_id, g, need, arr, typ, tid, own_e,
                            nrun,
                        )  # fmt: skip
                        taken[nxt] = 1
                nxt += 1
        # Admission at the slot start: FIFO to the least-loaded replica with room.
        for m in range(n_models):
            h = head[m]
            end = qstart[m + 1]
            while h < end and q_slot[qidx[h]] <= slot:
                if router == 1 and taken[qidx[h]] != 0:
                    h += 1
                    continue
                best = -1
                low = max_batch
                for r in range(rep_first[m], rep_first[m + 1]):
                    if nrun[r] < low:
                        low = nrun[r]
                        best = r
                if best < 0:
                    break
                j = qidx[h]
                _admit(best, j, q_need, q_arr, q_type, q_id, g, need, arr, typ, tid, own_e, nrun)
                h += 1
            head[m] = h
        for m in range(n_models):
            cm = coef[m]
            am = acc[m]
            r0 = rep_first[m]
            r1 = rep_first[m + 1]
            for r in range(r0, r1):
                loc[r] = 0.0
            # Completions in time order across the model's replicas.
            while True:
                best = -1
                kbest = 0
                when = dt
                ybest = 0.0
                for r in range(r0, r1):
                    if nrun[r] == 0:
                        continue
                    ymin = need[r, 0] - g[r, 0]
                    kmin = 0
                    for k in range(1, nrun[r]):
                        left = need[r, k] - g[r, k]
                        if left < ymin:
                            ymin = left
                            kmin = k
                    if ymin < 0.0:
                        ymin = 0.0
                    tc = loc[r] + _time_to(r, ymin, cm, g, nrun)
                    if tc <= when:
                        when = tc
                        best = r
                        kbest = kmin
                        ybest = ymin
                if best < 0:
                    break
                r = best
                _advance(r, ybest, cm, g, nrun, own_e, am, out, s)
                g[r, kbest] = need[r, kbest]  # done by construction, whatever the rounding
                loc[r] = when
                # Remove every finished sequence (swap with the last running one).
                k = 0
                while k < nrun[r]:
                    if need[r, k] - g[r, k] <= 0.0:
                        log[n_log, 0] = tid[r, k]
                        log[n_log, 1] = typ[r, k]
                        log[n_log, 2] = m
                        log[n_log, 3] = arr[r, k]
                        log[n_log, 4] = start + when
                        log[n_log, 5] = own_e[r, k]
                        n_log += 1
                        last = nrun[r] - 1
                        g[r, k] = g[r, last]
                        need[r, k] = need[r, last]
                        arr[r, k] = arr[r, last]
                        typ[r, k] = typ[r, last]
                        tid[r, k] = tid[r, last]
                        own_e[r, k] = own_e[r, last]
                        nrun[r] = last
                    else:
                        k += 1
                h = head[m]
                while nrun[r] < max_batch and h < qstart[m + 1] and q_slot[qidx[h]] <= slot:
                    if router == 1 and taken[qidx[h]] != 0:
                        h += 1
                        continue
                    _admit(
                        r, qidx[h], q_need, q_arr, q_type, q_id, g, need, arr, typ, tid, own_e, nrun
                    )
                    h += 1
                head[m] = h
            # The rest of the slot.
            for r in range(r0, r1):
                rest = dt - loc[r]
                if rest <= 0.0:
                    continue
                if nrun[r] == 0:
                    e_idle = idle_w[m] * rest
                    out[s] += e_idle
                    am[ACC_IDLE_J] += e_idle
                else:
                    y = _tokens_in(r, rest, cm, g, nrun)
                    _advance(r, y, cm, g, nrun, own_e, am, out, s)
    return n_log
