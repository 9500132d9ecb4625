"""The reports' tables: column headings in words and units, and Markdown tables.

:data:`HEADERS` maps every column key of the pipeline's tables and ``summary.json`` parts to
its heading, units in brackets (``mean_D_Tmax_J`` -> ``mean D_T at T_max [J]``), and
:func:`header` looks a key up, spelling out the keys built from a pattern. The private
helpers format the numbers and render a frame as a Markdown table for
:mod:`energy_routing.report.build`, :mod:`energy_routing.report.policies` and
:mod:`energy_routing.report.realworld`.
"""

from __future__ import annotations

import math
import re

import pandas as pd

HEADERS = {
    "model": "model",
    "params": "parameters N [-]",
    "n_layers": "layers [-]",
    "d_attn": "attention width [-]",
    "a_J_per_token": "a: energy per token [J]",
    "b_J_per_token2": "b: energy per cached token [J]",
    "u_s_per_token": "u: time per token [s]",
    "v_s_per_token2": "v: time per cached token [s]",
    "loss_nats_per_token": "loss L(N) [nats/token]",
    "task": "task",
    "difficulty": "difficulty l [nats/token]",
    "deadline_s": "deadline [s]",
    "routing_error": "routing error ε [-]",
    "consumption": "consumption",
    "mu": "drift μ [J/slot]",
    "sigma": "volatility σ [J/√slot]",
    "t_star": "crossover T* [slots]",
    "transition_detected": "transition detected",
    "breakpoint_T": "breakpoint [slots]",
    "mean_D_Tmax_J": "mean D_T at T_max [J]",
    "sem_D_Tmax_J": "standard error [J]",
    "closed_form_D_Tmax_J": "diffusion closed form [J]",
    "exact_D_Tmax_J": "exact discrete walk [J]",
    "exact_bound_J": "exact: error bound [J]",
    "corrected_D_Tmax_J": "corrected diffusion [J]",
    "p_value": "p-value [-]",
    "breakpoint_low": "breakpoint 95%, low [slots]",
    "breakpoint_high": "breakpoint 95%, high [slots]",
    "detection_frequency": "detected in resamples [-]",
    "t_star_estimate": "T* from realised drift [slots]",
    "t_star_low": "T* 95%, low [slots]",
    "t_star_high": "T* 95%, high [slots]",
    "provisioning": "provisioning ρ [-]",
    "regime": "regime",
    "predicted_exponent": "predicted exponent [-]",
    "slope": "fitted slope [-]",
    "slope_low": "95% interval, low [-]",
    "slope_high": "95% interval, high [-]",
    "agrees": "prediction inside interval",
    "chosen model": "chosen model",
    # Dispatch policies and storage (docs/model.md §12; report_policies.py).
    "policy": "policy",
    "setting": "setting",
    "mean_D_T_J": "mean auxiliary energy U_T [J]",
    "sem_D_T_J": "standard error [J]",
    "diff_vs_myopic_J": "paired difference vs myopic [J]",
    "diff_vs_myopic_sem_J": "paired standard error [J]",
    "transient_diff_J": "one-off transient vs myopic [J]",
    "transient_diff_sem_J": "paired standard error [J]",
    "rate_diff_J_per_slot": "rate vs myopic [J/slot]",
    "rate_diff_sem_J_per_slot": "paired standard error [J/slot]",
    "missed_deadline_fraction": "missed deadlines [-]",
    "failed_task_fraction": "failed tasks [-]",
    "mean_wait_s": "mean wait [s]",
    "router": "router",
    "dispatch_energy_J": "energy per decision [J]",
    "dispatch_latency_s": "latency per decision [s]",
    "diff_vs_reference_J": "paired difference vs reference [J]",
    "diff_vs_reference_sem_J": "paired standard error [J]",
    "closed_form_D_T_J": "closed form [J]",
}
#: The real-world section's columns (docs/model.md §13); a key above keeps its heading.
_REALWORLD_HEADERS = {
    "accelerator": "accelerator",
    "ratio_modelled_to_external": "modelled here (batch 1) / external estimate [-]",
    "ratio_batch_to_external_gpu": "modelled here (batch B) / external, GPUs only [-]",
    "modelled_here_J_per_token": "modelled here, batch 1 [J/token]",
    "modelled_here_batch_J_per_token": "modelled here, batch B [J/token]",
    "external_estimate_J_per_token": "external estimate (EcoLogits) [J/token]",
    "external_gpu_only_J_per_token": "external estimate, GPUs only [J/token]",
    "factor": "factor on e_mem and e_flop [-]",
    "c_lb_J_per_slot": "C_LB [J/slot]",
    "sigma_J_per_sqrt_slot": "volatility σ [J/√slot]",
    "mu_J_per_slot": "drift μ [J/slot]",
    "expected_deficit_J": "E[D_T], nominal supply [J]",
    "expected_deficit_reprovisioned_J": "E[D_T], re-provisioned [J]",
    "changed_tasks": "tasks that change model",
    "harvest": "harvest",
    "load": "load",
    "mean_kWh": "mean D_T [kWh]",
    "sem_kWh": "standard error [kWh]",
    "extra_kWh": "extra over i.i.d., flat [kWh]",
    "extra_sem_kWh": "its standard error [kWh]",
    "scenario": "scenario",
    "t_max": "T_max [slots]",
    "aux_J": "mean auxiliary energy [J]",
    "aux_kWh": "mean auxiliary energy [kWh]",
    "kg_co2e": "emissions [kg CO2e]",
    "kg_co2e_sem": "standard error [kg CO2e]",
    "capacity_kWh": "store capacity [kWh]",
    "capacity_hours": "store capacity [hours of load]",
    "iid_kWh_per_day": "i.i.d. harvest [kWh/day]",
    "iid_sem_kWh_per_day": "standard error [kWh/day]",
    "tmy_kWh_per_day": "real site [kWh/day]",
    "tmy_sem_kWh_per_day": "standard error [kWh/day]",
    "excess_kWh_per_day": "site minus i.i.d. (paired) [kWh/day]",
    "excess_sem_kWh_per_day": "standard error [kWh/day]",
    "gpus": "GPUs",
    "context": "mean context [tokens]",
    "energy_per_token_J": "measured [J/token]",
    "modelled_J": "serving law [J/token]",
    "held_out_J": "model held out of the fit [J/token]",
    "ratio": "serving law / measured",
    "held_out_ratio": "held out / measured",
    "paper_J": "batch-of-one law (§1) [J/token]",
}
HEADERS.update({k: v for k, v in _REALWORLD_HEADERS.items() if k not in HEADERS})
#: The serving study's and the regimes-under-batching columns (docs/model.md §14.2-14.3).
_SERVING_HEADERS = {
    "arrival_rate_per_s": "arrival rate [tasks/s]",
    "replicas": "replicas [-]",
    "tasks_mean": "tasks routed [-]",
    "mean_batch": "mean batch B [-]",
    "served_J_per_token": "served, batched [J/token]",
    "served_J_per_task": "served, batched [J/task]",
    "batch_of_one_J_per_task": "batch of one (§1) [J/task]",
    "served_over_batch_of_one": "batched / batch of one [-]",
    "trials": "trials [-]",
    "quantity": "quantity",
    "estimate": "estimate [95% interval] or ± SE",
    "basis": "measured over",
}
HEADERS.update({k: v for k, v in _SERVING_HEADERS.items() if k not in HEADERS})


