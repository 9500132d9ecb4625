"""Closed forms for the auxiliary-energy deficit D_T (docs/model.md §7; paper Lemma 3, Thm. 2).

The battery is approximated by a Brownian motion with drift, ``B_t ~ mu t + sigma W_t``,
with drift ``mu`` [J/slot] and volatility ``sigma`` [J/sqrt(slot)]. The deficit up to the
horizon ``T`` [slots] is ``D_T = max(0, -min_{0 <= t <= T} B_t)`` [J] (docs/model.md §6).

Everything below is written in two dimensionless numbers,

* ``x = d / (sigma sqrt(T))``, the deficit level in units of the diffusion scale, and
* ``r = mu sqrt(T) / sigma``, the drift over the horizon against the fluctuations
  (``a = -r`` in docs/model.md §7),

so that ``P(D_T >= d) = Phi(-x - r) + exp(-2 r x) Phi(r - x)`` and
``E[D_T] = max(0, -mu T) + sigma sqrt(2 T / pi) g(r)`` with ``g`` the deviation of
Fig. 2 (:func:`deviation_g`).

Numerical notes (each formula in docs/model.md §7 has a trap):

* ``exp(-2 r x) Phi(r - x)`` is rewritten as ``exp(-(x + r)^2 / 2) erfcx((x - r) / sqrt 2) / 2``
  when ``x >= r`` and kept as ``exp(-2 r x + log Phi(r - x))`` otherwise; neither form can
  overflow and the first one has no cancellation in the exponent.
* ``g(r)`` is even in ``r``; with ``b = |r|`` it is
  ``exp(-b^2/2) (1 - b sqrt(pi/2) erfcx(b/sqrt 2)) / 2 + sqrt(pi/2) erf(b/sqrt 2) / (2 b)``,
  a sum of two non-negative terms. The last term is 0/0 at ``b = 0`` and is replaced by its
  Taylor series for ``b < 0.5``. Adding ``g`` to the drift term ``max(0, -mu T)`` means the
  deficit regime never subtracts two large numbers.
* The CDF near ``d = 0`` (where the survival function is close to 1) is integrated from the
  density by Gauss-Legendre quadrature instead of being taken as ``1 - sf``.

Exact discrete-time theory (docs/model.md §11)
----------------------------------------------
The diffusion is an approximation of the slotted walk; for lumped consumption the walk has
i.i.d. increments whose law (:class:`IncrementLaw`, built by :func:`increment_law`) is
known in closed form, and :func:`exact_expected_deficit` computes E[D_T] of the walk itself
(Spitzer's identity, Fourier inversion, an Edgeworth tail), with an error bound, for any T
up to 1e15 in about a second. The diffusion is too high by an almost constant ladder-height
offset (:func:`ladder_offset`, 0.66 sigma on the default configuration);
:func:`corrected_expected_deficit` removes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.special import erf, erfcx, log_ndtr, ndtr

__all__ = [
    "ExactDeficit",
    "IncrementLaw",
    "corrected_expected_deficit",
    "crossover_time",
    "deficit_cdf",
    "deficit_quantile",
    "deficit_sf",
    "deviation_g",
    "edgeworth_negative_part",
    "exact_deficit_curve",
    "exact_expected_deficit",
    "exact_negative_parts",
    "expected_deficit",
    "expected_deficit_asymptote",
    "increment_law",
    "ladder_offset",
    "regime",
]

_SQRT2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SQRT_PI_OVER_2 = math.sqrt(math.pi / 2.0)

#: Below this ``b = |r|`` the term ``erf(b / sqrt 2) / b`` of g is taken from its series.
_SERIES_CUTOFF = 0.5
#: Number of series terms; the first omitted one is below 1e-19 at the cutoff.
_SERIES_TERMS = 12
#: The CDF is integrated from the density where ``x (1 + |r| + x)`` is at most this.
_QUADRATURE_SPAN = 1.0
_QUADRATURE_NODES = 16


# --------------------------------------------------------------------------- validation


def _validated(**named):
    """Check and broadcast the named arguments; the one place where inputs are validated.

    Every argument must be numeric and not NaN. By name: ``sigma`` and ``T`` must be finite
    and > 0, ``mu`` finite, ``q`` in [0, 1]; ``d`` and ``r`` may be any non-NaN value
    (including +-inf).

    Returns
    -------
    list of numpy.ndarray
        The arguments as float arrays, broadcast to a common shape, in the order given.
    """
    arrays = []
    for name, value in named.items():
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a real number or array of them") from exc
        if np.isnan(arr).any():
            raise ValueError(f"{name} must not be NaN")
        if name in ("sigma", "T") and not (np.isfinite(arr) & (arr > 0)).all():
            raise ValueError(f"{name} must be finite and > 0, got {value!r}")
        if name == "mu" and not np.isfinite(arr).all():
            raise ValueError(f"mu must be finite, got {value!r}")
        if name == "q" and not ((arr >= 0) & (arr <= 1)).all():
            raise ValueError(f"q must lie in [0, 1], got {value!r}")
        arrays.append(arr)
    return list(np.broadcast_arrays(*arrays))


def _scales(mu, sigma, T):
    """Diffusion scale ``s = sigma sqrt(T)`` [J] and drift ratio ``r = mu sqrt(T) / sigma`` [-]."""
    root_t = np.sqrt(T)
    return sigma * root_t, (mu / sigma) * root_t


# ----------------------------------------- scaled laws: x = d / s, r = mu sqrt(T) / sigma


def _reflected_term(x, r):
    """``exp(-2 r x) Phi(r - x)`` for ``x >= 0`` without overflow [-]."""
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        upper = 0.5 * np.exp(-0.5 * (x + r) ** 2) * erfcx((x - r) / _SQRT2)
        lower = np.exp(-2.0 * r * x + log_ndtr(r - x))
    return np.where(x >= r, upper, lower)


def _sf_scaled(x, r):
    """``P(D_T >= x s)`` for ``x >= 0`` (docs/model.md §7; paper eq. 74) [-]."""
    with np.errstate(invalid="ignore"):
        sf = ndtr(-(x + r)) + _reflected_term(x, r)
    return np.clip(sf, 0.0, 1.0)


def _pdf_scaled(x, r):
    """Density of ``D_T / s`` at ``x >= 0``, ``2 phi(x + r) + 2 r exp(-2 r x) Phi(r - x)`` [-].

    For ``x >= r`` this is ``exp(-(x + r)^2 / 2) (sqrt(2/pi) + r erfcx((x - r) / sqrt 2))``.
    """
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        upper = np.exp(-0.5 * (x + r) ** 2) * (_SQRT_2_OVER_PI + r * erfcx((x - r) / _SQRT2))
        lower = _SQRT_2_OVER_PI * np.exp(-0.5 * (x + r) ** 2) + 2.0 * r * np.exp(
            -2.0 * r * x + log_ndtr(r - x)
        )
    return np.maximum(np.where(x >= r, upper, lower), 0.0)


def _cdf_scaled(x, r):
    """``P(D_T <= x s)`` for ``x >= 0``, accurate where it is small [-].

    Three evaluations, each used where it does not cancel:

    * ``x + r < 0`` (left of the mean of a deficit regime): with ``z = -(x + r)`` and
      ``w = x - r``, ``cdf = exp(-z^2/2) (erfcx(z/sqrt 2) - erfcx(w/sqrt 2)) / 2``;
    * otherwise ``Phi(x + r) - exp(-2 r x) Phi(r - x)``;
    * close to zero (``x (1 + |r| + x) <= 1``) the integral of the density over ``[0, x]``
      by Gauss-Legendre quadrature.
    """
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        z = -(x + r)
        left = (
            0.5 * np.exp(-0.5 * z**2) * (erfcx(z / _SQRT2) - erfcx(np.maximum(x - r, z) / _SQRT2))
        )
        right = ndtr(x + r) - _reflected_term(x, r)
    cdf = np.where(z > 0, left, right)

    with np.errstate(over="ignore"):
        short = x <= _QUADRATURE_SPAN / (1.0 + np.abs(r) + x)
    if short.any():
        nodes, weights = np.polynomial.legendre.leggauss(_QUADRATURE_NODES)
        xs, rs = x[short][:, None], r[short][:, None]
        density = _pdf_scaled(0.5 * xs * (1.0 + nodes), rs)
        cdf = cdf.copy()
        cdf[short] = 0.5 * x[short] * (density @ weights)
    return np.clip(cdf, 0.0, 1.0)


def _g_even(b):
    """Deviation ``g`` of Fig. 2 at ``b = |r| >= 0`` (docs/model.md §7) [-]."""
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        # sqrt(pi/2) (phi(b) - b Q(b)) through the scaled complementary error function;
        # exp(-b^2/2) underflows to 0 long before the bracket could misbehave.
        bracket = 1.0 - _SQRT_PI_OVER_2 * b * erfcx(b / _SQRT2)
        fluctuation = np.where(b < 40.0, 0.5 * np.exp(-0.5 * b**2) * bracket, 0.0)
        # sqrt(pi/2) erf(b / sqrt 2) / (2 b), and its Taylor series for small b:
        # (1/2) sum_n (-b^2/2)^n / (n! (2n + 1)).
        closed = _SQRT_PI_OVER_2 * erf(b / _SQRT2) / (2.0 * b)
    y = -0.5 * np.minimum(b, _SERIES_CUTOFF) ** 2
    series = np.zeros_like(y)
    for n in range(_SERIES_TERMS - 1, -1, -1):
        series = series * y + 1.0 / (math.factorial(n) * (2 * n + 1))
    reflection = np.where(b < _SERIES_CUTOFF, 0.5 * series, closed)
    return fluctuation + reflection


# ------------------------------------------------------------------------ public API


def deficit_sf(d, mu, sigma, T):
    r"""Survival function of the deficit, P(D_T >= d) [-] (docs/model.md §7; paper Lemma 3, eq. 74).

    .. math::

        P(D_T \ge d) = \Phi\left(\frac{-d - \mu T}{\sigma\sqrt T}\right)
        + e^{-2\mu d/\sigma^2}\,\Phi\left(\frac{-d + \mu T}{\sigma\sqrt T}\right),
        \quad d \ge 0,

    and 1 for ``d <= 0``. The product of the exponential and ``Phi`` is evaluated with
    ``erfcx`` or in log space (``log_ndtr``), so the result is finite for every finite input.

    Parameters
    ----------
    d : numeric
        Deficit level [J]; ``+-inf`` allowed.
    mu : numeric
        Drift of the battery [J/slot].
    sigma : numeric
        Volatility of the battery, > 0 [J/sqrt(slot)].
    T : numeric
        Horizon, > 0 [slots].

    Returns
    -------
    numeric
        Probability in [0, 1] [-]; broadcast over the arguments.

    Examples
    --------
    At zero drift this is the reflection principle, ``2 Phi(-d / (sigma sqrt T))``:

    >>> print(f"{deficit_sf(1.0, 0.0, 1.0, 1.0):.6f}")
    0.317311
    >>> deficit_sf([-1.0, 0.0, 1e308], -1e6, 1.0, 1e9).tolist()
    [1.0, 1.0, 0.0]
    """
    d, mu, sigma, T = _validated(d=d, mu=mu, sigma=sigma, T=T)
    s, r = _scales(mu, sigma, T)
    with np.errstate(over="ignore"):
        x = np.maximum(d, 0.0) / s
    return np.where(d <= 0, 1.0, _sf_scaled(x, r))[()]


def deficit_cdf(d, mu, sigma, T):
    """Distribution function of the deficit, P(D_T <= d) [-] (docs/model.md §7; paper Lemma 3).

    Equal to ``1 - deficit_sf`` (the law is continuous, with no atom at 0), and 0 for
    ``d < 0``. It is not computed as ``1 - sf``: near ``d = 0`` it integrates the density
    (Gauss-Legendre), and left of the mean of a deficit regime it uses a difference of
    ``erfcx`` values, so that small probabilities keep their relative accuracy.

    Parameters
    ----------
    d : numeric
        Deficit level (reserve) [J]; ``+-inf`` allowed.
    mu : numeric
        Drift of the battery [J/slot].
    sigma : numeric
        Volatility of the battery, > 0 [J/sqrt(slot)].
    T : numeric
        Horizon, > 0 [slots].

    Returns
    -------
    numeric
        Probability in [0, 1] [-].

    Examples
    --------
    >>> print(f"{deficit_cdf(1.0, 0.0, 1.0, 1.0):.6f}")
    0.682689
    >>> print(f"{deficit_cdf(1e-12, 0.0, 1.0, 1.0):.6e}")
    7.978846e-13
    """
    d, mu, sigma, T = _validated(d=d, mu=mu, sigma=sigma, T=T)
    s, r = _scales(mu, sigma, T)
    with np.errstate(over="ignore"):
        x = np.maximum(d, 0.0) / s
    return np.where(d < 0, 0.0, _cdf_scaled(x, r))[()]


def expected_deficit(mu, sigma, T):
    r"""Expected deficit E[D_T] [J] (docs/model.md §7; paper eq. 90-91, appendix to Thm. 2).

    With :math:`\nu = -\mu` and :math:`a = \nu\sqrt T/\sigma`,

    .. math::

        E[D_T] = \nu T \Phi(a) + \sigma\sqrt T \phi(a)
        + \frac{\sigma^2}{2\nu}\left(2\Phi(a) - 1\right),

    evaluated as ``max(0, -mu T) + sigma sqrt(2 T / pi) g(mu sqrt(T) / sigma)`` with the
    even, positive deviation ``g`` of :func:`deviation_g`. This is finite, non-negative and
    continuous for every finite input, and at ``mu = 0`` it is ``sigma sqrt(2 T / pi)``.

    Parameters
    ----------
    mu : numeric
        Drift of the battery [J/slot].
    sigma : numeric
        Volatility of the battery, > 0 [J/sqrt(slot)].
    T : numeric
        Horizon, > 0 [slots].

    Returns
    -------
    numeric
        Expected auxiliary energy over the horizon [J].

    Examples
    --------
    >>> print(f"{expected_deficit(0.0, 1.0, 100.0):.6f}")  # 10 sqrt(2/pi)
    7.978846
    >>> print(f"{expected_deficit(0.5, 1.0, 1e6):.6f}")  # sigma^2 / (2 mu)
    1.000000
    >>> print(f"{expected_deficit(-0.5, 1.0, 1e6):.3f}")  # |mu| T + sigma^2 / (2 |mu|)
    500001.000
    """
    mu, sigma, T = _validated(mu=mu, sigma=sigma, T=T)
    _, r = _scales(mu, sigma, T)
    drift = np.maximum(-mu, 0.0) * T
    return (drift + _critical_scale(sigma, T) * _g_even(np.abs(r)))[()]


def _critical_scale(sigma, T):
    """The critical-regime value ``sigma sqrt(2 T / pi)`` [J] (docs/model.md §7)."""
    return sigma * np.sqrt(2.0 * T / np.pi)


def expected_deficit_asymptote(mu, sigma, T):
    """Leading behaviour of E[D_T] in each regime [J] (docs/model.md §7; paper Thm. 2, eq. 37-38).

    ``|mu| T`` for ``mu < 0`` (persistent deficit, linear growth), ``sigma^2 / (2 mu)`` for
    ``mu > 0`` (persistent surplus, bounded) and ``sigma sqrt(2 T / pi)`` for ``mu = 0``
    (critical, square-root growth).

    Parameters
    ----------
    mu : numeric
        Drift of the battery [J/slot].
    sigma : numeric
        Volatility of the battery, > 0 [J/sqrt(slot)].
    T : numeric
        Horizon, > 0 [slots].

    Returns
    -------
    numeric
        The asymptote [J].

    Examples
    --------
    >>> expected_deficit_asymptote([-0.5, 0.5], 1.0, 100.0).tolist()
    [50.0, 1.0]
    >>> bool(expected_deficit_asymptote(0.0, 1.0, 100.0) == expected_deficit(0.0, 1.0, 100.0))
    True
    """
    mu, sigma, T = _validated(mu=mu, sigma=sigma, T=T)
    with np.errstate(divide="ignore", over="ignore"):
        bounded = sigma**2 / (2.0 * mu)
    return np.select([mu < 0, mu > 0], [-mu * T, bounded], _critical_scale(sigma, T))[()]


def deviation_g(r):
    r"""Deviation from drift-only scaling, g of Fig. 2 [-] (docs/model.md §7).

    .. math::

        g = \frac{E[D_T] - \max(0, -\mu T)}{\sigma\sqrt{2T/\pi}},
        \quad r = \frac{\mu\sqrt T}{\sigma}.

    ``g`` depends on ``r`` only, is even in ``r``, equals 1 at ``r = 0`` and decays like
    ``sqrt(pi/2) / (2 |r|)`` for large ``|r|``.

    Parameters
    ----------
    r : numeric
        Dimensionless drift ``mu sqrt(T) / sigma`` [-]; ``+-inf`` allowed (g = 0).

    Returns
    -------
    numeric
        The deviation [-], in (0, 1].

    Examples
    --------
    >>> float(deviation_g(0.0))
    1.0
    >>> bool(deviation_g(2.0) == deviation_g(-2.0))
    True
    """
    (r,) = _validated(r=r)
    return np.where(np.isinf(r), 0.0, _g_even(np.abs(r)))[()]


def crossover_time(mu, sigma):
    """Crossover horizon T* = 2 sigma^2 / (pi mu^2) [slots] (docs/model.md §7).

    At ``T*`` the drift term equals the critical fluctuation term,
    ``|mu| T* = sigma sqrt(2 T* / pi)``; it is infinite at ``mu = 0``.

    Parameters
    ----------
    mu : numeric
        Drift of the battery [J/slot].
    sigma : numeric
        Volatility of the battery, > 0 [J/sqrt(slot)].

    Returns
    -------
    numeric
        The crossover time [slots].

    Examples
    --------
    >>> print(f"{crossover_time(0.1, 1.0):.4f}")
    63.6620
    >>> float(crossover_time(0.0, 1.0))
    inf
    """
    mu, sigma = _validated(mu=mu, sigma=sigma)
    with np.errstate(divide="ignore", over="ignore"):
        return (2.0 * sigma**2 / (np.pi * mu**2))[()]


def regime(mu, tol=0.0):
    """Name of the drift regime (docs/model.md §7; paper Thm. 2).

    ``"deficit"`` for ``mu < -tol``, ``"surplus"`` for ``mu > tol`` and ``"critical"``
    otherwise.

    Parameters
    ----------
    mu : numeric
        Drift of the battery [J/slot].
    tol : float, default 0.0
        Half-width of the band counted as critical, >= 0 [J/slot].

    Returns
    -------
    str or numpy.ndarray of str
        The regime name(s).

    Examples
    --------
    >>> regime(-0.2), regime(0.0), regime(0.05, tol=0.1)
    ('deficit', 'critical', 'critical')
    >>> regime([-1.0, 1.0]).tolist()
    ['deficit', 'surplus']
    """
    (mu,) = _validated(mu=mu)
    if not (math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be finite and >= 0, got {tol!r}")
    names = np.select([mu < -tol, mu > tol], ["deficit", "surplus"], "critical")
    return str(names) if names.ndim == 0 else names


def deficit_quantile(q, mu, sigma, T):
    """Reserve that suffices with probability q: the d with P(D_T <= d) = q [J] (docs/model.md §7).

    Inverts :func:`deficit_cdf` (paper Lemma 3) element-wise by a safeguarded Newton
    iteration on the scaled level ``x = d / (sigma sqrt T)``, vectorised in numpy: the root
    is bracketed, Newton steps use the closed-form density, and a step that leaves the
    bracket or shrinks too slowly is replaced by bisection (geometric once the lower end
    is positive). For ``q > 1/2`` it solves ``P(D_T >= d) = 1 - q`` instead, so upper
    quantiles stay accurate. Relative accuracy in ``d`` is better than 1e-12.

    Parameters
    ----------
    q : numeric
        Probability in [0, 1]; ``q = 0`` gives 0 and ``q = 1`` gives ``inf`` [-].
    mu : numeric
        Drift of the battery [J/slot].
    sigma : numeric
        Volatility of the battery, > 0 [J/sqrt(slot)].
    T : numeric
        Horizon, > 0 [slots].

    Returns
    -------
    numeric
        The reserve [J].

    Examples
    --------
    At zero drift the median solves ``2 Phi(-x) = 1/2``, ``x = 0.6745 sigma sqrt(T)``:

    >>> print(f"{deficit_quantile(0.5, 0.0, 1.0, 1.0):.6f}")
    0.674490
    >>> d = deficit_quantile([0.1, 0.9, 0.999], 0.05, 1.0, 1e4)
    >>> print(deficit_cdf(d, 0.05, 1.0, 1e4).round(12))
    [0.1   0.9   0.999]
    """
    q, mu, sigma, T = _validated(q=q, mu=mu, sigma=sigma, T=T)
    s, r = _scales(mu, sigma, T)
    x = np.where(q >= 1.0, np.inf, 0.0)
    inner = (q > 0.0) & (q < 1.0)
    if inner.any():
        x[inner] = _quantile_scaled(q[inner], r[inner])
    return (s * x)[()]


def _quantile_scaled(q, r, max_iter=200):
    """Solve ``P(D_T <= x s) = q`` for ``x`` (1-d arrays, ``0 < q < 1``) [-]."""
    upper = q > 0.5
    target = np.where(upper, 1.0 - q, q)

    def residual(x):
        # Increasing in x, negative at x = 0 and positive beyond the root.
        return np.where(upper, target - _sf_scaled(x, r), _cdf_scaled(x, r) - target)

    # Bracket [lo, hi]: double the excess of hi over the deficit mean max(0, -r).
    centre = np.maximum(-r, 0.0)
    lo, hi = np.zeros_like(q), centre + 1.0
    for _ in range(1100):
        short = residual(hi) < 0
        if not short.any():
            break
        hi = np.where(short, centre + 2.0 * (hi - centre), hi)

    # Start from the linearisation at 0 when it falls inside the bracket.
    with np.errstate(divide="ignore", over="ignore"):
        guess = target / _pdf_scaled(np.zeros_like(r), r)
    x = np.where(~upper & (guess > 0) & (guess < hi), guess, 0.5 * hi)
    step_old = hi - lo
    done = np.zeros(q.shape, dtype=bool)
    for _ in range(max_iter):
        f = residual(x)
        density = _pdf_scaled(x, r)
        lo = np.where(f < 0, x, lo)
        hi = np.where(f > 0, x, hi)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            newton = x - f / density
            bisect = np.where(lo > 0, np.sqrt(lo) * np.sqrt(hi), 0.5 * hi)
        good = (
            np.isfinite(newton)
            & (newton > lo)
            & (newton < hi)
            & (np.abs(newton - x) <= 0.5 * np.abs(step_old))
        )
        x_new = np.where(good, newton, bisect)
        step_old = np.where(good, newton - x, hi - lo)
        converged = (
            (f == 0) | (np.abs(x_new - x) <= 1e-15 * np.abs(x_new)) | (hi - lo <= 4e-16 * hi)
        )
        x = np.where(done | (f == 0), x, x_new)
        done |= converged
        if done.all():
            break
    return x


# ======================================================================================
# Exact discrete-time theory (docs/model.md §11)
# ======================================================================================
#
# The battery is a random walk S_k = X_1 + ... + X_k with i.i.d. per-slot increments
# X = R - C (lumped consumption). Spitzer's identity turns the expected deficit into a
# sum over single-time laws, E[D_T] = sum_{k=1}^T E[S_k^-] / k (§11.2); each E[S_k^-] is
# computed exactly from the characteristic function of X for k <= K (§11.3), and the
# terms k > K from an Edgeworth expansion summed by Euler-Maclaurin (§11.4).

#: Gauss-Legendre rule used on every panel of the exact quadratures.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)
#: Largest phase change [rad] of a Fourier integrand across one Gauss-Legendre panel.
_PANEL_PHASE = 10.0
#: Slots summed exactly before the expansion takes over (continuous harvest).
_DEFAULT_CUTOFF = 1024
#: Budget of characteristic-function evaluations for the exact sum of a lattice law.
_LATTICE_BUDGET = 20_000_000
#: Truncation tolerance of each Fourier integral, relative to sigma sqrt(k).
_DEFAULT_RTOL = 1e-9
#: Safety factor of the tail estimate (last kept term plus observed remainder).
_TAIL_SAFETY = 2.0
#: Relative round-off floor of the reported error bound.
_ROUNDOFF = 1e-13
#: Largest number of quadrature nodes evaluated at once (memory: nodes x atoms).
_NODE_CHUNK = 1 << 14
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_ZETA_HALF = -1.4603545088095868  # zeta(1/2)


def _integral_multiple(values, span):
    """True when every value is an integer multiple of ``span`` (to 1e-9 relative)."""
    ratio = np.asarray(values, dtype=float) / span
    return bool(np.all(np.abs(ratio - np.rint(ratio)) <= 1e-9 * np.maximum(1.0, np.abs(ratio))))


@dataclass(frozen=True, eq=False)
class IncrementLaw:
    r"""Law of one slot's battery increment X = R - C (docs/model.md §11.1).

    .. math::

        X = G + s - \sum_{j=1}^{N} e_j, \qquad G \sim \mathrm{Gamma}(k_R, \theta),\;
        N \sim \mathrm{Poisson}(\lambda),\; P(e_j = \epsilon_i) = p_i,

    the Gamma harvest (absent when ``gamma_shape`` is 0, where ``shift_J`` holds a
    deterministic harvest) minus the lumped compound-Poisson consumption of one slot. Build
    it with :func:`increment_law` (from a config, a workload or a config file) or
    :meth:`from_workload`.

    Parameters
    ----------
    gamma_shape : float
        Shape k_R = R_bar^2 / sigma_R^2 of the Gamma harvest [-]; 0 for none.
    gamma_scale_J : float
        Scale theta = sigma_R^2 / R_bar of the Gamma harvest [J]; ignored when the shape is 0.
    shift_J : float
        Deterministic part of the increment [J] (the harvest when it has no variance).
    arrival_rate : float
        lambda, mean number of tasks per slot [1/slot].
    energy_J : array_like
        Energy atoms epsilon_i of one task [J], non-negative.
    energy_prob : array_like
        Their probabilities p_i under the routing policy [-]; summing to 1.
    routing_error : float, optional
        epsilon the law was built for [-] (metadata; NaN for a hand-made law).
    lattice_span_J : float, optional
        Span h [J] of the lattice that carries X when there is no Gamma part; detected
        automatically when the atoms and the shift are whole numbers of joules.

    Raises
    ------
    ValueError
        Naming the offending field.

    Examples
    --------
    >>> law = IncrementLaw(1.0, 2.0, 0.0, 1.0, [1.0, 3.0], [0.5, 0.5])
    >>> law.mean_J, law.variance_J2   # 1 * 2 - 1 * 2, 1 * 2^2 + 1 * 5
    (0.0, 9.0)
    >>> IncrementLaw(0.0, 0.0, 2.0, 0.5, [2.0, 4.0], [0.5, 0.5]).lattice_span_J
    2.0
    """

    gamma_shape: float
    gamma_scale_J: float
    shift_J: float
    arrival_rate: float
    energy_J: np.ndarray
    energy_prob: np.ndarray
    routing_error: float = math.nan
    lattice_span_J: float | None = None

    def __post_init__(self) -> None:
        def put(name, value):
            object.__setattr__(self, name, value)

        for name in ("gamma_shape", "gamma_scale_J", "shift_J", "arrival_rate"):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value!r}")
            put(name, value)
        if self.gamma_shape < 0 or self.arrival_rate < 0:
            raise ValueError("gamma_shape and arrival_rate must be >= 0")
        if self.gamma_shape > 0 and not self.gamma_scale_J > 0:
            raise ValueError("gamma_scale_J must be > 0 when gamma_shape > 0")
        if self.gamma_shape == 0:
            put("gamma_scale_J", 0.0)
        put("routing_error", float(self.routing_error))

        atoms = np.asarray(self.energy_J, dtype=float).ravel()
        probs = np.asarray(self.energy_prob, dtype=float).ravel()
        if atoms.shape != probs.shape or atoms.size == 0:
            raise ValueError("energy_J and energy_prob must be non-empty and of equal length")
        if not (np.all(np.isfinite(atoms)) and np.all(atoms >= 0)):
            raise ValueError("energy_J must hold finite, non-negative energies [J]")
        if not (np.all(np.isfinite(probs)) and np.all(probs >= 0)):
            raise ValueError("energy_prob must hold finite, non-negative probabilities")
        if abs(probs.sum() - 1.0) > 1e-9:
            raise ValueError(f"energy_prob must sum to 1, got {probs.sum()!r}")
        atoms, where = np.unique(atoms, return_inverse=True)
        probs = np.bincount(where, weights=probs / probs.sum(), minlength=atoms.size)
        keep = probs > 0
        atoms, probs = atoms[keep], probs[keep]
        atoms.setflags(write=False)
        probs.setflags(write=False)
        put("energy_J", atoms)
        put("energy_prob", probs)
        if not self.variance_J2 > 0:
            raise ValueError("the increment must have a positive variance")

        span = self.lattice_span_J
        support = np.append(atoms, self.shift_J)
        if self.gamma_shape > 0:
            span = None
        elif span is not None:
            span = float(span)
            if not (math.isfinite(span) and span > 0 and _integral_multiple(support, span)):
                raise ValueError(
                    f"lattice_span_J={span!r}: the atoms and the shift must be multiples of it"
                )
        elif _integral_multiple(support, 1.0):
            span = float(math.gcd(*(int(v) for v in np.rint(np.abs(support)))))
        put("lattice_span_J", span)

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_workload(cls, workload, routing_error: float = 0.0) -> IncrementLaw:
        """The lumped per-slot increment of a Monte Carlo workload (docs/model.md §11.1).

        Reuses the engine's own formulas: the routing probabilities of
        ``montecarlo._route_probabilities`` (docs/model.md §8) and the Gamma shape and scale
        of :func:`energy_routing.montecarlo.harvest_gamma` (a deterministic harvest when
        its variance is 0), so the law is the one :func:`energy_routing.montecarlo.simulate`
        samples under the myopic policy with routing error.

        Parameters
        ----------
        workload : energy_routing.montecarlo.Workload
            Tasks, energies, arrival rate and harvest.
        routing_error : float, default 0.0
            epsilon, misrouting probability [-], in [0, 1].

        Returns
        -------
        IncrementLaw
        """
        from energy_routing import montecarlo

        routing_error = float(routing_error)
        if not 0.0 <= routing_error <= 1.0:
            raise ValueError(f"routing_error must lie in [0, 1], got {routing_error!r}")
        shape, scale = montecarlo.harvest_gamma(workload.harvest_mean_J, workload.harvest_var_J2)
        probs = montecarlo._route_probabilities(workload, routing_error) * workload.mix[:, None]
        gamma = 0 < shape < math.inf  # the engine's deterministic harvest is shape inf
        return cls(
            gamma_shape=shape if gamma else 0.0,
            gamma_scale_J=scale if gamma else 0.0,
            shift_J=0.0 if gamma else workload.harvest_mean_J,
            arrival_rate=workload.arrival_rate,
            energy_J=workload.energy_J.ravel(),
            energy_prob=probs.ravel(),
            routing_error=routing_error,
        )

    # ------------------------------------------------------------------ moments

    def energy_moment(self, n: int) -> float:
        """E[e^n], the n-th moment of one task's energy [J^n]."""
        return float(self.energy_prob @ self.energy_J**n)

    def cumulant(self, n: int) -> float:
        """n-th cumulant of X [J^n] (docs/model.md §11.1).

        ``k_R theta + s - lambda E[e]`` for n = 1, else
        ``k_R theta^n (n - 1)! + (-1)^n lambda E[e^n]``.
        """
        n = int(n)
        if n < 1:
            raise ValueError("n must be >= 1")
        gamma = self.gamma_shape * self.gamma_scale_J**n * math.factorial(n - 1)
        if n == 1:
            return gamma + self.shift_J - self.arrival_rate * self.energy_moment(1)
        return gamma + (-1) ** n * self.arrival_rate * self.energy_moment(n)

    @property
    def mean_J(self) -> float:
        """Drift mu = E[X] [J/slot]."""
        return self.cumulant(1)

    @property
    def variance_J2(self) -> float:
        """sigma^2 = Var X [J^2/slot]."""
        return self.cumulant(2)

    @property
    def sigma_J(self) -> float:
        """Volatility sigma [J/sqrt(slot)]."""
        return math.sqrt(self.variance_J2)

    def centred(self) -> IncrementLaw:
        """The same law shifted to zero drift (the critical walk of §11.5)."""
        return replace(self, shift_J=self.shift_J - self.mean_J, lattice_span_J=None)

    def standardised_cumulants(self) -> dict[int, float]:
        """Cumulants of Y = -X over sigma^n, n = 3..7 [-] (docs/model.md §11.4)."""
        sigma = self.sigma_J
        return {n: (-1) ** n * self.cumulant(n) / sigma**n for n in range(3, 8)}


