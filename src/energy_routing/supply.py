"""Supply and load beyond the i.i.d. model: correlated and solar harvest, diurnal arrivals
(docs/model.md §13).

Every harvest model is a chunk generator with the same interface::

    state = model.init_state(rng)                      # once per trial
    harvest, state = model.draw(rng, n_slots, state)   # once per chunk, R_t [J]

``rng`` is the trial's harvest stream (``montecarlo.STREAM_HARVEST``); the state is
carried from chunk to chunk. Three models:

* :class:`IIDGammaHarvest` -- today's model (docs/model.md §6), drawing exactly what
  ``montecarlo.draw_chunk`` draws from the same stream: ``standard_gamma(k) * theta``, or
  the constant mean when the variance is 0.
* :class:`GammaAR1Harvest` -- a stationary AR(1) with the same Gamma marginal and lag-1
  correlation ``phi`` (the Gaver-Lewis/Lawrance GAR(1) process): autocorrelation
  ``phi**h`` exactly, long-run variance ``sigma_R^2 (1 + phi) / (1 - phi)``. ``phi = 0``
  *is* :class:`IIDGammaHarvest`, draw for draw.
* :class:`SolarHarvest` -- a photovoltaic trace built with pvlib from a typical
  meteorological year (TMY) file that pvlib ships, scaled to a requested mean, with a
  random start day per trial and optionally each day's weather resampled from the same
  calendar month.

Every model is *chunk-invariant*: the sequence R_1, R_2, ... of a stream does not depend on
how it is cut into chunks (tested), so the harvest adds nothing to the chunk-size
dependence of the engine's arrivals.

For the load, :func:`diurnal_rate` is a daily arrival-rate profile with a given daily mean
(aligned with the sun, opposite to it, or at any peak hour), and :func:`draw_arrivals_nhpp`
draws a chunk of non-homogeneous Poisson arrivals in the engine's format (counts per type,
one slot per task).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

__all__ = [
    "SOLAR_WEATHER_FILES",
    "GammaAR1Harvest",
    "IIDGammaHarvest",
    "SolarHarvest",
    "Supply",
    "daily_storage",
    "diffusion_sigma",
    "diurnal_rate",
    "draw_arrivals_nhpp",
    "long_run_variance",
    "pv_arguments",
    "pv_hourly",
    "solar_peak_hour",
    "weather_file",
]

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0
HOURS_PER_DAY = 24

#: The typical-meteorological-year files that pvlib ships in ``pvlib/data`` (name: reader,
#: description). Selectable as ``supply.solar.weather_file``.
SOLAR_WEATHER_FILES: dict[str, tuple[str, str]] = {
    "723170TYA.CSV": ("tmy3", "TMY3, Greensboro Piedmont Triad Intl., NC, USA (36.10 N, 79.95 W)"),
    "703165TY.csv": ("tmy3", "TMY3, Sand Point, AK, USA (55.32 N, 160.52 W)"),
    "12839.tm2": ("tmy2", "TMY2, Miami Intl., FL, USA (25.80 N, 80.27 W)"),
}


# --------------------------------------------------------------------------------------
# i.i.d. Gamma (today's model)
# --------------------------------------------------------------------------------------


def _gamma_shape_scale(mean_J: float, var_J2: float) -> tuple[float, float]:
    # The same arithmetic as montecarlo.harvest_gamma (kept local: no engine import).
    if var_J2 == 0:
        return math.inf, 0.0
    return mean_J * mean_J / var_J2, var_J2 / mean_J


def _check_moments(mean_J: float, var_J2: float) -> None:
    if not (math.isfinite(mean_J) and mean_J > 0):
        raise ValueError(f"harvest mean must be a positive finite number [J/slot], got {mean_J}")
    if not (math.isfinite(var_J2) and var_J2 >= 0):
        raise ValueError(f"harvest variance must be finite and >= 0 [J^2/slot], got {var_J2}")


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
    :meth:`draw` makes exactly the calls of ``montecarlo.draw_chunk`` on the harvest
    stream, so the engine can switch to it without changing a single number.
    """

    mean_J: float
    var_J2: float

    def __post_init__(self) -> None:
        _check_moments(self.mean_J, self.var_J2)

    @property
    def shape_scale(self) -> tuple[float, float]:
        """Gamma shape k [-] and scale theta [J]; ``(inf, 0)`` for a constant harvest."""
        return _gamma_shape_scale(self.mean_J, self.var_J2)

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
        return _gamma_shape_scale(self.mean_J, self.var_J2)

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


