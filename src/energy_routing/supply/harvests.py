"""Harvest models: chunk generators of the per-slot harvest R_t [J] (docs/model.md §6, §13).

Each model is used as ``state = model.init_state(rng)`` once per trial and
``harvest, state = model.draw(rng, n_slots, state)`` once per chunk, ``rng`` being the
trial's harvest stream (:data:`energy_routing.engine.streams.STREAM_HARVEST`).
:class:`IIDGammaHarvest` is the model of §6, draw for draw what the engine draws itself;
:class:`GammaAR1Harvest` is the stationary GAR(1) process with the same Gamma marginal,
autocorrelation phi^h and long-run variance sigma_R^2 (1 + phi) / (1 - phi) (phi = 0 gives
the i.i.d. draws exactly); :class:`SolarHarvest` replays an hourly power trace scaled to the
mean from a random start day, optionally resampling each day's weather within its month.
All are chunk-invariant: R_1, R_2, ... do not depend on how the stream is cut (tested).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from energy_routing.theory.moments import harvest_gamma, long_run_variance
from energy_routing.units import HOURS_PER_DAY, SECONDS_PER_DAY, SECONDS_PER_HOUR

# --------------------------------------------------------------------------------------
# i.i.d. Gamma (today's model)
# --------------------------------------------------------------------------------------


def _check_moments(mean_J: float, var_J2: float) -> None:
    if not (math.isfinite(mean_J) and mean_J > 0):
        raise ValueError(f"harvest mean must be a positive finite number [J/slot], got {mean_J}")
    if not (math.isfinite(var_J2) and var_J2 >= 0):
        raise ValueError(f"harvest variance must be finite and >= 0 [J^2/slot], got {var_J2}")


#: Every harvest model the config can name (``supply.model``), by name (filled by
#: :func:`register`). :class:`energy_routing.supply.supply.Supply` reads each model's
#: self-description from its class: ``name``, ``label``, :meth:`check`, :meth:`describe`
#: and :meth:`from_supply`, and every generator has ``init_state``, ``draw`` and
#: ``long_run_var_J2``.
HARVESTS: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: make a harvest model known under its ``name``."""
    if cls.name in HARVESTS:
        raise ValueError(f"harvest {cls.name!r}: already registered")
    HARVESTS[cls.name] = cls
    return cls


@register
@dataclass(frozen=True)
class IIDGammaHarvest:
    """I.i.d. Gamma harvest per slot (docs/model.md §6, §13).

    Parameters
    ----------
    mean_J : float
        Mean harvest R_bar [J/slot].
    var_J2 : float
        Variance sigma_R^2 [J^2/slot]; 0 gives the constant ``mean_J``.

    Notes
    -----
    :meth:`draw` makes exactly the calls of :func:`energy_routing.engine.draws.draw_chunk` on
    the harvest stream, so the engine can switch to it without changing a single number.
    """

    mean_J: float
    var_J2: float
    #: ``supply.model`` value, and the model in words.
    name: ClassVar[str] = "iid"
    label: ClassVar[str] = "i.i.d. Gamma harvest"
    #: Fields of the config's ``supply`` section the model reads.
    parameters: ClassVar[tuple[str, ...]] = ()
    #: Whether the model replays an hourly trace (the PV array of ``supply.solar``).
    needs_trace: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_moments(self.mean_J, self.var_J2)

    @classmethod
    def check(cls, supply) -> None:
        """Refuse the fields of a :class:`~energy_routing.supply.supply.Supply` that do
        not apply to this model, naming the field."""
        if supply.phi != 0:
            raise ValueError(f"phi: applies to the ar1 harvest only, not {cls.name!r}")
        if supply.hourly_W is not None:
            raise ValueError(f"hourly_W: applies to the solar harvest only, not {cls.name!r}")

    @classmethod
    def describe(cls, supply) -> str:
        """The harvest of ``supply`` in words."""
        return cls.label

    @classmethod
    def from_supply(cls, supply, mean_J: float, var_J2: float, dt_s: float = 1.0):
        """The generator of ``supply``'s harvest at mean ``mean_J`` [J/slot] and variance
        ``var_J2`` [J^2/slot], in slots of ``dt_s`` [s]."""
        return cls(mean_J, var_J2)

    @property
    def shape_scale(self) -> tuple[float, float]:
        """Gamma shape k [-] and scale theta [J]; ``(inf, 0)`` for a constant harvest."""
        return harvest_gamma(self.mean_J, self.var_J2)

    @property
    def long_run_var_J2(self) -> float:
        """Long-run variance [J^2/slot]: equal to ``var_J2`` for independent slots."""
        return float(self.var_J2)

    def init_state(self, rng: np.random.Generator) -> None:
        """No state (and no draw) is needed."""
        return None

    def draw(self, rng: np.random.Generator, n_slots: int, state=None, out=None):
        """One chunk of ``n_slots`` harvests [J]; returns ``(harvest, state)``."""
        harvest = np.empty(n_slots) if out is None else out[:n_slots]
        shape, scale = self.shape_scale
        if math.isfinite(shape):
            rng.standard_gamma(shape, out=harvest)
            np.multiply(harvest, scale, out=harvest)
        else:
            harvest.fill(self.mean_J)
        return harvest, state