def increment_law(source, routing_error: float = 0.0, provisioning: float = 1.0) -> IncrementLaw:
    """The per-slot increment law of a configuration (docs/model.md §11.1).

    The one call that builds the input of the exact theory:
    ``theory.increment_law(cfg, routing_error)``.

    Parameters
    ----------
    source : dict, str, pathlib.Path, Workload or IncrementLaw
        A config (validated or raw; it is validated), the path of a config file, a
        :class:`energy_routing.montecarlo.Workload`, or a law (returned as it is).
    routing_error : float, default 0.0
        epsilon [-] (ignored for a law).
    provisioning : float, default 1.0
        rho = R_bar / C_LB [-] when ``source`` is a config (docs/model.md §6).

    Returns
    -------
    IncrementLaw

    Examples
    --------
    >>> law = increment_law("config/config.yaml", routing_error=0.2)  # doctest: +SKIP
    """
    if isinstance(source, IncrementLaw):
        return source
    from pathlib import Path

    from energy_routing import config, grids, montecarlo

    if isinstance(source, montecarlo.Workload):
        return IncrementLaw.from_workload(source, routing_error)
    cfg = config.load(source) if isinstance(source, str | Path) else config.validate(source)
    workload = grids.workload(grids.task_grid(cfg), cfg, provisioning)
    return IncrementLaw.from_workload(workload, routing_error)


