"""Grid carbon intensity read offline from codecarbon / EcoLogits files (docs/model.md §13)."""

from __future__ import annotations

import json
import site
from pathlib import Path

import numpy as np
import pytest

from energy_routing.supply import carbon


def shipped(relative: str) -> dict:
    """Parse a package data file independently of the module: search site-packages."""
    for root in site.getsitepackages():
        path = Path(root) / relative
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    pytest.fail(f"{relative} not found in {site.getsitepackages()}")


@pytest.mark.parametrize("code", ["USA", "FRA", "DEU", "IND"])
def test_codecarbon_countries(code):
    row = shipped("codecarbon/data/private_infra/global_energy_mix.json")[code]
    got = carbon.intensity(code.lower())
    assert got.g_per_kWh == row["carbon_intensity"]
    assert got.year == row["year"]
    assert "codecarbon" in got.source and "global_energy_mix.json" in got.source
    assert got.name == row["country_name"]


def test_known_orders_of_magnitude():
    fra, usa = carbon.intensity("FRA").g_per_kWh, carbon.intensity("USA").g_per_kWh
    assert 20 < fra < 120 < 250 < usa < 500  # nuclear France, mixed United States


def test_us_state_from_egrid():
    data = shipped(
        f"codecarbon/data/private_infra/{carbon.intensity('USA').year}/usa_emissions.json"
    )
    nc = carbon.intensity("USA-NC")
    (row,) = [r for k, r in data.items() if not k.startswith("_") and r["regionCode"] == "NC"]
    assert nc.g_per_kWh == pytest.approx(row["emissions"] * 0.45359237)  # lb/MWh -> g/kWh
    assert "eGRID" in nc.source and nc.year == data["_source"]["year"]


def test_ecologits_mixes():
    rows = {
        r["name"]: r for r in shipped("ecologits/data/electricity_mixes.json")["electricity_mixes"]
    }
    got = carbon.intensity("DEU", source="ecologits")
    assert got.g_per_kWh == pytest.approx(1000 * rows["DEU"]["gwp"])
    assert got.year is None and "ecologits" in got.source


def test_aux_energy_to_kg():
    g = carbon.intensity("DEU").g_per_kWh
    np.testing.assert_allclose(
        carbon.aux_kg_co2e(np.array([0.0, 3.6e6, 7.2e9]), "DEU"), [0.0, g / 1000, 2 * g]
    )


def test_unknown_region_names_it_and_lists_codes():
    with pytest.raises(ValueError, match=r"unknown carbon region 'XXX'.*FRA.*USA-NC"):
        carbon.intensity("XXX")
    with pytest.raises(ValueError, match="allowed: codecarbon, ecologits"):
        carbon.intensity("FRA", source="nowhere")
    assert "FRA" in carbon.regions() and "WOR" in carbon.regions("ecologits")


def test_carbon_figure_names_source_and_year():
    import matplotlib.pyplot as plt

    from energy_routing.figures import realworld as fr

    c = carbon.intensity("USA-NC")
    part = {"region_name": c.name, "g_co2e_per_kWh": c.g_per_kWh, "source": c.source}
    rows = [
        {"scenario": "fig4", "routing_error": e, "consumption": m, "kg_co2e": k, "kg_co2e_sem": s}
        for e, k, s in ((0.0, 0.05, 0.003), (0.2, 1.1, 0.05))
        for m in ("lumped", "distributed")
    ]
    fig = fr.fig_carbon(rows, {**part, "year": c.year})
    ax = fig.axes[0]
    assert "[kg CO2e]" in ax.get_xlabel() and "2023" in ax.get_title()
    assert any("eGRID" in t.get_text() for t in fig.texts)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["fig4, ε = 0", "fig4, ε = 0.2"]
    plt.close(fig)
    fig = fr.fig_carbon(rows, {**part, "year": None})
    assert "no year stated" in fig.axes[0].get_title()
    plt.close(fig)


def test_summary():
    s = carbon.summary({"eps=0": 7.2e9}, "fra")
    assert s["region"] == "FRA" and s["year"] == 2023 and "codecarbon" in s["source"]
    assert s["aux"]["eps=0"]["aux_kWh"] == 2000.0
    assert s["aux"]["eps=0"]["kg_co2e"] == pytest.approx(2 * s["g_co2e_per_kWh"])


def test_every_listed_region_passes_the_config_pattern():
    """`USA-usa` (the file's national total) was listed, and then refused by the pattern."""
    import re

    from energy_routing import config

    pattern = config.schema()["properties"]["carbon"]["properties"]["region"]["pattern"]
    for source in carbon.SOURCES:
        listed = carbon.regions(source)
        assert listed and all(re.fullmatch(pattern, r) for r in listed), source
    assert "USA-NC" in carbon.regions() and "USA" in carbon.regions()
