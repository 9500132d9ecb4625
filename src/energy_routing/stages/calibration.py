"""Stage ``calibration``: the energy per output token modelled here beside EcoLogits'
external estimate for every catalogue model and accelerator, the sensitivity of C_LB
and E[D_T] to the hardware energy constants (:mod:`energy_routing.studies.calibration`,
docs/model.md §13), and the serving law against the measured serving rows
(:func:`energy_routing.model.serving.validation_table`, docs/model.md §14).
"""

from __future__ import annotations

import numpy as np

from energy_routing.io.atomic import atomic_output, write_json
from energy_routing.model import serving
from energy_routing.model.catalogue import ACCELERATORS
from energy_routing.stages.common import records
from energy_routing.studies import calibration as cal

#: The accelerator whose rows the part reports (docs/model.md §13).
REFERENCE_ACCELERATOR = "H100-SXM5-80GB"


def calibration(cfg: dict, *, table_csv, sensitivity_csv, serving_law_csv, part_json) -> None:
    """Calibration table against EcoLogits and the sensitivity of the deficit to the energy
    constants (docs/model.md §13).

    ``cfg`` holds the grid keys, ``montecarlo.t_max`` (the sensitivity's horizon) and
    ``realworld.sensitivity_factors``.
    """

    table = cal.calibration_table()
    law = serving.validation_table(REFERENCE_ACCELERATOR)
    with atomic_output(serving_law_csv) as tmp:
        law.to_csv(tmp, index=False)
    horizon = float(cfg["montecarlo"]["t_max"])
    sens = cal.sensitivity(cfg, horizon, factors=tuple(cfg["realworld"]["sensitivity_factors"]))
    with atomic_output(table_csv) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_output(sensitivity_csv) as tmp:
        sens.to_csv(tmp, index=False)
    ref = table[table["accelerator"] == REFERENCE_ACCELERATOR]
    cols = [
        "model",
        "params",
        "modelled_here_J_per_token",
        "modelled_here_batch_J_per_token",
        "external_estimate_J_per_token",
        "external_gpu_only_J_per_token",
        "ratio_modelled_to_external",
        "ratio_batch_to_external_gpu",
    ]
    sens_cols = [
        "moved",
        "factor",
        "c_lb_J_per_slot",
        "sigma_J_per_sqrt_slot",
        "mu_J_per_slot",
        "expected_deficit_J",
        "expected_deficit_reprovisioned_J",
        "changed_tasks",
    ]
    write_json(
        {
            "batch_size": int(table["batch_size"].iloc[0]),
            "reference_accelerator": REFERENCE_ACCELERATOR,
            "external_source": _external_source(ref),
            "by_accelerator": cal.summary(table),
            "rows": records(ref[cols]),
            "sensitivity_horizon_slots": horizon,
            "sensitivity": records(sens[sens_cols]),
            "serving_law": serving_law_part(law),
        },
        part_json,
    )


def _external_source(rows) -> str:
    """What the external column is: EcoLogits' version and settings, and where each
    model's parameter count comes from."""
    first = str(rows["source"].iloc[0]).split("external: ")[-1].split(", parameters:")[0]
    listed = [m for m, s in zip(rows["model"], rows["source"], strict=True) if "not in" not in s]
    where = (
        f"EcoLogits' models.json for {', '.join(listed)}, the catalogue's stated count otherwise"
        if listed
        else "the catalogue's stated counts"
    )
    return f"{first}; parameter counts from {where}"


def serving_law_part(law) -> dict:
    """The serving law's constants and its agreement with the measured rows: per row the
    measured and modelled energy per token, in sample and with the row's model held out,
    and the held-out error's median and worst factor; ``paper_J`` is the batch-of-one law of
    §1 at the row's context (docs/model.md §14)."""
    held = np.abs(np.log(law["held_out_ratio"].to_numpy()))
    accel = ACCELERATORS[REFERENCE_ACCELERATOR]
    law = law.assign(
        paper_J=[
            float(serving.paper_energy_per_token(serving.ServingArch.from_catalogue(r.model),
                                                 accel, r.gpus, r.context))
            for r in law.itertuples()
        ]
    )  # fmt: skip
    cols = ["model", "gpus", "batch", "context", "energy_per_token_J", "modelled_J", "held_out_J",
            "paper_J"]  # fmt: skip
    return {
        "accelerator": REFERENCE_ACCELERATOR,
        "constants": serving.describe(serving.constants(REFERENCE_ACCELERATOR)),
        "source": serving.SOURCE,
        "held_out_median_abs_error": float(np.median(np.expm1(held))),
        "held_out_worst_factor": float(np.exp(held.max())),
        "in_sample_worst_factor": float(np.exp(np.abs(np.log(law["ratio"].to_numpy())).max())),
        "rows": records(law[cols]),
    }