def _as_law(source, routing_error) -> IncrementLaw:
    """Resolve the first two arguments of the exact functions into a law."""
    if isinstance(source, IncrementLaw):
        if routing_error is not None and not (
            math.isclose(float(routing_error), source.routing_error, abs_tol=0.0)
        ):
            raise ValueError(
                "routing_error: an IncrementLaw already fixes it; pass None "
                f"(law built for {source.routing_error!r}, got {routing_error!r})"
            )
        return source
    return increment_law(source, 0.0 if routing_error is None else routing_error)


# ------------------------------------------------------------- characteristic function


def _cumulant_exponent(law: IncrementLaw, u):
    """Real and imaginary parts of psi(u) = log E[exp(i u X)] (docs/model.md §11.3).

    ``Re psi = -(k_R / 2) log(1 + u^2 theta^2) - 2 lambda sum_i p_i sin^2(u e_i / 2)`` and
    ``Im psi = k_R atan(u theta) + u s - lambda sum_i p_i sin(u e_i)``; written with
    ``log1p`` and ``sin^2`` so that nothing cancels near u = 0.
    """
    u = np.asarray(u, dtype=float)
    re = np.zeros_like(u)
    im = u * law.shift_J
    if law.gamma_shape > 0:
        t = u * law.gamma_scale_J
        re -= 0.5 * law.gamma_shape * np.log1p(t * t)
        im += law.gamma_shape * np.arctan(t)
    if law.arrival_rate > 0:
        lam, e, p = law.arrival_rate, law.energy_J, law.energy_prob
        flat_u, flat_re, flat_im = u.ravel(), re.ravel(), im.ravel()
        for start in range(0, flat_u.size, _NODE_CHUNK):
            part = slice(start, start + _NODE_CHUNK)
            ue = flat_u[part, None] * e
            flat_re[part] -= 2.0 * lam * (np.sin(0.5 * ue) ** 2 @ p)
            flat_im[part] -= lam * (np.sin(ue) @ p)
        re, im = flat_re.reshape(u.shape), flat_im.reshape(u.shape)
    return re, im