# --------------------------------------------------------------------------------------
# Gamma AR(1)
# --------------------------------------------------------------------------------------


@dataclass
class _AR1State:
    x_prev: float  # R_{t-1} [J]
    pending: np.ndarray = field(default_factory=lambda: np.zeros(0))  # innovations [J]


#: Upper bound on the mean number of compound-Poisson terms per slot of the GAR(1)
#: innovation, k ln(1/phi); beyond it the construction is too costly (tiny variances).
GAR1_MAX_TERMS_PER_SLOT = 1.0e4


@register
@dataclass(frozen=True)
class GammaAR1Harvest:
    """Stationary AR(1) harvest with a Gamma(k, theta) marginal (GAR(1); docs/model.md §13).

    ``R_t = phi R_{t-1} + eps_t`` with ``R_0 ~ Gamma(k, theta)`` and i.i.d. innovations
    (Gaver & Lewis 1980, *Adv. Appl. Prob.* 12, 727-745; innovation of Lawrance 1982,
    *Scand. J. Statist.* 9, 234-236)

    ``eps_t = theta * sum_{j=1}^{N_t} phi^{U_j} E_j``,
    ``N_t ~ Poisson(k ln(1/phi))``, ``U_j ~ U(0, 1)``, ``E_j ~ Exp(1)``.

    Every R_t is exactly Gamma(k, theta) (mean ``mean_J``, variance ``var_J2``), never
    negative, and ``corr(R_t, R_{t+h}) = phi**h`` exactly, so the long-run variance is
    ``var_J2 (1 + phi) / (1 - phi)`` (:func:`long_run_variance`).

    Parameters
    ----------
    mean_J : float
        Mean harvest R_bar [J/slot].
    var_J2 : float
        Marginal variance sigma_R^2 [J^2/slot]; 0 gives the constant ``mean_J``.
    phi : float
        Lag-1 correlation, in [0, 1). ``phi = 0`` is :class:`IIDGammaHarvest`, draw for
        draw.
    block : int
        Innovations are drawn in blocks of this many slots and buffered in the state, so
        the sequence does not depend on the chunk size (it does depend on ``block``).
    """

    mean_J: float
    var_J2: float
    phi: float
    block: int = 4096
    name: ClassVar[str] = "ar1"
    label: ClassVar[str] = "Gamma AR(1) harvest"
    parameters: ClassVar[tuple[str, ...]] = ("phi",)
    needs_trace: ClassVar[bool] = False

    @classmethod
    def check(cls, supply) -> None:
        if supply.hourly_W is not None:
            raise ValueError(f"hourly_W: applies to the solar harvest only, not {cls.name!r}")

    @classmethod
    def describe(cls, supply) -> str:
        return f"{cls.label} with lag-1 correlation {supply.phi:g}"

    @classmethod
    def from_supply(cls, supply, mean_J: float, var_J2: float, dt_s: float = 1.0):
        return cls(mean_J, var_J2, float(supply.phi))

    def __post_init__(self) -> None:
        _check_moments(self.mean_J, self.var_J2)
        if not (0.0 <= self.phi < 1.0):
            raise ValueError(f"lag-1 correlation phi must be in [0, 1), got {self.phi}")
        if self.block < 1:
            raise ValueError(f"block must be >= 1 slot, got {self.block}")
        shape, _ = self.shape_scale
        if self.phi > 0 and math.isfinite(shape):
            terms = shape * math.log(1.0 / self.phi)
            if terms > GAR1_MAX_TERMS_PER_SLOT:
                raise ValueError(
                    f"GAR(1) harvest with Gamma shape {shape:.4g} and phi {self.phi} needs "
                    f"{terms:.3g} innovation terms per slot (limit "
                    f"{GAR1_MAX_TERMS_PER_SLOT:g}); raise the variance or phi"
                )

    @property
    def shape_scale(self) -> tuple[float, float]:
        """Gamma shape k [-] and scale theta [J] of the marginal."""
        return harvest_gamma(self.mean_J, self.var_J2)

    @property
    def long_run_var_J2(self) -> float:
        """Long-run variance sigma_R,LR^2 [J^2/slot], see :func:`long_run_variance`."""
        return long_run_variance(self.var_J2, self.phi)

    def _iid(self) -> IIDGammaHarvest:
        return IIDGammaHarvest(self.mean_J, self.var_J2)

    def init_state(self, rng: np.random.Generator):
        """Draw R_0 from the stationary marginal (nothing is drawn when phi = 0)."""
        shape, scale = self.shape_scale
        if self.phi == 0 or not math.isfinite(shape):
            return None
        return _AR1State(x_prev=float(rng.standard_gamma(shape)) * scale)

    def _innovations(self, rng: np.random.Generator) -> np.ndarray:
        shape, scale = self.shape_scale
        n = rng.poisson(shape * math.log(1.0 / self.phi), size=self.block)
        total = int(n.sum())
        u = rng.random(total)
        e = rng.standard_exponential(total)
        owner = np.repeat(np.arange(self.block), n)
        return scale * np.bincount(owner, weights=self.phi**u * e, minlength=self.block)

    def draw(self, rng: np.random.Generator, n_slots: int, state, out=None):
        """One chunk of ``n_slots`` harvests [J]; returns ``(harvest, state)``."""
        shape, _ = self.shape_scale
        if self.phi == 0 or not math.isfinite(shape):
            return self._iid().draw(rng, n_slots, state, out)
        parts, have = [state.pending], state.pending.size
        while have < n_slots:
            parts.append(self._innovations(rng))
            have += self.block
        from scipy.signal import lfilter

        eps = np.concatenate(parts)
        x, _ = lfilter([1.0], [1.0, -self.phi], eps[:n_slots], zi=[self.phi * state.x_prev])
        if out is not None:
            out[:n_slots] = x
            x = out[:n_slots]
        new = _AR1State(x_prev=float(x[-1]) if n_slots else state.x_prev, pending=eps[n_slots:])
        return x, new


