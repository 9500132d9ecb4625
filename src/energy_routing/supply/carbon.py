"""Carbon intensity of the grid and the carbon of auxiliary energy (docs/model.md §13).

The intensities are read offline from data files that PyPI packages ship; nothing is
downloaded and neither package is imported (its files are located through
``importlib.metadata``, so the heavy import of codecarbon's tracker is never paid):

* ``codecarbon`` (default): ``codecarbon/data/private_infra/global_energy_mix.json``,
  ``carbon_intensity`` [g CO2e/kWh] and ``year`` per country (ISO 3166-1 alpha-3, e.g.
  ``USA``, ``FRA``), a country table in the fields of Our World in Data's energy data
  set, compiled by codecarbon; and
  ``codecarbon/data/private_infra/<year>/usa_emissions.json``, the US EPA eGRID total
  output emission rate per state [lb CO2e/MWh], selectable as ``USA-<state code>`` (e.g.
  ``USA-NC``), converted with 1 lb = 453.59237 g.
* ``ecologits``: ``ecologits/data/electricity_mixes.json``, ``gwp`` [kg CO2e/kWh] per
  country (alpha-3); the file names neither its source nor a year (EcoLogits' calculator
  attributes its mix factors to ADEME's Base IMPACTS).

One kWh is 3.6e6 J, so ``kg CO2e = aux_J / 3.6e6 * g_per_kWh / 1000``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from energy_routing.units import J_PER_KWH

G_PER_LB = 453.59237

#: Packages the intensities can come from (config ``carbon.source``).
SOURCES = ("codecarbon", "ecologits")


@dataclass(frozen=True)
class CarbonIntensity:
    """Carbon intensity of one region's electricity.

    Attributes
    ----------
    region : str
        Region code (ISO 3166-1 alpha-3, or ``USA-<state>``).
    name : str
        Human-readable region name.
    g_per_kWh : float
        Intensity [g CO2e/kWh].
    source : str
        Package, version, file and original data set.
    year : int or None
        Year of the data (None when the file states none).
    """

    region: str
    name: str
    g_per_kWh: float
    source: str
    year: int | None


def _package_file(package: str, relative: str) -> Path:
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        raise ValueError(
            f"carbon source {package!r} is not installed; pip install {package}"
        ) from None
    path = Path(str(dist.locate_file(relative)))
    if not path.is_file():
        raise FileNotFoundError(f"{package} {dist.version} does not ship {relative}")
    return path


@functools.lru_cache(maxsize=4)
def _table(source: str) -> dict[str, CarbonIntensity]:
    if source == "codecarbon":
        rel = "codecarbon/data/private_infra/global_energy_mix.json"
        version = metadata.version("codecarbon")
        data = json.loads(_package_file("codecarbon", rel).read_text(encoding="utf-8"))
        origin = f"codecarbon {version}, {rel} (Our World in Data energy data, via codecarbon)"
        table = {
            code: CarbonIntensity(
                code,
                str(row.get("country_name", code)),
                float(row["carbon_intensity"]),
                origin,
                int(row["year"]) if row.get("year") is not None else None,
            )
            for code, row in data.items()
            if row.get("carbon_intensity") is not None
        }
        years = sorted({c.year for c in table.values() if c.year is not None})
        for year in reversed(years):  # the US states of the newest eGRID year shipped
            rel_us = f"codecarbon/data/private_infra/{year}/usa_emissions.json"
            try:
                us = json.loads(_package_file("codecarbon", rel_us).read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue
            meta = us.get("_source", {})
            origin_us = f"codecarbon {version}, {rel_us} ({meta.get('name', 'US EPA eGRID')})"
            for state, row in us.items():
                # States only: the file's national total ("usa") is no state code, and the
                # country's own row is USA.
                if state.startswith("_") or len(str(row.get("regionCode", ""))) != 2:
                    continue
                code = f"USA-{row['regionCode']}"
                table[code] = CarbonIntensity(
                    code,
                    f"{state.title()}, United States",
                    float(row["emissions"]) * G_PER_LB / 1000.0,
                    origin_us,
                    int(meta.get("year", year)),
                )
            break
        return table
    if source == "ecologits":
        rel = "ecologits/data/electricity_mixes.json"
        version = metadata.version("ecologits")
        data = json.loads(_package_file("ecologits", rel).read_text(encoding="utf-8"))
        origin = f"ecologits {version}, {rel} (no source or year stated in the file)"
        return {
            row["name"]: CarbonIntensity(
                row["name"], row["name"], 1000.0 * float(row["gwp"]), origin, None
            )
            for row in data["electricity_mixes"]
        }
    raise ValueError(f"unknown carbon source {source!r}; allowed: {', '.join(SOURCES)}")


def regions(source: str = "codecarbon") -> list[str]:
    """Sorted region codes a source knows."""
    return sorted(_table(source))


def intensity(region: str, source: str = "codecarbon") -> CarbonIntensity:
    """Carbon intensity of a region's electricity (docs/model.md §13).

    Parameters
    ----------
    region : str
        ISO 3166-1 alpha-3 country code (``FRA``), or ``USA-<state>`` (``USA-NC``) with
        the codecarbon source; case-insensitive.
    source : str
        ``codecarbon`` or ``ecologits``.

    Returns
    -------
    CarbonIntensity
        Intensity [g CO2e/kWh] with its source and year.

    Raises
    ------
    ValueError
        When the region is unknown: the message names it and lists the valid codes.

    Examples
    --------
    >>> intensity("FRA").g_per_kWh > 0
    True
    """
    table = _table(source)
    key = str(region).strip().upper()
    if key not in table:
        raise ValueError(
            f"unknown carbon region {region!r} for source {source!r}; valid codes: "
            + ", ".join(sorted(table))
        )
    return table[key]


def aux_kg_co2e(aux_J, region: str, source: str = "codecarbon"):
    """Emissions of auxiliary (grid) energy [kg CO2e] (docs/model.md §13).

    ``aux_J / 3.6e6 [kWh] * intensity [g/kWh] / 1000``; ``aux_J`` [J] may be an array.

    >>> round(aux_kg_co2e(3.6e9, "FRA") / intensity("FRA").g_per_kWh, 9)
    1.0
    """
    return aux_J / J_PER_KWH * intensity(region, source).g_per_kWh / 1000.0


def summary(aux_J: dict, region: str, source: str = "codecarbon") -> dict:
    """Auxiliary energy as emissions, for ``summary.json`` and the report
    (docs/model.md §13).

    Parameters
    ----------
    aux_J : dict
        Label -> auxiliary energy [J], e.g. the mean D_T at T_max per routing error.
    region, source : str
        See :func:`intensity`.

    Returns
    -------
    dict
        ``region``, ``region_name``, ``g_co2e_per_kWh``, ``source``, ``year`` and
        ``aux`` (label -> ``{"aux_J", "aux_kWh", "kg_co2e"}``).
    """
    c = intensity(region, source)
    return {
        "region": c.region,
        "region_name": c.name,
        "g_co2e_per_kWh": c.g_per_kWh,
        "source": c.source,
        "year": c.year,
        "aux": {
            str(k): {
                "aux_J": float(v),
                "aux_kWh": float(v) / J_PER_KWH,
                "kg_co2e": float(v) / J_PER_KWH * c.g_per_kWh / 1000.0,
            }
            for k, v in aux_J.items()
        },
    }