def _one_minus_re_power(re, im, k):
    """``1 - Re exp(k psi)`` without cancellation, from Re psi and Im psi."""
    a = k * re
    return -np.expm1(a) + 2.0 * np.exp(a) * np.sin(0.5 * k * im) ** 2


def _gl_panels(lo: float, hi: float, n: int):
    """Nodes and weights of ``n`` equal Gauss-Legendre panels on [lo, hi]."""
    edges = np.linspace(lo, hi, n + 1)
    mid, half = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
    return (mid[:, None] + half[:, None] * _GL_X).ravel(), (half[:, None] * _GL_W).ravel()


def _truncation_point(power: float, q: float, eps: float, p: float = 1.0) -> float:
    """Smallest V >= 1 with ``(1 + V^2 q^2)^(-power / 2) / V^p <= eps`` (bisection on log V)."""

    def excess(log_v):
        return -0.5 * power * math.log1p(math.exp(2 * log_v) * q * q) - p * log_v - math.log(eps)

    lo, hi = 0.0, -math.log(eps) / p
    if excess(lo) <= 0:
        return 1.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if excess(mid) <= 0 else (mid, hi)
    return math.exp(hi)


def _gamma_abs_mean(shape: float, scale: float, b: float) -> float:
    """E|G + b| for G ~ Gamma(shape, scale) [J] (closed form through Gamma CDFs)."""
    from scipy.special import gammainc

    mean = shape * scale + b
    if b >= 0:
        return mean
    below = -b * gammainc(shape, -b / scale) - shape * scale * gammainc(shape + 1.0, -b / scale)
    return mean + 2.0 * below


