"""Calibration of the per-token energy against an independent estimate, and the sensitivity
of the deficit to the hardware energy constants (docs/model.md §1, §7, §13).

*Modelled here*: the energy of one decoded token of docs/model.md §1 with the constants of
:mod:`energy_routing.model.catalogue`, ``a_m = N (e_mem + 2 e_flop)`` (empty cache, batch 1: each
token streams every weight once), and, for a like-for-like comparison with EcoLogits, the
serving law of docs/model.md §14 (:mod:`energy_routing.model.serving`, fitted to measured
serving energy) for a batch of ``B`` sequences at an empty cache, on as many devices as the
model needs (:func:`~energy_routing.model.catalogue.devices_needed`).

*External estimate*: EcoLogits (PyPI ``ecologits``; MPL-2.0), run offline: its own
``ecologits.impacts.llm.compute_llm_impacts_dag`` (a regression of GPU energy per output
token on active parameters and batch size, fitted to ML.ENERGY leaderboard measurements,
plus the host server's share; batch size 64, data-centre PUE set to 1 here), with the
parameter count from its shipped model list ``ecologits/data/models.json`` when the model
is listed there, else the catalogue's stated count. No API is called.

The two are kept in separate columns and never mixed: ``modelled_here_*`` and
``external_*``.
"""

from __future__ import annotations

import copy
import functools
import json
import math
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from energy_routing.model import catalogue, serving
from energy_routing.units import J_PER_KWH

#: Catalogue model -> (provider, name) in EcoLogits' shipped model list.
ECOLOGITS_NAMES: dict[str, tuple[str, str]] = {
    "Llama-3.1-8B": ("huggingface_hub", "meta-llama/Meta-Llama-3.1-8B"),
    "Llama-3.1-70B": ("huggingface_hub", "meta-llama/Meta-Llama-3.1-70B"),
    "Mistral-7B-v0.3": ("huggingface_hub", "mistralai/Mistral-7B-v0.3"),
}


@functools.lru_cache(maxsize=1)
def _ecologits_models() -> dict[tuple[str, str], dict]:
    rel = "ecologits/data/models.json"
    path = Path(str(metadata.distribution("ecologits").locate_file(rel)))
    data = json.loads(path.read_text(encoding="utf-8"))
    return {(m["provider"], m["name"]): m for m in data["models"]}


def ecologits_model_params(model: str) -> tuple[float, str]:
    """Active parameters of a catalogue model as EcoLogits lists them [parameters].

    Returns ``(params, note)``; ``note`` names the EcoLogits entry, or says that the
    model is not in EcoLogits' list and the catalogue's stated count is used.
    """
    version = metadata.version("ecologits")
    key = ECOLOGITS_NAMES.get(model)
    if key is not None and key in _ecologits_models():
        arch = _ecologits_models()[key]["architecture"]
        p = arch["parameters"]
        active = p["active"] if isinstance(p, dict) and "active" in p else p
        return float(active) * 1e9, f"ecologits {version} models.json: {key[0]}/{key[1]}"
    stated = catalogue.MODELS[model].stated_params
    return stated, f"not in ecologits {version} models.json: catalogue's stated count"


def ecologits_energy_per_token(params: float) -> dict:
    """EcoLogits' energy per output token for a dense model [J/token] (docs/model.md §13).

    Runs ``ecologits.impacts.llm.compute_llm_impacts_dag`` for 1000 output tokens with no
    latency cap and PUE 1, and divides by 1000 (both of its terms are linear in the
    token count).

    Returns
    -------
    dict
        ``gpu_J_per_token`` (GPUs only), ``request_J_per_token`` (GPUs and server share),
        ``gpus`` (GPUs EcoLogits assigns), ``batch_size``.
    """
    from ecologits.impacts import llm

    n = 1000.0
    billions = params / 1e9
    dag = llm.compute_llm_impacts_dag(
        model_active_parameter_count=billions,
        model_total_parameter_count=billions,
        output_token_count=n,
        request_latency=math.inf,
        if_electricity_mix_adpe=0.0,
        if_electricity_mix_pe=0.0,
        if_electricity_mix_gwp=0.0,
        if_electricity_mix_wue=0.0,
        datacenter_pue=1.0,
        datacenter_wue=0.0,
    )
    gpus = int(dag["gpu_required_count"])
    return {
        "gpu_J_per_token": float(dag["gpu_energy"]) * gpus * J_PER_KWH / n,
        "request_J_per_token": float(dag["request_energy"]) * J_PER_KWH / n,
        "gpus": gpus,
        "batch_size": int(llm.BATCH_SIZE),
    }


