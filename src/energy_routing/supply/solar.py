"""Solar power over a typical meteorological year, with pvlib (docs/model.md §13).

:func:`pv_hourly` computes the hourly AC power [W] of a PV array, and its clear-sky power,
from a TMY file that pvlib ships (:data:`SOLAR_WEATHER_FILES`, located by
:func:`weather_file`; nothing is downloaded); :func:`pv_arguments` maps a ``supply.solar``
config section onto its arguments. :func:`solar_peak_hour` [h] places the mean daily
profile, and :func:`daily_storage` [J] is the storage the day-night swing needs against a
constant load, per day and over the year. The trace feeds
:class:`energy_routing.supply.harvests.SolarHarvest`.
"""

from __future__ import annotations

import functools
from importlib import metadata
from pathlib import Path

import numpy as np

from energy_routing.units import HOURS_PER_DAY, SECONDS_PER_HOUR

#: The typical-meteorological-year files that pvlib ships in ``pvlib/data`` (name: reader,
#: description). Selectable as ``supply.solar.weather_file``.
SOLAR_WEATHER_FILES: dict[str, tuple[str, str]] = {
    "723170TYA.CSV": ("tmy3", "TMY3, Greensboro Piedmont Triad Intl., NC, USA (36.10 N, 79.95 W)"),
    "703165TY.csv": ("tmy3", "TMY3, Sand Point, AK, USA (55.32 N, 160.52 W)"),
    "12839.tm2": ("tmy2", "TMY2, Miami Intl., FL, USA (25.80 N, 80.27 W)"),
}


# --------------------------------------------------------------------------------------
# Solar: pvlib on a shipped TMY file
# --------------------------------------------------------------------------------------


def weather_file(name: str) -> Path:
    """Path of a TMY file: one shipped in the installed pvlib package
    (``pvlib/data/<name>``, :data:`SOLAR_WEATHER_FILES`), or any TMY3 / TMY2 file a user
    names by its path.

    Raises
    ------
    ValueError
        When ``name`` is neither a shipped file nor an existing file.
    FileNotFoundError
        When pvlib is installed without the shipped file.
    """
    if name not in SOLAR_WEATHER_FILES:
        path = Path(name).expanduser()
        if path.is_file():
            return path.resolve()
        raise ValueError(
            f"weather file {name!r} is neither an existing TMY3/TMY2 file nor one that "
            f"pvlib ships ({', '.join(sorted(SOLAR_WEATHER_FILES))})"
        )
    path = Path(str(metadata.distribution("pvlib").locate_file(f"pvlib/data/{name}")))
    if not path.is_file():
        raise FileNotFoundError(f"pvlib does not ship {path}")
    return path


def weather_reader(name: str) -> str:
    """``tmy3`` or ``tmy2``: the reader of a weather file (a shipped file's own; for a user's
    file, ``tmy2`` when its name ends in ``.tm2``, else ``tmy3``)."""
    if name in SOLAR_WEATHER_FILES:
        return SOLAR_WEATHER_FILES[name][0]
    return "tmy2" if str(name).lower().endswith(".tm2") else "tmy3"


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

    reader = weather_reader(name)
    path = weather_file(name)
    try:
        if reader == "tmy3":
            data, meta = pvlib.iotools.read_tmy3(str(path), coerce_year=1990, map_variables=True)
        else:
            data, meta = pvlib.iotools.read_tmy2(str(path))
    except Exception as err:  # pvlib's parsers raise many kinds on a malformed file
        raise ValueError(
            f"weather file {name!r} is not a readable {reader.upper()} file ({err})"
        ) from None
    if len(data) < 365 * HOURS_PER_DAY:
        raise ValueError(
            f"weather file {name!r} holds {len(data)} hours; a typical year needs 8760"
        )
    if reader == "tmy2":
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
        # TMY2 stores tenths of deg C and tenths of m/s.
        data["temp_air"] = data["temp_air"] / 10.0
        data["wind_speed"] = data["wind_speed"] / 10.0
    data = data.iloc[: 365 * HOURS_PER_DAY]
    # TMY values are hour-ending: the sun position of the hour's midpoint. pvlib labels a
    # TMY3 hour by its end and a TMY2 hour by its start (read_tmy2 subtracts one hour).
    mid = data.index + pd.Timedelta(minutes=-30 if reader == "tmy3" else 30)
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
        "description": SOLAR_WEATHER_FILES[name][1]
        if name in SOLAR_WEATHER_FILES
        else f"{reader.upper()}, {Path(name).name}",
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
        A TMY file that pvlib ships (:data:`SOLAR_WEATHER_FILES`), or the path of any
        TMY3 or TMY2 file (:func:`weather_file`).
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