def _negative_parts_fourier(law: IncrementLaw, k_max: int, rtol: float) -> np.ndarray:
    r"""E[S_k^-] for k = 1..k_max, Gamma harvest (docs/model.md §11.3) [J].

    With ``s_k = sigma sqrt(k)`` and ``v = u s_k``,

    .. math::

        E|S_k| = \frac{2}{\pi} \int_0^\infty \frac{1 - \mathrm{Re}\,\varphi(u)^k}{u^2} du
               = \frac{2 s_k}{\pi}\left[\int_0^V \frac{1 - \mathrm{Re}\,\varphi^k(v/s_k)}{v^2}
                 dv + \frac{1}{V} - \int_V^\infty \frac{\mathrm{Re}\,\varphi^k(v/s_k)}{v^2} dv
                 \right],

    and ``E[S_k^-] = (E|S_k| - k mu) / 2``. The Gamma factor bounds ``|phi|^k`` by
    ``B(V) = (1 + V^2 theta^2 / s_k^2)^(-k k_R / 2)``, so the last integral is at most
    ``B(V) / V``. When that decays slowly (small ``k k_R``), the no-task part
    ``e^(-k lambda) phi_G^k`` (``phi_G`` the characteristic function of ``G + s``, whose
    ``E|.|`` is closed form) is taken out first: what remains oscillates at frequencies of at
    least ``w = min e - k max(s, 0)``, and integrating by parts bounds its tail by
    ``(2 + k k_R / 2) s_k B(V) / (w V^2)``. V is chosen to make the bound ``pi rtol`` (times
    ``s_k``), so the truncation error of E[S_k^-] is at most ``rtol s_k``. The rest is
    Gauss-Legendre on equal panels across which the phase and the log-amplitude of
    ``phi^k`` change by at most ``_PANEL_PHASE`` radians, from the bounds
    ``|psi'(u) - i mu| <= sigma^2 u + (k_R theta^3 + lambda E[e^3] / 2) u^2`` and
    ``|psi'(u)| <= (3/2) k_R theta + |s| + 2 lambda E[e]``.
    """
    a, theta, sigma, mu = law.gamma_shape, law.gamma_scale_J, law.sigma_J, law.mean_J
    lam, shift = law.arrival_rate, law.shift_J
    lam_m1 = lam * law.energy_moment(1)
    global_rate = 1.5 * a * theta + abs(shift) + 2.0 * lam_m1
    cubic = a * theta**3 + 0.5 * lam * law.energy_moment(3)
    e_min = float(law.energy_J.min())
    out = np.empty(k_max)
    for k in range(1, k_max + 1):
        s = sigma * math.sqrt(k)
        v_max = _truncation_point(a * k, theta / s, math.pi * rtol)
        gap = e_min - k * max(shift, 0.0)
        split = False
        if lam > 0 and gap > 0 and k * lam < 700:
            eps = math.pi * rtol * gap / ((2.0 + 0.5 * a * k) * s)
            v_split = _truncation_point(a * k, theta / s, eps, p=2.0)
            split = v_split < v_max
            v_max = min(v_max, v_split)
        local = abs(mu) * k / s + v_max + k * cubic * v_max**2 / s**3
        rate = global_rate * k / s if split else min(global_rate * k / s, local)
        nodes, weights = _gl_panels(0.0, v_max, max(1, math.ceil(v_max * rate / _PANEL_PHASE)))
        re, im = _cumulant_exponent(law, nodes / s)
        f = _one_minus_re_power(re, im, k)
        weight = no_task = 0.0
        if split:
            t = nodes * (theta / s)
            re_g, im_g = -0.5 * a * np.log1p(t * t), a * np.arctan(t) + nodes * (shift / s)
            weight = math.exp(-k * lam)
            f = f - weight * _one_minus_re_power(re_g, im_g, k)
            no_task = weight * _gamma_abs_mean(a * k, theta, k * shift)
        integral = (f / nodes**2) @ weights + (1.0 - weight) / v_max
        out[k - 1] = 0.5 * (no_task + 2.0 * s * integral / math.pi - k * mu)
    return out


