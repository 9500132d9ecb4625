"""Serving energy of one model replica under continuous batching (docs/model.md §14).

A replica of a model on ``n`` accelerators decodes its ``B`` running sequences together:
each *step* produces one token for every running sequence. One step

* streams the weights once and the KV cache of every running sequence:
  ``bytes = q N + B c k`` (``q`` bytes per parameter, ``c`` mean context [tokens], ``k``
  cache bytes per token, ``2 L n_kv d_h q``);
* computes ``flops = B (2 N + 4 L n_h d_h c)``.

Its time is a roofline with three efficiency constants of the accelerator: a fixed step
overhead ``tau`` [s], the achieved fraction ``eta_mem`` of peak bandwidth and
``eta_flop`` of peak FLOP/s,

    t = tau + t_mem / eta_mem + t_flop / eta_flop,
    t_mem = bytes / (n BW),   t_flop = flops / (n F).

Each accelerator draws ``P_idle`` during the overhead, ``phi_mem P_board`` while streaming
and ``phi_flop P_board`` while computing, so the replica's power runs from idle towards
the board limit as the batch grows, and

    P = n [P_idle + (phi_mem P_board - P_idle) f_mem + (phi_flop P_board - P_idle) f_flop]

with ``f_mem``, ``f_flop`` the step's time fractions. Energy per token is ``P t / B``.

With ``tau = 0``, ``eta = 1``, ``P_idle = 0`` and ``phi = p`` (:meth:`ServingConstants.paper_limit`)
the energy of a step at ``B = 1`` is ``p P_board (t_mem + t_flop)``, which is the per-token
law of docs/model.md §1 with the accelerator's constants (tested).
The H100's constants are fitted to measured serving energy (:func:`fit_constants`, the
data in ``model/data/mlenergy_h100.csv``); other accelerators carry the H100's
efficiencies, their own board and idle power.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from importlib import resources

import numpy as np

from energy_routing.model.catalogue import ACCELERATORS, MODELS, Accelerator, _lookup

#: The measured serving rows shipped with the package (docs/model.md §14).
MEASUREMENTS = "mlenergy_h100.csv"
#: Where they come from.
SOURCE = (
    "ML.ENERGY leaderboard v3 data (ml-energy/leaderboard, public/data/models/*.json, task "
    "lm-arena-chat): vLLM on H100 SXM, GPU energy only"
)


@dataclass(frozen=True)
class ServingArch:
    """What the serving law needs of a model's architecture (docs/model.md §14).

    Attributes
    ----------
    params : float
        Parameters N [-].
    n_layers, n_kv_heads, head_dim : int
        Layers, key-value heads and head dimension [-].
    n_heads : int
        Query heads [-]; when unknown, :meth:`from_flags` estimates the query width.
    bytes_per_param : float
        Bytes per weight and per cached value [bytes] (2 for BF16).
    """

    params: float
    n_layers: int
    n_kv_heads: int
    head_dim: int
    n_heads: int
    bytes_per_param: float = 2.0

    @property
    def kv_bytes_per_token(self) -> float:
        """KV-cache bytes per cached token, ``2 L n_kv d_h q`` [bytes/token]."""
        return 2.0 * self.n_layers * self.n_kv_heads * self.head_dim * self.bytes_per_param

    @property
    def attention_flops_per_token(self) -> float:
        """Attention FLOPs per cached token of one decoded token, ``4 L n_h d_h`` [FLOP]."""
        return 4.0 * self.n_layers * self.n_heads * self.head_dim

    @classmethod
    def from_catalogue(cls, name: str, bytes_per_param: float = 2.0) -> ServingArch:
        """The architecture of a catalogue model (``model.catalogue.MODELS``)."""
        m = _lookup(MODELS, name, "model")
        return cls(
            float(m.stated_params),
            m.n_layers,
            m.n_kv_heads,
            m.head_dim,
            m.n_heads,
            bytes_per_param,
        )

    @classmethod
    def from_paper(cls, params: float, n_layers: int, d_attn: float) -> ServingArch:
        """The architecture of a §1 model (``params``, ``n_layers``, ``d_attn``): §1 charges
        ``2 L d_attn`` attention FLOPs per cached token and no cache read, so the query
        width ``n_h d_h`` is ``d_attn / 2`` (one head of that width) and the cache holds no
        bytes (a catalogue model's cache read is already folded into its effective
        ``d_attn``, docs/model.md §13)."""
        return cls(float(params), int(n_layers), 0, d_attn / 2.0, 1, 2.0)

    @classmethod
    def from_flags(
        cls,
        params: float,
        n_layers: int,
        n_kv_heads: int,
        head_dim: int,
        n_heads: int | None = None,
        bytes_per_param: float = 2.0,
    ) -> ServingArch:
        """An architecture from its numbers; without ``n_heads`` the query width
        ``n_h d_h`` is taken as the hidden size of a dense transformer with ``N`` weights,
        ``sqrt(N / (12 L))`` (attention FLOPs are a few per cent of a step)."""
        for key, value in (
            ("params", params),
            ("layers", n_layers),
            ("kv-heads", n_kv_heads),
            ("head-dim", head_dim),
            ("bytes-per-param", bytes_per_param),
        ):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{key} must be a positive number, got {value!r}")
        if n_heads is None:
            n_heads = max(1, round(math.sqrt(params / (12.0 * n_layers)) / head_dim))
        elif n_heads <= 0:
            raise ValueError(f"heads must be a positive number, got {n_heads!r}")
        return cls(float(params), int(n_layers), int(n_kv_heads), int(head_dim), int(n_heads),
                   float(bytes_per_param))  # fmt: skip


@dataclass(frozen=True)
class ServingConstants:
    """Efficiency and power constants of one accelerator (docs/model.md §14).

    Attributes
    ----------
    step_overhead_s : float
        Fixed time of a step, tau [s] (scheduling, launches, sampling).
    eta_mem : float
        Achieved fraction of peak memory bandwidth [-].
    eta_flop : float
        Achieved fraction of peak dense BF16 FLOP/s [-].
    phi_mem : float
        Power while streaming, as a fraction of board power [-].
    phi_flop : float
        Power while computing, as a fraction of board power [-].
    idle_power_w : float
        Power of a powered accelerator with nothing to do [W].
    """

    step_overhead_s: float
    eta_mem: float
    eta_flop: float
    phi_mem: float
    phi_flop: float
    idle_power_w: float

    @classmethod
    def paper_limit(cls, power_fraction: float = 1.0) -> ServingConstants:
        """Constants under which one sequence costs the per-token law of §1:
        no overhead, peak rates, no idle power, ``power_fraction`` of board power."""
        return cls(0.0, 1.0, 1.0, power_fraction, power_fraction, 0.0)


@dataclass(frozen=True)
class Step:
    """One decoding step of a replica, arrays broadcast over batch and context."""

    time_s: np.ndarray
    power_w: np.ndarray
    energy_j: np.ndarray
    energy_per_token_j: np.ndarray
    mem_fraction: np.ndarray
    flop_fraction: np.ndarray


@dataclass(frozen=True)
class StepCoefficients:
    """A step's time and energy as affine functions of the batch (docs/model.md §14).

    For ``b`` running sequences holding ``sum_c`` cached tokens in all,

        time   = t_fixed + t_seq b + t_ctx sum_c          [s]
        energy = e_fixed + e_seq b + e_ctx sum_c          [J]

    ``t_fixed`` is the overhead plus the weight streaming, ``t_seq`` a sequence's dense
    FLOPs, ``t_ctx`` a cached token's read and attention FLOPs; likewise for energy. A
    batched engine advances a replica with these six numbers.
    """

    t_fixed: float
    t_seq: float
    t_ctx: float
    e_fixed: float
    e_seq: float
    e_ctx: float

    @classmethod
    def of(cls, arch: ServingArch, accel: Accelerator, k: ServingConstants, gpus: int):
        """The coefficients of ``arch`` on ``gpus`` accelerators ``accel``."""
        n = float(gpus)
        bw = n * accel.memory_bandwidth * k.eta_mem  # achieved [bytes/s]
        fl = n * accel.dense_bf16_flops * k.eta_flop  # achieved [FLOP/s]
        p_mem = n * k.phi_mem * accel.board_power_w  # replica streaming [W]
        p_flop = n * k.phi_flop * accel.board_power_w  # replica computing [W]
        w = arch.bytes_per_param * arch.params / bw
        seq = 2.0 * arch.params / fl
        ctx_mem, ctx_flop = arch.kv_bytes_per_token / bw, arch.attention_flops_per_token / fl
        return cls(
            t_fixed=k.step_overhead_s + w,
            t_seq=seq,
            t_ctx=ctx_mem + ctx_flop,
            e_fixed=n * k.idle_power_w * k.step_overhead_s + p_mem * w,
            e_seq=p_flop * seq,
            e_ctx=p_mem * ctx_mem + p_flop * ctx_flop,
        )

    @classmethod
    def paper(cls, params: float, n_layers: int, d_attn: float, hw) -> StepCoefficients:
        """The batch form of the per-token law of docs/model.md §1 on its own hardware.

        A step streams the weights once (``N e_mem`` J, ``N / W`` s, shared by the batch)
        and runs each sequence's ``2 N`` dense FLOPs and its attention over its cache
        (``b_m``, ``v_m`` per cached token, from
        :func:`~energy_routing.model.hardware.token_coefficients`). With one running
        sequence of context ``c`` a step costs exactly ``e_m(c) = a_m + b_m c`` and
        ``t_m(c) = u_m + v_m c`` (to rounding): no overhead, no idle power.
        """
        from energy_routing.model.hardware import token_coefficients

        c = token_coefficients(params, n_layers, d_attn, hw)
        return cls(
            t_fixed=params / hw.bandwidth,
            t_seq=2.0 * params / hw.throughput,
            t_ctx=c.v,
            e_fixed=params * hw.e_mem,
            e_seq=2.0 * params * hw.e_flop,
            e_ctx=c.b,
        )

    def as_array(self) -> np.ndarray:
        """``(t_fixed, t_seq, t_ctx, e_fixed, e_seq, e_ctx)`` as float64 [s, s, s, J, J, J]."""
        return np.array(
            [self.t_fixed, self.t_seq, self.t_ctx, self.e_fixed, self.e_seq, self.e_ctx]
        )


def step(
    arch: ServingArch,
    accel: Accelerator,
    k: ServingConstants,
    gpus: int,
    batch,
    context,
) -> Step:
    """Time, power and energy of one step of ``batch`` sequences (docs/model.md §14).

    Parameters
    ----------
    arch, accel, k :
        Model, accelerator and its constants.
    gpus : int
        Accelerators of the replica (tensor parallel) [-].
    batch : array_like
        Running sequences B >= 1 [-].
    context : array_like
        Mean context of the running sequences [tokens].

    Returns
    -------
    Step
        ``time_s`` [s], ``power_w`` [W], ``energy_j`` [J] per step,
        ``energy_per_token_j`` [J/token] and the step's time fractions.
    """
    b = np.asarray(batch, dtype=float)
    c = np.asarray(context, dtype=float)
    n = float(gpus)
    nbytes = arch.bytes_per_param * arch.params + b * c * arch.kv_bytes_per_token
    flops = b * (2.0 * arch.params + arch.attention_flops_per_token * c)
    t_mem = nbytes / (n * accel.memory_bandwidth) / k.eta_mem
    t_flop = flops / (n * accel.dense_bf16_flops) / k.eta_flop
    t = k.step_overhead_s + t_mem + t_flop
    p_mem, p_flop = k.phi_mem * accel.board_power_w, k.phi_flop * accel.board_power_w
    energy = n * (k.idle_power_w * k.step_overhead_s + p_mem * t_mem + p_flop * t_flop)
    return Step(t, energy / t, energy, energy / b, t_mem / t, t_flop / t)


def idle_power(k: ServingConstants, gpus: int) -> float:
    """Power of a powered replica with no running sequence [W]."""
    return float(gpus) * k.idle_power_w


# Fitted by :func:`fit_constants` on ``MEASUREMENTS`` (idle power held at the catalogue's
# value); tests refit and check these digits. Other accelerators transfer the
# efficiencies and power fractions (docs/model.md §14).
_H100_FIT = dict(
    step_overhead_s=1.21e-3, eta_mem=0.820, eta_flop=0.274, phi_mem=0.804, phi_flop=1.0
)


def constants(accelerator: str) -> ServingConstants:
    """The serving constants of a catalogue accelerator (docs/model.md §14)."""
    a = _lookup(ACCELERATORS, accelerator, "accelerator")
    return ServingConstants(idle_power_w=a.idle_power_w, **_H100_FIT)


def load_measurements():
    """The measured serving rows as a DataFrame, with ``context`` [tokens] added."""
    import pandas as pd

    with resources.files("energy_routing.model").joinpath("data", MEASUREMENTS).open() as f:
        df = pd.read_csv(f, comment="#")
    return df.assign(context=200.0 + df.mean_output_tokens / 2.0)


def predict(df, k: ServingConstants, accelerator: str = "H100-SXM5-80GB"):
    """Modelled step time [s], power [W] and energy per token [J] for measured rows."""
    a = _lookup(ACCELERATORS, accelerator, "accelerator")
    out = {"itl_s": [], "power_W": [], "energy_per_token_J": []}
    for r in df.itertuples():
        s = step(ServingArch.from_catalogue(r.model), a, k, r.gpus, r.batch, r.context)
        out["itl_s"].append(float(s.time_s))
        out["power_W"].append(float(s.power_w))
        out["energy_per_token_J"].append(float(s.energy_per_token_j))
    return {key: np.array(v) for key, v in out.items()}


_FREE = ("step_overhead_s", "eta_mem", "eta_flop", "phi_mem", "phi_flop")
_BOUNDS = ((0.0, 0.05), (0.05, 1.0), (0.01, 1.0), (0.05, 1.0), (0.05, 1.0))


def fit_constants(df, accelerator: str = "H100-SXM5-80GB") -> ServingConstants:
    """Least-squares fit of the five free constants to measured rows (docs/model.md §14).

    Minimises the squared log-ratios of modelled to measured inter-token latency and
    energy per token over ``df`` (rows of :func:`load_measurements`); idle power is held
    at the catalogue's value (the rows never see an idle replica). The power fractions
    are bounded by 1: no accelerator draws more than its board power.
    """
    from scipy.optimize import least_squares

    a = _lookup(ACCELERATORS, accelerator, "accelerator")
    itl, ept = df.itl_ms.to_numpy() * 1e-3, df.energy_per_token_J.to_numpy()

    def residuals(x):
        k = ServingConstants(idle_power_w=a.idle_power_w, **dict(zip(_FREE, x, strict=True)))
        p = predict(df, k, accelerator)
        return np.concatenate([np.log(p["itl_s"] / itl), np.log(p["energy_per_token_J"] / ept)])

    x0 = [1e-3, 0.7, 0.3, 0.7, 0.9]
    lo, hi = zip(*_BOUNDS, strict=True)
    fit = least_squares(residuals, x0, bounds=(lo, hi), x_scale=[1e-3, 0.1, 0.1, 0.1, 0.1])
    return ServingConstants(idle_power_w=a.idle_power_w, **dict(zip(_FREE, fit.x, strict=True)))


def validation_table(accelerator: str = "H100-SXM5-80GB"):
    """Modelled against measured energy per token for every measured row.

    ``modelled_J`` uses the shipped constants (fitted on all rows); ``held_out_J`` refits
    without the row's model (leave one model out), an honest estimate of the error on a
    model the fit has not seen. Ratios are modelled / measured.
    """
    df = load_measurements()
    k = constants(accelerator)
    df["modelled_J"] = predict(df, k, accelerator)["energy_per_token_J"]
    held = np.empty(len(df))
    for name in df.model.unique():
        rows = (df.model == name).to_numpy()
        held[rows] = predict(df[rows], fit_constants(df[~rows], accelerator), accelerator)[
            "energy_per_token_J"
        ]
    df["held_out_J"] = held
    df["ratio"] = df.modelled_J / df.energy_per_token_J
    df["held_out_ratio"] = df.held_out_J / df.energy_per_token_J
    return df


def describe(k: ServingConstants) -> dict:
    """The constants as a plain dict of floats (for JSON)."""
    return {key: float(v) for key, v in asdict(k).items()}


def with_idle(k: ServingConstants, idle_power_w: float) -> ServingConstants:
    """The same constants with another idle power [W]."""
    return replace(k, idle_power_w=float(idle_power_w))


def paper_energy_per_token(arch: ServingArch, accel: Accelerator, gpus: int, context) -> np.ndarray:
    """The batch-of-one law of docs/model.md §1 at this context [J/token]: one step of
    one sequence under :meth:`ServingConstants.paper_limit` (power fraction 1)."""
    return step(arch, accel, ServingConstants.paper_limit(), gpus, 1.0, context).energy_j


def operating_point(
    arch: ServingArch, accelerator: str, gpus: int, batch, context,
    k: ServingConstants | None = None,
) -> dict:  # fmt: skip
    """Everything a planner asks of one (batch, context) point, as plain floats.

    Keys: ``energy_per_token_J``, ``inter_token_latency_s``, ``power_W``,
    ``tokens_per_s`` (all sequences), ``energy_per_step_J``, ``paper_energy_per_token_J``
    (§1, batch of one), ``memory_bytes_needed`` (weights and the batch's cache) and
    ``fits_in_memory`` against the replica's HBM.
    """
    a = _lookup(ACCELERATORS, accelerator, "accelerator")
    if not (isinstance(gpus, int) and gpus >= 1):
        raise ValueError(f"gpus must be a whole number >= 1, got {gpus!r}")
    if not (batch >= 1 and context >= 0):
        raise ValueError(f"batch must be >= 1 and context >= 0, got {batch!r} and {context!r}")
    k = constants(accelerator) if k is None else k
    s = step(arch, a, k, gpus, batch, context)
    need = arch.bytes_per_param * arch.params + batch * context * arch.kv_bytes_per_token
    return {
        "energy_per_token_J": float(s.energy_per_token_j),
        "inter_token_latency_s": float(s.time_s),
        "power_W": float(s.power_w),
        "tokens_per_s": float(batch / s.time_s),
        "energy_per_step_J": float(s.energy_j),
        "paper_energy_per_token_J": float(paper_energy_per_token(arch, a, gpus, context)),
        "memory_bytes_needed": float(need),
        "fits_in_memory": bool(need <= gpus * a.memory_bytes),
    }