def calibration_table(
    models=None, accelerators=None, power_fraction: float = 1.0, batch_size: int | None = None
) -> pd.DataFrame:
    """Modelled energy per output token next to EcoLogits' estimate (docs/model.md §13).

    Parameters
    ----------
    models, accelerators : list of str, optional
        Catalogue names; default all.
    power_fraction : float
        Power drawn as a fraction of board power (:mod:`energy_routing.model.catalogue`) [-].
    batch_size : int, optional
        Batch for the like-for-like column; default EcoLogits' own (64).

    Returns
    -------
    pandas.DataFrame
        One row per model and accelerator: ``modelled_here_J_per_token`` (batch 1, empty
        cache), ``modelled_here_batch_J_per_token`` (serving law, batch ``B``, empty
        cache); ``external_estimate_J_per_token``
        (EcoLogits, GPUs and server share), ``external_gpu_only_J_per_token``;
        ``ratio_modelled_to_external`` and ``ratio_batch_to_external_gpu``;
        ``external_params`` and ``source``.
    """
    models = list(catalogue.MODELS) if models is None else list(models)
    accelerators = list(catalogue.ACCELERATORS) if accelerators is None else list(accelerators)
    version = metadata.version("ecologits")
    rows = []
    for name in models:
        params, note = ecologits_model_params(name)
        ext = ecologits_energy_per_token(params)
        batch = ext["batch_size"] if batch_size is None else int(batch_size)
        n = catalogue.MODELS[name].stated_params
        arch = serving.ServingArch.from_catalogue(name)
        for acc in accelerators:
            hw = catalogue.hardware_section(acc, power_fraction)
            ours = n * (hw["e_mem"] + 2 * hw["e_flop"])
            gpus = catalogue.devices_needed(name, acc)
            ours_batch = serving.operating_point(arch, acc, gpus, batch, 0.0)["energy_per_token_J"]
            rows.append(
                {
                    "model": name,
                    "accelerator": acc,
                    "params": n,
                    "modelled_here_J_per_token": ours,
                    "modelled_here_batch_J_per_token": ours_batch,
                    "batch_size": batch,
                    "external_estimate_J_per_token": ext["request_J_per_token"],
                    "external_gpu_only_J_per_token": ext["gpu_J_per_token"],
                    "external_gpus": ext["gpus"],
                    "external_params": params,
                    "ratio_modelled_to_external": ours / ext["request_J_per_token"],
                    "ratio_batch_to_external_gpu": ours_batch / ext["gpu_J_per_token"],
                    "source": (
                        f"modelled here: docs/model.md §1 with catalogue {acc} "
                        f"({catalogue.ACCELERATORS[acc].source.split(':')[0]}); external: "
                        f"EcoLogits {version} compute_llm_impacts_dag, PUE 1, batch "
                        f"{ext['batch_size']}, parameters: {note}"
                    ),
                }
            )
    return pd.DataFrame(rows)


def sensitivity(
    cfg: dict,
    horizon: float,
    factors=(0.5, 0.75, 1.0, 1.25, 1.5),
    provisioning: float = 1.0,
) -> pd.DataFrame:
    """How C_LB, sigma, E[D_T] and the chosen models move with the energy constants
    (docs/model.md §4, §7, §13).

    For each factor ``s`` and each way of moving the constants (``e_mem`` alone,
    ``e_flop`` alone, ``both``), the task grid of a copy of ``cfg`` with the constant(s)
    times ``s`` gives C_LB(s) and lambda E[e_LB^2](s). The supply stays the one sized for
    the nominal hardware (``R_bar = provisioning C_LB(1)``, ``sigma_R^2`` nominal), so the
    drift is ``mu = R_bar - C_LB(s)`` and ``sigma^2 = sigma_R^2 + lambda E[e_LB^2](s)``;
    ``E[D_T]`` is the closed form of docs/model.md §7 at ``horizon``. A second column
    re-provisions the supply for the moved hardware (critical again:
    ``sigma sqrt(2 T / pi)``).

    Parameters
    ----------
    cfg : dict
        Validated config (abstract or from :func:`catalogue.expand_config`).
    horizon : float
        T [slots].
    factors : sequence of float
        Multipliers of the constants [-].
    provisioning : float
        rho of the nominal supply [-].

    Returns
    -------
    pandas.DataFrame
        ``moved`` (e_mem, e_flop, both), ``factor``, ``c_lb_J_per_slot``,
        ``sigma_J_per_sqrt_slot``, ``mu_J_per_slot``, ``expected_deficit_J`` (nominal
        supply), ``expected_deficit_reprovisioned_J``, ``chosen_models`` (``task:model``
        list) and ``changed_tasks`` (tasks whose chosen model differs from nominal).
    """
    from energy_routing.model import grids
    from energy_routing.theory import diffusion

    nominal = grids.task_grid(cfg)
    r_bar = provisioning * float(nominal["c_lb_J_per_slot"])
    var_r = cfg["harvest"]["variance_scale"] * float(nominal["consumption_var_J2_per_slot"])
    base_choice = dict(zip(nominal.task.values, nominal.best_model.values, strict=True))
    rows = []
    for moved in ("e_mem", "e_flop", "both"):
        for s in factors:
            c = copy.deepcopy(cfg)
            for key in ("e_mem", "e_flop") if moved == "both" else (moved,):
                c["hardware"][key] = cfg["hardware"][key] * s
            g = grids.task_grid(c)
            c_lb = float(g["c_lb_J_per_slot"])
            sigma = math.sqrt(var_r + float(g["consumption_var_J2_per_slot"]))
            mu = r_bar - c_lb
            choice = dict(zip(g.task.values, g.best_model.values, strict=True))
            rows.append(
                {
                    "moved": moved,
                    "factor": float(s),
                    "c_lb_J_per_slot": c_lb,
                    "sigma_J_per_sqrt_slot": sigma,
                    "mu_J_per_slot": mu,
                    "expected_deficit_J": float(diffusion.expected_deficit(mu, sigma, horizon)),
                    "expected_deficit_reprovisioned_J": float(
                        diffusion.expected_deficit(0.0, sigma, horizon)
                    ),
                    "chosen_models": ", ".join(f"{t}:{m}" for t, m in choice.items()),
                    "changed_tasks": ", ".join(
                        str(t) for t in choice if choice[t] != base_choice[t]
                    ),
                }
            )
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame) -> dict:
    """Key numbers of a :func:`calibration_table` for ``summary.json``: per accelerator
    the geometric-mean ratios over models."""
    out = {}
    for acc, t in table.groupby("accelerator"):
        out[str(acc)] = {
            "ratio_modelled_to_external_geomean": float(
                np.exp(np.log(t["ratio_modelled_to_external"]).mean())
            ),
            "ratio_batch_to_external_gpu_geomean": float(
                np.exp(np.log(t["ratio_batch_to_external_gpu"]).mean())
            ),
        }
    return out