def _lattice_order(law: IncrementLaw, k: int) -> int:
    """Trapezoid size N for S_k: |S_k| / h < N up to a Poisson tail below 1e-20."""
    lam_k = law.arrival_rate * k
    n_tasks = lam_k + 12.0 * math.sqrt(lam_k) + 50.0
    reach = k * abs(law.shift_J) + n_tasks * float(law.energy_J.max())
    return int(reach / law.lattice_span_J) + 8


def _negative_parts_lattice(law: IncrementLaw, k_max: int) -> np.ndarray:
    r"""E[S_k^-] for k = 1..k_max when X lives on the lattice hZ (docs/model.md §11.3) [J].

    For an integer-valued n, ``|n| = (1 / 2 pi) int_{-pi}^{pi} (1 - cos n w) / (1 - cos w) dw``,
    so

    .. math::

        E|S_k| = \frac{h}{\pi}\int_0^\pi \frac{1 - \mathrm{Re}\,\varphi(w/h)^k}{1 - \cos w}\,dw,

    a periodic integrand that the trapezoid rule with N intervals integrates exactly when
    ``|S_k| / h < N`` (it is then a trigonometric polynomial of degree below 2N).
    """
    h, sigma, mu = law.lattice_span_J, law.sigma_J, law.mean_J
    out = np.empty(k_max)
    for k in range(1, k_max + 1):
        n = _lattice_order(law, k)
        w = np.linspace(0.0, math.pi, n + 1)
        re, im = _cumulant_exponent(law, w / h)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = _one_minus_re_power(re, im, k) / (2.0 * np.sin(0.5 * w) ** 2)
        f[0] = k * (sigma**2 + k * mu**2) / h**2
        trapezoid = (f.sum() - 0.5 * (f[0] + f[-1])) * math.pi / n
        out[k - 1] = 0.5 * (h * trapezoid / math.pi - k * mu)
    return out


def _default_cutoff(law: IncrementLaw, t_max: int) -> int:
    """Number of exactly summed slots: 1024, or the lattice budget allows (§11.4)."""
    if law.gamma_shape > 0:
        return max(1, min(t_max, _DEFAULT_CUTOFF))
    total, k = 0, 0
    while k < t_max:
        total += _lattice_order(law, k + 1)
        if total > _LATTICE_BUDGET:
            break
        k += 1
    return max(k, 1)


def exact_negative_parts(source, routing_error=None, k_max: int = 1, *, rtol=_DEFAULT_RTOL):
    """E[S_k^-] = E[max(0, -S_k)] for k = 1..k_max, exactly (docs/model.md §11.3) [J].

    ``S_k`` is the battery after k slots of lumped consumption (B_0 = 0).

    Parameters
    ----------
    source : IncrementLaw, Workload, config dict or config path
        The increment law, or what :func:`increment_law` builds it from.
    routing_error : float, optional
        epsilon [-]; None (or the law's own value) when ``source`` is a law.
    k_max : int
        Largest number of slots [slots], >= 1.
    rtol : float, default 1e-9
        Truncation tolerance of each Fourier integral relative to ``sigma sqrt(k)`` [-].

    Returns
    -------
    numpy.ndarray, shape (k_max,)
        ``E[S_k^-]`` [J] for k = 1, ..., k_max.

    Raises
    ------
    ValueError
        For a law without Gamma harvest whose atoms do not lie on a lattice (give
        ``lattice_span_J``), or bad arguments.

    Examples
    --------
    Poisson(1) tasks of 1 J against a deterministic 1 J harvest (a lattice law):

    >>> law = IncrementLaw(0.0, 0.0, 1.0, 1.0, [1.0], [1.0])
    >>> print(f"{exact_negative_parts(law, None, 1)[0]:.10f}")  # E[(N - 1)^+] = 1 / e
    0.3678794412
    """
    law = _exact_law(source, routing_error)
    k_max = int(k_max)
    if k_max < 1:
        raise ValueError(f"k_max must be >= 1, got {k_max}")
    if law.gamma_shape > 0:
        if not 0 < rtol < 1:
            raise ValueError(f"rtol must lie in (0, 1), got {rtol!r}")
        return _negative_parts_fourier(law, k_max, float(rtol))
    return _negative_parts_lattice(law, k_max)


def _exact_law(source, routing_error) -> IncrementLaw:
    """The law, checked to be one the exact theory handles (Gamma harvest or lattice)."""
    law = _as_law(source, routing_error)
    if law.gamma_shape == 0 and law.lattice_span_J is None:
        raise ValueError(
            "the exact theory needs a Gamma harvest (sigma_R^2 > 0) or a lattice law: the "
            "atoms and the deterministic harvest must be multiples of lattice_span_J"
        )
    return law


# ------------------------------------------------------------- Edgeworth expansion


def _edgeworth_parts(law: IncrementLaw, k):
    """Gaussian part and the five correction terms of E[S_k^-] (docs/model.md §11.4) [J].

    Returns ``(gauss, [t1, ..., t5])`` with ``E[S_k^-] ~ gauss + t1 + ... + t5``, ``t_j``
    of order ``sigma k^((1 - j) / 2)``.
    """
    k = np.asarray(k, dtype=float)
    sigma = law.sigma_J
    g = law.standardised_cumulants()
    l3, l4, l5, l6, l7 = g[3], g[4], g[5], g[6], g[7]
    s = sigma * np.sqrt(k)
    c = -law.mean_J * np.sqrt(k) / sigma
    phi = np.exp(-0.5 * c * c) / _SQRT_2PI
    gauss = s * (phi + c * ndtr(c))
    he = [np.ones_like(c), c]
    for n in range(1, 13):
        he.append(c * he[n] - n * he[n - 1])
    poly = [
        -(l3 / 6.0) * he[1],
        l4 / 24.0 * he[2] + l3**2 / 72.0 * he[4],
        -(l5 / 120.0 * he[3] + l3 * l4 / 144.0 * he[5] + l3**3 / 1296.0 * he[7]),
        l6 / 720.0 * he[4]
        + (l3 * l5 / 720.0 + l4**2 / 1152.0) * he[6]
        + l3**2 * l4 / 1728.0 * he[8]
        + l3**4 / 31104.0 * he[10],
        -(
            l7 / 5040.0 * he[5]
            + (l3 * l6 / 4320.0 + l4 * l5 / 2880.0) * he[7]
            + (l3**2 * l5 / 8640.0 + l3 * l4**2 / 6912.0) * he[9]
            + l3**3 * l4 / 31104.0 * he[11]
            + l3**5 / 933120.0 * he[13]
        ),
    ]
    terms = [s * phi * p * k ** (-0.5 * (j + 1)) for j, p in enumerate(poly)]
    return gauss, terms


