"""Per-token energy and time of a hosted model on the shared hardware (docs/model.md §1).

Decoding one token with ``c`` tokens already in the KV cache streams every parameter once,
runs the ``2 N`` FLOPs of the dense layers and attends over the cache:

    energy  e_m(c) = a_m + b c        time  t_m(c) = u_m + v c

Summing over the tokens of an ``n``-token answer (context starts empty, prefill ignored)
gives the quadratic totals :func:`total_energy` and :func:`total_time`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Hardware:
    """Hardware constants shared by every model (docs/model.md §1).

    Attributes
    ----------
    e_mem : float
        Energy to read one parameter from memory [J/parameter].
    e_flop : float
        Energy of one floating-point operation [J/FLOP].
    bandwidth : float
        Parameter streaming rate [parameters/s].
    throughput : float
        Compute rate [FLOP/s].
    """

    e_mem: float = 1e-11
    e_flop: float = 1e-12
    bandwidth: float = 5e12
    throughput: float = 2e13


@dataclass(frozen=True)
class TokenCoefficients:
    """Linear per-token cost coefficients of one model (docs/model.md §1).

    Attributes
    ----------
    a : float
        Energy of a token with an empty cache [J/token].
    b : float
        Extra energy per cached token [J/token^2].
    u : float
        Time of a token with an empty cache [s/token].
    v : float
        Extra time per cached token [s/token^2].
    """

    a: float
    b: float
    u: float
    v: float


def token_coefficients(
    params: float, n_layers: int, d_attn: int, hw: Hardware
) -> TokenCoefficients:
    """Per-token energy and time coefficients of a model (docs/model.md §1).

    Parameters
    ----------
    params : float
        Number of parameters N_m [-].
    n_layers : int
        Transformer layers [-].
    d_attn : int
        Attention width [-].
    hw : Hardware
        Shared hardware constants.

    Returns
    -------
    TokenCoefficients
        ``a = N (e_mem + 2 e_flop)``, ``b = 2 L d e_flop``,
        ``u = N / bandwidth + 2 N / throughput``, ``v = 2 L d / throughput``.

    Examples
    --------
    >>> c = token_coefficients(1e9, 48, 2048, Hardware())
    >>> round(c.a, 6), round(c.u, 6)
    (0.012, 0.0003)
    """
    attn_flops = 2.0 * n_layers * d_attn
    return TokenCoefficients(
        a=params * (hw.e_mem + 2.0 * hw.e_flop),
        b=attn_flops * hw.e_flop,
        u=params / hw.bandwidth + 2.0 * params / hw.throughput,
        v=attn_flops / hw.throughput,
    )


def total_energy(n, a, b):
    """Energy of generating ``n`` tokens from an empty cache, E_m(n) [J] (docs/model.md §1).

    ``E(n) = a n + b n (n - 1) / 2`` with ``a`` [J/token] and ``b`` [J/token^2];
    ``n`` [tokens] may be any non-negative array.
    """
    n = np.asarray(n, dtype=float)
    return a * n + b * n * (n - 1.0) / 2.0


def total_time(n, u, v):
    """Time of generating ``n`` tokens from an empty cache, T_m(n) [s] (docs/model.md §1).

    ``T(n) = u n + v n (n - 1) / 2`` with ``u`` [s/token] and ``v`` [s/token^2].
    """
    n = np.asarray(n, dtype=float)
    return u * n + v * n * (n - 1.0) / 2.0


def tokens_by_time(t, u, v):
    """Continuous inverse of the time function, x(t) [tokens] (docs/model.md §1, 5).

    Solves ``u x + v x^2 / 2 = t`` for ``x >= 0``; ``t`` [s]. Written in the form
    ``2 t / (u + sqrt(u^2 + 2 v t))``, which does not cancel when ``v t << u^2``.

    Examples
    --------
    >>> x = tokens_by_time(1.0, 0.01, 1e-6)
    >>> bool(abs(0.01 * x + 1e-6 * x**2 / 2 - 1.0) < 1e-12)
    True
    """
    t = np.asarray(t, dtype=float)
    return 2.0 * t / (u + np.sqrt(u * u + 2.0 * v * t))