def long_run_variance(var_J2: float, phi: float) -> float:
    """Long-run variance of an AR(1) harvest, sigma_R^2 (1 + phi) / (1 - phi) [J^2/slot].

    ``lim Var(sum_{t<=T} R_t) / T = sigma_R^2 (1 + 2 sum_h phi^h)``: the variance per slot
    that the diffusion limit of docs/model.md §7 sees (docs/model.md §13).

    >>> long_run_variance(100.0, 0.5)
    300.0
    """
    if not (0.0 <= phi < 1.0):
        raise ValueError(f"phi must be in [0, 1), got {phi}")
    return float(var_J2) * (1.0 + phi) / (1.0 - phi)


def diffusion_sigma(harvest_var_J2: float, phi: float, consumption_var_J2: float) -> float:
    """Volatility of the battery with an AR(1) harvest [J/sqrt(slot)] (docs/model.md §7, §13).

    ``sigma = sqrt(sigma_R,LR^2 + lambda E[e^2])``: the long-run harvest variance replaces
    sigma_R^2 of docs/model.md §7; lumped consumption stays independent over slots.

    >>> diffusion_sigma(100.0, 0.0, 44.0)
    12.0
    """
    return math.sqrt(long_run_variance(harvest_var_J2, phi) + float(consumption_var_J2))


# --------------------------------------------------------------------------------------
# Solar: pvlib on a shipped TMY file
# --------------------------------------------------------------------------------------


def weather_file(name: str) -> Path:
    """Path of a TMY file shipped in the installed pvlib package (``pvlib/data/<name>``).

    Raises
    ------
    ValueError
        When ``name`` is not one of :data:`SOLAR_WEATHER_FILES`.
    FileNotFoundError
        When pvlib is installed without the file.
    """
    if name not in SOLAR_WEATHER_FILES:
        raise ValueError(
            f"unknown weather file {name!r}; pvlib ships {sorted(SOLAR_WEATHER_FILES)}"
        )
    path = Path(str(metadata.distribution("pvlib").locate_file(f"pvlib/data/{name}")))
    if not path.is_file():
        raise FileNotFoundError(f"pvlib does not ship {path}")
    return path


@functools.lru_cache(maxsize=16)
def _pv_hourly_cached(
    name: str,
    tilt_deg: float,
    azimuth_deg: float,
    capacity_kw: float,
    gamma_pdc: float,
    system_losses: float,
    inverter_efficiency: float,
    albedo: float,
):
    import warnings

    # pvlib 0.16 still calls pandas accessors that pandas 3 deprecates; those warnings
    # concern pvlib's code, not the numbers, and are silenced here only.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return _pv_hourly_compute(
            name,
            tilt_deg,
            azimuth_deg,
            capacity_kw,
            gamma_pdc,
            system_losses,
            inverter_efficiency,
            albedo,
        )


