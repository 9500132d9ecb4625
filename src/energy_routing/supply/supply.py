"""The supply of a scenario: how harvest and load vary in time (docs/model.md §13).

:class:`Supply` names the harvest model (i.i.d. Gamma, Gamma AR(1) with lag-1 correlation
phi, or a solar trace) and the daily cycle of the arrival rate, and gives what the engine
draws from: the harvest's chunk generator (:mod:`energy_routing.supply.harvests`), the
expected arrivals per slot [tasks/slot] (:mod:`energy_routing.supply.load`) and the
harvest's long-run variance [J^2/slot], which replaces sigma_R^2 in Lemma 2. The default is
the model of docs/model.md §6, under which the engine's draws stay the same bit for bit;
:meth:`Supply.from_config` reads a validated config's ``supply`` and ``load`` sections.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from energy_routing.supply.harvests import HARVESTS
from energy_routing.supply.load import diurnal_rate
from energy_routing.supply.solar import pv_arguments, pv_hourly, solar_peak_hour
from energy_routing.units import SECONDS_PER_DAY

# --------------------------------------------------------------------------------------
# The supply of a workload, and the storage a trace's swing needs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Supply:
    """How harvest and load vary in time around a workload's mean and variance
    (docs/model.md §13): what :class:`energy_routing.model.workload.Workload` carries beyond
    R_bar, sigma_R^2 and lambda, and what the engine draws from.

    The default is the model of docs/model.md §6 (i.i.d. Gamma harvest, homogeneous
    Poisson arrivals), for which the engine keeps its own draws bit for bit.

    Parameters
    ----------
    harvest : {"iid", "ar1", "solar"}
        Harvest model: :class:`IIDGammaHarvest`, :class:`GammaAR1Harvest` (lag-1
        correlation ``phi``) or :class:`SolarHarvest` of the trace ``hourly_W``.
    phi : float
        Lag-1 correlation of the ``ar1`` harvest, in [0, 1) [-].
    hourly_W : array_like (8760,), optional
        Hourly power of the ``solar`` trace [W] (any scale: it is rescaled to the mean).
    resample_days : bool
        ``solar``: resample each day's weather within its month (True) or replay the trace.
    load_amplitude : float
        Relative amplitude of the daily cosine of the arrival rate, in [0, 1] [-]; 0 is the
        homogeneous process.
    load_peak_hour : float
        Hour of day of the arrival rate's maximum [h], in [0, 24).

    Examples
    --------
    >>> Supply().is_default, Supply("ar1", phi=0.5).is_default
    (True, False)
    >>> Supply("ar1", phi=0.5).long_run_var_J2(600.0, 100.0)
    300.0
    """

    harvest: str = "iid"
    phi: float = 0.0
    hourly_W: np.ndarray | None = field(default=None, repr=False)
    resample_days: bool = True
    load_amplitude: float = 0.0
    load_peak_hour: float = 12.0
    site: str = ""
    _day_rates: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.harvest not in HARVESTS:
            allowed = ", ".join(HARVESTS)
            raise ValueError(f"harvest: unknown model {self.harvest!r}; allowed: {allowed}")
        if not 0.0 <= float(self.phi) < 1.0:
            raise ValueError(f"phi: lag-1 correlation must be in [0, 1), got {self.phi}")
        self.harvest_class.check(self)
        if self.hourly_W is not None:
            h = np.array(self.hourly_W, dtype=float)
            h.setflags(write=False)
            object.__setattr__(self, "hourly_W", h)
        if not 0.0 <= float(self.load_amplitude) <= 1.0:
            raise ValueError(f"load_amplitude: must be in [0, 1], got {self.load_amplitude}")
        if not 0.0 <= float(self.load_peak_hour) < 24.0:
            raise ValueError(f"load_peak_hour: must be in [0, 24) h, got {self.load_peak_hour}")

    def describe(self) -> str:
        """The supply in words, for reports.

        >>> Supply("ar1", phi=0.9).describe()
        'Gamma AR(1) harvest with lag-1 correlation 0.9; flat load'
        >>> Supply(load_amplitude=0.5, load_peak_hour=12.3).describe()
        'i.i.d. Gamma harvest; daily arrival cycle of amplitude 0.5 peaking at 12.3 h'
        """
        harvest = self.harvest_class.describe(self)
        if self.load_amplitude == 0:
            return f"{harvest}; flat load"
        return (
            f"{harvest}; daily arrival cycle of amplitude {self.load_amplitude:g} peaking at "
            f"{self.load_peak_hour:.1f} h"
        )

    @property
    def harvest_class(self) -> type:
        """The class of the harvest model (:data:`energy_routing.supply.harvests.HARVESTS`)."""
        return HARVESTS[self.harvest]

    @property
    def is_default(self) -> bool:
        """Whether this is the model of docs/model.md §6 (i.i.d. harvest, flat load)."""
        return self.harvest == "iid" and self.load_amplitude == 0

    def harvest_model(self, mean_J: float, var_J2: float, dt_s: float = 1.0):
        """The chunk generator of the harvest at mean ``mean_J`` [J/slot] and variance
        ``var_J2`` [J^2/slot] (the solar trace brings its own variability and ignores
        ``var_J2``); slots of ``dt_s`` seconds."""
        return self.harvest_class.from_supply(self, mean_J, var_J2, dt_s)

    def arrival_rates(self, slots, dt_s: float, mean_rate: float) -> np.ndarray | None:
        """Expected arrivals of each 0-based slot [tasks/slot] (:func:`diurnal_rate`), or
        None for the homogeneous process. When a day is a whole number of slots, one day
        is computed once and repeated."""
        if self.load_amplitude == 0:
            return None
        slots = np.asarray(slots, dtype=np.int64)
        per_day = SECONDS_PER_DAY / dt_s
        if per_day != round(per_day) or per_day > 10_000_000:
            return diurnal_rate(slots, dt_s, mean_rate, self.load_amplitude, self.load_peak_hour)
        key = (float(dt_s), float(mean_rate))
        day = self._day_rates.get(key)
        if day is None:
            day = diurnal_rate(
                np.arange(round(per_day)), dt_s, mean_rate, self.load_amplitude, self.load_peak_hour
            )
            self._day_rates[key] = day
        return day[slots % day.size]

    def long_run_var_J2(self, mean_J: float, var_J2: float, dt_s: float = 1.0) -> float:
        """Long-run variance of the harvest [J^2/slot]: what the diffusion limit of
        docs/model.md §7 sees in place of sigma_R^2 (docs/model.md §13).

        Each harvest model's own ``long_run_var_J2``: ``var_J2`` for independent slots,
        ``var_J2 (1 + phi) / (1 - phi)`` for the AR(1) harvest, the within-month variance
        of the daily energy per slot for a resampled PV trace.
        """
        return float(self.harvest_model(mean_J, var_J2, dt_s).long_run_var_J2)

    @classmethod
    def from_config(cls, cfg: dict) -> Supply:
        """The supply of a validated config's ``supply`` and ``load`` sections.

        ``supply.model`` selects the harvest (``supply.phi`` for ``ar1``; the PV array of
        ``supply.solar`` for ``solar``, see :func:`pv_hourly`); ``load.amplitude`` the
        daily cycle of the arrival rate, peaking at the array's :func:`solar_peak_hour`
        (``load.phase: aligned``) or 12 h later (``misaligned``), whatever the harvest.
        """
        sup = dict(cfg.get("supply") or {})
        load = dict(cfg.get("load") or {})
        kind = sup.get("model", "iid")
        amplitude = float(load.get("amplitude", 0.0))
        hourly, site = None, ""
        if (kind in HARVESTS and HARVESTS[kind].needs_trace) or amplitude > 0:
            pv = pv_hourly(**pv_arguments(sup.get("solar") or {}))
            hourly, site = pv["ac_W"], pv["site"]["description"]
        peak = 12.0
        if amplitude > 0:
            peak = solar_peak_hour(hourly)
            if load.get("phase", "aligned") == "misaligned":
                peak = (peak + 12.0) % 24.0
        solar = sup.get("solar") or {}
        model = HARVESTS.get(kind)
        trace = model is not None and model.needs_trace
        return cls(
            harvest=kind,
            phi=float(sup.get("phi", 0.0)) if model and "phi" in model.parameters else 0.0,
            hourly_W=hourly if trace else None,
            resample_days=bool(solar.get("resample_days", True)),
            load_amplitude=amplitude,
            load_peak_hour=peak,
            site=site if trace else "",
        )
