"""Catalogue of accelerators and open-weight models (docs/model.md §1, §13)."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from energy_routing.config import validate
from energy_routing.model import catalogue, grids
from energy_routing.model.hardware import Hardware, token_coefficients


@pytest.mark.parametrize("name", list(catalogue.MODELS))
def test_architecture_reproduces_the_stated_parameter_count(name):
    m = catalogue.MODELS[name]
    assert catalogue.count_params(m) == pytest.approx(m.stated_params, rel=0.02)
    assert m.n_heads % m.n_kv_heads == 0 and m.source


def test_known_counts_by_hand():
    # Llama-3.1-8B: 2 x 128256 x 4096 embeddings + 32 x (2 x 4096^2 + 2 x 4096 x 1024
    # + 3 x 4096 x 14336 + 2 x 4096) + 4096
    by_hand = (
        2 * 128256 * 4096
        + 32 * (2 * 4096**2 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 2 * 4096)
        + 4096
    )
    assert catalogue.count_params(catalogue.MODELS["Llama-3.1-8B"]) == by_hand == 8030261248
    assert catalogue.MODELS["Llama-3.1-8B"].kv_values_per_token == 2 * 32 * 8 * 128


@pytest.mark.parametrize("name", list(catalogue.ACCELERATORS))
def test_hardware_section_reproduces_the_specs(name):
    a = catalogue.ACCELERATORS[name]
    hw = catalogue.hardware_section(name, bytes_per_param=2.0, n_devices=1)
    assert hw["bandwidth"] * 2 == pytest.approx(a.memory_bandwidth)
    assert hw["throughput"] == pytest.approx(a.dense_bf16_flops)
    # the stated assumption: full board power while streaming or computing at peak rate
    assert hw["e_mem"] * hw["bandwidth"] == pytest.approx(a.board_power_w)
    assert hw["e_flop"] * hw["throughput"] == pytest.approx(a.board_power_w)
    half = catalogue.hardware_section(name, power_fraction=0.5, n_devices=4)
    assert half["e_mem"] == pytest.approx(hw["e_mem"] / 2)
    assert half["throughput"] == pytest.approx(4 * hw["throughput"])
    assert a.source and 1e11 < a.memory_bandwidth < 1e13 and 1e13 < a.dense_bf16_flops < 1e16


def test_spec_values_as_published():
    h100 = catalogue.ACCELERATORS["H100-SXM5-80GB"]
    assert (h100.memory_bandwidth, h100.dense_bf16_flops, h100.board_power_w) == (
        3.35e12,
        989e12,
        700.0,
    )
    a100 = catalogue.ACCELERATORS["A100-SXM4-80GB"]
    assert (a100.memory_bandwidth, a100.dense_bf16_flops, a100.board_power_w) == (
        2.039e12,
        312e12,
        400.0,
    )


@pytest.mark.parametrize("model", ["Llama-3.1-8B", "Qwen2.5-7B", "DeepSeek-R1-Distill-Qwen-32B"])
def test_effective_attention_width_is_the_gqa_cost(model):
    """Time and energy per cached token of the folded width equal the two explicit terms:
    attention FLOPs plus reading the cached keys and values."""
    m = catalogue.MODELS[model]
    hw = catalogue.hardware_section("H100-SXM5-80GB")
    entry = catalogue.model_entry(model, hw)
    c = token_coefficients(entry["params"], entry["n_layers"], entry["d_attn"], Hardware(**hw))
    flops, kv = 4 * m.n_layers * m.n_heads * m.head_dim, 2 * m.n_layers * m.n_kv_heads * m.head_dim
    assert c.v == pytest.approx(flops / hw["throughput"] + kv / hw["bandwidth"], rel=1e-5)
    assert c.b == pytest.approx(flops * hw["e_flop"] + kv * hw["e_mem"], rel=1e-5)
    assert c.a == pytest.approx(m.stated_params * (hw["e_mem"] + 2 * hw["e_flop"]))
    flops_only = catalogue.model_entry(model, hw, attention="flops")
    assert flops_only["d_attn"] == 2 * m.n_heads * m.head_dim
    explicit = catalogue.model_entry(model, hw, attention="explicit")
    assert explicit["kv_values_per_token"] == kv


def test_grouped_query_attention_shrinks_the_cache_term():
    hw = catalogue.hardware_section("H100-SXM5-80GB")
    gqa = catalogue.MODELS["Llama-3.1-8B"]
    mha = dataclasses.replace(gqa, name="mha", n_kv_heads=gqa.n_heads)
    catalogue.MODELS["mha"] = mha
    try:
        w_gqa = catalogue.model_entry(gqa.name, hw)["d_attn"] - 2 * gqa.n_heads * gqa.head_dim
        w_mha = catalogue.model_entry("mha", hw)["d_attn"] - 2 * mha.n_heads * mha.head_dim
    finally:
        del catalogue.MODELS["mha"]
    assert w_mha / w_gqa == pytest.approx(gqa.n_heads / gqa.n_kv_heads, rel=1e-5)


def test_round_trip_through_the_config(default_cfg):
    hw = catalogue.hardware_section("H100-SXM5-80GB")
    raw = copy.deepcopy(default_cfg)
    raw["hardware"] = hw
    raw["models"] = [
        catalogue.model_entry("Llama-3.2-1B", hw, name="small"),
        catalogue.model_entry("Llama-3.1-8B", hw, name="large"),
    ]
    cfg = validate(raw)
    assert cfg["hardware"] == hw and cfg["models"] == raw["models"]
    table = grids.model_table(cfg).set_index("model")
    assert table.loc["large", "params"] == 8.03e9
    assert table.loc["large", "a_J_per_token"] / table.loc["large", "u_s_per_token"] == (
        pytest.approx(700.0, rel=1e-9)
    )  # a token costs TDP x its time


def test_expand_config_resolves_names_and_keeps_the_abstract_default(default_cfg):
    assert catalogue.expand_config(default_cfg) is default_cfg
    raw = copy.deepcopy(default_cfg)
    raw["hardware"] = {"accelerator": "H100-SXM5-80GB", "power_fraction": 1.0}
    raw["models"] = [
        {"name": "q7", "catalogue": "Qwen2.5-7B"},
        {"name": "q72", "catalogue": "Qwen2.5-72B"},
        {"name": "toy", "params": 1e9},
    ]
    out = catalogue.expand_config(raw)
    assert out["hardware"]["throughput"] == pytest.approx(4 * 989e12)  # 72B needs 4 x 80 GB
    assert [m["name"] for m in out["models"]] == ["q7", "q72", "toy"]
    assert out["models"][0]["params"] == 7.61e9 and "catalogue" not in out["models"][0]
    assert raw["models"][0] == {"name": "q7", "catalogue": "Qwen2.5-7B"}  # input untouched
    validate(out)


def test_unknown_names_list_the_catalogue():
    with pytest.raises(ValueError, match=r"unknown accelerator 'B200'.*H100-SXM5-80GB"):
        catalogue.hardware_section("B200")
    with pytest.raises(ValueError, match=r"unknown model 'GPT-5'.*Llama-3.1-8B"):
        catalogue.model_entry("GPT-5", catalogue.hardware_section("MI300X"))
