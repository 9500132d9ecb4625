"""Directed Stochastic Skill Search with chain of thought (docs/model.md §3, paper eq. 42-44).

A task needs ``skills`` sequential skills; each attempt spends ``tokens_per_attempt``
tokens and succeeds independently with probability ``p``. With ``k`` attempts the task
succeeds when at least ``skills`` of them succeed, a binomial tail. The minimum budget is
the smallest ``k`` whose success probability reaches ``1 - tolerance``, found by an
integer bisection that is vectorised over ``p``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import bdtr


class AttemptCapError(ValueError):
    """The minimum number of attempts would exceed the configured cap."""


def success_probability(k, p, skills: int):
    """Probability that ``k`` attempts contain at least ``skills`` successes [-] (eq. 44).

    ``P(Binomial(k, p) >= s) = I_p(s, k - s + 1)``; 0 when ``k < s``. Computed as one
    minus the binomial CDF at ``s - 1``, which is accurate when the tail is close to 1.

    Parameters
    ----------
    k : array_like of int
        Number of skill attempts [-].
    p : array_like of float
        Success probability of one attempt [-].
    skills : int
        Skills the task needs, ``s`` [-].

    Examples
    --------
    >>> float(success_probability(3, 0.5, 2))  # P(Bin(3, 1/2) >= 2)
    0.5
    """
    return 1.0 - failure_probability(k, p, skills)


def failure_probability(k, p, skills: int):
    """Probability that ``k`` attempts hold fewer than ``skills`` successes [-] (eq. 44).

    ``P(Binomial(k, p) <= s - 1)``, from :func:`scipy.special.bdtr`; 1 when ``k < s``.
    """
    k = np.asarray(k)
    p = np.asarray(p, dtype=float)
    with np.errstate(invalid="ignore"):
        fail = bdtr(skills - 1, np.maximum(k, skills - 1), p)
    return np.where(k < skills, 1.0, fail)


def min_attempts(p, skills: int, tolerance: float, max_attempts: int, labels=None):
    """Smallest number of attempts ``k* >= skills`` that succeeds w.p. ``>= 1 - tolerance``.

    docs/model.md §3, paper eq. 42. The failure probability is decreasing in ``k``, so ``k*``
    is bracketed by doubling and then found by bisection on the integers, for every
    element of ``p`` at once: ``O(log k*)`` evaluations, exact for ``p`` from 1e-4 to
    ``1 - 1e-12``.

    Parameters
    ----------
    p : array_like of float
        Success probability of one attempt, in (0, 1] [-].
    skills : int
        Skills the task needs, ``s`` [-].
    tolerance : float
        Admissible failure probability, ``epsilon_tol`` in (0, 1) [-].
    max_attempts : int
        Cap on ``k*`` [-].
    labels : array_like of str, optional
        Names broadcast against ``p``, used to say which entries hit the cap.

    Returns
    -------
    numpy.ndarray of int64
        ``k*`` with the shape of ``p`` [attempts].

    Raises
    ------
    AttemptCapError
        When ``k*`` exceeds ``max_attempts`` for some entry (its labels are named).

    Examples
    --------
    >>> min_attempts([1.0, 0.5], skills=2, tolerance=0.1, max_attempts=100).tolist()
    [2, 7]
    """
    p = np.asarray(p, dtype=float)
    if np.any(~(p > 0.0) | (p > 1.0)):
        raise ValueError("skill probability p must lie in (0, 1]")
    if not 0.0 < tolerance < 1.0:
        raise ValueError(f"tolerance must lie in (0, 1), got {tolerance!r}")

    def ok(k):
        return failure_probability(k, p, skills) <= tolerance

    # Bracket: lo fails (k = s - 1 always fails), hi succeeds.
    lo = np.full(p.shape, skills - 1, dtype=np.int64)
    hi = np.full(p.shape, skills, dtype=np.int64)
    pending = ~ok(hi)
    while np.any(pending):
        capped = pending & (hi >= max_attempts)
        if np.any(capped):
            where = _describe(labels, p, capped)
            raise AttemptCapError(
                f"minimum attempts exceed the cap max_attempts={max_attempts} for {where}; "
                "raise ds3.max_attempts or make the task easier"
            )
        lo = np.where(pending, hi, lo)
        hi = np.where(pending, np.minimum(2 * hi, max_attempts), hi)
        pending = ~ok(hi)
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        good = ok(mid)
        hi = np.where(good, mid, hi)
        lo = np.where(good, lo, mid)
    return hi


def _describe(labels, p, mask) -> str:
    """Name the entries selected by ``mask`` for an error message."""
    if labels is None:
        return "p = " + ", ".join(f"{x:.3g}" for x in p[mask])
    names = np.broadcast_to(np.asarray(labels, dtype=object), p.shape)
    return ", ".join(f"{n} (p = {x:.3g})" for n, x in zip(names[mask], p[mask], strict=True))