def _pv_hourly_compute(
    name,
    tilt_deg,
    azimuth_deg,
    capacity_kw,
    gamma_pdc,
    system_losses,
    inverter_efficiency,
    albedo,
):
    import pandas as pd
    import pvlib

    reader, _ = SOLAR_WEATHER_FILES[name]
    path = weather_file(name)
    if reader == "tmy3":
        data, meta = pvlib.iotools.read_tmy3(str(path), coerce_year=1990, map_variables=True)
    else:
        data, meta = pvlib.iotools.read_tmy2(str(path))
        data = data.rename(
            columns={
                "GHI": "ghi",
                "DNI": "dni",
                "DHI": "dhi",
                "DryBulb": "temp_air",
                "Wspd": "wind_speed",
            }
        )
        data.index = data.index.map(lambda t: t.replace(year=1990))
        if "temp_air" in data:
            data["temp_air"] = data["temp_air"] / 10.0  # TMY2 stores tenths of deg C
    data = data.iloc[: 365 * HOURS_PER_DAY]
    # TMY values are hour-ending: the sun position of the hour's midpoint.
    mid = data.index - pd.Timedelta(minutes=30)
    loc = pvlib.location.Location(
        meta["latitude"], meta["longitude"], altitude=meta.get("altitude", 0.0)
    )
    sun = loc.get_solarposition(mid, temperature=data["temp_air"].to_numpy())
    dni_extra = pvlib.irradiance.get_extra_radiation(mid)
    poa = pvlib.irradiance.get_total_irradiance(
        tilt_deg,
        azimuth_deg,
        sun["apparent_zenith"],
        sun["azimuth"],
        data["dni"].to_numpy(),
        data["ghi"].to_numpy(),
        data["dhi"].to_numpy(),
        dni_extra=dni_extra,
        model="haydavies",
        albedo=albedo,
    )
    clear = loc.get_clearsky(mid, model="ineichen")
    poa_clear = pvlib.irradiance.get_total_irradiance(
        tilt_deg,
        azimuth_deg,
        sun["apparent_zenith"],
        sun["azimuth"],
        clear["dni"],
        clear["ghi"],
        clear["dhi"],
        dni_extra=dni_extra,
        model="haydavies",
        albedo=albedo,
    )
    params = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["open_rack_glass_polymer"]
    pdc0 = capacity_kw * 1000.0

    def ac(poa_global):
        g = np.nan_to_num(np.asarray(poa_global, dtype=float), nan=0.0)
        g = np.maximum(g, 0.0)
        tcell = pvlib.temperature.sapm_cell(
            g, data["temp_air"].to_numpy(), data["wind_speed"].to_numpy(), **params
        )
        pdc = pvlib.pvsystem.pvwatts_dc(g, tcell, pdc0, gamma_pdc) * (1.0 - system_losses)
        pac = pvlib.inverter.pvwatts(pdc, pdc0 * inverter_efficiency, inverter_efficiency)
        return np.maximum(np.nan_to_num(np.asarray(pac, dtype=float), nan=0.0), 0.0)

    site = {
        "name": str(meta.get("Name", meta.get("City", name))).strip("\"' "),
        "latitude": float(meta["latitude"]),
        "longitude": float(meta["longitude"]),
        "utc_offset_h": float(meta.get("TZ", 0.0)),
        "weather_file": name,
        "description": SOLAR_WEATHER_FILES[name][1],
    }
    return (
        ac(poa["poa_global"]),
        ac(poa_clear["poa_global"]),
        np.nan_to_num(np.asarray(poa["poa_global"], dtype=float), nan=0.0).clip(0.0),
        site,
    )


def pv_hourly(
    weather: str = "723170TYA.CSV",
    tilt_deg: float = 25.0,
    azimuth_deg: float = 180.0,
    capacity_kw: float = 1.0,
    gamma_pdc: float = -0.004,
    system_losses: float = 0.14,
    inverter_efficiency: float = 0.96,
    albedo: float = 0.2,
):
    """Hourly AC power of a PV array over a typical meteorological year (docs/model.md §13).

    pvlib computes the sun's position (local standard time, hour midpoints), the
    plane-of-array irradiance (Hay-Davies transposition of the file's DNI, GHI and DHI),
    the cell temperature (SAPM, open rack), the PVWatts DC power and the PVWatts inverter;
    the same chain on pvlib's Ineichen clear sky gives the clear-sky power.

    Parameters
    ----------
    weather : str
        A TMY file that pvlib ships, see :data:`SOLAR_WEATHER_FILES`.
    tilt_deg, azimuth_deg : float
        Array tilt from horizontal and azimuth clockwise from north [degrees].
    capacity_kw : float
        DC nameplate at 1000 W/m^2 and 25 deg C [kW].
    gamma_pdc : float
        Power temperature coefficient [1/K].
    system_losses : float
        PVWatts system losses (soiling, wiring, mismatch, ...) as a fraction [-].
    inverter_efficiency : float
        Nominal inverter efficiency [-]; the inverter is rated at ``capacity * efficiency``.
    albedo : float
        Ground reflectance [-].

    Returns
    -------
    dict
        ``ac_W`` and ``clear_ac_W`` (8760,) hourly mean AC power [W], hour ``h`` covering
        ``[h, h + 1)`` hours after 1 January 00:00 local standard time; ``poa_W_m2``
        (8760,) plane-of-array irradiance [W/m^2]; ``site`` (name, coordinates, file).
    """
    ac, clear, poa, site = _pv_hourly_cached(
        weather,
        float(tilt_deg),
        float(azimuth_deg),
        float(capacity_kw),
        float(gamma_pdc),
        float(system_losses),
        float(inverter_efficiency),
        float(albedo),
    )
    return {
        "ac_W": ac.copy(),
        "clear_ac_W": clear.copy(),
        "poa_W_m2": poa.copy(),
        "site": dict(site),
    }


