"""What the paired comparisons share: the standard error over trials, and a paired
difference split into a one-off transient and a stationary rate (docs/model.md §12.6).

The studies pair their cases trial by trial on common random numbers and report each mean,
or mean difference, with its standard error std(ddof=1) / sqrt(n) over the n trials (NaN
for a single trial), computed by the private helper here for
:mod:`energy_routing.studies.policies`, ``.routers``, ``.storage`` and ``.site``.
:func:`transient_and_rate` fits, trial by trial, a straight line a + b t to a paired
difference over the later part of the horizon.
"""

from __future__ import annotations

import math

import numpy as np

#: The rate is fitted on t in [FIT_START_FRACTION * T, T] (docs/model.md §12.6).
FIT_START_FRACTION = 0.1


def _sem(x: np.ndarray, axis: int = -1) -> np.ndarray:
    n = x.shape[axis]
    return (
        np.std(x, axis=axis, ddof=1) / math.sqrt(n)
        if n > 1
        else np.full(np.delete(x.shape, axis), np.nan)
    )


def fit_window_start(times: np.ndarray, start_fraction: float = FIT_START_FRACTION) -> int:
    """Index of the first checkpoint at or after ``start_fraction * T`` (T the last one).

    >>> fit_window_start(np.array([10, 100, 1000, 10000]))
    2
    """
    times = np.asarray(times)
    return int(np.searchsorted(times, start_fraction * times[-1], side="left"))


def transient_and_rate(
    diff_J: np.ndarray, times: np.ndarray, start_fraction: float = FIT_START_FRACTION
) -> tuple[np.ndarray, np.ndarray]:
    """Per trial, a paired difference d(t) [J] as a one-off transient plus a rate
    (docs/model.md §12.6).

    On the window [t_w, T] (t_w the first checkpoint >= ``start_fraction`` T) the line
    through d(t_w) and d(T) gives the rate b = (d(T) - d(t_w)) / (T - t_w) [J/slot] and the
    transient a = d(T) - b T [J], its intercept at t = 0: d(t) ~ a + b t once the start-up
    has passed. With increments of d independent beyond t_w the secant is the efficient
    estimate of the mean slope; the mean of a and b over trials with the standard error
    over trials is then an honest paired estimate (tested for coverage).

    Parameters
    ----------
    diff_J : ndarray, shape (..., trial, time)
        Paired differences at the checkpoints [J].
    times : ndarray, shape (time,)
        Checkpoints [slot], increasing.
    start_fraction : float
        Start of the window as a fraction of the horizon, in [0, 1).

    Returns
    -------
    transient_J, rate_J_per_slot : ndarray, shape (..., trial)
        NaN when the window holds a single checkpoint.

    >>> d = np.array([[5.0 + 2 * 10, 5.0 + 2 * 100, 5.0 + 2 * 1000]])
    >>> [x.tolist() for x in transient_and_rate(d, np.array([10, 100, 1000]))]
    [[5.0], [2.0]]
    """
    d = np.asarray(diff_J, dtype=float)
    times = np.asarray(times, dtype=float)
    w = fit_window_start(times, start_fraction)
    horizon = times[-1]
    if w >= times.size - 1:
        nan = np.full(d.shape[:-1], np.nan)
        return nan, nan.copy()
    rate = (d[..., -1] - d[..., w]) / (horizon - times[w])
    return d[..., -1] - rate * horizon, rate
