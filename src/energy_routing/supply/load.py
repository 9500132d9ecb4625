"""The load side: a daily cycle of the arrival rate, and its arrivals (docs/model.md §6, §13).

:func:`diurnal_rate` is the expected number of arrivals per slot [tasks/slot] under a daily
cosine of given mean, relative amplitude and peak hour (with the sun, against it, or at any
hour), averaged exactly over each slot; :func:`draw_arrivals_nhpp` draws one chunk of
non-homogeneous Poisson arrivals by thinning, in the engine's format: a count per task type
and a slot per task.
"""

from __future__ import annotations

import numpy as np

from energy_routing.units import SECONDS_PER_DAY, SECONDS_PER_HOUR


def diurnal_rate(
    slots, dt_s: float, mean_rate: float, amplitude: float, peak_hour: float
) -> np.ndarray:
    """Arrival rate per slot with a daily cosine profile (docs/model.md §13).

    ``lambda(h) = mean_rate (1 + amplitude cos(2 pi (h - peak_hour) / 24))`` with ``h``
    the hour of day; each slot gets the exact average of lambda over its span, so the
    arrivals of any whole day have mean ``mean_rate * 86400 / dt_s`` for every ``dt_s``.

    Parameters
    ----------
    slots : array_like of int
        0-based slot numbers; slot ``s`` covers ``[s dt, (s + 1) dt)`` seconds after local
        midnight of the first day.
    dt_s : float
        Slot length [s].
    mean_rate : float
        Daily mean rate [tasks/slot].
    amplitude : float
        Relative amplitude in [0, 1] [-]; 0 is the homogeneous process.
    peak_hour : float
        Hour of the maximum [h]; the sun's (:func:`solar_peak_hour`) for "aligned", 12 h
        later for "misaligned".

    Returns
    -------
    numpy.ndarray
        Expected arrivals in each slot [tasks/slot].
    """
    if not 0.0 <= amplitude <= 1.0:
        raise ValueError(f"amplitude must be in [0, 1], got {amplitude}")
    s = np.asarray(slots, dtype=float)
    w = 2.0 * np.pi / SECONDS_PER_DAY
    p = peak_hour * SECONDS_PER_HOUR
    t0, t1 = s * dt_s, (s + 1.0) * dt_s
    mean_cos = (np.sin(w * (t1 - p)) - np.sin(w * (t0 - p))) / (w * dt_s)
    return mean_rate * (1.0 + amplitude * mean_cos)


def draw_arrivals_nhpp(
    rng_counts: np.random.Generator,
    rng_slots: np.random.Generator,
    rate_per_slot,
    mix,
) -> tuple[np.ndarray, np.ndarray]:
    """One chunk of non-homogeneous Poisson arrivals, engine format (docs/model.md §6, §13).

    Thinning (Lewis and Shedler 1979): per type i a homogeneous candidate count
    ``N_i ~ Poisson(mix_i lambda_max L)`` with slots drawn uniformly, as in
    ``energy_routing.engine.draws.draw_chunk``; a candidate in slot t is kept with probability
    ``lambda_t / lambda_max`` (one uniform each). The kept tasks are exactly independent
    ``Poisson(mix_i lambda_t)`` arrivals per slot and type, in random order within each
    type (the engine misroutes the first tasks of a type, so the order must carry no
    information about the slot).

    Returns
    -------
    counts : numpy.ndarray of int64 (K,)
        Arrivals per type in the chunk.
    slots : numpy.ndarray of int64 (sum(counts),)
        Slot of each task within the chunk, grouped by type.
    """
    rate = np.asarray(rate_per_slot, dtype=float)
    mix = np.asarray(mix, dtype=float)
    top = float(rate.max()) if rate.size else 0.0
    if top <= 0:
        return np.zeros(mix.size, dtype=np.int64), np.zeros(0, dtype=np.int64)
    candidates = rng_counts.poisson(mix * top * rate.size)
    slots = rng_slots.integers(0, rate.size, size=int(candidates.sum()))
    keep = rng_slots.random(slots.size) * top < rate[slots]
    types = np.repeat(np.arange(mix.size), candidates)
    counts = np.bincount(types[keep], minlength=mix.size).astype(np.int64)
    return counts, slots[keep]