def header(key: str) -> str:
    """A column's heading in the reports: words and units, not the raw key.

    >>> header("mean_D_Tmax_J")
    'mean D_T at T_max [J]'
    >>> header("reserve_q0.9_mc_J")
    'reserve q = 0.9, Monte Carlo [J]'
    >>> header("energy_J (10B)")
    'energy [J] (10B)'
    """
    if key in HEADERS:
        return HEADERS[key]
    m = re.fullmatch(r"reserve_q([0-9.]+)_(mc|theory)_J", key)
    if m:
        source = "Monte Carlo" if m[2] == "mc" else "closed form"
        return f"reserve q = {m[1]}, {source} [J]"
    m = re.fullmatch(r"(energy_J|latency_s) \((.+)\)", key)
    if m:
        return f"{'energy [J]' if m[1] == 'energy_J' else 'latency [s]'} ({m[2]})"
    return key


def _fmt(x, digits=4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int | float):
        return f"{x:.{digits}g}"
    return str(x)


def _table(df: pd.DataFrame, digits=4) -> str:
    head = "| " + " | ".join(header(str(c)) for c in df.columns) + " |"
    rule = "|" + "---|" * len(df.columns)
    body = [
        "| " + " | ".join(_fmt(v, digits) for v in row) + " |" for row in df.itertuples(index=False)
    ]
    return "\n".join([head, rule, *body])
