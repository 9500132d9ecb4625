"""Per-token energy against EcoLogits, and the sensitivity to the energy constants
(docs/model.md §13)."""

from __future__ import annotations

import json
import math
import site
from pathlib import Path

import numpy as np
import pytest

from energy_routing.model import catalogue, serving
from energy_routing.model.hardware import Hardware, token_coefficients
from energy_routing.studies import calibration


def ecologits_models():
    for root in site.getsitepackages():
        path = Path(root) / "ecologits" / "data" / "models.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))["models"]
    pytest.fail("ecologits/data/models.json not found")


@pytest.fixture(scope="module")
def table():
    return calibration.calibration_table()


def test_external_estimate_is_ecologits_law_by_hand(table):
    """GPU energy per token = (alpha exp(beta B) P + gamma) Wh, P in billions, B = 64, with
    P from EcoLogits' shipped list; the server adds its share of 1.2 kW per 8 GPUs over the
    modelled latency (alpha_l P + beta_l B + gamma_l) s per token, divided by the batch."""
    from ecologits.impacts import llm

    (entry,) = [m for m in ecologits_models() if m["name"] == "meta-llama/Meta-Llama-3.1-8B"]
    p = entry["architecture"]["parameters"]
    assert p == 8.03
    gpu_wh = llm.GPU_ENERGY_ALPHA * math.exp(llm.GPU_ENERGY_BETA * 64) * p + llm.GPU_ENERGY_GAMMA
    latency = llm.LATENCY_ALPHA * p + llm.LATENCY_BETA * 64 + llm.LATENCY_GAMMA
    server_j = latency * 1200.0 * (1 / 8) / 64
    row = table[(table.model == "Llama-3.1-8B")].iloc[0]
    assert row.external_gpu_only_J_per_token == pytest.approx(gpu_wh * 3600, rel=1e-9)
    assert row.external_estimate_J_per_token == pytest.approx(gpu_wh * 3600 + server_j, rel=1e-9)
    assert row.external_params == pytest.approx(8.03e9) and "Meta-Llama-3.1-8B" in row.source


def test_models_not_listed_by_ecologits_use_the_stated_count(table):
    row = table[table.model == "Qwen2.5-7B"].iloc[0]
    assert row.external_params == catalogue.MODELS["Qwen2.5-7B"].stated_params
    assert "not in ecologits" in row.source


def test_modelled_here_is_the_section_1_token_energy(table):
    assert len(table) == len(catalogue.MODELS) * len(catalogue.ACCELERATORS)
    for row in table.itertuples():
        hw = catalogue.hardware_section(row.accelerator)
        entry = catalogue.model_entry(row.model, hw)
        c = token_coefficients(entry["params"], entry["n_layers"], entry["d_attn"], Hardware(**hw))
        assert row.modelled_here_J_per_token == pytest.approx(c.a, rel=1e-12)
        assert row.ratio_modelled_to_external == pytest.approx(
            row.modelled_here_J_per_token / row.external_estimate_J_per_token
        )
        assert row.modelled_here_batch_J_per_token < row.modelled_here_J_per_token
        # the batch column is the serving law (docs/model.md §14) at an empty cache
        gpus = catalogue.devices_needed(row.model, row.accelerator)
        law = serving.operating_point(
            serving.ServingArch.from_catalogue(row.model), row.accelerator, gpus, row.batch_size, 0
        )
        assert row.modelled_here_batch_J_per_token == law["energy_per_token_J"]


def test_columns_keep_modelled_and_external_apart(table):
    cols = set(table.columns)
    assert {"modelled_here_J_per_token", "external_estimate_J_per_token", "source"} <= cols
    assert np.all(table.external_estimate_J_per_token > table.external_gpu_only_J_per_token)


def test_sensitivity(default_cfg):
    horizon = 1e6
    s = calibration.sensitivity(default_cfg, horizon, factors=(0.5, 1.0, 1.5))
    nominal = s[s.factor == 1.0]
    assert np.allclose(nominal.mu_J_per_slot, 0.0)
    np.testing.assert_allclose(
        nominal.expected_deficit_J, nominal.sigma_J_per_sqrt_slot * math.sqrt(2 * horizon / math.pi)
    )
    both = s[s.moved == "both"].set_index("factor")
    # moving both constants scales every energy: C_LB scales, no choice changes
    assert both.loc[1.5, "c_lb_J_per_slot"] == pytest.approx(1.5 * both.loc[1.0, "c_lb_J_per_slot"])
    assert (both.changed_tasks == "").all()
    for _, group in s.groupby("moved"):
        assert group.sort_values("factor").expected_deficit_J.is_monotonic_increasing
    # more expensive hardware against the nominal supply: a persistent deficit, ~|mu| T
    hi = both.loc[1.5]
    assert hi.expected_deficit_J == pytest.approx(-hi.mu_J_per_slot * horizon, rel=0.01)


def test_figures(table, default_cfg):
    import matplotlib.pyplot as plt

    from energy_routing.figures import realworld as fr

    fig = fr.fig_calibration(table)
    assert "[J/token]" in fig.axes[0].get_xlabel()
    plt.close(fig)
    fig = fr.fig_serving_law(serving.validation_table())
    assert "[J/token]" in fig.axes[0].get_ylabel() and "[W]" in fig.axes[1].get_ylabel()
    assert len(fig.axes[0].collections) == 4  # three models' measured points and the key
    plt.close(fig)
    s = calibration.sensitivity(default_cfg, 1e5, factors=(0.5, 1.0, 1.5))
    fig = fr.fig_sensitivity(s, 1e5)
    assert "[kWh]" in fig.axes[1].get_ylabel() and "[J/slot]" in fig.axes[0].get_ylabel()
    plt.close(fig)