def edgeworth_negative_part(source, routing_error=None, k=1.0, *, order: int = 5):
    r"""Edgeworth expansion of E[S_k^-] in powers of k^(-1/2) (docs/model.md §11.4) [J].

    With ``Y = -X`` (standardised cumulants ``l_n = kappa_n(Y) / sigma^n``),
    ``s = sigma sqrt(k)`` and ``c = -mu sqrt(k) / sigma``,

    .. math::

        E[S_k^-] = s\Big[\phi(c) + c\Phi(c) + \phi(c)\sum_{j=1}^{5} k^{-j/2} P_j(c)\Big]
                   + O(\sigma k^{-5/2}),

    where the Edgeworth density term ``He_n(z) phi(z)`` integrates against ``(z + c)^+`` to
    ``(-1)^n He_{n-2}(c) phi(c)``, so that

    * ``P_1 = -l_3 He_1 / 6``,
    * ``P_2 = l_4 He_2 / 24 + l_3^2 He_4 / 72``,
    * ``P_3 = -(l_5 He_3 / 120 + l_3 l_4 He_5 / 144 + l_3^3 He_7 / 1296)``,
    * ``P_4 = l_6 He_4 / 720 + (l_3 l_5 / 720 + l_4^2 / 1152) He_6 + l_3^2 l_4 He_8 / 1728
      + l_3^4 He_10 / 31104``,
    * ``P_5 = -(l_7 He_5 / 5040 + (l_3 l_6 / 4320 + l_4 l_5 / 2880) He_7
      + (l_3^2 l_5 / 8640 + l_3 l_4^2 / 6912) He_9 + l_3^3 l_4 He_11 / 31104
      + l_3^5 He_13 / 933120)``.

    Valid for a non-lattice law with a density (the Gamma harvest); each ``phi P_j`` is
    bounded in c, so the expansion is uniform in the drift.

    Parameters
    ----------
    source, routing_error
        As in :func:`exact_negative_parts`.
    k : numeric
        Number of slots [slots], > 0 (real values allowed).
    order : int, default 5
        Number of correction terms kept, 0..5.

    Returns
    -------
    numeric
        The expansion [J], shaped like ``k``.
    """
    law = _as_law(source, routing_error)
    if order not in range(6):
        raise ValueError(f"order must be 0..5, got {order!r}")
    k = np.asarray(k, dtype=float)
    if not (np.all(np.isfinite(k)) and np.all(k > 0)):
        raise ValueError("k must be finite and > 0")
    gauss, terms = _edgeworth_parts(law, k)
    return (gauss + sum(terms[:order], np.zeros_like(gauss)))[()]


def _expansion_over_k(law: IncrementLaw, x):
    """The summand ``E[S_x^-] / x`` of the tail, by the expansion [J/slot]."""
    gauss, terms = _edgeworth_parts(law, x)
    return (gauss + sum(terms)) / x


def _tail_sum(law: IncrementLaw, cutoff: int, T: np.ndarray):
    r"""``sum_{k = K + 1}^{T} E[S_k^-] / k`` by the expansion, for T > K (§11.4) [J].

    Midpoint Euler-Maclaurin, ``sum_{k=K+1}^T f(k) = int_{K+1/2}^{T+1/2} f dx
    - [f'(T + 1/2) - f'(K + 1/2)] / 24 + O(f''')``. The Gaussian part of the integral is the
    diffusion closed form (continuous Spitzer identity,
    ``int_0^T E[(mu t + sigma W_t)^-] / t dt = E[D_T]`` of :func:`expected_deficit`); the
    corrections are integrated by Gauss-Legendre in log x.

    Returns
    -------
    total : numpy.ndarray
        The sum [J].
    last_term : numpy.ndarray
        ``int |t_5(x)| / x dx`` over the same range, the size of the last kept term [J].
    """
    mu, sigma = law.mean_J, law.sigma_J
    lo, hi = cutoff + 0.5, T + 0.5
    gaussian = expected_deficit(mu, sigma, hi) - expected_deficit(mu, sigma, lo)
    span = np.log(hi) - math.log(lo)
    n_panels = max(1, math.ceil(float(span.max()) / 0.5))
    unit_nodes, unit_weights = _gl_panels(0.0, 1.0, n_panels)
    x = np.exp(math.log(lo) + span[:, None] * unit_nodes)
    _, terms = _edgeworth_parts(law, x)
    # int (.) / x dx = int (.) d log x
    corrections = (sum(terms) @ unit_weights) * span
    last_term = (np.abs(terms[-1]) @ unit_weights) * span

    def slope(z):
        eta = 1e-4
        up, down = _expansion_over_k(law, z * (1 + eta)), _expansion_over_k(law, z * (1 - eta))
        return (up - down) / (2 * eta * z)

    total = gaussian + corrections - (slope(hi) - slope(np.asarray(lo))) / 24.0
    return total, last_term


@dataclass(frozen=True)
class ExactDeficit:
    """Result of :func:`exact_deficit_curve` (docs/model.md §11).

    Attributes
    ----------
    T : numpy.ndarray
        Horizons [slots], as given.
    expected_J : numpy.ndarray
        Exact E[D_T] [J], shaped like ``T``.
    error_bound_J : numpy.ndarray
        Error bound [J]: the Fourier truncation bound (rigorous) plus, for T > ``cutoff``,
        the tail estimate of docs/model.md §11.4 (twice the sum of the last kept term of
        the expansion and of the largest remainder observed on [K/2, K], continued as
        k^-5/2).
    cutoff : int
        K, the number of exactly summed slots.
    window_remainder_J : float
        Largest ``|E[S_k^-] - expansion| (k / K)^(5/2)`` over k in [K/2, K] [J]; NaN when no
        expansion was needed.
    mean_J, sigma_J : float
        Drift [J/slot] and volatility [J/sqrt(slot)] of the walk.
    method : str
        ``"fourier"`` (Gamma harvest) or ``"lattice"``.
    """

    T: np.ndarray
    expected_J: np.ndarray
    error_bound_J: np.ndarray
    cutoff: int
    window_remainder_J: float
    mean_J: float
    sigma_J: float
    method: str


def _horizons(T) -> np.ndarray:
    """Validate horizons: whole numbers of slots >= 0."""
    T = np.asarray(T, dtype=float)
    if not (np.all(np.isfinite(T)) and np.all(T >= 0) and np.all(T == np.floor(T))):
        raise ValueError("T must hold whole numbers of slots >= 0")
    if T.size and T.max() > 1e15:
        raise ValueError("T must be at most 1e15 slots")
    return T