@dataclass
class _SolarState:
    slot: int  # slots already produced
    start_day: int  # calendar day (0-based) of the first slot
    sources: dict = field(default_factory=dict)  # simulated day -> weather day


#: Days in each month of a non-leap year.
MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def same_month_day(calendar_day, u):
    """The weather day that a simulated calendar day takes when days are resampled within
    their month (docs/model.md §13): day ``first + floor(u * n)`` of the ``n`` days of its
    month, ``u`` uniform in [0, 1); vectorised over both arguments (0-based days of a
    non-leap year).

    >>> int(same_month_day(40, 0.0)), int(same_month_day(40, 0.999))
    (31, 58)
    """
    cal = np.asarray(calendar_day, dtype=np.int64)
    month = np.repeat(np.arange(12), MONTH_DAYS)[cal]
    first = np.concatenate([[0], np.cumsum(MONTH_DAYS)[:-1]])[month]
    return first + (np.asarray(u, dtype=float) * MONTH_DAYS[month]).astype(np.int64)


@register
@dataclass(frozen=True, eq=False)
class SolarHarvest:
    """Trace-driven harvest from an hourly power profile (docs/model.md §13).

    The hourly profile (one value per hour of a 365-day year, e.g. :func:`pv_hourly`) is
    scaled so that its mean over the year is ``mean_J`` per slot. Power is held constant
    within each hour and integrated over each slot exactly, so any ``dt_s`` works and the
    annual mean is preserved. Each trial starts at local midnight of a calendar day drawn
    uniformly from the year (one uniform from the stream); with ``resample_days`` every
    simulated day takes the weather of a day drawn uniformly from the same calendar
    month of the file (one uniform per day, in order), so long horizons and different
    trials see different weather sequences with the same monthly means.

    Parameters
    ----------
    hourly_W : array_like (8760,)
        Hourly mean power of the profile [W] (any positive multiple: it is rescaled).
    mean_J : float
        Target mean harvest R_bar [J/slot].
    dt_s : float
        Slot length [s].
    resample_days : bool
        Resample each day's weather within its month (True) or replay the year (False).
    random_start : bool
        Draw the start day (True) or start on 1 January (False, no draw).
    """

    hourly_W: np.ndarray
    mean_J: float
    dt_s: float = 1.0
    resample_days: bool = False
    random_start: bool = True
    name: ClassVar[str] = "solar"
    label: ClassVar[str] = "PV harvest"
    parameters: ClassVar[tuple[str, ...]] = ()
    needs_trace: ClassVar[bool] = True

    @classmethod
    def check(cls, supply) -> None:
        if supply.phi != 0:
            raise ValueError(f"phi: applies to the ar1 harvest only, not {cls.name!r}")
        if supply.hourly_W is None:
            raise ValueError("hourly_W: the solar harvest needs an hourly trace")

    @classmethod
    def describe(cls, supply) -> str:
        days = "days resampled within their month" if supply.resample_days else "replayed"
        return f"{cls.label}{f' ({supply.site})' if supply.site else ''}, {days}"

    @classmethod
    def from_supply(cls, supply, mean_J: float, var_J2: float, dt_s: float = 1.0):
        """The trace brings its own variability: ``var_J2`` is not used."""
        return cls(supply.hourly_W, mean_J, dt_s, bool(supply.resample_days))

    @property
    def long_run_var_J2(self) -> float:
        """Long-run variance [J^2/slot] (docs/model.md §13): the day-night cycle is periodic
        and adds nothing over whole days; with ``resample_days`` the days are independent
        within a month, so the pooled within-month variance of the daily energy divided by
        the slots per day; a replayed trace adds none. The seasons move the drift itself
        over the year, which no variance describes."""
        if not self.resample_days:
            return 0.0
        daily_J = self.days.sum(axis=1) * SECONDS_PER_HOUR
        month = self.month_of_day
        centred = daily_J - np.array([daily_J[month == m].mean() for m in range(12)])[month]
        within = float(np.sum(centred**2) / (daily_J.size - 12))
        return within / (SECONDS_PER_DAY / self.dt_s)

    def __post_init__(self) -> None:
        h = np.asarray(self.hourly_W, dtype=float)
        if h.shape != (365 * HOURS_PER_DAY,):
            raise ValueError(f"hourly profile must have 8760 values, got shape {h.shape}")
        if not np.all(np.isfinite(h)) or np.any(h < 0) or h.sum() <= 0:
            raise ValueError("hourly profile must be finite, >= 0 and not all zero")
        if not (self.mean_J > 0 and self.dt_s > 0):
            raise ValueError("mean_J and dt_s must be positive")
        scaled = h * (self.mean_J / self.dt_s) / h.mean()  # power [W] with the target mean
        object.__setattr__(self, "hourly_W", scaled)

    @property
    def days(self) -> np.ndarray:
        """Scaled hourly power as (365, 24) [W]."""
        return self.hourly_W.reshape(365, HOURS_PER_DAY)

    @property
    def month_of_day(self) -> np.ndarray:
        """Calendar month (0-11) of each day of a non-leap year."""
        return np.repeat(np.arange(12), MONTH_DAYS)

    @property
    def var_J2(self) -> float:
        """Variance of R_t over the slots of the year (replayed trace) [J^2/slot]."""
        energy = self.hourly_W * self.dt_s  # per slot, if slots do not straddle hours
        return float(np.mean(energy**2) - np.mean(energy) ** 2)

    def init_state(self, rng: np.random.Generator) -> _SolarState:
        """Draw the start day (one uniform) unless ``random_start`` is False."""
        start = int(rng.random() * 365) if self.random_start else 0
        return _SolarState(slot=0, start_day=start)

    def _day_power(self, rng, state: _SolarState, d: int) -> np.ndarray:
        cal = (state.start_day + d) % 365
        if not self.resample_days:
            return self.days[cal]
        if d not in state.sources:
            state.sources[d] = int(same_month_day(cal, rng.random()))
        return self.days[state.sources[d]]

    def draw(self, rng: np.random.Generator, n_slots: int, state: _SolarState, out=None):
        """One chunk of ``n_slots`` harvests [J]; returns ``(harvest, state)``."""
        t0 = state.slot * self.dt_s
        t1 = (state.slot + n_slots) * self.dt_s
        d0 = int(t0 // SECONDS_PER_DAY)
        d1 = math.ceil(t1 / SECONDS_PER_DAY)
        # Keep only the current day's source: days before it are never revisited.
        state.sources = {k: v for k, v in state.sources.items() if k >= d0}
        power = np.concatenate([self._day_power(rng, state, d) for d in range(d0, d1)])
        edges = d0 * SECONDS_PER_DAY + SECONDS_PER_HOUR * np.arange(power.size + 1)
        cum = np.concatenate([[0.0], np.cumsum(power * SECONDS_PER_HOUR)])
        times = (state.slot + np.arange(n_slots + 1)) * self.dt_s
        cum_t = np.interp(times, edges, cum)
        harvest = np.diff(cum_t)
        if out is not None:
            out[:n_slots] = harvest
            harvest = out[:n_slots]
        state.slot += n_slots
        return harvest, state
