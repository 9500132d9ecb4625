"""The expected deficit of the slotted walk itself, exactly (docs/model.md §11.2-11.5).

The diffusion (:mod:`energy_routing.theory.diffusion`) approximates the slotted battery;
with lumped consumption the walk has i.i.d. increments of a known law
(:class:`energy_routing.theory.increment.IncrementLaw`), and Spitzer's identity gives
E[D_T] = sum_{k<=T} E[S_k^-] / k [J]. :func:`exact_negative_parts` computes E[S_k^-] [J]
exactly up to a cutoff (Fourier inversion for a Gamma harvest, a trapezoid sum when X lives
on a lattice), :func:`edgeworth_negative_part` expands it beyond, and
:func:`exact_deficit_curve` / :func:`exact_expected_deficit` add both with an error bound,
for T up to about 1e15 in about a second. :func:`ladder_offset` is the almost constant amount
[J] (about 0.66 sigma on the default configuration) by which the diffusion overestimates
the walk at zero drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.special import ndtr

from energy_routing.theory.diffusion import _SQRT_2PI, _gl_panels, expected_deficit
from energy_routing.theory.increment import (
    IncrementLaw,
    _as_law,
    _cumulant_exponent,
    _exact_law,
)

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
_ZETA_HALF = -1.4603545088095868  # zeta(1/2)


def _one_minus_re_power(re, im, k):
    """``1 - Re exp(k psi)`` without cancellation, from Re psi and Im psi."""
    a = k * re
    return -np.expm1(a) + 2.0 * np.exp(a) * np.sin(0.5 * k * im) ** 2


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