@dataclass
class _SolarState:
    slot: int  # slots already produced
    start_day: int  # calendar day (0-based) of the first slot
    sources: dict = field(default_factory=dict)  # simulated day -> weather day


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
        lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return np.repeat(np.arange(12), lengths)

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
            same = np.flatnonzero(self.month_of_day == self.month_of_day[cal])
            state.sources[d] = int(same[int(rng.random() * same.size)])
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


# --------------------------------------------------------------------------------------
# Diurnal load
# --------------------------------------------------------------------------------------


def solar_peak_hour(hourly_W) -> float:
    """Hour of day [h] of the centre of mass of the mean daily power profile.

    Used as the peak of an arrival profile "aligned" with the sun; local standard time,
    e.g. about 12.4 h for a south-facing array at Greensboro.
    """
    day = np.asarray(hourly_W, dtype=float).reshape(-1, HOURS_PER_DAY).mean(axis=0)
    hours = np.arange(HOURS_PER_DAY) + 0.5
    return float((day * hours).sum() / day.sum())


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
    ``montecarlo.draw_chunk``; a candidate in slot t is kept with probability
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


# --------------------------------------------------------------------------------------
# The supply of a workload, and the storage a trace's swing needs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Supply:
    """How harvest and load vary in time around a workload's mean and variance
    (docs/model.md §13): what :class:`energy_routing.montecarlo.Workload` carries beyond
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
        if self.harvest not in ("iid", "ar1", "solar"):
            raise ValueError(f"harvest: unknown model {self.harvest!r}; allowed: iid, ar1, solar")
        if not 0.0 <= float(self.phi) < 1.0:
            raise ValueError(f"phi: lag-1 correlation must be in [0, 1), got {self.phi}")
        if self.harvest != "ar1" and self.phi != 0:
            raise ValueError(f"phi: applies to the ar1 harvest only, not {self.harvest!r}")
        if self.harvest == "solar":
            if self.hourly_W is None:
                raise ValueError("hourly_W: the solar harvest needs an hourly trace")
            h = np.array(self.hourly_W, dtype=float)
            h.setflags(write=False)
            object.__setattr__(self, "hourly_W", h)
        elif self.hourly_W is not None:
            raise ValueError(f"hourly_W: applies to the solar harvest only, not {self.harvest!r}")
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
        if self.harvest == "iid":
            harvest = "i.i.d. Gamma harvest"
        elif self.harvest == "ar1":
            harvest = f"Gamma AR(1) harvest with lag-1 correlation {self.phi:g}"
        else:
            days = "days resampled within their month" if self.resample_days else "replayed"
            harvest = f"PV harvest{f' ({self.site})' if self.site else ''}, {days}"
        if self.load_amplitude == 0:
            return f"{harvest}; flat load"
        return (
            f"{harvest}; daily arrival cycle of amplitude {self.load_amplitude:g} peaking at "
            f"{self.load_peak_hour:.1f} h"
        )

    @property
    def is_default(self) -> bool:
        """Whether this is the model of docs/model.md §6 (i.i.d. harvest, flat load)."""
        return self.harvest == "iid" and self.load_amplitude == 0

    def harvest_model(self, mean_J: float, var_J2: float, dt_s: float = 1.0):
        """The chunk generator of the harvest at mean ``mean_J`` [J/slot] and variance
        ``var_J2`` [J^2/slot] (the solar trace brings its own variability and ignores
        ``var_J2``); slots of ``dt_s`` seconds."""
        if self.harvest == "iid":
            return IIDGammaHarvest(mean_J, var_J2)
        if self.harvest == "ar1":
            return GammaAR1Harvest(mean_J, var_J2, float(self.phi))
        return SolarHarvest(self.hourly_W, mean_J, dt_s, bool(self.resample_days))

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

        ``iid``: ``var_J2``. ``ar1``: :func:`long_run_variance`. ``solar``: the day-night
        cycle is periodic and adds nothing over whole days; with ``resample_days`` the
        days are independent within a month, so the pooled within-month variance of the
        daily energy divided by the slots per day; a replayed trace adds none. The
        seasons move the drift itself over the year, which no variance describes.
        """
        if self.harvest == "iid":
            return float(var_J2)
        if self.harvest == "ar1":
            return long_run_variance(var_J2, float(self.phi))
        if not self.resample_days:
            return 0.0
        model = self.harvest_model(mean_J, var_J2, dt_s)
        daily_J = model.days.sum(axis=1) * SECONDS_PER_HOUR
        month = model.month_of_day
        centred = daily_J - np.array([daily_J[month == m].mean() for m in range(12)])[month]
        within = float(np.sum(centred**2) / (daily_J.size - 12))
        return within / (SECONDS_PER_DAY / dt_s)

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
        if kind == "solar" or amplitude > 0:
            pv = pv_hourly(**pv_arguments(sup.get("solar") or {}))
            hourly, site = pv["ac_W"], pv["site"]["description"]
        peak = 12.0
        if amplitude > 0:
            peak = solar_peak_hour(hourly)
            if load.get("phase", "aligned") == "misaligned":
                peak = (peak + 12.0) % 24.0
        solar = sup.get("solar") or {}
        return cls(
            harvest=kind,
            phi=float(sup.get("phi", 0.0)) if kind == "ar1" else 0.0,
            hourly_W=hourly if kind == "solar" else None,
            resample_days=bool(solar.get("resample_days", True)),
            load_amplitude=amplitude,
            load_peak_hour=peak,
            site=site if kind == "solar" else "",
        )


