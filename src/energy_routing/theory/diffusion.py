"""Closed forms of the deficit D_T in the diffusion approximation (docs/model.md §7, §11.5;
paper Lemma 3, Thm. 2).

The battery is taken as B_t ~ mu t + sigma W_t (drift mu [J/slot], volatility sigma
[J/sqrt(slot)]) and D_T = max(0, -min_{t<=T} B_t) [J] up to the horizon T [slots]. In
``x = d / (sigma sqrt(T))`` and ``r = mu sqrt(T) / sigma`` (a = -r in docs/model.md §7),
``P(D_T >= d) = Phi(-x - r) + exp(-2 r x) Phi(r - x)`` and
``E[D_T] = max(0, -mu T) + sigma sqrt(2 T / pi) g(r)``, g the deviation of Fig. 2
(:func:`deviation_g`). The reflected term goes through ``erfcx`` or ``log Phi`` and cannot
overflow, g is a sum of non-negative terms (a Taylor series near r = 0), and the CDF near
d = 0 is integrated from the density (Gauss-Legendre) rather than taken as 1 - sf. Also
here: quantiles, T*, the regime, and :func:`corrected_expected_deficit`, the diffusion less
the ladder offset of :func:`energy_routing.theory.exact.ladder_offset`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf, erfcx, log_ndtr, ndtr

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
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _gl_panels(lo: float, hi: float, n: int):
    """Nodes and weights of ``n`` equal Gauss-Legendre panels on [lo, hi]."""
    edges = np.linspace(lo, hi, n + 1)
    mid, half = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
    return (mid[:, None] + half[:, None] * _GL_X).ravel(), (half[:, None] * _GL_W).ravel()


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
