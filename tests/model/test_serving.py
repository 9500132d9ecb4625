"""The serving law under continuous batching (docs/model.md §14): its batch-of-one limit,
its fit to measured serving energy, its physics and the ``serving`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_routing import cli
from energy_routing.model import serving
from energy_routing.model.catalogue import (
    ACCELERATORS,
    MODELS,
    hardware_section,
    model_entry,
)
from energy_routing.model.hardware import Hardware, token_coefficients

H100 = "H100-SXM5-80GB"


@pytest.mark.parametrize("accelerator", sorted(ACCELERATORS))
@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("gpus", [1, 2, 4])
def test_one_sequence_under_the_paper_limit_is_the_paper_law(accelerator, model, gpus):
    """B = 1, no overhead, peak rates, no idle power: energy and time of a step are the
    per-token law e(c) = a + b c, t(c) = u + v c of §1 with the accelerator's constants."""
    p = 0.8
    hw = hardware_section(accelerator, power_fraction=p, n_devices=gpus)
    entry = model_entry(model, hw, attention="explicit")
    c = np.array([0.0, 1.0, 400.0, 8000.0])
    coef = token_coefficients(entry["params"], entry["n_layers"], entry["d_attn"], Hardware(**hw))
    kv = entry["kv_values_per_token"]  # §13's explicit cache read
    energy = coef.a + (coef.b + kv * hw["e_mem"]) * c
    time = coef.u + (coef.v + kv / hw["bandwidth"]) * c
    s = serving.step(
        serving.ServingArch.from_catalogue(model),
        ACCELERATORS[accelerator],
        serving.ServingConstants.paper_limit(p),
        gpus,
        1,
        c,
    )
    np.testing.assert_allclose(s.energy_j, energy, rtol=1e-12)
    np.testing.assert_allclose(s.time_s, time, rtol=1e-12)
    np.testing.assert_allclose(s.energy_per_token_j, energy, rtol=1e-12)


def test_the_effective_attention_width_gives_the_same_paper_law():
    """The pipeline's §1 law (effective attention width, rounded to an integer) agrees with
    the paper limit to the rounding of the width."""
    hw = hardware_section(H100)
    entry = model_entry("Llama-3.1-8B", hw)
    coef = token_coefficients(entry["params"], entry["n_layers"], entry["d_attn"], Hardware(**hw))
    arch = serving.ServingArch.from_catalogue("Llama-3.1-8B")
    e = serving.paper_energy_per_token(arch, ACCELERATORS[H100], 1, 400.0)
    assert e == pytest.approx(coef.a + coef.b * 400.0, rel=1e-6)


def test_the_fitted_law_extrapolates_to_the_paper_law_at_one_sequence():
    """A physics check, not a fit: at B = 1 with the idle power and step overhead removed,
    the constants fitted at batches 8 to 511 give the §1 energy within 5 % for every
    catalogue model on one and on four H100s."""
    k = serving.constants(H100)
    k = serving.ServingConstants(0.0, k.eta_mem, k.eta_flop, k.phi_mem, k.phi_flop, 0.0)
    for model in MODELS:
        arch = serving.ServingArch.from_catalogue(model)
        for gpus in (1, 4):
            s = serving.step(arch, ACCELERATORS[H100], k, gpus, 1, 300.0)
            paper = serving.paper_energy_per_token(arch, ACCELERATORS[H100], gpus, 300.0)
            assert s.energy_per_token_j / paper == pytest.approx(1.0, abs=0.05), model


def test_the_shipped_constants_are_the_fit_of_the_shipped_data():
    fit = serving.fit_constants(serving.load_measurements())
    shipped = serving.constants(H100)
    for name in ("step_overhead_s", "eta_mem", "eta_flop", "phi_mem", "phi_flop"):
        assert getattr(fit, name) == pytest.approx(getattr(shipped, name), rel=5e-3), name
    assert shipped.idle_power_w == ACCELERATORS[H100].idle_power_w


def test_measured_rows_in_sample_and_held_out_by_model():
    """Every measured row: in-sample within 25 %; refitted without the row's model (leave
    one model out) median error <= 15 % and none worse than a factor 1.3."""
    v = serving.validation_table()
    assert len(v) == 21 and set(v.model) == {"Llama-3.1-8B", "Llama-3.1-70B", "Qwen3-8B"}
    assert np.all(np.abs(np.log(v.ratio)) < np.log(1.25))
    held = np.abs(np.log(v.held_out_ratio))
    assert np.median(held) < 0.15
    assert held.max() < np.log(1.3)