def pv_arguments(solar_cfg: dict) -> dict:
    """Keyword arguments of :func:`pv_hourly` from a ``supply.solar`` config section."""
    keys = {"weather_file": "weather", "tilt_deg": "tilt_deg", "azimuth_deg": "azimuth_deg"}
    keys.update(system_losses="system_losses", capacity_kw="capacity_kw")
    return {arg: solar_cfg[key] for key, arg in keys.items() if key in solar_cfg}


def daily_storage(hourly_W, load_W: float | None = None, window_start_h: int = 12) -> dict:
    """Storage the day-night swing needs against a constant load [J] (docs/model.md §13).

    With power held within each hour, the battery content
    ``S(t) = int_0^t (P - load)`` is piecewise linear, so its extremes sit on hour
    boundaries. Per day, the storage that carries the day's surplus through the following
    night with no auxiliary energy is the largest drawdown
    ``max_t (max_{s <= t} S(s) - S(t))`` over a 24-hour window that holds one whole night
    (noon to noon by default; the year is treated as cyclic, so the last window runs from
    31 December noon to 1 January noon); over the whole year, the largest drawdown of the
    replayed year is the seasonal storage.

    Parameters
    ----------
    hourly_W : array_like (8760,)
        Hourly power [W].
    load_W : float, optional
        Constant load [W]; default the mean of ``hourly_W`` (critical provisioning).
    window_start_h : int
        Hour of day at which each daily window starts [h].

    Returns
    -------
    dict
        ``daily_mean_J``, ``daily_p95_J``, ``daily_max_J`` (over the 365 days) and
        ``annual_J`` (largest drawdown over the year, replayed twice so that a drawdown
        across New Year counts), all in J.
    """
    p = np.asarray(hourly_W, dtype=float)
    load = float(p.mean()) if load_W is None else float(load_W)
    net = (p - load) * SECONDS_PER_HOUR

    def drawdown(x, axis=-1):
        s = np.concatenate([np.zeros((*x.shape[:-1], 1)), np.cumsum(x, axis=axis)], axis=axis)
        return np.max(np.maximum.accumulate(s, axis=axis) - s, axis=axis)

    per_day = drawdown(np.roll(net, -int(window_start_h)).reshape(-1, HOURS_PER_DAY))
    annual = float(drawdown(np.concatenate([net, net])))
    return {
        "daily_mean_J": float(per_day.mean()),
        "daily_p95_J": float(np.quantile(per_day, 0.95)),
        "daily_max_J": float(per_day.max()),
        "annual_J": annual,
    }