def exact_deficit_curve(
    source, routing_error=None, T=1, *, cutoff: int | None = None, rtol: float = _DEFAULT_RTOL
) -> ExactDeficit:
    r"""Exact E[D_T] of the discrete walk with its error bound (docs/model.md §11.2-11.4).

    Spitzer's identity for the walk ``S_k`` started at 0,

    .. math::

        E[D_T] = E\big[\max_{0 \le k \le T} (-S_k)\big] = \sum_{k=1}^{T} \frac{E[S_k^-]}{k},

    with ``E[S_k^-]`` exact for ``k <= K`` (:func:`exact_negative_parts`) and the Edgeworth
    expansion (:func:`edgeworth_negative_part`) summed by Euler-Maclaurin beyond. Cost:
    about a second for K = 1024 whatever the largest T (1e9 included).

    Parameters
    ----------
    source : IncrementLaw, Workload, config dict or config path
        See :func:`increment_law`.
    routing_error : float, optional
        epsilon [-]; None (or the law's own value) when ``source`` is a law.
    T : array_like of int
        Horizons [slots], whole numbers >= 0; any shape.
    cutoff : int, optional
        K [slots]; default 1024 (Gamma harvest) or as many slots as the lattice budget
        allows, and never more than max(T).
    rtol : float, default 1e-9
        Truncation tolerance of each Fourier integral, relative to ``sigma sqrt(k)``.

    Returns
    -------
    ExactDeficit
    """
    law = _exact_law(source, routing_error)
    T = _horizons(T)
    t_max = int(T.max()) if T.size else 0
    if cutoff is None:
        cutoff = _default_cutoff(law, max(t_max, 1))
    cutoff = int(cutoff)
    if cutoff < 1:
        raise ValueError(f"cutoff must be >= 1, got {cutoff}")
    cutoff = min(cutoff, max(t_max, 1))
    parts = exact_negative_parts(law, None, cutoff, rtol=rtol)
    k = np.arange(1, cutoff + 1)
    partial = np.concatenate(([0.0], np.cumsum(parts / k)))
    sigma = law.sigma_J
    lattice = law.gamma_shape == 0
    quad = np.concatenate(([0.0], np.cumsum((0.0 if lattice else rtol) * sigma / np.sqrt(k))))

    flat = T.ravel()
    head = np.minimum(flat, cutoff).astype(np.int64)
    expected = partial[head].copy()
    bound = quad[head].copy()
    far = flat > cutoff
    remainder = math.nan
    if far.any():
        if cutoff < 16:
            raise ValueError("cutoff must be >= 16 when T exceeds it")
        window = np.arange(cutoff // 2, cutoff + 1)
        diff = parts[window - 1] - edgeworth_negative_part(law, None, window.astype(float))
        remainder = float(np.max(np.abs(diff) * (window / cutoff) ** 2.5))
        tf = flat[far]
        total, last_term = _tail_sum(law, cutoff, tf)
        expected[far] += total
        # sum_{k>K} (K / k)^(5/2) / k <= 2/5 (1 - (K / T)^(5/2))
        tail = _TAIL_SAFETY * (last_term + 0.4 * remainder * (1.0 - (cutoff / tf) ** 2.5))
        if lattice:  # the lattice term of the Euler-Maclaurin (Poisson summation) correction
            h = law.lattice_span_J
            tail += h * h * (cutoff**-0.5 - tf**-0.5) / (6.0 * _SQRT_2PI * sigma)
        bound[far] += tail
    bound += _ROUNDOFF * np.abs(expected)
    return ExactDeficit(
        T=T,
        expected_J=expected.reshape(T.shape),
        error_bound_J=bound.reshape(T.shape),
        cutoff=cutoff,
        window_remainder_J=remainder,
        mean_J=law.mean_J,
        sigma_J=sigma,
        method="lattice" if lattice else "fourier",
    )


def exact_expected_deficit(
    source, routing_error=None, T=1, *, cutoff: int | None = None, rtol: float = _DEFAULT_RTOL
):
    """Exact E[D_T] of the slotted battery with lumped consumption (docs/model.md §11) [J].

    ``sum_{k=1}^T E[S_k^-] / k`` (Spitzer); see :func:`exact_deficit_curve`, which also
    returns the error bound.

    Parameters
    ----------
    source : IncrementLaw, Workload, config dict or config path
        The increment law, or what :func:`increment_law` builds it from.
    routing_error : float, optional
        epsilon [-] when ``source`` is a workload or a config; None for a law.
    T : array_like of int
        Horizons [slots], whole numbers >= 0.
    cutoff, rtol
        See :func:`exact_deficit_curve`.

    Returns
    -------
    numeric
        E[D_T] [J], shaped like ``T``.

    Examples
    --------
    Poisson(1) tasks of 1 J against a 1 J harvest: E[D_1] = E[(N - 1)^+] = 1/e.

    >>> law = IncrementLaw(0.0, 0.0, 1.0, 1.0, [1.0], [1.0])
    >>> print(f"{exact_expected_deficit(law, None, 1):.10f}")
    0.3678794412
    """
    curve = exact_deficit_curve(source, routing_error, T, cutoff=cutoff, rtol=rtol)
    return curve.expected_J[()]


# ------------------------------------------------------------- ladder-height offset


def ladder_offset(source, routing_error=None, *, cutoff: int | None = None, rtol=_DEFAULT_RTOL):
    r"""Offset between diffusion and random walk at zero drift, delta [J] (docs/model.md §11.5).

    For the centred walk (the law shifted to mu = 0),
    ``E[D_T] = sigma sqrt(2T / pi) - delta + O(T^-1/2)`` with

    .. math::

        \delta = -\frac{\zeta(1/2)}{\sqrt{2\pi}}\sigma
                 - \sum_{k \ge 1} \frac{E[S_k^-] - \sigma\sqrt{k / 2\pi}}{k},

    from ``sum_{k<=T} k^-1/2 = 2 sqrt(T) + zeta(1/2) + O(T^-1/2)``. For Gaussian steps the
    sum vanishes and ``delta = 0.5826 sigma`` (Siegmund's ``E[H^2] / 2 E[H]``); skewed
    steps change it. The sum is exact to K and uses the expansion beyond
    (``sum_{k>K} k^-p = zeta(p, K + 1)``).

    Parameters
    ----------
    source, routing_error
        As in :func:`exact_expected_deficit`; the drift of the law is ignored.
    cutoff : int, optional
        K [slots], default 1024.
    rtol : float
        See :func:`exact_deficit_curve`.

    Returns
    -------
    float
        delta [J].
    """
    from scipy.special import zeta

    law = _as_law(source, routing_error).centred()
    if law.gamma_shape == 0:
        law = replace(law, lattice_span_J=None)
    cutoff = int(cutoff or _DEFAULT_CUTOFF)
    parts = exact_negative_parts(law, None, cutoff, rtol=rtol)
    sigma = law.sigma_J
    k = np.arange(1, cutoff + 1, dtype=float)
    head = float(np.sum((parts - sigma * np.sqrt(k) / _SQRT_2PI) / k))
    g = law.standardised_cumulants()
    l3, l4, l5, l6 = g[3], g[4], g[5], g[6]
    p2 = (l3**2 - l4) / 24.0
    p4 = (
        3.0 * l6 / 720.0
        - 15.0 * (l3 * l5 / 720.0 + l4**2 / 1152.0)
        + 105.0 * l3**2 * l4 / 1728.0
        - 945.0 * l3**4 / 31104.0
    )
    tail = sigma / _SQRT_2PI * (p2 * zeta(1.5, cutoff + 1) + p4 * zeta(2.5, cutoff + 1))
    return float(-_ZETA_HALF * sigma / _SQRT_2PI - head - tail)


def corrected_expected_deficit(mu, sigma, T, offset):
    r"""Corrected diffusion E[D_T] [J] (docs/model.md §11.5).

    The diffusion law of :func:`deficit_sf` with the deficit lowered by the ladder offset
    delta (Siegmund's corrected diffusion, the boundary moved by delta):

    .. math::

        E[(D_T - \delta)^+] = E[D_T] - \delta + \int_0^{\delta} P(D_T \le d)\,dd,

    which is ``E[D_T] - delta`` for ``T >> (delta / sigma)^2`` and stays positive for
    small T. The integral is Gauss-Legendre over panels of the scaled level.

    Parameters
    ----------
    mu : numeric
        Drift [J/slot].
    sigma : numeric
        Volatility, > 0 [J/sqrt(slot)].
    T : numeric
        Horizon, > 0 [slots].
    offset : numeric
        delta [J], e.g. :func:`ladder_offset`; finite.

    Returns
    -------
    numeric
        The corrected expected deficit [J].

    Examples
    --------
    >>> print(f"{corrected_expected_deficit(0.0, 1.0, 1e6, 0.5826):.4f}")  # ~ 797.8846 - 0.5826
    797.3021
    """
    mu, sigma, T, offset = _validated(mu=mu, sigma=sigma, T=T, offset=offset)
    if not np.all(np.isfinite(offset)):
        raise ValueError("offset must be finite")
    s, r = _scales(mu, sigma, T)
    plain = expected_deficit(mu, sigma, T)
    x_top = np.maximum(offset, 0.0) / s
    n_panels = int(min(4096, max(4, math.ceil(float(np.max(x_top, initial=0.0))))))
    unit_nodes, unit_weights = _gl_panels(0.0, 1.0, n_panels)
    flat_x, flat_r = x_top.ravel(), r.ravel()
    levels = flat_x[:, None] * unit_nodes
    cdf = _cdf_scaled(levels, np.broadcast_to(flat_r[:, None], levels.shape).copy())
    below = (cdf @ unit_weights) * flat_x * s.ravel()
    return (plain - offset + below.reshape(s.shape))[()]