def test_measured_latency_and_power_are_reproduced():
    """The law is fitted on latency and energy; power is their consequence and must land
    within 30 % of the measured average power (latency too) on every row."""
    df = serving.load_measurements()
    p = serving.predict(df, serving.constants(H100))
    assert np.all(np.abs(np.log(p["itl_s"] / (df.itl_ms.to_numpy() * 1e-3))) < np.log(1.3))
    assert np.all(np.abs(np.log(p["power_W"] / df.power_W.to_numpy())) < np.log(1.3))


@settings(max_examples=200, deadline=None)
@given(
    model=st.sampled_from(sorted(MODELS)),
    accelerator=st.sampled_from(sorted(ACCELERATORS)),
    gpus=st.sampled_from([1, 2, 4, 8]),
    batch=st.floats(1.0, 1024.0),
    factor=st.floats(1.01, 8.0),
    context=st.floats(0.0, 32768.0),
)
def test_batching_physics(model, accelerator, gpus, batch, factor, context):
    """More sequences per step: longer steps, less energy per token, power between the
    replica's idle power and its board limit."""
    a = ACCELERATORS[accelerator]
    arch = serving.ServingArch.from_catalogue(model)
    k = serving.constants(accelerator)
    small = serving.step(arch, a, k, gpus, batch, context)
    big = serving.step(arch, a, k, gpus, batch * factor, context)
    assert big.time_s > small.time_s
    assert big.energy_per_token_j < small.energy_per_token_j
    for s in (small, big):
        assert gpus * k.idle_power_w <= s.power_w <= gpus * a.board_power_w * (1 + 1e-12)
        assert s.mem_fraction + s.flop_fraction <= 1.0 + 1e-12


def test_serving_command_json(capsys):
    argv = "serving --params 8.03e9 --layers 32 --kv-heads 8 --head-dim 128".split()
    argv += "--accelerator H100-SXM5-80GB --gpus 1 --batch 64 --context 400 --json".split()
    assert cli.main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("energy_per_token_J", "inter_token_latency_s", "power_W"):
        assert out[key] > 0
    assert out["batch"] == 64
    # a catalogue name gives the same point (the flags estimate the query heads as 32)
    assert cli.main(["serving", "--model", "Llama-3.1-8B", "--json"]) == 0
    named = json.loads(capsys.readouterr().out)
    assert named["energy_per_token_J"] == pytest.approx(out["energy_per_token_J"], rel=1e-3)
    assert named["paper_energy_per_token_J"] > 10 * named["energy_per_token_J"]


def test_serving_command_table(capsys):
    assert cli.main(["serving", "--model", "Llama-3.1-70B", "--gpus", "4", "--batch", "48"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert "batch-of-one law" in lines[0]
    batches = [int(line.split()[0]) for line in lines[2:]]
    assert batches == [1, 2, 4, 8, 16, 32, 48, 64, 128, 256, 512]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "Nope"], "unknown model 'Nope'"),
        (["--params", "8e9"], "missing --layers, --kv-heads, --head-dim"),
        (["--model", "Llama-3.1-8B", "--layers", "3"], "not both"),
        (["--model", "Llama-3.1-8B", "--accelerator", "X1"], "unknown accelerator 'X1'"),
        (["--model", "Llama-3.1-8B", "--batch", "0.5"], "batch must be >= 1"),
        (["--model", "Llama-3.1-8B", "--gpus", "0"], "gpus must be a whole number >= 1"),
        (["--params", "-1", "--layers", "2", "--kv-heads", "1", "--head-dim", "8"], "params"),
    ],
)
def test_serving_command_errors(argv, message, capsys):
    assert cli.main(["serving", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


@settings(max_examples=100, deadline=None)
@given(
    model=st.sampled_from(sorted(MODELS)),
    accelerator=st.sampled_from(sorted(ACCELERATORS)),
    gpus=st.sampled_from([1, 2, 8]),
    batch=st.integers(1, 512),
    context=st.floats(0.0, 16384.0),
)
def test_step_coefficients_are_the_step(model, accelerator, gpus, batch, context):
    """The affine coefficients an engine uses give the same step as :func:`serving.step`."""
    a, arch, k = ACCELERATORS[accelerator], serving.ServingArch.from_catalogue(model), None
    k = serving.constants(accelerator)
    co = serving.StepCoefficients.of(arch, a, k, gpus)
    s = serving.step(arch, a, k, gpus, batch, context)
    sum_c = batch * context
    assert co.t_fixed + co.t_seq * batch + co.t_ctx * sum_c == pytest.approx(float(s.time_s))
    assert co.e_fixed + co.e_seq * batch + co.e_ctx * sum_c == pytest.approx(float(s.energy_j))
